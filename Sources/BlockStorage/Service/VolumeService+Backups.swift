import Foundation
import NimbusCore

/// A backup create request, validated for shape by the API layer.
public struct BackupCreate: Sendable {
    public var volumeID: String
    public var name: String?
    public var description: String?
    public var container: String?
    public var incremental = false
    public var force = false
    public var snapshotID: String?
    public var metadata: [String: String] = [:]
    public var availabilityZone: String?
    public var requestID: String?
    public init(volumeID: String) { self.volumeID = volumeID }
}

/// Backups (Cinder's `backup/api.py`): the rules run here, in one write each; the bytes move
/// in the background (`VolumeService+BackupWork.swift`).
extension VolumeService {
    /// Backup statuses (`cinder/objects/fields.py` BackupStatus).
    public static let backupStatuses: Set<String> = ["error", "error_deleting", "creating", "available", "deleting", "deleted", "restoring"]
    /// The volume id of a backup imported from a record, until the record's own is read.
    static let importVolumeID = "00000000-0000-0000-0000-000000000000"

    /// The backup, or 404 when it does not exist or belongs to another project.
    public func backup(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let b = state[.backup, id], visible(b, actor) else { throw VolumeFault.backupNotFound(id) }
        return b
    }

    /// Whether another backup depends on this one (Cinder counts the incrementals made on it).
    public func hasDependents(_ id: String, _ s: VolumeState) -> Bool {
        s.incrementals(of: id).contains { !["creating", "error"].contains($0["status"]?.stringValue ?? "") }
    }

