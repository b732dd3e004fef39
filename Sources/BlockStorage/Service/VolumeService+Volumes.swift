import Crypto
import Foundation
import NimbusCore

/// A volume create request, validated for shape by the API layer.
public struct VolumeCreate: Sendable {
    public var name: String?
    public var description: String?
    public var sizeGB: Int64?
    public var volumeType: String?
    public var availabilityZone: String?
    public var metadata: [String: String] = [:]
    public var snapshotID: String?
    public var sourceVolumeID: String?
    public var imageID: String?
    /// A backup to restore into the new volume (3.47).
    public var backupID: String?
    /// The generic volume group the volume joins (3.13).
    public var groupID: String?
    /// The request's id, kept with a user message if scheduling fails.
    public var requestID: String?
    /// 3.46: an image that Nova made of a volume-backed server (its `block_device_mapping`
    /// boots from a snapshot) makes the volume from that snapshot, not from the image's bytes.
    public var novaImageSnapshots = false
    public init() {}
}

extension VolumeService {
    static let gib: Int64 = 1 << 30

    /// Statuses a volume may be deleted from without force (Cinder's `volume.api.delete`).
    static let deletable: Set<String> = ["available", "error", "error_restoring", "error_extending", "error_managing"]

    /// Creates a volume: checks the source, type, zone and quotas, records it `creating`, and
    /// makes its bytes in the background (`available` or `error` after).
    public func createVolume(_ request: VolumeCreate, actor: VolumeActor, caller: AuthContext) async throws -> JSONObject {
        var r = request
        let sources = [r.snapshotID, r.sourceVolumeID, r.imageID, r.backupID].compactMap { $0 }
        if sources.count > 1 {
            throw VolumeFault.invalidInput("Only one of snapshot_id, source_volid, imageRef and backup_id may be given.")
        }
        if let zone = r.availabilityZone, !zone.sameBytes(as: settings.availabilityZone) {
            throw NimbusError.badRequest("Availability zone '\(zone)' is invalid.")
        }
        // The image is looked up outside the write (it asks another service).
        var image: VolumeImage?
        if let imageID = r.imageID {
            guard let images else { throw NimbusError(.notImplemented, "Volumes from images need the image service.") }
            guard let i = try await images.image(imageID, caller: caller) else {
                throw NimbusError.badRequest("Invalid image identifier or unable to access requested image.")
            }
            if r.novaImageSnapshots, let snap = Self.novaBootMapping(i)?.snapshotID {
                guard let found = state[.snapshot, snap], visible(found, actor) else {
                    throw NimbusError.notFound("Nova specific image is found, but boot volume snapshot id:\(snap) not found.")
                }
                r.snapshotID = snap
                r.imageID = nil
            } else {
                guard i.status == "active" else { throw VolumeFault.invalidInput("Image \(imageID) is not active.") }
                image = i
            }
        }
        let source: VolumeSource
        if let image, let images { source = .image(try await images.source(image.id)) } else if let s = r.snapshotID {
            source = .snapshot(s)
        } else if let v = r.sourceVolumeID { source = .volume(v) } else { source = .blank }

        let (doc, schedulable): (JSONObject, Bool) = try await write { s in
            var size = r.sizeGB
            var typeID: String?
            var bootable = false
            var imageMetadata: JSONObject?
            if let snapID = r.snapshotID {
                guard let snap = s[.snapshot, snapID], self.visible(snap, actor) else { throw VolumeFault.snapshotNotFound(snapID) }
                guard snap["status"]?.stringValue == "available" else {
                    throw VolumeFault.invalidSnapshot("Originating snapshot status must be one of 'available' values")
                }
                let snapSize = snap["volume_size"]?.intValue ?? 1
                if size == nil { size = snapSize }
                if let size, size < snapSize {
                    throw VolumeFault.invalidInput("Volume size '\(size)'GB cannot be smaller than the snapshot size \(snapSize)GB. They must be >= original snapshot size.")
                }
                // What the snapshot captured, not what its volume holds now.
                typeID = snap["volume_type_id"]?.stringValue
                bootable = snap["bootable"]?.boolValue ?? false
                imageMetadata = snap["volume_image_metadata"]?.objectValue
            }
            if let sourceID = r.sourceVolumeID {
                guard let src = s[.volume, sourceID], self.visible(src, actor) else { throw VolumeFault.volumeNotFound(sourceID) }
                guard ["available", "in-use"].contains(src["status"]?.stringValue ?? "") else {
                    throw VolumeFault.invalidVolume("Originating volume status must be one of 'available', 'in-use' values")
                }
                let srcSize = src["size"]?.intValue ?? 1
                if size == nil { size = srcSize }
                if let size, size < srcSize {
                    throw VolumeFault.invalidInput("Volume size '\(size)'GB cannot be smaller than original volume size \(srcSize)GB. They must be >= original volume size.")
                }
                typeID = src["volume_type_id"]?.stringValue
                bootable = src["bootable"]?.boolValue ?? false
                imageMetadata = src["volume_image_metadata"]?.objectValue
            }
            if let backupID = r.backupID {
                guard let b = s[.backup, backupID], self.visible(b, actor) else { throw VolumeFault.backupNotFound(backupID) }
                guard b["status"]?.stringValue == "available" else {
                    throw VolumeFault.invalidBackup("Originating backup status must be one of 'available' values")
                }
                let backupSize = b["size"]?.intValue ?? 1
                if size == nil { size = backupSize }
                if let size, size < backupSize {
                    throw VolumeFault.invalidInput("Volume size \(size)GB cannot be smaller than the backup size \(backupSize)GB. It must be >= backup size.")
                }
            }
            if let image {
                let imageGB = max(1, ((image.size ?? 0) + Self.gib - 1) / Self.gib)
                if size == nil { size = max(imageGB, image.minDiskGB) }
                if let size, size < imageGB {
                    throw VolumeFault.invalidInput("Size of specified image \(imageGB)GB is larger than volume size \(size)GB.")
                }
                if let size, size < image.minDiskGB {
                    throw VolumeFault.invalidInput("Volume size \(size)GB cannot be smaller than the image minDisk size \(image.minDiskGB)GB.")
                }
                bootable = true
                imageMetadata = Self.imageMetadata(image)
            }
            guard let size else { throw VolumeFault.invalidInput("Volume size must be given when the volume has no source.") }
            guard size >= 1 else { throw VolumeFault.invalidInput("Volume size '\(size)' must be an integer and greater than 0") }
            guard size <= self.settings.maxVolumeSizeGB else {
                throw Self.tooLarge(size, self.settings.maxVolumeSizeGB)
            }
            if let t = r.volumeType {
                guard let type = s.volumeType(t), self.typeVisible(type, actor) else { throw VolumeFault.typeNameNotFound(t) }
                typeID = type["id"]?.stringValue
            }
            if typeID == nil || s[.volumeType, typeID!] == nil { typeID = self.defaultType(actor: actor, s)?["id"]?.stringValue }
            guard let typeID, let type = s[.volumeType, typeID] else { throw VolumeFault.typeNameNotFound(self.settings.defaultTypeName) }
            if Self.encrypted(type) { throw Self.noKeyManager }
            if let groupID = r.groupID {
                guard let g = s[.group, groupID], self.visible(g, actor) else { throw Self.groupNotFound(groupID) }
                // Cinder's GROUP_PROCEED_STATUS: not a group in error, being updated or deleted.
                guard ["available", "creating"].contains(g["status"]?.stringValue ?? "") else {
                    throw Self.invalidGroup("Originating group status must be one of 'available, creating' values")
                }
                // A group holds its own project's volumes only (as add_volumes checks): an admin's
                // volume made in a project's group would be deleted by that project's delete-volumes.
                guard g["project_id"]?.stringValue?.sameBytes(as: actor.projectID) == true else {
                    throw VolumeFault.invalidInput("Volume and group \(groupID) must belong to the same project.")
                }
                guard (g["volume_type_ids"]?.arrayValue ?? []).contains(where: { $0.stringValue == typeID }) else {
                    throw VolumeFault.invalidInput("Invalid volume_type provided: \(type["name"]?.stringValue ?? typeID) (requested type must be supported by this group).")
                }
            }
            try Self.provisionFilter(type, size: size)
            try self.checkQuota(s, project: actor.projectID, type: type, volumes: 1, gigabytes: size)
            let now = Self.now()
            var d: JSONObject = [
                "id": .string(Identifiers.uuid()), "name": JSONValue(r.name), "description": JSONValue(r.description),
                "size": .int(size), "status": "creating", "attach_status": "detached", "availability_zone": .string(self.settings.availabilityZone),
                "bootable": .bool(bootable), "multiattach": .bool(Self.multiattach(type)), "project_id": .string(actor.projectID),
                "user_id": .string(actor.userID), "volume_type_id": .string(typeID), "snapshot_id": JSONValue(r.snapshotID),
                "source_volid": JSONValue(r.sourceVolumeID), "metadata": .object(JSONObject(pairs: r.metadata.map { ($0.key, .string($0.value)) })),
                "admin_metadata": [:], "host": .string(self.backend.host), "migration_status": .null, "replication_status": "disabled",
                "created_at": .string(now), "updated_at": .string(now), "service_uuid": .string(self.serviceUUID),
            ]
            if let imageMetadata { d["volume_image_metadata"] = .object(imageMetadata) }
            if let image { d["image_id"] = .string(image.id) }
            if let groupID = r.groupID { d["group_id"] = .string(groupID) }
            let schedulable = self.volumeServiceAvailable && self.satisfies(type) && (r.backupID == nil || self.backupServiceAvailable)
            if !schedulable {
                // Cinder's scheduler answers later: the volume ends `error`, with a user message.
                d["status"] = "error"
                d["host"] = .null
                self.recordMessage(&s, project: actor.projectID, resourceType: "VOLUME", resource: d["id"]!.stringValue!, event: "VOLUME_VOLUME_001_003",
                                   text: "schedule allocate volume:Could not find any available weighted backend.", requestID: r.requestID)
            }
            s.put(.volume, d)
            if schedulable, let backupID = r.backupID, var b = s[.backup, backupID] {
                b["status"] = "restoring"
                b["restore_volume_id"] = d["id"] ?? .null
                b["updated_at"] = .string(now)
                s.put(.backup, b)
            }
            if !schedulable { d["status"] = "creating" }
            return (d, schedulable)
        }
        let id = doc["id"]!.stringValue!
        let size = doc["size"]!.intValue!
        guard schedulable else { return doc }
        if let backupID = r.backupID {
            startRestore(backupID, into: id)
            return doc
        }
        background(id, "creating volume", {
            try await self.backend.create(volume: id, sizeGB: size, from: source)
            await self.update(.volume, id, ["status": "available", "launched_at": .string(Self.now())])
        }, onFailure: { _ in
            try? await self.backend.delete(volume: id)
            await self.update(.volume, id, ["status": "error"])
        })
        return doc
    }

