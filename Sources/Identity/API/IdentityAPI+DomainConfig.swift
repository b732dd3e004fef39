import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    /// `/v3/domains/{domain_id}/config[/{group}[/{option}]]` and the defaults. The default routes
    /// come first: `/v3/domains/config/config/default` would otherwise read as a domain's group.
    func addDomainConfigRoutes(_ t: inout RouteTable) {
        t.get("/v3/domains/config/default") { _, ctx in
            try self.authorize("identity:get_domain_config_default", ctx)
            return .json(["config": .object(try self.service.defaultDomainConfig())])
        }
        t.get("/v3/domains/config/{group}/default") { _, ctx in
            try self.authorize("identity:get_domain_config_default", ctx)
            return .json(["config": .object(try self.service.defaultDomainConfig(group: try Self.name(ctx, "group")))])
        }
        t.get("/v3/domains/config/{group}/{option}/default") { _, ctx in
            try self.authorize("identity:get_domain_config_default", ctx)
            let c = try self.service.defaultDomainConfig(group: try Self.name(ctx, "group"), option: try Self.name(ctx, "option"))
            return .json(["config": .object(c)])
        }
        let base = "/v3/domains/{domain_id}/config"
        t.put(base) { req, ctx in
            try self.authorize("identity:create_domain_config", ctx)
            let d = try await self.service.requireDomain(try ctx.parameter("domain_id"))
            let r = try await self.service.replaceDomainConfig(d.id, try await self.configBody(req, ctx))
            return .json(["config": .object(r.config)], status: r.created ? .created : .ok)
        }
        for path in [base, base + "/{group}", base + "/{group}/{option}"] {
            t.get(path) { _, ctx in try await self.showDomainConfig(ctx) }
            t.patch(path) { req, ctx in
                try self.authorize("identity:update_domain_config", ctx)
                let d = try await self.service.requireDomain(try ctx.parameter("domain_id"))
                let c = try await self.service.updateDomainConfig(d.id, try await self.configBody(req, ctx),
                                                                  group: try Self.name(ctx, "group"), option: try Self.name(ctx, "option"))
                return .json(["config": .object(c)])
            }
            t.delete(path) { _, ctx in
                try self.authorize("identity:delete_domain_config", ctx)
                let d = try await self.service.requireDomain(try ctx.parameter("domain_id"))
                try await self.service.deleteDomainConfig(d.id, group: try Self.name(ctx, "group"), option: try Self.name(ctx, "option"))
                return .empty()
            }
        }
    }

    /// As Keystone: policy first, then the domain's existence (so a denied caller learns nothing);
    /// the `security_compliance` group has its own rule that any authenticated user passes.
    func showDomainConfig(_ ctx: NimbusRequestContext) async throws -> Response {
        let domainID = try ctx.parameter("domain_id")
        let group = try Self.name(ctx, "group"), option = try Self.name(ctx, "option")
        if group == "security_compliance" {
            try self.authorize("identity:get_security_compliance_domain_config", ctx)
            let d = try await service.requireDomain(domainID)
            return .json(["config": .object(try service.securityComplianceConfig(d.id, option: option))])
        }
        try self.authorize("identity:get_domain_config", ctx)
        let d = try await service.requireDomain(domainID)
        return .json(["config": .object(try await service.domainConfig(d.id, group: group, option: option))])
    }

    /// `{"config": ...}`; Keystone reads a missing key as an empty config ("No options specified").
    func configBody(_ req: Request, _ ctx: NimbusRequestContext) async throws -> JSONValue {
        let body = try await req.jsonBody(context: ctx)
        guard case .object(let o) = body else { throw NimbusError.badRequest("Invalid input: the request body must be a JSON object.") }
        return o["config"] ?? .object([:])
    }

    static func name(_ ctx: NimbusRequestContext, _ key: String) throws -> Name? { ctx.pathParameters[key].map { Name($0) } }
}