    /// Creates a backup of a volume (or of one of its snapshots): `creating` until its objects
    /// are in the object store; the volume is `backing-up` meanwhile (the snapshot, when given).
    public func createBackup(_ r: BackupCreate, actor: VolumeActor) async throws -> JSONObject {
        let container = (r.container?.isEmpty ?? true) ? (backups?.settings.defaultContainer ?? "volumebackups") : r.container!
        guard BackupLocation.validContainer(container) else {
            throw VolumeFault.invalidInput("'\(container)' is not a valid object-store container name.")
        }
        let doc: JSONObject = try await write { s in
            guard var v = s[.volume, r.volumeID], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(r.volumeID) }
            var snapshot: JSONObject?
            if let sid = r.snapshotID {
                guard let snap = s[.snapshot, sid], self.visible(snap, actor) else { throw VolumeFault.snapshotNotFound(sid) }
                guard snap["volume_id"]?.stringValue?.sameBytes(as: r.volumeID) == true else {
                    throw VolumeFault.invalidVolume("Volume \(r.volumeID) does not match with snapshot.volume_id \(snap["volume_id"]?.stringValue ?? "None").")
                }
                let status = snap["status"]?.stringValue ?? ""
                guard status == "available" else {
                    throw VolumeFault.invalidSnapshot("Snapshot to be backed up must be available, but the current status is \"\(status)\".")
                }
                snapshot = snap
            } else {
                let status = v["status"]?.stringValue ?? ""
                guard status == "available" || status == "in-use" else {
                    throw VolumeFault.invalidVolume("Volume to be backed up must be available or in-use, but the current status is \"\(status)\".")
                }
                if status == "in-use" && !r.force { throw VolumeFault.invalidVolume("Backing up an in-use volume must use the force flag.") }
            }
            let size = v["size"]?.intValue ?? 1
            try self.checkBackupQuota(s, project: actor.projectID, size: size)
            let parent = try r.incremental ? self.latestBackup(s, volume: r.volumeID, project: actor.projectID, before: snapshot) : nil
            let id = Identifiers.uuid()
            let now = Self.now()
            var d: JSONObject = [
                "id": .string(id), "project_id": .string(actor.projectID), "user_id": .string(actor.userID), "volume_id": .string(r.volumeID),
                "snapshot_id": JSONValue(r.snapshotID), "name": JSONValue(r.name), "description": JSONValue(r.description), "status": "creating",
                "size": .int(size), "object_count": 0, "availability_zone": .string(self.settings.availabilityZone), "container": .string(container),
                "created_at": .string(now), "updated_at": .string(now), "fail_reason": .null, "parent_id": JSONValue(parent),
                "data_timestamp": snapshot?["created_at"] ?? .string(now), "metadata": .object(JSONObject(pairs: r.metadata.map { ($0.key, .string($0.value)) })),
                "service": .null, "service_metadata": .null, "host": .null, "restore_volume_id": .null, "encryption_key_id": .null,
                "data_project": .string(actor.projectID),
            ]
            let zoneOK = r.availabilityZone.map { $0.sameBytes(as: self.settings.availabilityZone) } ?? true
            guard self.backupServiceAvailable, zoneOK, let engine = self.backups else {
                // Cinder's scheduler finds no backup service: the backup ends `error`, with a user message.
                d["status"] = "error"
                d["fail_reason"] = "Service not found for creating backup."
                if let az = r.availabilityZone { d["availability_zone"] = .string(az) }
                self.recordMessage(&s, project: actor.projectID, resourceType: "VOLUME_BACKUP", resource: id, event: "VOLUME_VOLUME_BACKUP_013_024",
                                   text: "create backup:Backup failed to schedule. Service not found for creating backup.", requestID: r.requestID)
                s.put(.backup, d)
                return d
            }
            d["service"] = .string(engine.settings.serviceName)
            d["host"] = .string(self.backupHost)
            let stamp = String(now.utf8.filter { (48...57).contains($0) }.prefix(14).map { Character(UnicodeScalar($0)) })
            d["service_metadata"] = .string(BackupLocation.prefix(volumeID: r.volumeID, backupID: id, zone: self.settings.availabilityZone, at: stamp))
            if var snap = snapshot {
                snap["status"] = "backing-up"
                snap["updated_at"] = .string(now)
                s.put(.snapshot, snap)
            } else {
                v["previous_status"] = v["status"]
                v["status"] = "backing-up"
                v["updated_at"] = .string(now)
                s.put(.volume, v)
            }
            s.put(.backup, d)
            return d
        }
        if doc["status"]?.stringValue == "creating", let id = doc["id"]?.stringValue { startBackup(id) }
        return doc
    }

    /// The host of the backup service (the scheduler's host).
    var backupHost: String {
        let backendHost = backend.host.splitBytes("#").first.map(String.init) ?? backend.host
        return backendHost.splitBytes("@").first.map(String.init) ?? backendHost
    }

    /// The parent of an incremental backup: the project's latest available backup of the
    /// volume by `data_timestamp` (taken before the snapshot, when backing up a snapshot).
    func latestBackup(_ s: VolumeState, volume: String, project: String, before snapshot: JSONObject?) throws -> String {
        let cutoff = snapshot?["created_at"]?.stringValue
        let candidates = s.backups(of: volume).filter { b in
            guard b["project_id"]?.stringValue?.sameBytes(as: project) == true, b["status"]?.stringValue == "available" else { return false }
            guard let cutoff else { return true }
            return (b["data_timestamp"]?.stringValue ?? "").bytesPrecede(cutoff)
        }
        let latest = candidates.max { a, b in
            let (x, y) = (a["data_timestamp"]?.stringValue ?? "", b["data_timestamp"]?.stringValue ?? "")
            return x.sameBytes(as: y) ? (a["created_at"]?.stringValue ?? "").bytesPrecede(b["created_at"]?.stringValue ?? "") : x.bytesPrecede(y)
        }
        guard let id = latest?["id"]?.stringValue else { throw VolumeFault.invalidBackup("No backups available to do an incremental backup.") }
        return id
    }

    /// `PUT /backups/{id}` (3.9): name, description and (3.43) metadata.
    public func updateBackup(_ id: String, name: String??, description: String??, metadata: [String: String]?, actor: VolumeActor) async throws -> JSONObject {
        try await write { s in
            guard var b = s[.backup, id], self.visible(b, actor) else { throw VolumeFault.backupNotFound(id) }
            if let name { b["name"] = JSONValue(name) }
            if let description { b["description"] = JSONValue(description) }
            if let metadata { b["metadata"] = .object(JSONObject(pairs: metadata.map { ($0.key, .string($0.value)) })) }
            b["updated_at"] = .string(Self.now())
            s.put(.backup, b)
            return b
        }
    }

    /// Deletes a backup: `available` or `error` ones (any, with an admin's `force`, which
    /// also stops one being made), not while incremental backups depend on it.
    public func deleteBackup(_ id: String, force: Bool, actor: VolumeActor) async throws {
        let start: Bool = try await write { s in
            guard var b = s[.backup, id], self.visible(b, actor) else { throw VolumeFault.backupNotFound(id) }
            let status = b["status"]?.stringValue ?? ""
            if !force && status != "available" && status != "error" { throw VolumeFault.invalidBackup("Backup status must be available or error") }
            if !s.incrementals(of: id).isEmpty { throw VolumeFault.invalidBackup("Incremental backups exist for this backup.") }
            if b["service_metadata"]?.stringValue != nil && !self.backupServiceAvailable { throw VolumeFault.noBackupService }
            if status == "deleting" { return false }
            b["status"] = "deleting"
            b["updated_at"] = .string(Self.now())
            s.put(.backup, b)
            return true
        }
        if start { startBackupDeletion(id) }
    }

    /// `os-reset_status` (admin): `available` or `error`, nothing else changes.
    public func resetBackupStatus(_ id: String, status: String, actor: VolumeActor) async throws {
        try await write { s in
            guard var b = s[.backup, id], self.visible(b, actor) else { throw VolumeFault.backupNotFound(id) }
            guard self.backupServiceAvailable else { throw VolumeFault.noBackupService }
            b["status"] = .string(status)
            b["updated_at"] = .string(Self.now())
            s.put(.backup, b)
        }
    }

    /// `POST /backups/{id}/restore`: into the given volume (`available`, at least the backup's
    /// size), or into a new one made for it (`restore_backup_<id>`, within the quotas).
    public func restoreBackup(_ id: String, volumeID: String?, name: String?, actor: VolumeActor)
        async throws -> (backupID: String, volumeID: String, volumeName: JSONValue) {
        let result: (String, JSONValue) = try await write { s in
            guard var b = s[.backup, id], self.visible(b, actor) else { throw VolumeFault.backupNotFound(id) }
            guard b["status"]?.stringValue == "available" else { throw VolumeFault.invalidBackup("Backup status must be available") }
            guard let size = b["size"]?.intValue, size > 0 else { throw VolumeFault.invalidBackup("Backup to be restored has invalid size") }
            guard self.backupServiceAvailable else { throw VolumeFault.noBackupService }
            var v: JSONObject
            if let volumeID {
                guard let target = s[.volume, volumeID], self.visible(target, actor) else { throw VolumeFault.volumeNotFound(volumeID) }
                guard target["status"]?.stringValue == "available" else { throw VolumeFault.invalidVolume("Volume to be restored to must be available") }
                let have = target["size"]?.intValue ?? 0
                guard size <= have else { throw VolumeFault.invalidVolume("volume size \(have) is too small to restore backup of size \(size).") }
                v = target
            } else {
                v = try self.restoreTarget(&s, size: size, name: name ?? "restore_backup_\(id)", actor: actor)
            }
            v["status"] = "restoring-backup"
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
            b["status"] = "restoring"
            b["restore_volume_id"] = v["id"] ?? .null
            b["updated_at"] = .string(Self.now())
            s.put(.backup, b)
            return (v["id"]?.stringValue ?? "", v["name"] ?? .null)
        }
        startRestore(id, into: result.0)
        return (id, result.0, result.1)
    }

    /// A new volume for a restore (Cinder's `volume_api.create` from the restore call), quota
    /// refusals as the restore controller renders them (the message without the class name).
    func restoreTarget(_ s: inout VolumeState, size: Int64, name: String, actor: VolumeActor) throws -> JSONObject {
        guard let type = defaultType(actor: actor, s), let typeID = type["id"]?.stringValue else {
            throw VolumeFault.typeNameNotFound(settings.defaultTypeName)
        }
        if Self.encrypted(type) { throw Self.noKeyManager }
        do {
            try checkQuota(s, project: actor.projectID, type: type, volumes: 1, gigabytes: size)
        } catch let e as NimbusError where e.kind == .payloadTooLarge && !e.message.hasBytePrefix("VolumeSizeExceedsLimit") {
            throw NimbusError(.payloadTooLarge, e.message.splitOnceBytes(" ").map { String($0.tail) } ?? e.message)
        }
        let now = Self.now()
        return ["id": .string(Identifiers.uuid()), "name": .string(name), "description": "auto-created_from_restore_from_backup", "size": .int(size),
                "status": "restoring-backup", "attach_status": "detached", "availability_zone": .string(settings.availabilityZone), "bootable": false,
                "multiattach": .bool(Self.multiattach(type)), "project_id": .string(actor.projectID), "user_id": .string(actor.userID),
                "volume_type_id": .string(typeID), "snapshot_id": .null, "source_volid": .null, "metadata": [:], "admin_metadata": [:],
                "host": .string(backend.host), "migration_status": .null, "replication_status": "disabled", "created_at": .string(now),
                "updated_at": .string(now), "service_uuid": .string(serviceUUID)]
    }

    /// 413 when one more backup of `size` GiB would pass the project's `backups` or
    /// `backup_gigabytes` limit (Cinder checks the count first).
    func checkBackupQuota(_ s: VolumeState, project: String, size: Int64) throws {
        let used = usage(project: project, s)
        let count = limit("backups", project: project, s)
        if count >= 0, (used["backups"] ?? 0) + 1 > count {
            throw NimbusError(.payloadTooLarge, "BackupLimitExceeded: Maximum number of backups allowed (\(count)) exceeded")
        }
        let gigabytes = limit("backup_gigabytes", project: project, s)
        let consumed = used["backup_gigabytes"] ?? 0
        if gigabytes >= 0, consumed + size > gigabytes {
            throw NimbusError(.payloadTooLarge, "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup gigabytes quota. Requested \(size)G, quota is \(gigabytes)G and \(consumed)G has been consumed.")
        }
    }
}
