import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Snapshots (`/snapshots`), as Cinder's `v3/snapshots.py` answers.
extension CinderAPI {
    static let snapshotSortKeys: [String: String] = [
        "created_at": "created_at", "updated_at": "updated_at", "id": "id", "display_name": "name", "name": "name", "status": "status",
        "volume_id": "volume_id", "size": "volume_size", "project_id": "project_id",
    ]
    static let snapshotFilters: Set<String> = ["name", "status", "volume_id", "metadata", "availability_zone", "consumes_quota"]
    static let snapshotStatuses: Set<String> = ["creating", "available", "deleting", "deleted", "updating", "error", "error_deleting", "unmanaging",
                                                "backing-up", "restoring"]

    func snapshotView(_ d: JSONObject, _ v: CinderVersion, _ c: Caller, detail: Bool, extended: Bool) -> JSONObject {
        var o: JSONObject = [
            "id": d["id"] ?? .null, "created_at": d["created_at"] ?? .null, "updated_at": d["updated_at"] ?? .null, "name": d["name"] ?? .null,
            "description": d["description"] ?? .null, "volume_id": d["volume_id"] ?? .null, "status": d["status"] ?? .null,
            "size": d["volume_size"] ?? .null, "metadata": d["metadata"] ?? [:],
        ]
        if detail {
            if v.atLeast(14) { o["group_snapshot_id"] = d["group_snapshot_id"] ?? .null }
            if v.atLeast(41) { o["user_id"] = d["user_id"] ?? .null }
            if v.atLeast(65) { o["consumes_quota"] = true }
        }
        if extended, allows("volume_extension:extended_snapshot_attributes", c, project: d["project_id"]?.stringValue) {
            o["os-extended-snapshot-attributes:progress"] = d["progress"] ?? .null
            o["os-extended-snapshot-attributes:project_id"] = d["project_id"] ?? .null
        }
        return o
    }

