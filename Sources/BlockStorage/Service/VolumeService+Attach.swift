import Crypto
import Foundation
import NimbusCore

/// The attach bookkeeping Nova drives through Cinder's legacy volume actions (`os-reserve`,
/// `os-attach`, `os-begin_detaching`, `os-detach`, …): statuses and attachment records only.
/// Connecting a guest to the bytes is the compute node's part.
extension VolumeService {
    /// Moves a volume from one of `from` to `to` (the reserve/unreserve/begin/roll steps).
    public func transition(_ id: String, from: Set<String>, to: String, actor: VolumeActor, action: String) async throws {
        try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            let status = v["status"]?.stringValue ?? ""
            guard from.contains(status) else {
                throw VolumeFault.invalidVolume("Volume status must be \(from.sorted().joined(separator: " or ")) to \(action), currently \(status).")
            }
            if action == "reserve", status == "in-use", v["multiattach"]?.boolValue != true {
                throw VolumeFault.invalidVolume("Volume is already attached and is not multiattach.")
            }
            v["status"] = .string(to)
            if to == "attaching" || to == "detaching" { v["previous_status"] = .string(status) }
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
        }
    }

    /// `os-attach`: records an attachment to an instance (or a host) at a mount point.
    public func attach(_ id: String, instance: String?, host: String?, mountpoint: String, mode: String, actor: VolumeActor) async throws {
        try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            let status = v["status"]?.stringValue ?? ""
            guard ["available", "attaching", "reserved"].contains(status) || (status == "in-use" && v["multiattach"]?.boolValue == true) else {
                throw VolumeFault.invalidVolume("Volume status must be available or attaching to attach, currently \(status).")
            }
            if mode == "rw", v["admin_metadata"]?["readonly"]?.stringValue == "True" {
                throw VolumeFault.invalidVolume("Volume \(id) is read-only and cannot be attached in rw mode.")
            }
            let now = Self.now()
            s.put(.attachment, ["id": .string(Identifiers.uuid()), "volume_id": .string(id), "project_id": v["project_id"] ?? .null,
                                "instance_uuid": JSONValue(instance), "attached_host": JSONValue(host), "mountpoint": .string(mountpoint),
                                "attach_mode": .string(mode), "attach_status": "attached", "attach_time": .string(now), "detach_time": .null,
                                "created_at": .string(now), "updated_at": .string(now)])
            var admin = v["admin_metadata"]?.objectValue ?? [:]
            admin["attached_mode"] = .string(mode)
            v["admin_metadata"] = .object(admin)
            v["status"] = "in-use"
            v["attach_status"] = "attached"
            v.removeValue(forKey: "previous_status")
            v["updated_at"] = .string(now)
            s.put(.volume, v)
        }
    }

    /// `os-detach`: removes one attachment (the only one when none is named).
    public func detach(_ id: String, attachmentID: String?, actor: VolumeActor) async throws {
        let export: String? = try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            let attachments = s.attachments(of: id)
            let target: JSONObject?
            // Cinder's manager: an attachment that is not there, or none at all, only sets the
            // volume's status right ("Volume detach called, but volume not attached.").
            if let attachmentID {
                target = attachments.first { $0["id"]?.stringValue == attachmentID }
            } else {
                guard attachments.count <= 1 else {
                    throw VolumeFault.invalidVolume("Detach volume failed: More than one attachment, but no attachment_id provided.")
                }
                target = attachments.first
            }
            // A volume being made, grown, copied or deleted keeps its status (Cinder's manager
            // would set it `available` under the running operation).
            let settled: Set<String> = ["available", "in-use", "attaching", "detaching", "reserved", "error"]
            if target == nil, !settled.contains(v["status"]?.stringValue ?? "") { return nil }
            if let aid = target?["id"]?.stringValue { s.remove(.attachment, aid) }
            let remaining = s.attachments(of: id)
            let (status, attachStatus) = Self.statuses(from: remaining)
            if v["status"]?.stringValue == "extending" {
                v["previous_status"] = .string(status)
            } else if v["reimaging"] == nil {   // a re-image sets the status when it ends
                v["status"] = .string(status)
            }
            v["attach_status"] = .string(attachStatus)
            if remaining.isEmpty, var admin = v["admin_metadata"]?.objectValue {
                admin.removeValue(forKey: "attached_mode")
                v["admin_metadata"] = .object(admin)
            }
            if v["status"]?.stringValue != "extending" { v.removeValue(forKey: "previous_status") }
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
            return target?["export_name"]?.stringValue
        }
        // The connection goes with the attachment (Cinder's remove_export).
        if let export { try await backend.unexport(name: export) }
    }

    /// `os-roll_detaching`: back to what it was before `os-begin_detaching`.
    public func rollDetaching(_ id: String, actor: VolumeActor) async throws {
        try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            guard v["status"]?.stringValue == "detaching" else { return }
            v["status"] = .string(s.attachments(of: id).isEmpty ? "available" : "in-use")
            v.removeValue(forKey: "previous_status")
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
        }
    }
}

