import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Backups (`/backups`), as Cinder's `contrib/backups.py`, `v3/backups.py` and the backup admin
/// actions answer.
extension CinderAPI {
    static let backupSortKeys: [String: String] = [
        "created_at": "created_at", "updated_at": "updated_at", "id": "id", "display_name": "name", "name": "name", "status": "status",
        "size": "size", "volume_id": "volume_id", "project_id": "project_id", "container": "container", "availability_zone": "availability_zone",
        "object_count": "object_count", "data_timestamp": "data_timestamp", "user_id": "user_id", "snapshot_id": "snapshot_id",
    ]
    /// The filters a project user may use (`resource_filters.json`, `backup`).
    static let backupFilters: Set<String> = ["name", "status", "volume_id"]

    func backupSummary(_ b: JSONObject, project: String?) -> JSONObject {
        let id = b["id"]?.stringValue ?? ""
        return ["id": .string(id), "name": b["name"] ?? .null, "links": links("backups", id, project: project)]
    }

    /// The detail view (`views/backups.py` + v3): `project` is the URL's project id for links;
    /// `attributes` whether the caller sees the owner's project and user (3.18, 3.56).
    func backupView(_ b: JSONObject, _ v: CinderVersion, _ s: VolumeState, project: String?, attributes: Bool) -> JSONObject {
        let id = b["id"]?.stringValue ?? ""
        var o: JSONObject = [
            "id": .string(id), "status": b["status"] ?? .null, "size": b["size"] ?? .null, "object_count": b["object_count"] ?? 0,
            "availability_zone": b["availability_zone"] ?? .null, "container": b["container"] ?? .null, "created_at": b["created_at"] ?? .null,
            "updated_at": b["updated_at"] ?? .null, "name": b["name"] ?? .null, "description": b["description"] ?? .null,
            "fail_reason": b["fail_reason"] ?? .null, "volume_id": b["volume_id"] ?? .null, "links": links("backups", id, project: project),
            "is_incremental": .bool(b["parent_id"]?.stringValue != nil), "has_dependent_backups": .bool(service.hasDependents(id, s)),
            "snapshot_id": b["snapshot_id"] ?? .null, "data_timestamp": b["data_timestamp"] ?? .null,
        ]
        if v.atLeast(43) { o["metadata"] = b["metadata"] ?? [:] }
        if v.atLeast(64), let key = b["encryption_key_id"], !key.isNull { o["encryption_key_id"] = key }
        if attributes && v.atLeast(18) { o["os-backup-project-attr:project_id"] = b["project_id"] ?? .null }
        if attributes && v.atLeast(56) { o["user_id"] = b["user_id"] ?? .null }
        return o
    }

    /// The backups the caller lists: their project's (an admin's `all_tenants`: everyone's),
    /// with the filters Cinder lets them use.
    func filteredBackups(_ q: QueryString, _ v: CinderVersion, _ c: Caller, _ s: VolumeState) throws -> [JSONObject] {
        var allTenants = false
        if let a = q["all_tenants"] {
            guard let b = try? CinderInput.boolean(.string(a), "all_tenants") else {
                throw NimbusError.badRequest("Invalid value '\(a)' for all_tenants: all_tenants must be a boolean, got '\(a)'.")
            }
            allTenants = c.isAdmin && b
        }
        var filters = [(String, String)]()
        for (k, value) in q.pairs where !Self.pagingParameters.contains(k) {
            if !c.isAdmin && !Self.backupFilters.contains(k) {
                if v.atLeast(31) { throw NimbusError.badRequest("Invalid filters \(k) are found in query options.") }
                continue
            }
            filters.append((k, value))
        }
        // An admin's `project_id` names the project to list (Cinder filters the table by it).
        let project: String? = c.isAdmin ? (q["project_id"] ?? (allTenants ? nil : c.projectID)) : c.projectID
        return s.all(.backup).filter { b in
            if let project, b["project_id"]?.stringValue?.sameBytes(as: project) != true { return false }
            return filters.allSatisfy { k, value in
                let field = k == "display_name" ? "name" : k
                switch b[field] {
                case .string(let have)?: return have.sameBytes(as: value)
                case .int(let n)?: return String(n) == value
                case .bool(let flag)?: return (try? CinderInput.boolean(.string(value), k)) == flag
                case .null?, nil: return false
                default: return false
                }
            }
        }
    }