    func addSnapshotRoutes(_ t: inout RouteTable) {
        for detail in [false, true] {
            route(&t, .get, detail ? "/snapshots/detail" : "/snapshots") { req, ctx, v in
                let c = try self.caller(ctx)
                try self.authorize("volume:get_all_snapshots", c)
                let q = req.queryString
                let allTenants = c.isAdmin && (q["all_tenants"].map { (try? CinderInput.boolean(.string($0), "all_tenants")) ?? true } ?? false)
                var filters = [(String, String)]()
                for (k, value) in q.pairs where !Self.pagingParameters.contains(k) {
                    if !c.isAdmin && !Self.snapshotFilters.contains(k) {
                        if v.atLeast(31) { throw NimbusError.badRequest("Invalid filters \(k) are found in query options.") }
                        continue
                    }
                    filters.append((k, value))
                }
                let all = self.service.state.all(.snapshot).filter { d in
                    if !allTenants, d["project_id"]?.stringValue?.sameBytes(as: c.projectID) != true { return false }
                    return filters.allSatisfy { k, value in
                        if k == "metadata" {
                            guard let want = PythonLiteral.dictionary(value) else { return false }
                            return want.allSatisfy { d["metadata"]?[$0.key]?.stringValue?.sameBytes(as: $0.value) == true }
                        }
                        if k == "availability_zone" || k == "consumes_quota" { return true }
                        return d[k]?.stringValue?.sameBytes(as: value) == true
                    }
                }
                let (page, full) = try CinderListing(q, keys: Self.snapshotSortKeys).apply(all)
                let project = ctx.pathParameters["project_id"]
                var body: JSONObject = ["snapshots": .array(page.map { .object(self.snapshotView($0, v, c, detail: detail, extended: detail)) })]
                if full, let last = page.last?["id"]?.stringValue {
                    let path = "/v3" + (project.map { "/" + $0 } ?? "") + (detail ? "/snapshots/detail" : "/snapshots")
                    body["snapshots_links"] = CinderListing.nextLink(base: self.publicURL, path: path, q, lastID: last)
                }
                if v.atLeast(45), let w = q["with_count"], (try? CinderInput.boolean(.string(w), "with_count")) == true {
                    body["count"] = .int(Int64(all.count))
                }
                return .json(.object(body))
            }
        }
        route(&t, .get, "/snapshots/{id}") { _, ctx, v in
            let c = try self.caller(ctx)
            let d = try self.service.snapshot(try ctx.parameter("id"), actor: c.actor)
            try self.authorize("volume:get_snapshot", c, d)
            return .json(["snapshot": .object(self.snapshotView(d, v, c, detail: true, extended: true))])
        }
        route(&t, .post, "/snapshots") { req, ctx, v in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            let o = try Self.member(body, "snapshot", only: true)
            try CinderInput.only(o, ["volume_id", "name", "display_name", "description", "force", "metadata"], "snapshot")
            guard let vidValue = o["volume_id"] else {
                throw NimbusError.badRequest("Invalid input for field/attribute volume_id. 'volume_id' is a required property")
            }
            guard let vid = vidValue.stringValue else {
                if vidValue.isNull { throw VolumeFault.volumeNotFound("None") }
                throw CinderInput.invalid("volume_id", vidValue, "is not of type 'string', 'null'")
            }
            guard UUIDText.isUUID(vid) else { throw CinderInput.invalid("volume_id", o["volume_id"]!, "is not a 'uuid'") }
            let name = (try CinderInput.name(o, "name") ?? CinderInput.name(o, "display_name")) ?? nil
            let description = (try CinderInput.name(o, "description")) ?? nil
            var force = false
            if let f = o["force"], !f.isNull { force = try CinderInput.boolean(f, "force") }
            if v.atLeast(66) {
                if o["force"] != nil && !force {
                    throw NimbusError.badRequest("Since microversion 3.66 the 'force' flag is invalid for this request. For backward compatability, however, when the 'force' flag is passed with a value evaluating to True, it is silently ignored.")
                }
                force = true
            }
            let metadata = try CinderInput.metadata(o["metadata"]) ?? [:]
            let volume = try self.service.volume(vid, actor: c.actor)
            try self.authorize("volume:create_snapshot", c, volume)
            let d = try await self.service.createSnapshot(volumeID: vid, name: name, description: description, metadata: metadata, force: force, actor: c.actor)
            return .json(["snapshot": .object(self.snapshotView(d, v, c, detail: true, extended: false))], status: .accepted)
        }
        route(&t, .put, "/snapshots/{id}") { req, ctx, v in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let o = try Self.member(try await Self.body(req, ctx), "snapshot", only: true)
            try CinderInput.only(o, ["name", "description", "display_name", "display_description"], "snapshot")
            guard !o.isEmpty else { throw NimbusError.badRequest("Invalid input for field/attribute snapshot. Value: {}. {} should be non-empty") }
            let current = try self.service.snapshot(id, actor: c.actor)
            try self.authorize("volume:update_snapshot", c, current)
            let d = try await self.service.updateSnapshot(id, name: try CinderInput.name(o, "name") ?? CinderInput.name(o, "display_name"),
                                                          description: try CinderInput.name(o, "description") ?? CinderInput.name(o, "display_description"),
                                                          actor: c.actor)
            return .json(["snapshot": .object(self.snapshotView(d, v, c, detail: true, extended: false))])
        }
        route(&t, .delete, "/snapshots/{id}") { _, ctx, _ in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            try self.authorize("volume:delete_snapshot", c, try self.service.snapshot(id, actor: c.actor))
            try await self.service.deleteSnapshot(id, force: false, actor: c.actor)
            return .empty(.accepted)
        }
        route(&t, .post, "/snapshots/{id}/action") { req, ctx, _ in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            guard body.count == 1, let (action, arg) = body.sortedMembers.first else { throw NimbusError.badRequest("Malformed request body") }
            let d = try self.service.snapshot(id, actor: c.actor)
            switch action {
            case "os-reset_status":
                try self.authorize("volume_extension:snapshot_admin_actions:reset_status", c, d)
                guard let st = arg["status"]?.stringValue?.lowercased(), Self.snapshotStatuses.contains(st) else {
                    throw NimbusError.badRequest("Invalid input received: Must specify a valid status")
                }
                try await self.service.resetSnapshotStatus(id, status: st, actor: c.actor)
            case "os-force_delete":
                try self.authorize("volume_extension:snapshot_admin_actions:force_delete", c, d)
                try await self.service.deleteSnapshot(id, force: true, actor: c.actor)
            case "os-update_snapshot_status":
                try self.authorize("snapshot_extension:snapshot_actions:update_snapshot_status", c, d)
                guard let st = arg["status"]?.stringValue else { throw NimbusError.badRequest("'status' must be specified.") }
                let current = d["status"]?.stringValue ?? ""
                let allowed: [String: Set<String>] = ["creating": ["creating", "available", "error"], "deleting": ["deleting", "error_deleting"]]
                guard let next = allowed[current] else {
                    throw NimbusError.badRequest("Snapshot status \(current) not allowed for update_snapshot_status")
                }
                guard next.contains(st) else { throw NimbusError.badRequest("Provided snapshot status \(st) not allowed for snapshot with status \(current).") }
                try await self.service.resetSnapshotStatus(id, status: st, actor: c.actor)
                if let p = arg["progress"]?.stringValue {
                    try await self.service.setSnapshotProgress(id, p)
                }
            default:
                throw NimbusError.badRequest("There is no such action: \(action)")
            }
            return .empty(.accepted)
        }
        addMetadataRoutes(&t, collection: "snapshots", kind: .snapshot, rules: ("volume:get_snapshot_metadata", "volume:update_snapshot_metadata",
                                                                               "volume:update_snapshot_metadata", "volume:delete_snapshot_metadata"))
    }
}
