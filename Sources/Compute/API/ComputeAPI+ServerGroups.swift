import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `/os-server-groups` as Nova's `server_groups.py` answers: `policies` before 2.64, `policy`
/// and `rules` from 2.64, `project_id`/`user_id` from 2.13, soft policies from 2.15; list with
/// `all_projects` (admins), `limit` and `offset`; members are the group's live servers.
extension ComputeAPI {
    func addServerGroupRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-server-groups", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-server-groups:index", c, target: ["project_id": c.projectID ?? "None"])
            let q = req.queryString
            try NovaSchemas.checkQuery(q, allowed: v.atLeast(75) ? ["all_projects", "limit", "offset"] : nil)
            var project: String? = c.projectID ?? ""
            if q.contains("all_projects"), c.isAdmin {
                try self.authorize("os_compute_api:os-server-groups:index:all_projects", c, target: ["project_id": c.projectID ?? "None"])
                project = nil
            }
            let offset = try Self.nonNegative(q, "offset") ?? 0
            let limit = try Self.nonNegative(q, "limit").flatMap { $0 == 0 ? nil : min($0, 1000) } ?? 1000
            let groups = try await self.service.serverGroups.list(project: project).dropFirst(offset).prefix(limit)
            return .json(["server_groups": .array(groups.map { Self.serverGroupView($0, v) })])
        })
        t.get("/v2.1/os-server-groups/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let g = try await self.service.serverGroup(try ctx.parameter("id"))
            try self.authorize("os_compute_api:os-server-groups:show", c, target: ["project_id": g.projectID])
            return .json(["server_group": Self.serverGroupView(g, v)])
        })
        t.delete("/v2.1/os-server-groups/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let g = try await self.service.serverGroup(try ctx.parameter("id"))
            try self.authorize("os_compute_api:os-server-groups:delete", c, target: ["project_id": g.projectID])
            guard try await self.service.serverGroups.delete(g.id) else { throw NimbusError.notFound("Instance group \(g.id) could not be found.") }
            return .empty(.noContent)
        })
        t.post("/v2.1/os-server-groups", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-server-groups:create", c, target: ["project_id": c.projectID ?? "None"])
            let body = try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.serverGroupCreate(v))
            let s = body["server_group"]!
            let policyName = v.atLeast(64) ? s["policy"]!.stringValue! : s["policies"]!.arrayValue![0].stringValue!
            let policy = ServerGroup.Policy(rawValue: policyName)!
            var maxPerHost: Int?
            if v.atLeast(64), let rules = s["rules"]?.objectValue, !rules.isEmpty {
                guard policy == .antiAffinity else { throw NimbusError.badRequest("Only anti-affinity policy supports rules.") }
                maxPerHost = rules["max_server_per_host"].flatMap(NovaSchemas.integer)
            }
            guard let project = c.projectID else { throw NimbusError.forbidden("A project-scoped token is required.") }
            let g = ServerGroup(projectID: project, userID: c.userID, name: s["name"]!.stringValue!, policy: policy, maxServerPerHost: maxPerHost)
            return .json(["server_group": Self.serverGroupView(try await self.service.createServerGroup(g), v)])
        })
    }

    /// A `non_negative_integer` query parameter (Nova's `limit`/`offset` of this list).
    static func nonNegative(_ q: QueryString, _ name: String) throws -> Int? {
        guard let s = q.last(name) else { return nil }
        guard !s.isEmpty, s.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw NimbusError.badRequest("Invalid input for query parameters \(name). Value: \(s). '\(s)' does not match '^[0-9]*$'")
        }
        return Int(s) ?? Int.max
    }

    static func serverGroupView(_ g: ServerGroup, _ v: NovaVersion) -> JSONValue {
        var o: JSONObject = ["id": .string(g.id), "name": .string(g.name), "members": JSONValue(g.members)]
        if v.atLeast(64) {
            o["policy"] = .string(g.policy.rawValue)
            var rules = JSONObject()
            if let m = g.maxServerPerHost { rules["max_server_per_host"] = .int(Int64(m)) }
            o["rules"] = .object(rules)
        } else {
            o["policies"] = [.string(g.policy.rawValue)]
            o["metadata"] = [:]
        }
        if v.atLeast(13) {
            o["project_id"] = .string(g.projectID)
            o["user_id"] = .string(g.userID)
        }
        return .object(o)
    }
}
