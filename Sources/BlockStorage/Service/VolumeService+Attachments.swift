import Foundation
import NimbusCore

/// The attachments API (3.27, completion 3.44), as Nova's new attach flow drives it: an
/// attachment is reserved, gets its connection when the compute node says where it is (the
/// storage node exports the volume over NBD under a name that is the attachment's secret), and
/// is completed once the guest has the disk; deleting it stops the export.
extension VolumeService {
    public func attachment(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let a = state[.attachment, id], visible(a, actor) else { throw NimbusError.notFound("Volume attachment \(id) could not be found.") }
        return a
    }

    /// The attachments of a volume to one instance (id and `attach_status`), as the service sees
    /// them (Nova's `attachment_get_all` filtered by volume and instance).
    public func attachments(volumeID: String, instance: String) -> [(id: String, status: String)] {
        state.attachments(of: volumeID).compactMap { a in
            guard a["instance_uuid"]?.stringValue.map({ $0.sameBytes(as: instance) }) == true, let id = a["id"]?.stringValue else { return nil }
            return (id, a["attach_status"]?.stringValue ?? "")
        }
    }

    /// Reserves an attachment of the volume for an instance, and connects it when `connector`
    /// is given.
    public func createAttachment(volumeID: String, instance: String?, connector: JSONObject?, mode: String, actor: VolumeActor) async throws -> JSONObject {
        let id: String = try await write { s in
            guard var v = s[.volume, volumeID], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(volumeID) }
            let status = v["status"]?.stringValue ?? ""
            if status.contains("error") {
                throw VolumeFault.invalidVolume("Volume attachments can not be created if the volume is in an error state. The Volume \(volumeID) currently has a status of: \(status) ")
            }
            // A volume being re-imaged is not reserved under the re-image: its status would leave
            // `downloading` (Nova's rebuild would take the re-image as done) and end `available`
            // with an attachment.
            if v["reimaging"] != nil {
                throw VolumeFault.invalidVolume("Volume \(volumeID) is being re-imaged; it cannot be attached now.")
            }
            let existing = s.attachments(of: volumeID)
            let multiattach = v["multiattach"]?.boolValue == true
            if !existing.isEmpty && !multiattach && !existing.allSatisfy({ $0["instance_uuid"]?.stringValue == instance && instance != nil }) {
                throw VolumeFault.invalidVolume("Volume \(volumeID) status must be available or downloading (it is attached and not multiattach).")
            }
            guard ["available", "reserved", "in-use", "attaching", "downloading"].contains(status) || (status == "in-use" && multiattach) else {
                throw VolumeFault.invalidVolume("Volume \(volumeID) status must be available or downloading, currently \(status).")
            }
            if mode == "rw", v["admin_metadata"]?["readonly"]?.stringValue == "True" {
                throw VolumeFault.invalidVolume("Volume \(volumeID) is read-only and cannot be attached in rw mode.")
            }
            let now = Self.now()
            let aid = Identifiers.uuid()
            s.put(.attachment, ["id": .string(aid), "volume_id": .string(volumeID), "project_id": v["project_id"] ?? .null,
                                "instance_uuid": JSONValue(instance), "attached_host": .null, "mountpoint": .null, "attach_mode": .string(mode),
                                "attach_status": "reserved", "attach_time": .null, "detach_time": .null, "connection_info": .null,
                                "created_at": .string(now), "updated_at": .string(now)])
            // Cinder's `_attachment_reserve`: a multiattach volume in use is reserved again, so
            // it is `in-use` once more only when this attachment completes.
            if existing.isEmpty || (multiattach && status == "in-use") { v["status"] = "reserved" }
            v["updated_at"] = .string(now)
            s.put(.volume, v)
            return aid
        }
        guard let connector else { return try attachment(id, actor: actor) }
        do {
            return try await connect(id, connector: connector, actor: actor)
        } catch {
            try? await deleteAttachment(id, actor: actor)
            throw error
        }
    }

    /// Gives a reserved attachment its connection: the volume exported under a new secret name.
    public func connect(_ id: String, connector: JSONObject, actor: VolumeActor) async throws -> JSONObject {
        _ = try attachment(id, actor: actor)
        // The export's name is chosen once, under the write lock: concurrent connects of one
        // attachment share it (and the one export).
        let (volumeID, name, a): (String, String, JSONObject) = try await write { s in
            guard var doc = s[.attachment, id], let vid = doc["volume_id"]?.stringValue else {
                throw NimbusError.notFound("Volume attachment \(id) could not be found.")
            }
            // Not connected while its bytes are being replaced (the export would serve either).
            if s[.volume, vid]?["reimaging"] != nil {
                throw VolumeFault.invalidVolume("Volume \(vid) is being re-imaged; it cannot be connected now.")
            }
            if let name = doc["export_name"]?.stringValue { return (vid, name, doc) }
            let name = Identifiers.hex32() + Identifiers.hex32()
            doc["export_name"] = .string(name)
            s.put(.attachment, doc)
            return (vid, name, doc)
        }
        let export = try await backend.export(volume: volumeID, name: name)
        let mode = a["attach_mode"]?.stringValue == "ro" ? "ro" : "rw"
        // The type's front-end QoS limits as they are now (Cinder's `_get_qos_specs` at connect).
        let now = state
        let qos = now[.volume, volumeID].flatMap { frontEndQoS(now, volume: $0) }
        let info: JSONObject = ["driver_volume_type": "nbd",
                                "data": ["path": .string(export.socketPath), "export": .string(export.exportName), "access_mode": .string(mode),
                                         "volume_id": .string(volumeID), "encrypted": false, "discard": true,
                                         "qos_specs": qos.map { .object($0) } ?? .null]]
        do {
            return try await write { s in
                guard var doc = s[.attachment, id] else { throw NimbusError.notFound("Volume attachment \(id) could not be found.") }
                doc["export_name"] = .string(name)
                doc["connection_info"] = .object(info)
                doc["connector"] = .object(connector)
                doc["attached_host"] = connector["host"] ?? .null
                doc["mountpoint"] = connector["mountpoint"] ?? .null
                if doc["attach_status"]?.stringValue == "reserved" { doc["attach_status"] = "attaching" }
                doc["updated_at"] = .string(Self.now())
                s.put(.attachment, doc)
                if var v = s[.volume, volumeID], v["status"]?.stringValue == "reserved" {
                    v["status"] = "attaching"
                    v["updated_at"] = .string(Self.now())
                    s.put(.volume, v)
                }
                return doc
            }
        } catch {
            try? await backend.unexport(name: name)
            throw error
        }
    }

    /// `os-complete`: the guest has the disk.
    public func completeAttachment(_ id: String, actor: VolumeActor) async throws {
        try await write { s in
            guard var a = s[.attachment, id], self.visible(a, actor) else { throw NimbusError.notFound("Volume attachment \(id) could not be found.") }
            let now = Self.now()
            a["attach_status"] = "attached"
            a["attach_time"] = .string(now)
            a["updated_at"] = .string(now)
            s.put(.attachment, a)
            if let vid = a["volume_id"]?.stringValue, var v = s[.volume, vid] {
                v["status"] = "in-use"
                v["attach_status"] = "attached"
                v["updated_at"] = .string(now)
                s.put(.volume, v)
            }
        }
    }

    /// Removes an attachment, stopping its export; the volume is `available` again once it has
    /// none left.
    public func deleteAttachment(_ id: String, actor: VolumeActor) async throws {
        let a = try attachment(id, actor: actor)
        if let name = a["export_name"]?.stringValue { try await backend.unexport(name: name) }
        try await write { s in
            guard let a = s[.attachment, id] else { return }
            s.remove(.attachment, id)
            guard let vid = a["volume_id"]?.stringValue, var v = s[.volume, vid] else { return }
            let (status, attachStatus) = Self.statuses(from: s.attachments(of: vid))
            if v["status"]?.stringValue == "extending" {
                // The extend sets the status when it ends: it finds this one from here.
                v["previous_status"] = .string(status)
            } else if v["reimaging"] != nil {
                // A re-image sets the status when it ends, from the attachments left then.
            } else if !(attachStatus == "detached" && v["status"]?.stringValue == "uploading") {
                // (An upload sets the status itself when it ends, as Cinder's `volume_detached` leaves it.)
                v["status"] = .string(status)
            }
            v["attach_status"] = .string(attachStatus)
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
        }
    }

    /// A volume's status and attach status from the attachments it has left, as Cinder's
    /// `_get_statuses_from_attachments`: the first of attached, attaching, detaching, reserved
    /// (errors ignored) decides; `attached` is `in-use`, none is `available`/`detached`.
    static func statuses(from remaining: [JSONObject]) -> (status: String, attachStatus: String) {
        let attach = remaining.compactMap { $0["attach_status"]?.stringValue }
            .filter { !$0.hasBytePrefix("error_") }
            .min { $0.bytesPrecede($1) } ?? "detached"
        switch attach {
        case "attached": return ("in-use", attach)
        case "detached": return ("available", attach)
        default: return (attach, attach)
        }
    }

    /// After a restart: serves what the attachments say is exported, and nothing else.
    func reconcileExports() async {
        let s = state
        var wanted = [String: String]()   // export name → volume
        for a in s.all(.attachment) {
            if let name = a["export_name"]?.stringValue, let vid = a["volume_id"]?.stringValue { wanted[name] = vid }
        }
        for v in state.all(.volume) {
            guard let vid = v["id"]?.stringValue else { continue }
            for name in Self.legacyExports(v) { wanted[name] = vid }
        }
        do {
            let have = try await backend.exportNames()
            for (name, vid) in wanted where !have.contains(name) { _ = try await backend.export(volume: vid, name: name) }
            for name in have where wanted[name] == nil { try await backend.unexport(name: name) }
        } catch {
            logger.warning("could not reconcile the volume exports: \(error)")
        }
    }
}

