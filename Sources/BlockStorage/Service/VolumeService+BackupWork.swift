import Foundation
import NimbusCore
import Synchronization

/// The backup manager's part (Cinder's `backup/manager.py`): moving bytes between the storage
/// node and the object store in the background, the statuses after, and what a restart finds.
extension VolumeService {
    /// Where a backup's objects are: the account of the project that made it (an imported
    /// backup keeps its record's), its container and object prefix.
    func location(_ b: JSONObject) -> BackupLocation? {
        guard let prefix = b["service_metadata"]?.stringValue, let container = b["container"]?.stringValue else { return nil }
        let project = b["data_project"]?.stringValue ?? b["project_id"]?.stringValue ?? ""
        return BackupLocation(project: project, container: container, prefix: prefix)
    }

    /// The volume's metadata as Cinder's `BackupMetadataAPI.get` serializes it (version 2): the
    /// base fields, the user metadata and the image metadata, restored with the data.
    static func volumeMeta(_ v: JSONObject) -> String {
        var o: JSONObject = ["version": 2]
        o["volume-base-metadata"] = ["display_name": v["name"] ?? .null, "display_description": v["description"] ?? .null, "size": v["size"] ?? .null,
                                     "volume_type_id": v["volume_type_id"] ?? .null, "bootable": v["bootable"] ?? false, "encryption_key_id": .null,
                                     "availability_zone": v["availability_zone"] ?? .null]
        if let m = v["metadata"]?.objectValue, !m.isEmpty { o["volume-metadata"] = .object(m) }
        if let g = v["volume_image_metadata"]?.objectValue, !g.isEmpty { o["volume-glance-metadata"] = .object(g) }
        return JSONValue.object(o).serializedString()
    }

    /// What a restore writes into the volume's record (`BackupMetadataAPI.put`, version 2): the
    /// name and description only into a volume named by the restore itself, the metadata and
    /// the image metadata (which makes the volume bootable) replaced; and `src_backup_id`.
    static func applyVolumeMeta(_ meta: String?, to v: inout JSONObject, backup: JSONObject) {
        if let meta, case .object(let o)? = try? JSONValue.parse(string: meta) {
            if let base = o["volume-base-metadata"]?.objectValue, let name = base["display_name"]?.stringValue, !name.isEmpty {
                let current = v["name"]?.stringValue ?? ""
                if current.isEmpty || current.hasBytePrefix("restore_backup_") {
                    v["name"] = .string(name)
                    v["description"] = base["display_description"] ?? .null
                }
            }
            if let m = o["volume-metadata"]?.objectValue { v["metadata"] = .object(m) }
            if let g = o["volume-glance-metadata"]?.objectValue {
                v["volume_image_metadata"] = .object(g)
                v["bootable"] = true
            }
        }
        let id = backup["id"] ?? .null
        var m = v["metadata"]?.objectValue ?? [:]
        let previous = m["src_backup_id"]
        let sameVolume = backup["volume_id"]?.stringValue.map { $0.sameBytes(as: v["id"]?.stringValue ?? "") } ?? false
        let sameBackup = previous?.stringValue.map { $0.sameBytes(as: id.stringValue ?? "") } ?? true
        if !sameVolume || !sameBackup {
            m["src_backup_id"] = id
            v["metadata"] = .object(m)
        }
    }

    // MARK: create

    func startBackup(_ id: String) {
        background(id, "backing up", {
            try await self.backupSlots.run { try await self.runBackup(id) }
        }, onFailure: { error in await self.backupFailed(id, error) })
    }