/// Volume transfers (`os-volume-transfer`, `volume-transfers`): the giving project offers a
/// volume with a secret key; the project that presents the key takes it, with its snapshots.
extension VolumeService {
    static func hashKey(_ key: String, salt: String) -> String {
        SHA256.hash(data: Array((salt + key).utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Returns the transfer and its key (shown once).
    public func createTransfer(volumeID: String, name: String?, noSnapshots: Bool, actor: VolumeActor) async throws -> (JSONObject, String) {
        let key = String((0..<16).map { _ in "0123456789abcdef".randomElement()! })
        let doc: JSONObject = try await write { s in
            guard var v = s[.volume, volumeID], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(volumeID) }
            guard v["status"]?.stringValue == "available" else {
                throw VolumeFault.invalidVolume("status must be available")
            }
            // A group's volume stays in its project: the group (and a delete-volumes or a group
            // snapshot of it) would otherwise reach a volume another project then owns. Cinder
            // refuses a consistency group's volume at accept; the group is checked here, before
            // anything is offered. A connected volume keeps its exports to the old project's hosts.
            if let g = v["group_id"]?.stringValue {
                throw VolumeFault.invalidVolume("Volume \(volumeID) must not be part of a group (it is in group \(g)).")
            }
            if !Self.legacyExports(v).isEmpty || !s.attachments(of: volumeID).isEmpty {
                throw VolumeFault.invalidVolume("Volume \(volumeID) is connected; terminate its connections first.")
            }
            if !noSnapshots, s.snapshots(of: volumeID).contains(where: { $0["group_snapshot_id"]?.stringValue != nil }) {
                throw VolumeFault.invalidSnapshot("Volume \(volumeID) has snapshots in a group snapshot; transfer it without snapshots or delete the group snapshot first.")
            }
            if !noSnapshots, s.snapshots(of: volumeID).contains(where: { $0["status"]?.stringValue != "available" }) {
                throw VolumeFault.invalidSnapshot("snapshot status must be available")
            }
            let salt = Identifiers.hex32()
            let now = Self.now()
            let t: JSONObject = ["id": .string(Identifiers.uuid()), "name": JSONValue(name), "volume_id": .string(volumeID),
                                 "project_id": v["project_id"] ?? .null, "salt": .string(salt), "crypt_hash": .string(Self.hashKey(key, salt: salt)),
                                 "no_snapshots": .bool(noSnapshots), "created_at": .string(now), "updated_at": .string(now)]
            s.put(.transfer, t)
            v["status"] = "awaiting-transfer"
            v["updated_at"] = .string(now)
            s.put(.volume, v)
            return t
        }
        return (doc, key)
    }

    public func transfer(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let t = state[.transfer, id], visible(t, actor) else { throw NimbusError.notFound("Transfer \(id) could not be found.") }
        return t
    }

    public func deleteTransfer(_ id: String, actor: VolumeActor) async throws {
        try await write { s in
            guard let t = s[.transfer, id], self.visible(t, actor) else { throw NimbusError.notFound("Transfer \(id) could not be found.") }
            s.remove(.transfer, id)
            if let vid = t["volume_id"]?.stringValue, var v = s[.volume, vid], v["status"]?.stringValue == "awaiting-transfer" {
                v["status"] = "available"
                v["updated_at"] = .string(Self.now())
                s.put(.volume, v)
            }
        }
    }

    /// Accepts a transfer with its key: the volume (and its snapshots unless the transfer says
    /// otherwise) moves to the caller's project, within that project's quotas.
    public func acceptTransfer(_ id: String, key: String, actor: VolumeActor) async throws -> JSONObject {
        try await write { s in
            // Any project may accept a transfer it knows the id and key of.
            guard let t = s[.transfer, id] else { throw NimbusError.notFound("Transfer \(id) could not be found.") }
            let salt = t["salt"]?.stringValue ?? ""
            guard ConstantTime.equal(Array(Self.hashKey(key, salt: salt).utf8), Array((t["crypt_hash"]?.stringValue ?? "").utf8)) else {
                throw NimbusError.badRequest("Invalid auth key: Attempt to transfer \(id) with invalid auth key.")
            }
            guard let vid = t["volume_id"]?.stringValue, var v = s[.volume, vid] else { throw VolumeFault.volumeNotFound(t["volume_id"]?.stringValue ?? "") }
            if v["group_id"]?.stringValue != nil {
                throw VolumeFault.invalidVolume("Volume \(vid) must not be part of a group.")
            }
            let snapshots = (t["no_snapshots"]?.boolValue ?? false) ? [] : s.snapshots(of: vid)
            let size = v["size"]?.intValue ?? 0
            if let typeID = v["volume_type_id"]?.stringValue, let type = s[.volumeType, typeID] {
                // The volume and its snapshots count together, as one reservation.
                try self.checkQuota(s, project: actor.projectID, type: type, volumes: 1, snapshots: Int64(snapshots.count),
                                    gigabytes: size + snapshots.reduce(0) { $0 + ($1["volume_size"]?.intValue ?? 0) }, perVolume: size)
            }
            let now = Self.now()
            for var snap in snapshots {
                snap["project_id"] = .string(actor.projectID)
                snap["user_id"] = .string(actor.userID)
                snap["updated_at"] = .string(now)
                s.put(.snapshot, snap)
            }
            v["project_id"] = .string(actor.projectID)
            v["user_id"] = .string(actor.userID)
            v["status"] = "available"
            v["updated_at"] = .string(now)
            s.put(.volume, v)
            s.remove(.transfer, id)
            return t
        }
    }
}