    /// Over `[volume] max_volume_size_gb` (a 413 whose message says "exceeds", as Tempest needs
    /// to read a quota error rather than a rate limit).
    static func tooLarge(_ size: Int64, _ limit: Int64) -> NimbusError {
        NimbusError(.payloadTooLarge, "VolumeSizeExceedsLimit: Requested volume size \(size)G exceeds the largest volume this cloud makes, \(limit)G.")
    }

    /// The stable id of this storage service (Cinder's `service_uuid` of volumes it holds).
    var serviceUUID: String {
        var b = Array(SHA256.hash(data: Array("nimbus-cinder-volume:\(backend.host)".utf8)).prefix(16))
        b[6] = (b[6] & 0x0F) | 0x50
        b[8] = (b[8] & 0x3F) | 0x80
        let hex = b.map { String(format: "%02x", $0) }.joined()
        let u = Array(hex.utf8)
        func part(_ r: Range<Int>) -> String { String(decoding: u[r], as: UTF8.self) }
        return [part(0..<8), part(8..<12), part(12..<16), part(16..<20), part(20..<32)].joined(separator: "-")
    }

    /// Cinder's `provision_filter_on_size`: a type's `provisioning:min_vol_size` and
    /// `provisioning:max_vol_size` bound the sizes volumes of it are made or extended to.
    static func provisionFilter(_ type: JSONObject, size: Int64) throws {
        let specs = type["extra_specs"]?.objectValue ?? [:]
        let name = type["name"]?.stringValue ?? ""
        if let min = specs["provisioning:min_vol_size"]?.stringValue, !min.isEmpty {
            guard let n = Int64(min) else { throw VolumeFault.invalidInput("provisioning:min_vol_size \(min) is not an integer.") }
            if size < n {
                throw VolumeFault.invalidInput("Specified volume size of '\(size)' is less than the minimum required size of '\(min)' for volume type '\(name)'.")
            }
        }
        if let max = specs["provisioning:max_vol_size"]?.stringValue, !max.isEmpty {
            guard let n = Int64(max) else { throw VolumeFault.invalidInput("provisioning:max_vol_size \(max) is not an integer.") }
            if size > n {
                throw VolumeFault.invalidInput("Specified volume size of '\(size)' is greater than the maximum allowable size of '\(max)' for volume type '\(name)'.")
            }
        }
    }