extension VolumeService {
    /// Cinder's `attachment_deletion_allowed` (bug #2004555), for users' calls (Nova's own go to
    /// the service directly): an attachment connected to a server that the compute service still
    /// has may not be deleted behind its back, which would pull the disk from under the guest.
    /// The attachment is the one named, or the volume's only one.
    public func checkAttachmentDeletionAllowed(volumeID: String?, attachmentID: String?) async throws {
        let s = state
        var attachment = attachmentID.flatMap { s[.attachment, $0] }
        if attachment == nil, attachmentID == nil, let volumeID {
            let all = s.attachments(of: volumeID)
            if all.isEmpty { return }
            if all.count == 1 { attachment = all[0] }
        }
        guard let attachment else {
            // Several attachments and none named: Cinder refuses with no instance named.
            if attachmentID == nil { throw VolumeFault.novaUsingAttachment("") }
            return
        }
        if let volumeID, attachment["volume_id"]?.stringValue != volumeID {
            throw VolumeFault.invalidInput("Mismatched volume and attachment")
        }
        guard let instance = attachment["instance_uuid"]?.stringValue, let c = attachment["connection_info"], !c.isNull,
              let id = attachment["id"]?.stringValue else { return }
        guard let listener = attachedListener.withLock({ $0 }), await listener.usesAttachment(id, instance: instance) else { return }
        throw VolumeFault.novaUsingAttachment(instance)
    }
}