    func addBackupRoutes(_ t: inout RouteTable) {
        for detail in [false, true] {
            route(&t, .get, detail ? "/backups/detail" : "/backups") { req, ctx, v in
                let c = try self.caller(ctx)
                try self.authorize("backup:get_all", c)
                let s = self.service.state
                let q = req.queryString
                let all = try self.filteredBackups(q, v, c, s)
                let (page, full) = try CinderListing(q, keys: Self.backupSortKeys).apply(all)
                let project = ctx.pathParameters["project_id"]
                let attributes = detail && self.allows("backup:backup_project_attribute", c)
                var body: JSONObject = ["backups": .array(page.map {
                    .object(detail ? self.backupView($0, v, s, project: project, attributes: attributes) : self.backupSummary($0, project: project))
                })]
                if full, let last = page.last?["id"]?.stringValue {
                    let path = "/v3" + (project.map { "/" + $0 } ?? "") + (detail ? "/backups/detail" : "/backups")
                    body["backups_links"] = CinderListing.nextLink(base: self.publicURL, path: path, q, lastID: last)
                }
                if v.atLeast(45), let w = q["with_count"], (try? CinderInput.boolean(.string(w), "with_count")) == true {
                    body["count"] = .int(Int64(all.count))
                }
                return .json(.object(body))
            }
        }
        route(&t, .get, "/backups/{id}") { _, ctx, v in
            let c = try self.caller(ctx)
            let b = try self.service.backup(try ctx.parameter("id"), actor: c.actor)
            try self.authorize("backup:get", c, b)
            let attributes = self.allows("backup:backup_project_attribute", c, project: b["project_id"]?.stringValue)
            return .json(["backup": .object(self.backupView(b, v, self.service.state, project: ctx.pathParameters["project_id"], attributes: attributes))])
        }
        route(&t, .post, "/backups") { req, ctx, v in
            let c = try self.caller(ctx)
            let r = try Self.backupCreate(try await Self.body(req, ctx), v, requestID: ctx.requestID)
            let volume = try self.service.volume(r.volumeID, actor: c.actor)
            try self.authorize("backup:create", c, volume)
            let b = try await self.service.createBackup(r, actor: c.actor)
            return .json(["backup": .object(self.backupSummary(b, project: ctx.pathParameters["project_id"]))], status: .accepted)
        }
        route(&t, .put, "/backups/{id}") { req, ctx, v in
            guard v.atLeast(9) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let o = try Self.member(try await Self.body(req, ctx), "backup", only: true)
            try CinderInput.only(o, v.atLeast(43) ? ["name", "description", "metadata"] : ["name", "description"], "backup")
            let name = try CinderInput.name(o, "name")
            let description = try CinderInput.name(o, "description")
            let metadata = try CinderInput.metadata(o["metadata"])
            try self.authorize("backup:update", c, try self.service.backup(id, actor: c.actor))
            let b = try await self.service.updateBackup(id, name: name, description: description, metadata: metadata, actor: c.actor)
            return .json(["backup": .object(self.backupSummary(b, project: ctx.pathParameters["project_id"]))])
        }
        route(&t, .delete, "/backups/{id}") { _, ctx, _ in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            try self.authorize("backup:delete", c, try self.service.backup(id, actor: c.actor))
            try await self.service.deleteBackup(id, force: false, actor: c.actor)
            return .empty(.accepted)
        }
        addBackupActionRoutes(&t)
    }
}