    static func multiattach(_ type: JSONObject) -> Bool {
        guard let v = type["extra_specs"]?["multiattach"]?.stringValue else { return false }
        return v.lowercased().sameBytes(as: "<is> true")
    }

    /// What Cinder copies from an image into `volume_image_metadata`.
    static func imageMetadata(_ i: VolumeImage) -> JSONObject {
        var m = JSONObject()
        for (k, v) in i.properties { m[k.string] = .string(v) }
        m["image_id"] = .string(i.id)
        m["image_name"] = .string(i.name ?? "")
        if let c = i.checksum { m["checksum"] = .string(c) }
        if let f = i.diskFormat { m["disk_format"] = .string(f) }
        if let f = i.containerFormat { m["container_format"] = .string(f) }
        m["min_disk"] = .string(String(i.minDiskGB))
        m["min_ram"] = .string(String(i.minRamMB))
        if let size = i.size { m["size"] = .string(String(size)) }
        return m
    }

    func visible(_ d: JSONObject, _ actor: VolumeActor) -> Bool {
        actor.isAdmin || d["project_id"]?.stringValue?.sameBytes(as: actor.projectID) == true
    }

    /// The volume, or 404 when it does not exist or belongs to another project.
    public func volume(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let v = state[.volume, id], visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
        return v
    }