    func runBackup(_ id: String) async throws {
        guard let engine = backups, let b = state[.backup, id], b["status"]?.stringValue == "creating", let location = location(b),
              let volumeID = b["volume_id"]?.stringValue, let volume = state[.volume, volumeID] else {
            throw NimbusError(.internal, "the backup, its volume or the backup service is gone")
        }
        let parent = try b["parent_id"]?.stringValue.map { pid -> BackupLocation in
            guard let p = state[.backup, pid], let l = self.location(p) else { throw NimbusError(.internal, "the parent backup \(pid) is gone") }
            return l
        }
        let source: BackupSource = b["snapshot_id"]?.stringValue.map { .snapshot($0) } ?? .volume(volumeID)
        let description = ChunkedBackup.Description(backupID: id, volumeID: volumeID, name: b["name"]?.stringValue, description: b["description"]?.stringValue,
                                                    createdAt: b["created_at"]?.stringValue ?? "", parentID: b["parent_id"]?.stringValue,
                                                    volumeMeta: Self.volumeMeta(volume))
        let count = Mutex<Int>(0)
        let clock = ContinuousClock()
        let started = clock.now
        let imaged = Mutex(started)
        try await backend.withRawImage(of: source) { path in
            imaged.withLock { $0 = clock.now }
            let n = try await engine.backup(file: path, to: location, parent: parent, description) {
                self.state[.backup, id]?["status"]?.stringValue ?? "deleting" == "deleting"
            }
            count.withLock { $0 = n }
        }
        let objects = count.withLock { $0 }
        let raw = imaged.withLock { $0 } - started
        logger.info("backup \(id) of volume \(volumeID): \(objects) objects; raw image in \(raw), objects in \(clock.now - started - raw)")
        try await write { s in
            self.releaseBackupSource(&s, b)
            guard var done = s[.backup, id], done["status"]?.stringValue != "deleting" else { return }
            done["status"] = "available"
            done["object_count"] = .int(Int64(objects))
            done["updated_at"] = .string(Self.now())
            s.put(.backup, done)
        }
    }

    /// The volume goes back to the status it had (if it is still `backing-up`), a snapshot to
    /// `available`.
    func releaseBackupSource(_ s: inout VolumeState, _ b: JSONObject) {
        if let sid = b["snapshot_id"]?.stringValue {
            if var snap = s[.snapshot, sid], snap["status"]?.stringValue == "backing-up" {
                snap["status"] = "available"
                s.put(.snapshot, snap)
            }
        } else if let vid = b["volume_id"]?.stringValue, var v = s[.volume, vid], v["status"]?.stringValue == "backing-up" {
            v["status"] = v["previous_status"] ?? "available"
            v["previous_status"] = "backing-up"
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
        }
    }

    func backupFailed(_ id: String, _ error: any Error) async {
        let reason = (error as? NimbusError)?.message ?? "\(error)"
        do {
            try await write { s in
                guard var b = s[.backup, id] else { return }
                self.releaseBackupSource(&s, b)
                guard b["status"]?.stringValue == "creating" else { return }
                b["status"] = "error"
                b["fail_reason"] = .string(reason)
                b["updated_at"] = .string(Self.now())
                s.put(.backup, b)
                self.recordMessage(&s, project: b["project_id"]?.stringValue ?? "", resourceType: "VOLUME_BACKUP", resource: id,
                                   event: "VOLUME_VOLUME_BACKUP_013_020", text: "create backup:Backup driver failed to create backup.", requestID: nil)
            }
        } catch {
            logger.error("could not record the failure of backup \(id): \(error)")
        }
    }

    // MARK: delete

    func startBackupDeletion(_ id: String) {
        background(id, "deleting backup", {
            guard let b = self.state[.backup, id] else { return }
            if let location = self.location(b) {
                guard let engine = self.backups else { throw VolumeFault.noBackupService }
                // An imported record may name the same objects as another backup: they stay while one does.
                let shared = self.state.all(.backup).contains { o in
                    o["id"]?.stringValue?.sameBytes(as: id) != true && self.location(o).map { $0 == location } == true
                }
                if !shared { try await engine.delete(location) }
            }
            try await self.write { s in s.remove(.backup, id) }
        }, onFailure: { error in
            await self.update(.backup, id, ["status": "error_deleting", "fail_reason": .string((error as? NimbusError)?.message ?? "\(error)")])
        })
    }
}