extension VolumeService {
    /// The legacy connection calls (`os-initialize_connection`, `os-terminate_connection`) that
    /// Nova used before the attachments API: an export per connector host, recorded on the
    /// volume (`legacy_exports`: host → export name) so a restart serves it again and a delete
    /// stops it. A second call from the same host gets the same export, as Cinder's drivers
    /// return the same target.
    public func initializeConnection(_ id: String, connector: JSONObject, actor: VolumeActor) async throws -> JSONObject {
        let host = connector["host"]?.stringValue ?? ""
        let (name, mode): (String, String) = try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            let status = v["status"]?.stringValue ?? ""
            guard ["available", "in-use", "reserved", "attaching", "detaching"].contains(status) else {
                throw VolumeFault.invalidVolume("Volume \(id) status must be available, in-use, reserved, attaching or detaching to be connected, but current status is: \(status).")
            }
            if v["reimaging"] != nil { throw VolumeFault.invalidVolume("Volume \(id) is being re-imaged; it cannot be connected now.") }
            let mode = v["admin_metadata"]?["readonly"]?.stringValue == "True" ? "ro" : "rw"
            var exports = v["legacy_exports"]?.objectValue ?? [:]
            if let name = exports[host]?.stringValue { return (name, mode) }
            guard exports.count < 16 else { throw VolumeFault.invalidVolume("Volume \(id) has 16 legacy connections; terminate one first.") }
            let name = Identifiers.hex32() + Identifiers.hex32()
            exports[host] = .string(name)
            v["legacy_exports"] = .object(exports)
            s.put(.volume, v)
            return (name, mode)
        }
        let export: VolumeExport
        do { export = try await backend.export(volume: id, name: name) } catch {
            try? await write { s in
                guard var v = s[.volume, id], var exports = v["legacy_exports"]?.objectValue, exports[host]?.stringValue == name else { return }
                exports[host] = nil
                v["legacy_exports"] = exports.isEmpty ? nil : .object(exports)
                s.put(.volume, v)
            }
            throw error
        }
        let now = state
        let qos = now[.volume, id].flatMap { frontEndQoS(now, volume: $0) }
        return ["driver_volume_type": "nbd",
                "data": ["path": .string(export.socketPath), "export": .string(export.exportName), "access_mode": .string(mode),
                         "volume_id": .string(id), "encrypted": false, "discard": true, "qos_specs": qos.map { .object($0) } ?? .null]]
    }

    /// Stops the export made for the connector's host (nothing when there is none).
    public func terminateConnection(_ id: String, connector: JSONObject, actor: VolumeActor) async throws {
        let host = connector["host"]?.stringValue ?? ""
        let name: String? = try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            guard var exports = v["legacy_exports"]?.objectValue, let name = exports[host]?.stringValue else { return nil }
            exports[host] = nil
            v["legacy_exports"] = exports.isEmpty ? nil : .object(exports)
            s.put(.volume, v)
            return name
        }
        if let name { try await backend.unexport(name: name) }
    }

    /// The export names of a volume's legacy connections.
    static func legacyExports(_ v: JSONObject) -> [String] { (v["legacy_exports"]?.objectValue ?? [:]).values.compactMap(\.stringValue) }
}
