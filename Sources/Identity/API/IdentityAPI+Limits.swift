import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    func view(_ r: RegisteredLimit) -> JSONValue {
        [
            "id": .string(r.id), "service_id": .string(r.serviceID), "region_id": JSONValue(r.regionID), "resource_name": .string(r.resourceName),
            "default_limit": .int(r.defaultLimit), "description": JSONValue(r.description), "links": link("/registered_limits/\(r.id)"),
        ]
    }

    func view(_ l: ProjectLimit) -> JSONValue {
        [
            "id": .string(l.id), "project_id": JSONValue(l.projectID), "domain_id": JSONValue(l.domainID), "service_id": .string(l.serviceID),
            "region_id": JSONValue(l.regionID), "resource_name": .string(l.resourceName), "resource_limit": .int(l.resourceLimit),
            "description": JSONValue(l.description), "links": link("/limits/\(l.id)"),
        ]
    }

    /// The items of a `{"<key>": [...]}` batch body, validated.
    func batch(_ req: Request, _ ctx: NimbusRequestContext, _ schema: RequestSchema, _ key: String) async throws -> [Entity] {
        let body = try await validatedBody(req, ctx, schema)
        return (body[key]?.arrayValue ?? []).map { Entity(object: $0.objectValue ?? [:], schema: schema) }
    }

    func limitTarget(_ l: ProjectLimit) async throws -> [String: String] {
        var t = ["target.limit.project_id": l.projectID.policyValue]
        if let d = l.domainID { t["target.limit.domain.id"] = d }
        if let p = l.projectID, let project = try await service.project(p) { t["target.limit.project.domain_id"] = project.domainID.policyValue }
        return t
    }

    func addLimitRoutes(_ t: inout RouteTable) {
        t.get("/v3/limits/model") { req, ctx in
            try self.authorize("identity:get_limit_model", ctx)
            return .json(["model": ["name": "flat", "description": "Limit enforcement and validation does not take project hierarchy into consideration."]])
        }
        t.get("/v3/registered_limits") { req, ctx in
            try self.authorize("identity:list_registered_limits", ctx)
            let list = try await self.service.listRegisteredLimits(serviceID: req.query("service_id"), regionID: req.query("region_id"), resourceName: req.query("resource_name"))
            return self.collection("registered_limits", list.map(self.view), request: req)
        }
        t.post("/v3/registered_limits") { req, ctx in
            try self.authorize("identity:create_registered_limits", ctx)
            let items = try await self.batch(req, ctx, KeystoneSchemas.registeredLimitsCreate, "registered_limits").map { r in
                RegisteredLimit(id: "", serviceID: r.string("service_id") ?? "", regionID: r.string("region_id"), resourceName: r.string("resource_name") ?? "",
                                defaultLimit: r.int("default_limit") ?? 0, description: r.string("description"))
            }
            return .json(["registered_limits": .array(try await self.service.createRegisteredLimits(items).map(self.view))], status: .created)
        }
        t.get("/v3/registered_limits/{limit_id}") { req, ctx in
            try self.authorize("identity:get_registered_limit", ctx)
            return self.ok("registered_limit", self.view(try await self.service.registeredLimit(try ctx.parameter("limit_id"))))
        }
        t.patch("/v3/registered_limits/{limit_id}") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.registeredLimitUpdate)
            try self.authorize("identity:update_registered_limit", ctx)
            let updated = try await self.service.updateRegisteredLimit(
                try ctx.parameter("limit_id"), defaultLimit: r.int("default_limit"), description: r.nullableString("description"),
                serviceID: r.string("service_id"), regionID: r.nullableString("region_id"), resourceName: r.string("resource_name"))
            return self.ok("registered_limit", self.view(updated))
        }
        t.delete("/v3/registered_limits/{limit_id}") { req, ctx in
            try self.authorize("identity:delete_registered_limit", ctx)
            try await self.service.deleteRegisteredLimit(try ctx.parameter("limit_id"))
            return .empty()
        }
        addProjectLimitRoutes(&t)
    }

    func addProjectLimitRoutes(_ t: inout RouteTable) {
        t.get("/v3/limits") { req, ctx in
            let caller = try self.authorize("identity:list_limits", ctx)
            let all = try await self.service.listLimits(serviceID: req.query("service_id"), regionID: req.query("region_id"), resourceName: req.query("resource_name"),
                                                        projectID: req.query("project_id"), domainID: req.query("domain_id"))
            // As Keystone does, a caller sees only the limits `get_limit` would show them.
            var visible = [JSONValue]()
            for l in all where self.policy.enforce("identity:get_limit", credentials: caller.policyCredentials, target: try await self.limitTarget(l)) {
                visible.append(self.view(l))
            }
            return self.collection("limits", visible, request: req)
        }
        t.post("/v3/limits") { req, ctx in
            try self.authorize("identity:create_limits", ctx)
            let items = try await self.batch(req, ctx, KeystoneSchemas.limitsCreate, "limits").map { r in
                ProjectLimit(id: "", projectID: r.string("project_id"), domainID: r.string("domain_id"), serviceID: r.string("service_id") ?? "",
                             regionID: r.string("region_id"), resourceName: r.string("resource_name") ?? "", resourceLimit: r.int("resource_limit") ?? 0,
                             description: r.string("description"))
            }
            return .json(["limits": .array(try await self.service.createLimits(items).map(self.view))], status: .created)
        }
        t.get("/v3/limits/{limit_id}") { req, ctx in
            let l = try await self.service.limit(try ctx.parameter("limit_id"))
            try self.authorize("identity:get_limit", ctx, try await self.limitTarget(l))
            return self.ok("limit", self.view(l))
        }
        t.patch("/v3/limits/{limit_id}") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.limitUpdate)
            try self.authorize("identity:update_limit", ctx)
            let updated = try await self.service.updateLimit(try ctx.parameter("limit_id"), resourceLimit: r.int("resource_limit"),
                                                             description: r.nullableString("description"))
            return self.ok("limit", self.view(updated))
        }
        t.delete("/v3/limits/{limit_id}") { req, ctx in
            try self.authorize("identity:delete_limit", ctx)
            try await self.service.deleteLimit(try ctx.parameter("limit_id"))
            return .empty()
        }
    }
}