    /// Sets name, description and metadata (`PUT /volumes/{id}`).
    public func updateVolume(_ id: String, name: String??, description: String??, metadata: [String: String]?, actor: VolumeActor) async throws -> JSONObject {
        try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            if let name { v["name"] = JSONValue(name) }
            if let description { v["description"] = JSONValue(description) }
            if let metadata { v["metadata"] = .object(JSONObject(pairs: metadata.map { ($0.key, .string($0.value)) })) }
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
            return v
        }
    }

    /// Changes a volume's or snapshot's metadata: `replace` sets the whole map, otherwise the
    /// given keys are merged in; `delete` removes one key (404 when absent).
    public func changeMetadata(_ kind: VolumeKind, _ id: String, set: [String: String], replace: Bool, delete: String? = nil,
                               actor: VolumeActor) async throws -> JSONObject {
        try await write { s in
            guard var d = s[kind, id], self.visible(d, actor) else {
                throw kind == .volume ? VolumeFault.volumeNotFound(id) : VolumeFault.snapshotNotFound(id)
            }
            if kind == .volume, let status = d["status"]?.stringValue, status == "maintenance" || status == "uploading" {
                throw VolumeFault.invalidVolume("Volume status must be available or in-use.")
            }
            var m = replace ? JSONObject() : (d["metadata"]?.objectValue ?? [:])
            if let key = delete {
                guard m.removeValue(forKey: key) != nil else {
                    throw NimbusError.notFound(kind == .volume ? "Volume \(id) has no metadata with key \(key)."
                                                                : "Snapshot \(id) has no metadata with key \(key).")
                }
            }
            for (k, v) in set { m[k] = .string(v) }
            d["metadata"] = .object(m)
            d["updated_at"] = .string(Self.now())
            s.put(kind, d)
            return m
        }
    }

    /// Deletes a volume (Cinder's `volume.api.delete`): `cascade` deletes its snapshots too,
    /// `force` (an admin's force-delete) skips the status check.
    public func deleteVolume(_ id: String, cascade: Bool, force: Bool, actor: VolumeActor) async throws {
        let (snapshots, exports): ([String], [String]) = try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            let status = v["status"]?.stringValue ?? ""
            if status == "deleting" && !force { return ([], []) }
            if !force {
                guard Self.deletable.contains(status), v["attach_status"]?.stringValue != "attached", v["migration_status"]?.stringValue == nil,
                      s.transfers(of: id).isEmpty else {
                    throw VolumeFault.invalidVolume("Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.")
                }
            }
            // A group's volume goes with its group (Cinder's `expected` has `group_id: None`, force or not).
            if v["group_id"]?.stringValue != nil {
                throw VolumeFault.invalidVolume("Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.")
            }
            // Even a force-delete leaves an attached volume alone (Cinder keeps "not attached").
            if !s.attachments(of: id).isEmpty || v["attach_status"]?.stringValue == "attached" {
                throw VolumeFault.invalidVolume("Volume is still attached, need to detach first.")
            }
            let snaps = s.snapshots(of: id)
            if cascade, !actor.isAdmin, snaps.contains(where: { $0["project_id"]?.stringValue?.sameBytes(as: v["project_id"]?.stringValue ?? "") != true }) {
                throw VolumeFault.invalidVolume("Volume has snapshots of another project: they are not deleted with it.")
            }
            if !snaps.isEmpty && !cascade {
                throw VolumeFault.invalidVolume("Volume has \(snaps.count) dependent snapshots")
            }
            if cascade, let busy = snaps.first(where: { !["available", "error", "deleting"].contains($0["status"]?.stringValue ?? "") }) {
                throw VolumeFault.invalidVolume("Snapshot \(busy["id"]?.stringValue ?? "") status must be available or error, not \(busy["status"]?.stringValue ?? "")")
            }
            if let copying = s.dependents(volume: id).first(where: { $0["status"]?.stringValue == "creating" }) {
                throw VolumeFault.invalidVolume("Volume \(copying["id"]?.stringValue ?? "") is being cloned from this volume.")
            }
            var ids = [String]()
            for var snap in snaps {
                snap["status"] = "deleting"
                snap["updated_at"] = .string(Self.now())
                s.put(.snapshot, snap)
                if let sid = snap["id"]?.stringValue { ids.append(sid) }
            }
            for t in s.transfers(of: id) { if let tid = t["id"]?.stringValue { s.remove(.transfer, tid) } }
            let exports = s.attachments(of: id).compactMap { $0["export_name"]?.stringValue } + Self.legacyExports(v)
            for a in s.attachments(of: id) { if let aid = a["id"]?.stringValue { s.remove(.attachment, aid) } }
            v["status"] = "deleting"
            v["attach_status"] = "detached"
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
            return (ids, exports)
        }
        for sid in snapshots { startSnapshotDeletion(sid) }
        startVolumeDeletion(id, after: snapshots, exports: exports)
    }

    /// Removes the bytes, then the document (`error_deleting` when the backend fails). A
    /// cascade waits for its snapshots first.
    func startVolumeDeletion(_ id: String, after snapshots: [String] = [], exports: [String] = []) {
        background(id, "deleting volume", {
            for name in exports { try await self.backend.unexport(name: name) }
            for sid in snapshots { await self.running.withLock({ $0[sid]?.task })?.value }
            try await self.backend.delete(volume: id)
            try await self.write { s in
                for snap in s.snapshots(of: id) { if let sid = snap["id"]?.stringValue { s.remove(.snapshot, sid) } }
                s.remove(.volume, id)
            }
        }, onFailure: { _ in await self.update(.volume, id, ["status": "error_deleting"]) })
    }

    /// `os-extend`: grows an available volume (and, from 3.42, an attached one).
    public func extendVolume(_ id: String, newSize: Int64, allowInUse: Bool, actor: VolumeActor) async throws {
        try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            let status = v["status"]?.stringValue ?? ""
            // From 3.42 an attached volume too: the storage node grows its export and the guests
            // it is attached to are told (Cinder's `extend_volume` then Nova's event).
            guard status == "available" || (status == "in-use" && allowInUse) else {
                throw VolumeFault.invalidVolume("Volume status must be 'available' to extend, currently \(status).")
            }
            if s.dependents(volume: id).contains(where: { $0["status"]?.stringValue == "creating" }) {
                throw VolumeFault.invalidVolume("Volume \(id) is being cloned; extend it once the copy is done.")
            }
            let size = v["size"]?.intValue ?? 0
            guard newSize > size else {
                throw VolumeFault.invalidInput("New size for extend must be greater than current size. (current: \(size), extended: \(newSize)).")
            }
            guard newSize <= self.settings.maxVolumeSizeGB else {
                throw Self.tooLarge(newSize, self.settings.maxVolumeSizeGB)
            }
            if let typeID = v["volume_type_id"]?.stringValue, let type = s[.volumeType, typeID] {
                try Self.provisionFilter(type, size: newSize)
                try self.checkQuota(s, project: v["project_id"]?.stringValue ?? "", type: type, volumes: 0, gigabytes: newSize - size, perVolume: newSize)
            }
            v["status"] = "extending"
            v["extending_to"] = .int(newSize)
            v["previous_status"] = .string(status)
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
        }
        runExtend(id, to: newSize, actor: actor)
    }

    func runExtend(_ id: String, to size: Int64, actor: VolumeActor? = nil) {
        background(id, "extending volume", {
            try await self.backend.extend(volume: id, sizeGB: size)
            let instances: [String] = try await self.write { s in
                guard var v = s[.volume, id] else { return [] }
                v["size"] = .int(size)
                // What the volume's attachments make it now (a detach during the extend set
                // `previous_status`): in-use only while something still has it.
                let attached = !s.attachments(of: id).isEmpty
                let previous = v["previous_status"]?.stringValue ?? "available"
                v["status"] = .string(previous == "in-use" && !attached ? "available" : previous)
                v.removeValue(forKey: "extending_to")
                v.removeValue(forKey: "previous_status")
                v["updated_at"] = .string(Self.now())
                s.put(.volume, v)
                guard v["status"]?.stringValue == "in-use" else { return [] }
                var seen = Set<String>()
                return s.attachments(of: id).compactMap { $0["instance_uuid"]?.stringValue }.filter { seen.insert($0).inserted }
            }
            if !instances.isEmpty, let listener = self.attachedListener.withLock({ $0 }) {
                let v = self.state[.volume, id]
                let who = actor ?? VolumeActor(projectID: v?["project_id"]?.stringValue ?? "", userID: v?["user_id"]?.stringValue ?? "", isAdmin: false)
                await listener.volumeExtended(volumeID: id, instances: instances, actor: who)
            }
        }, onFailure: { _ in
            await self.update(.volume, id, ["status": "error_extending", "extending_to": .null])
        })
    }

    /// `os-reset_status` (admin): sets the statuses as given, nothing else.
    public func resetVolumeStatus(_ id: String, status: String?, attachStatus: String?, migrationStatus: String??, actor: VolumeActor) async throws {
        let exports: [String] = try await write { s in
            var exports = [String]()
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            if let status { v["status"] = .string(status) }
            if let attachStatus {
                v["attach_status"] = .string(attachStatus)
                if attachStatus == "detached" {
                    for a in s.attachments(of: id) {
                        if let name = a["export_name"]?.stringValue { exports.append(name) }
                        if let aid = a["id"]?.stringValue { s.remove(.attachment, aid) }
                    }
                }
            }
            if let migrationStatus { v["migration_status"] = JSONValue(migrationStatus) }
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
            return exports
        }
        for name in exports { try await backend.unexport(name: name) }
    }

    /// `os-set_bootable` and `os-update_readonly_flag`, and retype within this backend.
    public func setVolumeFields(_ id: String, actor: VolumeActor, allowed: Set<String>? = nil, _ change: @Sendable (inout JSONObject, VolumeState) throws -> Void) async throws {
        try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            if let allowed, !allowed.contains(v["status"]?.stringValue ?? "") {
                throw VolumeFault.invalidVolume("Volume status must be \(allowed.sorted().joined(separator: " or ")).")
            }
            try change(&v, s)
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
        }
    }

    /// `os-retype`: the type changes at once (one backend: nothing to migrate), with the quotas
    /// of both types moved.
    public func retype(_ id: String, to newType: String, actor: VolumeActor) async throws {
        try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            guard ["available", "in-use"].contains(v["status"]?.stringValue ?? "") else {
                throw VolumeFault.invalidVolume("Volume status must be available or in-use.")
            }
            guard let type = s.volumeType(newType), self.typeVisible(type, actor), let typeID = type["id"]?.stringValue else {
                throw VolumeFault.typeNameNotFound(newType)
            }
            guard v["volume_type_id"]?.stringValue != typeID else {
                throw VolumeFault.invalidInput("Retype requires a different volume type.")
            }
            if Self.encrypted(type) { throw Self.noKeyManager }
            // Cinder's `expected` has `group_id: None`: a group's volume keeps a type of its group.
            if v["group_id"]?.stringValue != nil {
                throw VolumeFault.invalidVolume("Retype needs volume to be in available or in-use state, not be part of an active migration or a consistency group, requested type has to be different that the one from the volume, and for in-use volumes front-end qos specs cannot change.")
            }
            if !s.snapshots(of: id).isEmpty {
                throw VolumeFault.invalidVolume("Volumes with snapshots cannot be retyped.")
            }
            if v["status"]?.stringValue == "in-use", Self.multiattach(type) != (v["multiattach"]?.boolValue ?? false) {
                throw VolumeFault.invalidInput("Retypes affecting multiattach are only allowed on available volumes.")
            }
            try self.checkQuota(s, project: v["project_id"]?.stringValue ?? "", type: type, volumes: 1, gigabytes: v["size"]?.intValue ?? 0,
                                onlyType: true)
            v["volume_type_id"] = .string(typeID)
            v["multiattach"] = .bool(Self.multiattach(type))
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
        }
    }

    /// `revert` (3.40): the volume's bytes become its latest snapshot's.
    public func revert(_ id: String, to snapshotID: String, actor: VolumeActor) async throws {
        let size: Int64 = try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            guard let snap = s[.snapshot, snapshotID], snap["volume_id"]?.stringValue == id else { throw VolumeFault.snapshotNotFound(snapshotID) }
            // Cinder answers a volume or snapshot in the wrong status with 409 here.
            guard v["status"]?.stringValue == "available" else {
                throw NimbusError.conflict("Invalid volume: Cannot revert volume \(id) to snapshot \(snapshotID): the volume status must be available.")
            }
            guard snap["status"]?.stringValue == "available" else {
                throw NimbusError.conflict("Invalid snapshot: Cannot revert volume \(id) to snapshot \(snapshotID): the snapshot status must be available.")
            }
            let latest = s.snapshots(of: id).max { ($0["created_at"]?.stringValue ?? "").bytesPrecede($1["created_at"]?.stringValue ?? "") }
            guard latest?["id"]?.stringValue == snapshotID else {
                throw VolumeFault.invalidVolume("Cannot revert volume \(id) to snapshot \(snapshotID): it is not the volume's latest snapshot.")
            }
            guard v["size"]?.intValue == snap["volume_size"]?.intValue else {
                throw VolumeFault.invalidVolume("Cannot revert volume \(id) to snapshot \(snapshotID): the volume was extended since the snapshot.")
            }
            v["status"] = "reverting"
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
            var held = snap
            held["status"] = "restoring"
            s.put(.snapshot, held)
            return v["size"]?.intValue ?? 1
        }
        background(id, "reverting volume", {
            try await self.backend.revert(volume: id, to: snapshotID, sizeGB: size)
            await self.update(.volume, id, ["status": "available"])
            await self.update(.snapshot, snapshotID, ["status": "available"])
        }, onFailure: { _ in
            await self.update(.volume, id, ["status": "error"])
            await self.update(.snapshot, snapshotID, ["status": "available"])
        })
    }
}

