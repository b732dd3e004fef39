import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `GET /os-migrations` as Nova's `migrations.py` answers: filters `hidden`, `host`,
/// `instance_uuid`, `source_compute`, `status`, `migration_type`; `migration_type` and links
/// from 2.23; paging, `uuid` and `changes-since` from 2.59; `changes-before` from 2.66;
/// `user_id`/`project_id` filters and fields from 2.80. Empty until resize and migrate exist.
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
