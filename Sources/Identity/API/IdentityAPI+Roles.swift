import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    func roleTarget(_ r: Role) -> [String: String] {
        ["target.role.id": r.id, "target.role.name": r.name, "target.role.domain_id": r.domainID.policyValue]
    }

    /// Keystone names the policy for domain-specific roles separately (`identity:get_domain_role`).
    func roleAction(_ verb: String, _ domainID: String?) -> String {
        domainID == nil ? "identity:\(verb)_role" : "identity:\(verb)_domain_role"
    }

    static let roleFields = ["id", "name", "domain_id", "description", "options", "links"]

    func addRoleRoutes(_ t: inout RouteTable) {
        t.get("/v3/roles") { req, ctx in
            let domainID = req.query("domain_id")
            try self.authorize(domainID == nil ? "identity:list_roles" : "identity:list_domain_roles", ctx,
                               domainID.map { ["target.domain_id": $0] } ?? [:])
            let roles = try await self.service.listRoles(name: req.query("name"), domainID: domainID)
            return self.collection("roles", roles.map(self.view), request: req)
        }
        t.post("/v3/roles") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.roleCreate)
            let name = r.string("name") ?? ""
            let domainID = r.string("domain_id")
            try self.authorize(self.roleAction("create", domainID), ctx, ["target.role.domain_id": domainID.policyValue, "target.role.name": name])
            let role = try await self.service.createRole(name: name, domainID: domainID, description: r.string("description"),
                                                         options: r.object("options") ?? [:], extra: r.extras(excluding: Self.roleFields))
            return self.created("role", self.view(role))
        }
        t.get("/v3/roles/{role_id}") { req, ctx in
            let role = try await self.service.requireRole(try ctx.parameter("role_id"))
            try self.authorize(self.roleAction("get", role.domainID), ctx, self.roleTarget(role))
            return self.ok("role", self.view(role))
        }
        t.patch("/v3/roles/{role_id}") { req, ctx in
            let role = try await self.service.requireRole(try ctx.parameter("role_id"))
            try self.authorize(self.roleAction("update", role.domainID), ctx, self.roleTarget(role))
            let r = try await self.entity(req, ctx, KeystoneSchemas.roleUpdate)
            let updated = try await self.service.updateRole(role.id, name: r.string("name"), description: r.nullableString("description"), domainID: r.nullableString("domain_id"),
                                                            options: r.object("options"), extra: r.extras(excluding: Self.roleFields))
            return self.ok("role", self.view(updated))
        }
        t.delete("/v3/roles/{role_id}") { req, ctx in
            let role = try await self.service.requireRole(try ctx.parameter("role_id"))
            try self.authorize(self.roleAction("delete", role.domainID), ctx, self.roleTarget(role))
            try await self.service.deleteRole(role.id)
            return .empty()
        }
        addImpliedRoleRoutes(&t)
        t.get("/v3/role_assignments") { req, ctx in try await self.listRoleAssignments(req, ctx) }
    }

    func addImpliedRoleRoutes(_ t: inout RouteTable) {
        t.get("/v3/role_inferences") { req, ctx in
            try self.authorize("identity:list_role_inference_rules", ctx)
            let rules = try await self.service.allImplications().map { prior, implied -> JSONValue in
                ["prior_role": self.roleRef(prior), "implies": .array(implied.map(self.roleRef))]
            }
            return .json(["role_inferences": .array(rules), "links": ["self": .string(self.v3 + "/role_inferences"), "previous": nil, "next": nil]])
        }
        t.get("/v3/roles/{prior_role_id}/implies") { req, ctx in
            try self.authorize("identity:list_implied_roles", ctx)
            let prior = try await self.service.requireRole(try ctx.parameter("prior_role_id"))
            let implied = try await self.service.implications(of: prior.id)
            return .json(["role_inference": ["prior_role": self.roleRef(prior), "implies": .array(implied.map(self.roleRef))],
                          "links": ["self": .string(self.v3 + "/roles/\(prior.id)/implies")]])
        }
        t.put("/v3/roles/{prior_role_id}/implies/{implied_role_id}") { req, ctx in
            try self.authorize("identity:create_implied_role", ctx)
            let (p, i) = try await self.service.createImplication(prior: try ctx.parameter("prior_role_id"), implied: try ctx.parameter("implied_role_id"))
            return .json(self.inferenceBody(p, i), status: .created)
        }
        t.get("/v3/roles/{prior_role_id}/implies/{implied_role_id}") { req, ctx in
            try self.authorize("identity:get_implied_role", ctx)
            let (p, i) = try await self.requireImplication(ctx)
            return .json(self.inferenceBody(p, i))
        }
        t.head("/v3/roles/{prior_role_id}/implies/{implied_role_id}") { req, ctx in
            try self.authorize("identity:check_implied_role", ctx)
            _ = try await self.requireImplication(ctx)
            return .empty()
        }
        t.delete("/v3/roles/{prior_role_id}/implies/{implied_role_id}") { req, ctx in
            try self.authorize("identity:delete_implied_role", ctx)
            try await self.service.deleteImplication(prior: try ctx.parameter("prior_role_id"), implied: try ctx.parameter("implied_role_id"))
            return .empty()
        }
    }

    func requireImplication(_ ctx: NimbusRequestContext) async throws -> (Role, Role) {
        let p = try await service.requireRole(try ctx.parameter("prior_role_id"))
        let i = try await service.requireRole(try ctx.parameter("implied_role_id"))
        guard try await service.hasImplication(prior: p.id, implied: i.id) else { throw NimbusError.notFound("\(p.id) does not imply \(i.id).") }
        return (p, i)
    }

    func inferenceBody(_ p: Role, _ i: Role) -> JSONValue {
        ["role_inference": ["prior_role": roleRef(p), "implies": roleRef(i)],
         "links": ["self": .string(v3 + "/roles/\(p.id)/implies/\(i.id)")]]
    }
}
