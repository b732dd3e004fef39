import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    func addCatalogRoutes(_ t: inout RouteTable) {
        addRegionRoutes(&t)
        addServiceRoutes(&t)
        addEndpointRoutes(&t)
    }

    func addRegionRoutes(_ t: inout RouteTable) {
        let known: Set<String> = ["id", "description", "parent_region_id", "links"]
        t.get("/v3/regions") { req, ctx in
            try self.authorize("identity:list_regions", ctx)
            return self.collection("regions", try await self.service.listRegions(parentRegionID: req.query("parent_region_id")).map(self.view), request: req)
        }
        t.post("/v3/regions") { req, ctx in
            try self.authorize("identity:create_region", ctx)
            let r = try await self.entity(req, ctx, "region")
            let region = try await self.service.createRegion(id: try r.string("id", maxLength: 255), description: try r.string("description", maxLength: 255, nullable: true),
                                                             parentRegionID: try r.string("parent_region_id", nullable: true), extra: r.extras(excluding: known))
            return self.created("region", self.view(region))
        }
        t.put("/v3/regions/{region_id}") { req, ctx in
            try self.authorize("identity:create_region", ctx)
            let r = try await self.entity(req, ctx, "region")
            let id = try ctx.parameter("region_id")
            if let bodyID = try r.string("id"), bodyID != id { throw NimbusError.badRequest("Conflicting region IDs specified: \"\(id)\" != \"\(bodyID)\"") }
            let region = try await self.service.createRegion(id: id, description: try r.string("description", maxLength: 255, nullable: true),
                                                             parentRegionID: try r.string("parent_region_id", nullable: true), extra: r.extras(excluding: known))
            return self.created("region", self.view(region))
        }
        t.get("/v3/regions/{region_id}") { req, ctx in
            try self.authorize("identity:get_region", ctx)
            return self.ok("region", self.view(try await self.service.requireRegion(try ctx.parameter("region_id"))))
        }
        t.patch("/v3/regions/{region_id}") { req, ctx in
            try self.authorize("identity:update_region", ctx)
            let r = try await self.entity(req, ctx, "region")
            let parent: String?? = r.has("parent_region_id") ? .some(try r.string("parent_region_id", nullable: true)) : .none
            let region = try await self.service.updateRegion(try ctx.parameter("region_id"), description: try r.string("description", maxLength: 255, nullable: true),
                                                             parentRegionID: parent, extra: r.extras(excluding: known))
            return self.ok("region", self.view(region))
        }
        t.delete("/v3/regions/{region_id}") { req, ctx in
            try self.authorize("identity:delete_region", ctx)
            try await self.service.deleteRegion(try ctx.parameter("region_id"))
            return .empty()
        }
    }

    func addServiceRoutes(_ t: inout RouteTable) {
        let known: Set<String> = ["id", "type", "enabled", "links"]
        t.get("/v3/services") { req, ctx in
            try self.authorize("identity:list_services", ctx)
            return self.collection("services", try await self.service.listServices(type: req.query("type"), name: req.query("name")).map(self.view), request: req)
        }
        t.post("/v3/services") { req, ctx in
            try self.authorize("identity:create_service", ctx)
            let r = try await self.entity(req, ctx, "service")
            let s = try await self.service.createService(type: try r.requireString("type", allowEmpty: false), enabled: try r.bool("enabled") ?? true,
                                                         extra: r.extras(excluding: known))
            return self.created("service", self.view(s))
        }
        t.get("/v3/services/{service_id}") { req, ctx in
            try self.authorize("identity:get_service", ctx)
            return self.ok("service", self.view(try await self.service.requireService(try ctx.parameter("service_id"))))
        }
        t.patch("/v3/services/{service_id}") { req, ctx in
            try self.authorize("identity:update_service", ctx)
            let r = try await self.entity(req, ctx, "service")
            let s = try await self.service.updateService(try ctx.parameter("service_id"), type: try r.string("type", allowEmpty: false),
                                                         enabled: try r.bool("enabled"), extra: r.extras(excluding: known))
            return self.ok("service", self.view(s))
        }
        t.delete("/v3/services/{service_id}") { req, ctx in
            try self.authorize("identity:delete_service", ctx)
            try await self.service.deleteService(try ctx.parameter("service_id"))
            return .empty()
        }
    }

    func addEndpointRoutes(_ t: inout RouteTable) {
        let known: Set<String> = ["id", "service_id", "interface", "url", "region_id", "region", "enabled", "links"]
        t.get("/v3/endpoints") { req, ctx in
            try self.authorize("identity:list_endpoints", ctx)
            let list = try await self.service.listEndpoints(interface: req.query("interface"), serviceID: req.query("service_id"), regionID: req.query("region_id"))
            return self.collection("endpoints", list.map(self.view), request: req)
        }
        t.post("/v3/endpoints") { req, ctx in
            try self.authorize("identity:create_endpoint", ctx)
            let r = try await self.entity(req, ctx, "endpoint")
            try await self.autoCreateLegacyRegion(r)
            let e = try await self.service.createEndpoint(
                serviceID: try r.requireString("service_id"), interface: try r.requireString("interface"), url: try self.validURL(r.requireString("url", maxLength: 2048)),
                regionID: try r.string("region_id", nullable: true) ?? r.string("region", nullable: true), enabled: try r.bool("enabled") ?? true,
                extra: r.extras(excluding: known))
            return self.created("endpoint", self.view(e))
        }
        t.get("/v3/endpoints/{endpoint_id}") { req, ctx in
            try self.authorize("identity:get_endpoint", ctx)
            return self.ok("endpoint", self.view(try await self.service.requireEndpoint(try ctx.parameter("endpoint_id"))))
        }
        t.patch("/v3/endpoints/{endpoint_id}") { req, ctx in
            try self.authorize("identity:update_endpoint", ctx)
            let r = try await self.entity(req, ctx, "endpoint")
            try await self.autoCreateLegacyRegion(r)
            let region: String?? = r.has("region_id") ? .some(try r.string("region_id", nullable: true))
                : (r.has("region") ? .some(try r.string("region", nullable: true)) : .none)
            let e = try await self.service.updateEndpoint(
                try ctx.parameter("endpoint_id"), serviceID: try r.string("service_id"), interface: try r.string("interface"),
                url: try r.string("url", maxLength: 2048).map(self.validURL), regionID: region, enabled: try r.bool("enabled"), extra: r.extras(excluding: known))
            return self.ok("endpoint", self.view(e))
        }
        t.delete("/v3/endpoints/{endpoint_id}") { req, ctx in
            try self.authorize("identity:delete_endpoint", ctx)
            try await self.service.deleteEndpoint(try ctx.parameter("endpoint_id"))
            return .empty()
        }
    }

    /// Keystone auto-creates a region named by the legacy `region` attribute, for old clients.
    func autoCreateLegacyRegion(_ r: JSONObjectReader) async throws {
        guard !r.has("region_id"), let name = try r.string("region", maxLength: 255, nullable: true),
              try await service.region(name) == nil else { return }
        _ = try await service.createRegion(id: name, description: "", parentRegionID: nil, extra: [:])
    }

    func validURL(_ url: String) throws -> String {
        guard let u = URL(string: url), u.scheme != nil, u.host != nil || url.contains("$(") else {
            throw NimbusError.badRequest("Invalid input for field 'url': '\(url)' is not a 'url'")
        }
        return url
    }
}
