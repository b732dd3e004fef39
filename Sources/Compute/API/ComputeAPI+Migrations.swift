import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `GET /os-migrations` as Nova's `migrations.py` answers: filters `hidden`, `host`,
/// `instance_uuid`, `source_compute`, `status`, `migration_type`; `migration_type` and links
/// from 2.23; paging, `uuid` and `changes-since` from 2.59; `changes-before` from 2.66;
/// `user_id`/`project_id` filters and fields from 2.80.
extension ComputeAPI {
    func addMigrationRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-migrations", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-migrations:index", c)
            let q = req.queryString
            var allowed = ["hidden", "host", "instance_uuid", "source_compute", "status", "migration_type"]
            if v.atLeast(59) { allowed += ["limit", "marker", "changes-since"] }
            if v.atLeast(66) { allowed += ["changes-before"] }
            if v.atLeast(80) { allowed += ["user_id", "project_id"] }
            try NovaSchemas.checkQuery(q, allowed: v.atLeast(59) ? allowed : nil)
            let project = q.last("project_id")
            if project.map({ p in !(c.projectID.map { p.sameBytes(as: $0) } ?? false) }) ?? true {
                try self.authorize("os_compute_api:os-migrations:index:all_projects", c)
            }
            let showHosts = self.allows("os_compute_api:os-migrations:index:host", c)
            var f = MigrationRepository.Filter()
            f.status = q.last("status")
            f.host = q.last("host")
            f.sourceCompute = q.last("source_compute")
            f.migrationType = q.last("migration_type")
            f.instanceID = q.last("instance_uuid")
            if let h = q.last("hidden") { f.hidden = NovaSchemas.strictBool(h) ?? false }
            if v.atLeast(80) {
                f.userID = q.last("user_id")
                f.projectID = project
            }
            if v.atLeast(59) { f.changesSince = try Self.migrationTime(q, "changes-since") }
            if v.atLeast(66) { f.changesBefore = try Self.migrationTime(q, "changes-before") }
            if let a = f.changesSince, let b = f.changesBefore, b < a {
                throw NimbusError.badRequest("The value of changes-since must be less than or equal to changes-before.")
            }
            var list = try await self.service.migrations.list(f).filter { !$0.hidden }
            var body = JSONObject()
            if v.atLeast(59) {
                let (limit, marker) = try Self.pageParameters(q)
                if let marker {
                    guard let i = list.firstIndex(where: { $0.uuid.sameBytes(as: marker) }) else {
                        throw NimbusError.badRequest("Marker \(marker) could not be found.")
                    }
                    list = Array(list[(i + 1)...])
                }
                list = Array(list.prefix(limit))
                if limit > 0, list.count == limit, let last = list.last {
                    body["migrations_links"] = [["rel": "next", "href": .string(self.nextLink("os-migrations", req, marker: last.uuid))]]
                }
            }
            body["migrations"] = .array(list.map { self.migrationView($0, v, showHosts: showHosts) })
            return .json(.object(body))
        })
    }

    /// `GET /servers/{id}/migrations[/{mid}]` (2.23+): the server's live migrations in progress
    /// (`server_migrations.py`). Hosts show to those `index:host` allows (2.80's rule).
    func addServerMigrationRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/servers/{server_id}/migrations", versioned { req, ctx, v in
            guard v.atLeast(23) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:servers:migrations:index", c, target: ["project_id": i.projectID])
            let showHosts = self.allows("os_compute_api:servers:migrations:index:host", c, target: ["project_id": i.projectID])
            let list = try await self.serverMigrations(i.id)
            return .json(["migrations": .array(list.map { self.serverMigrationView($0, v, showHosts: showHosts) })])
        })
        t.get("/v2.1/servers/{server_id}/migrations/{migration_id}", versioned { req, ctx, v in
            guard v.atLeast(23) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:servers:migrations:show", c, target: ["project_id": i.projectID])
            let mid = try ctx.parameter("migration_id")
            guard let m = try await self.serverMigrations(i.id).first(where: { String($0.id) == mid }) else {
                throw NimbusError.notFound("In-progress live migration \(mid) is not found for server \(i.id).")
            }
            return .json(["migration": self.serverMigrationView(m, v, showHosts: true)])
        })
    }

    func addServerMigrationActionRoutes(_ t: inout RouteTable) {
        t.post("/v2.1/servers/{server_id}/migrations/{migration_id}/action", versioned { req, ctx, v in
            guard v.atLeast(22) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:servers:migrations:force_complete", c, target: ["project_id": i.projectID])
            _ = try NovaSchemas.validate(try await Self.body(req, ctx), .object(["force_complete": Schema(types: [.null])], required: ["force_complete"],
                                                                               additionalProperties: false))
            try ComputeService.checkLock(i, caller: c.auth, override: c.isAdmin)
            try await self.service.controlLiveMigration(i, migrationID: try ctx.parameter("migration_id"), action: .forceComplete, abortBeforeRunning: false,
                                                      caller: c.auth, requestID: ctx.requestID)
            return .empty(.accepted)
        })
        t.delete("/v2.1/servers/{server_id}/migrations/{migration_id}", versioned { req, ctx, v in
            guard v.atLeast(24) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:servers:migrations:delete", c, target: ["project_id": i.projectID])
            try ComputeService.checkLock(i, caller: c.auth, override: c.isAdmin)
            try await self.service.controlLiveMigration(i, migrationID: try ctx.parameter("migration_id"), action: .abort, abortBeforeRunning: v.atLeast(65),
                                                      caller: c.auth, requestID: ctx.requestID)
            return .empty(.accepted)
        })
    }

    func serverMigrations(_ instance: String) async throws -> [ComputeMigration] {
        var f = MigrationRepository.Filter()
        f.instanceID = instance
        f.migrationType = ComputeMigration.Kind.liveMigration.rawValue
        return try await service.migrations.list(f).filter { m in m.status.map { ComputeMigration.liveInProgress.containsBytes($0) } ?? false }
    }

    func serverMigrationView(_ m: ComputeMigration, _ v: NovaVersion, showHosts: Bool) -> JSONValue {
        func host(_ s: String?) -> JSONValue { showHosts ? JSONValue(s) : .null }
        func bytes(_ n: Int64?) -> JSONValue { n.map { .int($0) } ?? .null }
        var o: JSONObject = [
            "id": .int(Int64(m.id)), "created_at": .string(NovaTime.micros(m.createdAt)),
            "updated_at": m.updatedAt.map { .string(NovaTime.micros($0)) } ?? .null, "server_uuid": JSONValue(m.instanceID),
            "status": JSONValue(m.status), "source_compute": host(m.sourceCompute), "source_node": host(m.sourceNode),
            "dest_compute": host(m.destCompute), "dest_node": host(m.destNode), "dest_host": host(m.destHost),
            "memory_total_bytes": bytes(m.memoryTotal), "memory_processed_bytes": bytes(m.memoryProcessed),
            "memory_remaining_bytes": bytes(m.memoryRemaining), "disk_total_bytes": bytes(m.diskTotal),
            "disk_processed_bytes": bytes(m.diskProcessed), "disk_remaining_bytes": bytes(m.diskRemaining),
        ]
        if v.atLeast(59) { o["uuid"] = .string(m.uuid) }
        if v.atLeast(80) {
            o["user_id"] = JSONValue(m.userID)
            o["project_id"] = JSONValue(m.projectID)
        }
        return .object(o)
    }

    static func migrationTime(_ q: QueryString, _ name: String) throws -> Date? {
        guard let s = q.last(name) else { return nil }
        guard let d = Timestamps.parse(s) else {
            throw NimbusError.badRequest("Invalid input for query parameters \(name). Value: \(s). '\(s)' is not a 'date-time'")
        }
        return d
    }

    func migrationView(_ m: ComputeMigration, _ v: NovaVersion, showHosts: Bool) -> JSONValue {
        func host(_ s: String?) -> JSONValue { showHosts ? JSONValue(s) : .null }
        var o: JSONObject = [
            "id": .int(Int64(m.id)), "created_at": .string(NovaTime.micros(m.createdAt)),
            "updated_at": m.updatedAt.map { .string(NovaTime.micros($0)) } ?? .null, "instance_uuid": JSONValue(m.instanceID),
            "status": JSONValue(m.status), "old_instance_type_id": m.oldFlavorID.map { .int(Int64($0)) } ?? .null,
            "new_instance_type_id": m.newFlavorID.map { .int(Int64($0)) } ?? .null,
            "source_compute": host(m.sourceCompute), "source_node": host(m.sourceNode), "dest_compute": host(m.destCompute),
            "dest_node": host(m.destNode), "dest_host": host(m.destHost),
        ]
        if v.atLeast(23) {
            o["migration_type"] = .string(m.kind.rawValue)
            if m.kind == .liveMigration, let s = m.status, ComputeMigration.liveInProgress.containsBytes(s), let i = m.instanceID {
                o["links"] = links("servers/\(i)/migrations", String(m.id))
            }
        }
        if v.atLeast(59) { o["uuid"] = .string(m.uuid) }
        if v.atLeast(80) {
            o["user_id"] = JSONValue(m.userID)
            o["project_id"] = JSONValue(m.projectID)
        }
        return .object(o)
    }
}
