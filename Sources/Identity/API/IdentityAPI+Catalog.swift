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
        let known = ["id", "description", "parent_region_id", "links"]
        t.get("/v3/regions") { req, ctx in
            try self.authorize("identity:list_regions", ctx)
            return self.collection("regions", try await self.service.listRegions(parentRegionID: req.query("parent_region_id")).map(self.view), request: req)
        }
        t.post("/v3/regions") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.regionCreate)
            try self.authorize("identity:create_region", ctx)
            // An empty or absent id is generated, as Keystone does (`if not region.get('id')`).
            let id = r.string("id").flatMap { $0.isEmpty ? nil : $0 }
            let region = try await self.service.createRegion(id: id, description: r.string("description"), parentRegionID: r.string("parent_region_id"),
                                                             extra: r.extras(excluding: known))
            return self.created("region", self.view(region))
        }
        t.put("/v3/regions/{region_id}") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.regionCreate)
            try self.authorize("identity:create_region", ctx)
            let id = try ctx.parameter("region_id")
            if r.has("id"), !r.string("id").sameBytes(as: id) {
                throw NimbusError.badRequest("Conflicting region IDs specified: \"\(id)\" != \"\(r.string("id") ?? "None")\"")
            }
            let region = try await self.service.createRegion(id: id, description: r.string("description"), parentRegionID: r.string("parent_region_id"),
                                                             extra: r.extras(excluding: known))
            return self.created("region", self.view(region))
        }
        t.get("/v3/regions/{region_id}") { req, ctx in
            try self.authorize("identity:get_region", ctx)
            return self.ok("region", self.view(try await self.service.requireRegion(try ctx.parameter("region_id"))))
        }
        t.patch("/v3/regions/{region_id}") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.regionUpdate)
            try self.authorize("identity:update_region", ctx)
            let id = try ctx.parameter("region_id")
            try Self.requireMatchingID(r, id)
            let region = try await self.service.updateRegion(id, description: r.string("description"), parentRegionID: r.nullableString("parent_region_id"),
                                                             extra: r.extras(excluding: known))
            return self.ok("region", self.view(region))
        }
        t.delete("/v3/regions/{region_id}") { req, ctx in
            try self.authorize("identity:delete_region", ctx)
            try await self.service.deleteRegion(try ctx.parameter("region_id"))
            return .empty()
        }
    }

    /// Keystone's `_require_matching_id`: an id in an update body must be the resource's own.
    static func requireMatchingID(_ e: Entity, _ id: String) throws {
        if let given = e.string("id"), !given.sameBytes(as: id) { throw NimbusError.badRequest("Cannot change ID") }
    }

    func addServiceRoutes(_ t: inout RouteTable) {
        let known = ["id", "type", "enabled", "links"]
        t.get("/v3/services") { req, ctx in
            try self.authorize("identity:list_services", ctx)
            return self.collection("services", try await self.service.listServices(type: req.query("type"), name: req.query("name")).map(self.view), request: req)
        }
        t.post("/v3/services") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.serviceCreate)
            try self.authorize("identity:create_service", ctx)
            let s = try await self.service.createService(type: r.string("type") ?? "", enabled: r.bool("enabled") ?? true, extra: r.extras(excluding: known))
            return self.created("service", self.view(s))
        }
        t.get("/v3/services/{service_id}") { req, ctx in
            try self.authorize("identity:get_service", ctx)
            return self.ok("service", self.view(try await self.service.requireService(try ctx.parameter("service_id"))))
        }
        t.patch("/v3/services/{service_id}") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.serviceUpdate)
            try self.authorize("identity:update_service", ctx)
            let id = try ctx.parameter("service_id")
            try Self.requireMatchingID(r, id)
            let s = try await self.service.updateService(id, type: r.string("type"), enabled: r.bool("enabled"), extra: r.extras(excluding: known))
            return self.ok("service", self.view(s))
        }
        t.delete("/v3/services/{service_id}") { req, ctx in
            try self.authorize("identity:delete_service", ctx)
            try await self.service.deleteService(try ctx.parameter("service_id"))
            return .empty()
        }
    }

    func addEndpointRoutes(_ t: inout RouteTable) {
        let known = ["id", "service_id", "interface", "url", "region_id", "region", "enabled", "links"]
        t.get("/v3/endpoints") { req, ctx in
            try self.authorize("identity:list_endpoints", ctx)
            let list = try await self.service.listEndpoints(interface: req.query("interface"), serviceID: req.query("service_id"), regionID: req.query("region_id"))
            return self.collection("endpoints", list.map(self.view), request: req)
        }
        t.post("/v3/endpoints") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.endpointCreate)
            try self.authorize("identity:create_endpoint", ctx)
            let url = r.string("url") ?? ""
            try IdentityService.checkEndpointURL(url)
            try await self.autoCreateLegacyRegion(r)
            let e = try await self.service.createEndpoint(
                serviceID: r.string("service_id") ?? "", interface: r.string("interface") ?? "", url: url,
                regionID: r.string("region_id") ?? r.string("region"), enabled: r.bool("enabled") ?? true, extra: r.extras(excluding: known))
            return self.created("endpoint", self.view(e))
        }
        t.get("/v3/endpoints/{endpoint_id}") { req, ctx in
            try self.authorize("identity:get_endpoint", ctx)
            return self.ok("endpoint", self.view(try await self.service.requireEndpoint(try ctx.parameter("endpoint_id"))))
        }
        t.patch("/v3/endpoints/{endpoint_id}") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.endpointUpdate)
            try self.authorize("identity:update_endpoint", ctx)
            let id = try ctx.parameter("endpoint_id")
            try Self.requireMatchingID(r, id)
            try await self.autoCreateLegacyRegion(r)
            let region: String?? = r.has("region_id") ? r.nullableString("region_id") : (r.has("region") ? r.nullableString("region") : .none)
            let e = try await self.service.updateEndpoint(id, serviceID: r.string("service_id"), interface: r.string("interface"), url: r.string("url"),
                                                          regionID: region, enabled: r.bool("enabled"), extra: r.extras(excluding: known))
            return self.ok("endpoint", self.view(e))
        }
        t.delete("/v3/endpoints/{endpoint_id}") { req, ctx in
            try self.authorize("identity:delete_endpoint", ctx)
            try await self.service.deleteEndpoint(try ctx.parameter("endpoint_id"))
            return .empty()
        }
    }

    /// Keystone auto-creates a region named by the legacy `region` attribute, for old clients.
    func autoCreateLegacyRegion(_ r: Entity) async throws {
        guard r.string("region_id") == nil, let name = r.string("region"), try await service.region(name) == nil else { return }
        _ = try await service.createRegion(id: name, description: "", parentRegionID: nil, extra: [:])
    }
}
