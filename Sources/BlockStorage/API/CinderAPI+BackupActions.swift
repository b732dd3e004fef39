import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Restore, export/import of records and the admin actions on backups.
extension CinderAPI {
    /// A create body as Cinder's schemas allow it (`schemas/backups.py` create, 3.43, 3.51).
    static func backupCreate(_ body: JSONObject, _ v: CinderVersion, requestID: String) throws -> BackupCreate {
        let o = try member(body, "backup", only: true)
        var allowed: Set<String> = ["volume_id", "container", "description", "incremental", "force", "name", "snapshot_id"]
        if v.atLeast(43) { allowed.insert("metadata") }
        if v.atLeast(51) { allowed.insert("availability_zone") }
        try CinderInput.only(o, allowed, "backup")
        guard let vidValue = o["volume_id"] else {
            throw NimbusError.badRequest("Invalid input for field/attribute backup. 'volume_id' is a required property")
        }
        guard let vid = vidValue.stringValue, UUIDText.isUUID(vid) else { throw CinderInput.invalid("volume_id", vidValue, "is not a 'uuid'") }
        var r = BackupCreate(volumeID: vid)
        r.name = try CinderInput.name(o, "name") ?? nil
        r.description = try CinderInput.name(o, "description") ?? nil
        if let container = try CinderInput.name(o, "container") { r.container = container }
        if let i = o["incremental"] { r.incremental = try CinderInput.boolean(i, "incremental") }
        if let f = o["force"] { r.force = try CinderInput.boolean(f, "force") }
        if let sid = o["snapshot_id"], !sid.isNull {
            guard let s = sid.stringValue, UUIDText.isUUID(s) else { throw CinderInput.invalid("snapshot_id", sid, "is not valid under any of the given schemas") }
            r.snapshotID = s
        }
        r.metadata = try CinderInput.metadata(o["metadata"]) ?? [:]
        if let z = o["availability_zone"], !z.isNull {
            guard let zone = z.stringValue, zone.unicodeScalars.count <= 255 else { throw CinderInput.invalid("availability_zone", z, "is not of type 'string', 'null'") }
            r.availabilityZone = zone
        }
        r.requestID = requestID
        return r
    }

    func addBackupActionRoutes(_ t: inout RouteTable) {
        route(&t, .post, "/backups/{id}/restore") { req, ctx, _ in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            try CinderInput.only(body, ["restore"], "body")
            guard let restore = body["restore"] else { throw NimbusError.badRequest("Invalid input for field/attribute body. 'restore' is a required property") }
            var o = JSONObject()
            if case .object(let given) = restore { o = given } else if !restore.isNull {
                throw CinderInput.invalid("restore", restore, "is not of type 'object', 'null'")
            }
            try CinderInput.only(o, ["name", "volume_id"], "restore")
            var volumeID: String?
            if let x = o["volume_id"], !x.isNull {
                guard let s = x.stringValue, UUIDText.isUUID(s) else { throw CinderInput.invalid("volume_id", x, "is not valid under any of the given schemas") }
                volumeID = s
            }
            let name = try CinderInput.name(o, "name") ?? nil
            try self.authorize("backup:restore", c, try self.service.backup(id, actor: c.actor))
            let r = try await self.service.restoreBackup(id, volumeID: volumeID, name: name, actor: c.actor)
            return .json(["restore": ["backup_id": .string(r.backupID), "volume_id": .string(r.volumeID), "volume_name": r.volumeName]], status: .accepted)
        }
        route(&t, .get, "/backups/{id}/export_record") { _, ctx, _ in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            try self.authorize("backup:export-import", c, try self.service.backup(id, actor: c.actor))
            let r = try self.service.exportBackupRecord(id, actor: c.actor)
            return .json(["backup-record": ["backup_service": .string(r.service), "backup_url": .string(r.url)]])
        }
        route(&t, .post, "/backups/import_record") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("backup:backup-import", c)
            let o = try Self.member(try await Self.body(req, ctx), "backup-record", only: true)
            try CinderInput.only(o, ["backup_service", "backup_url"], "backup-record")
            guard let service = o["backup_service"], let url = o["backup_url"] else {
                throw NimbusError.badRequest("Invalid input for field/attribute backup-record. '\(o["backup_service"] == nil ? "backup_service" : "backup_url")' is a required property")
            }
            guard let serviceName = service.stringValue, serviceName.unicodeScalars.count <= 255 else {
                throw CinderInput.invalid("backup_service", service, "is not of type 'string'")
            }
            // A record is a few kilobytes; a megabyte is far more than any (the body limit caps it too).
            guard let text = url.stringValue, !text.isEmpty, text.utf8.count <= 1 << 20 else {
                throw CinderInput.invalid("backup_url", url, "is not a 'base64'")
            }
            let b = try await self.service.importBackupRecord(service: serviceName, url: text, actor: c.actor)
            return .json(["backup": .object(self.backupSummary(b, project: ctx.pathParameters["project_id"]))], status: .created)
        }
        route(&t, .post, "/backups/{id}/action") { req, ctx, _ in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            guard body.count == 1, let (action, arg) = body.sortedMembers.first else { throw NimbusError.badRequest("Malformed request body") }
            guard action == "os-reset_status" || action == "os-force_delete" else { throw NimbusError.badRequest("There is no such action: \(action)") }
            let b = try self.service.backup(id, actor: c.actor)
            if action == "os-force_delete" {
                try self.authorize("volume_extension:backup_admin_actions:force_delete", c, b)
                try await self.service.deleteBackup(id, force: true, actor: c.actor)
                return .empty(.accepted)
            }
            try self.authorize("volume_extension:backup_admin_actions:reset_status", c, b)
            guard case .object(let o) = arg else { throw CinderInput.invalid("os-reset_status", arg, "is not of type 'object'") }
            try CinderInput.only(o, ["status"], "os-reset_status")
            guard let sv = o["status"] else { throw NimbusError.badRequest("Invalid input for field/attribute os-reset_status. 'status' is a required property") }
            guard let st = sv.stringValue?.lowercased(), st == "available" || st == "error" else {
                throw NimbusError.badRequest("Invalid input received: Backup status: \(sv.stringValue ?? sv.pythonStr) is invalid, valid statuses are: ['available', 'error'].")
            }
            try await self.service.resetBackupStatus(id, status: st, actor: c.actor)
            return .empty(.accepted)
        }
    }
}
