import Foundation
import NimbusCore

extension VolumeService {
    /// The snapshot, or 404 when it does not exist or belongs to another project.
    public func snapshot(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let s = state[.snapshot, id], visible(s, actor) else { throw VolumeFault.snapshotNotFound(id) }
        return s
    }

    /// Creates a snapshot of a volume (`force` or 3.66 allows an in-use one), `creating` until
    /// the backend has copied the bytes.
    public func createSnapshot(volumeID: String, name: String?, description: String?, metadata: [String: String], force: Bool,
                               actor: VolumeActor) async throws -> JSONObject {
        let doc: JSONObject = try await write { s in
            guard let v = s[.volume, volumeID], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(volumeID) }
            let status = v["status"]?.stringValue ?? ""
            guard status == "available" || (force && status == "in-use") else {
                throw VolumeFault.invalidVolume("Volume \(volumeID) status must be available, but current status is: \(status).")
            }
            let size = v["size"]?.intValue ?? 1
            let project = v["project_id"]?.stringValue ?? actor.projectID
            if let typeID = v["volume_type_id"]?.stringValue, let type = s[.volumeType, typeID] {
                try self.checkQuota(s, project: project, type: type, snapshots: 1, gigabytes: size)
            }
            let now = Self.now()
            var d: JSONObject = [
                "id": .string(Identifiers.uuid()), "name": JSONValue(name), "description": JSONValue(description), "volume_id": .string(volumeID),
                "volume_size": .int(size), "status": "creating", "progress": "0%", "project_id": .string(project), "user_id": .string(actor.userID),
                "volume_type_id": v["volume_type_id"] ?? .null, "bootable": v["bootable"] ?? false,
                "metadata": .object(JSONObject(pairs: metadata.map { ($0.key, .string($0.value)) })), "created_at": .string(now), "updated_at": .string(now),
            ]
            if let image = v["volume_image_metadata"] { d["volume_image_metadata"] = image }
            s.put(.snapshot, d)
            return d
        }
        let id = doc["id"]!.stringValue!
        background(id, "creating snapshot", {
            try await self.backend.snapshot(volume: volumeID, snapshot: id)
            await self.update(.snapshot, id, ["status": "available", "progress": "100%"])
        }, onFailure: { _ in
            try? await self.backend.delete(snapshot: id)
            await self.update(.snapshot, id, ["status": "error"])
        })
        return doc
    }

    public func updateSnapshot(_ id: String, name: String??, description: String??, actor: VolumeActor) async throws -> JSONObject {
        try await write { s in
            guard var d = s[.snapshot, id], self.visible(d, actor) else { throw VolumeFault.snapshotNotFound(id) }
            if let name { d["name"] = JSONValue(name) }
            if let description { d["description"] = JSONValue(description) }
            d["updated_at"] = .string(Self.now())
            s.put(.snapshot, d)
            return d
        }
    }

    /// Deletes a snapshot: `available` or `error` ones (any with `force`, an admin's
    /// force-delete), not while a volume is being made from it.
    public func deleteSnapshot(_ id: String, force: Bool, actor: VolumeActor) async throws {
        let start: Bool = try await write { s in
            guard var d = s[.snapshot, id], self.visible(d, actor) else { throw VolumeFault.snapshotNotFound(id) }
            let status = d["status"]?.stringValue ?? ""
            if status == "deleting" && !force { return false }
            // Cinder's `expected` has `group_snapshot_id: None` with or without force.
            if d["group_snapshot_id"]?.stringValue != nil {
                throw VolumeFault.invalidSnapshot("Snapshot status must be available or error and must not be part of a group.")
            }
            if !force && !["available", "error"].contains(status) {
                throw VolumeFault.invalidSnapshot("Snapshot status must be available or error and must not be part of a group.")
            }
            if s.dependents(snapshot: id).contains(where: { $0["status"]?.stringValue == "creating" }) {
                throw VolumeFault.invalidSnapshot("A volume is being created from this snapshot.")
            }
            d["status"] = "deleting"
            d["updated_at"] = .string(Self.now())
            s.put(.snapshot, d)
            return true
        }
        if start { startSnapshotDeletion(id) }
    }

    func startSnapshotDeletion(_ id: String) {
        background(id, "deleting snapshot", {
            try await self.backend.delete(snapshot: id)
            try await self.write { s in s.remove(.snapshot, id) }
        }, onFailure: { _ in await self.update(.snapshot, id, ["status": "error_deleting"]) })
    }

    /// `os-reset_status` of a snapshot (admin).
    public func resetSnapshotStatus(_ id: String, status: String, actor: VolumeActor) async throws {
        try await write { s in
            guard var d = s[.snapshot, id], self.visible(d, actor) else { throw VolumeFault.snapshotNotFound(id) }
            d["status"] = .string(status)
            d["updated_at"] = .string(Self.now())
            s.put(.snapshot, d)
        }
    }
}

extension VolumeService {
    /// `os-update_snapshot_status`'s progress (Nova's assisted snapshots report it).
    public func setSnapshotProgress(_ id: String, _ progress: String) async throws {
        await update(.snapshot, id, ["progress": .string(progress)])
    }
}
