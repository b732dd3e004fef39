import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Nova's security group proxy (`os-security-groups`, `os-security-group-rules`), served up to
/// microversion 2.35 as Nova serves it; the network service does the work.
extension ComputeAPI {
    func addSecurityGroupProxyRoutes(_ t: inout RouteTable) {
        @Sendable func proxy(_ v: NovaVersion) throws -> any NovaSecurityGroupProxy {
            try Self.checkProxy(v)
            guard let p = self.service.network as? any NovaSecurityGroupProxy else { throw NimbusError.notFound("The resource could not be found.") }
            return p
        }
        let groupSchema: Schema = .object(["security_group": .object(["name": .string(minLength: 0, maxLength: 255),
                                                                      "description": .string(minLength: 0, maxLength: 255)],
                                                                     required: ["name", "description"])],
                                          required: ["security_group"])
        @Sendable func nameAndDescription(_ body: JSONValue) throws -> (String, String) {
            let valid = try NovaSchemas.validate(body, groupSchema)
            let g = valid["security_group"]!
            return (g["name"]!.stringValue!, g["description"]!.stringValue!)
        }
        t.get("/v2.1/os-security-groups", versioned { req, ctx, v in
            let p = try proxy(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-security-groups:get", c, target: ["project_id": c.auth.projectID ?? ""])
            let q = req.queryString
            var groups = p.listGroups(caller: c.auth, allProjects: q["all_tenants"] != nil)
            // Nova's `common.limited`: offset and limit (at most 1000).
            func count(_ name: String) throws -> Int? {
                guard let s = q[name] else { return nil }
                guard let n = Int(s), n >= 0 else { throw NimbusError.badRequest("\(name) param must be an integer") }
                return n
            }
            let offset = try count("offset") ?? 0, limit = min(try count("limit") ?? 1000, 1000)
            groups = Array(groups.dropFirst(offset).prefix(limit == 0 ? 1000 : limit)).sorted { a, b in
                let ta = a["tenant_id"]?.stringValue ?? "", tb = b["tenant_id"]?.stringValue ?? ""
                if !ta.sameBytes(as: tb) { return ta.bytesPrecede(tb) }
                return (a["name"]?.stringValue ?? "").bytesPrecede(b["name"]?.stringValue ?? "")
            }
            return .json(["security_groups": .array(groups.map { .object($0) })])
        })
        t.get("/v2.1/os-security-groups/{id}", versioned { _, ctx, v in
            let p = try proxy(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-security-groups:show", c, target: ["project_id": c.auth.projectID ?? ""])
            return .json(["security_group": .object(try p.showGroup(try ctx.parameter("id"), caller: c.auth))])
        })
        t.post("/v2.1/os-security-groups", versioned { req, ctx, v in
            let p = try proxy(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-security-groups:create", c, target: ["project_id": c.auth.projectID ?? ""])
            let (name, description) = try nameAndDescription(try await Self.body(req, ctx))
            return .json(["security_group": .object(try await p.createGroup(name: name, description: description, caller: c.auth))])
        })
        t.put("/v2.1/os-security-groups/{id}", versioned { req, ctx, v in
            let p = try proxy(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-security-groups:update", c, target: ["project_id": c.auth.projectID ?? ""])
            let body = try await Self.body(req, ctx)
            let id = try ctx.parameter("id")
            _ = try p.showGroup(id, caller: c.auth)
            let (name, description) = try nameAndDescription(body)
            return .json(["security_group": .object(try await p.updateGroup(id, name: name, description: description, caller: c.auth))])
        })
        // No id (`DELETE /os-security-groups/`): Nova's router finds no such resource.
        t.delete("/v2.1/os-security-groups", versioned { _, _, v in
            _ = try proxy(v)
            throw NimbusError.notFound("The resource could not be found.")
        })
        t.delete("/v2.1/os-security-groups/{id}", versioned { _, ctx, v in
            let p = try proxy(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-security-groups:delete", c, target: ["project_id": c.auth.projectID ?? ""])
            try await p.deleteGroup(try ctx.parameter("id"), caller: c.auth)
            return .empty(.accepted)
        })
        let ruleSchema: Schema = .object(["security_group_rule": .object(["group_id": NovaSchemas.uuidString.nullable,
                                                                          "parent_group_id": NovaSchemas.uuidString,
                                                                          "to_port": .any, "from_port": .any, "ip_protocol": .any, "cidr": .any],
                                                                         required: ["parent_group_id"])],
                                         required: ["security_group_rule"])
        t.post("/v2.1/os-security-group-rules", versioned { req, ctx, v in
            let p = try proxy(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-security-groups:rule:create", c, target: ["project_id": c.auth.projectID ?? ""])
            let valid = try NovaSchemas.validate(try await Self.body(req, ctx), ruleSchema)
            let rule = valid["security_group_rule"]?.objectValue ?? [:]
            return .json(["security_group_rule": .object(try await p.createRule(rule, caller: c.auth))])
        })
        t.delete("/v2.1/os-security-group-rules/{id}", versioned { _, ctx, v in
            let p = try proxy(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-security-groups:rule:delete", c, target: ["project_id": c.auth.projectID ?? ""])
            try await p.deleteRule(try ctx.parameter("id"), caller: c.auth)
            return .empty(.accepted)
        })
    }
}