extension VolumeService {
    /// The disk formats a volume may be uploaded as, and the `qemu-img` format of each.
    public static let uploadFormats: [String: String] = ["raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi", "vhd": "vpc", "vhdx": "vhdx"]

    /// `os-volume_upload_image`: a new image in the image service whose data is the volume's
    /// bytes in `diskFormat`. The volume is `uploading` until the data is in; the image is
    /// deleted if the upload fails. Returns the volume as it was and the image as created.
    public func uploadToImage(_ id: String, name: String, diskFormat: String, containerFormat: String, visibility: String?, protected: Bool?,
                              actor: VolumeActor) async throws -> (volume: JSONObject, image: JSONObject, imageID: String) {
        guard let images else { throw NimbusError(.notImplemented, "Uploading volumes needs the image service.") }
        guard let qemuFormat = Self.uploadFormats[diskFormat] else {
            throw NimbusError.badRequest("Invalid disk-format '\(diskFormat)' is specified. Allowed disk-formats are \(Self.uploadFormats.keys.sorted().joined(separator: ", ")).")
        }
        let volume: JSONObject = try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            guard v["status"]?.stringValue == "available" else { throw VolumeFault.invalidVolume("Volume \(id) status must be available") }
            v["status"] = "uploading"
            v["previous_status"] = "available"
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
            return v
        }
        var create: JSONObject = ["name": .string(name), "disk_format": .string(diskFormat), "container_format": .string(containerFormat),
                                  "min_disk": .int(volume["size"]?.intValue ?? 0)]
        if let visibility { create["visibility"] = .string(visibility) }
        if let protected { create["protected"] = .bool(protected) }
        let core: Set<String> = ["checksum", "container_format", "disk_format", "image_id", "image_name", "min_disk", "min_ram", "size", "name",
                                 "visibility", "protected", "id", "status", "owner", "os_hash_algo", "os_hash_value"]
        for (k, v) in volume["volume_image_metadata"]?.objectValue ?? [:] where !core.contains(k) { create[k] = v }
        let image: (id: String, image: JSONObject)
        do {
            image = try await images.createImage(create, owner: volume["project_id"]?.stringValue ?? actor.projectID)
        } catch {
            await update(.volume, id, ["status": "available", "previous_status": .null])
            throw error
        }
        let imageID = image.id
        background(id, "uploading volume", {
            do {
                try await self.backend.export(volume: id, format: qemuFormat) { path in try await images.upload(imageID, file: path) }
            } catch {
                try? await images.deleteImage(imageID)
                throw error
            }
            await self.update(.volume, id, ["status": "available", "previous_status": .null])
        }, onFailure: { _ in await self.update(.volume, id, ["status": "available", "previous_status": .null]) })
        return (volume, image.image, imageID)
    }
}
