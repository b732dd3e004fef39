import Foundation
import NimbusCore

/// `export_record` and `import_record` (admin): a backup's database record as base64 JSON, so
/// it can be recreated after a database loss (Cinder's `Backup.encode_record`). The record also
/// names the project whose object-store account holds the objects (`driver_info.project`).
extension VolumeService {
    /// Cinder's record fields, from a document (`display_name` for `name`, …).
    static func record(_ b: JSONObject) -> JSONObject {
        var r = JSONObject()
        for key in ["id", "user_id", "project_id", "volume_id", "host", "availability_zone", "container", "parent_id", "status", "fail_reason",
                    "size", "service_metadata", "service", "object_count", "snapshot_id", "data_timestamp", "restore_volume_id",
                    "encryption_key_id", "created_at", "updated_at", "metadata"] {
            r[key] = b[key] ?? .null
        }
        r["display_name"] = b["name"] ?? .null
        r["display_description"] = b["description"] ?? .null
        r["temp_volume_id"] = .null
        r["temp_snapshot_id"] = .null
        r["num_dependent_backups"] = 0
        r["deleted"] = false
        r["deleted_at"] = .null
        r["driver_info"] = ["project": b["data_project"] ?? b["project_id"] ?? .null]
        return r
    }

    public func exportBackupRecord(_ id: String, actor: VolumeActor) throws -> (service: String, url: String) {
        let b = try backup(id, actor: actor)
        let status = b["status"]?.stringValue ?? ""
        guard status == "available" else { throw VolumeFault.invalidBackup("Backup status must be available and not \(status).") }
        guard backupServiceAvailable, let engine = backups else { throw VolumeFault.noBackupService }
        return (engine.settings.serviceName, Data(JSONValue.object(Self.record(b)).serialized()).base64EncodedString())
    }

    /// Records a backup from an exported record: `creating` in the caller's project (within
    /// its backup quotas), `available` once the record checks out and its objects are found.
    public func importBackupRecord(service: String, url: String, actor: VolumeActor) async throws -> JSONObject {
        guard backupServiceAvailable else { throw NimbusError(.serviceUnavailable, "Service \(service) could not be found.") }
        // Python's b64decode skips bytes outside the alphabet; a bad length or bad JSON is a
        // ValueError, which Cinder answers "Can't parse".
        guard let data = Data(base64Encoded: url, options: .ignoreUnknownCharacters),
              case .object(let record)? = try? JSONValue.parse(Array(data), maxDepth: 8) else {
            throw VolumeFault.invalidInput("Can't parse backup record.")
        }
        guard let idValue = record["id"] else { throw VolumeFault.invalidInput("Provided backup record is missing an id") }
        guard let id = idValue.stringValue, UUIDText.isUUID(id) else { throw VolumeFault.invalidInput("Provided backup record has an invalid id") }
        guard let sizeValue = record["size"] else { throw VolumeFault.invalidInput("Provided backup record is missing size attribute") }
        guard let size = sizeValue.intValue, size >= 0, size <= settings.maxVolumeSizeGB else {
            throw VolumeFault.invalidInput("Provided backup record has an invalid size")
        }
        let doc: JSONObject = try await write { s in
            if s[.backup, id] != nil { throw VolumeFault.invalidBackup("Backup already exists in database.") }
            try self.checkBackupQuota(s, project: actor.projectID, size: size)
            let now = Self.now()
            let d: JSONObject = [
                "id": .string(id), "project_id": .string(actor.projectID), "user_id": .string(actor.userID), "volume_id": .string(Self.importVolumeID),
                "snapshot_id": .null, "name": .null, "description": .null, "status": "creating", "size": .int(size), "object_count": 0,
                "availability_zone": .string(self.settings.availabilityZone), "container": .null, "created_at": .string(now), "updated_at": .string(now),
                "fail_reason": .null, "parent_id": .null, "data_timestamp": .string(now), "metadata": [:], "service": .null, "service_metadata": .null,
                "host": .string(self.backupHost), "restore_volume_id": .null, "encryption_key_id": .null,
            ]
            s.put(.backup, d)
            return d
        }
        background(id, "importing backup record", { try await self.runImport(id, service: service, record) },
                   onFailure: { error in
                       await self.update(.backup, id, ["status": "error", "fail_reason": .string((error as? NimbusError)?.message ?? "\(error)")])
                   })
        return doc
    }

    /// The backup manager's `import_record`: the record must be of this backup service, carry
    /// Cinder's required fields and the backup's id, and its objects must be there.
    func runImport(_ id: String, service: String, _ record: JSONObject) async throws {
        guard let engine = backups else { throw VolumeFault.noBackupService }
        guard !service.isEmpty, engine.settings.serviceName.hasBytePrefix(service) else {
            throw VolumeFault.invalidBackup("Import record failed, cannot find backup service to perform the import. Request service \(service).")
        }
        let required = ["display_name", "display_description", "container", "size", "service_metadata", "object_count", "id"]
        let missing = required.filter { record[$0] == nil }
        guard missing.isEmpty else {
            throw VolumeFault.invalidBackup("Driver successfully decoded imported backup data, but there are missing fields (\(missing.joined(separator: ", "))).")
        }
        guard record["id"]?.stringValue?.sameBytes(as: id) == true else {
            throw VolumeFault.invalidBackup("Trying to import backup metadata from id \(record["id"]?.stringValue ?? "None") into backup \(id).")
        }
        func text(_ key: String, uuid: Bool = false) throws -> JSONValue {
            guard let v = record[key], !v.isNull else { return .null }
            guard let s = v.stringValue, s.utf8.count <= 1024, !uuid || UUIDText.isUUID(s) else {
                throw VolumeFault.invalidBackup("The record's \(key) is not valid.")
            }
            return v
        }
        guard let container = record["container"]?.stringValue, BackupLocation.validContainer(container),
              let prefix = record["service_metadata"]?.stringValue, !prefix.isEmpty, prefix.utf8.count <= 1024,
              let objects = record["object_count"]?.intValue, objects >= 0 else {
            throw VolumeFault.invalidBackup("The record's container, service_metadata or object_count is not valid.")
        }
        let project = record["driver_info"]?["project"]?.stringValue ?? record["project_id"]?.stringValue ?? ""
        guard !project.isEmpty, project.utf8.count <= 64, !project.containsByte("/") else { throw VolumeFault.invalidBackup("The record names no project.") }
        let location = BackupLocation(project: project, container: container, prefix: prefix)
        _ = try await engine.readMetadata(location)
        let fields: JSONObject = [
            "name": try text("display_name"), "description": try text("display_description"), "container": .string(container),
            "service_metadata": .string(prefix), "object_count": .int(objects), "volume_id": try text("volume_id", uuid: true),
            "parent_id": try text("parent_id", uuid: true), "snapshot_id": try text("snapshot_id", uuid: true), "data_timestamp": try text("data_timestamp"),
            "data_project": .string(project), "service": .string(engine.settings.serviceName), "status": "available",
        ]
        try await write { s in
            guard var b = s[.backup, id], b["status"]?.stringValue == "creating" else { return }
            for (k, v) in fields where !(k == "volume_id" && v.isNull) { b[k] = v }
            b["updated_at"] = .string(Self.now())
            s.put(.backup, b)
        }
    }
}
