import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    func view(_ g: EndpointGroup) -> JSONValue {
        [
            "id": .string(g.id), "name": .string(g.name), "description": JSONValue(g.description),
            "filters": .object(JSONObject(g.filters.mapValues { JSONValue.string($0) })),
            "links": ["self": .string(v3 + "/OS-EP-FILTER/endpoint_groups/\(g.id)")],
        ]
    }

    /// The filters of a validated endpoint group body: the three Keystone applies, as text.
    func filters(_ e: Entity) throws -> [String: String]? {
        guard let f = e.object("filters") else { return nil }
        var out = [String: String]()
        for (key, value) in f {
            // Keystone's `_require_valid_filter`: only these keys (its schema also admits `enabled`).
            guard IdentityService.endpointGroupFilterKeys.containsBytes(key) else {
                throw NimbusError.badRequest("Expecting to find service_id or region_id or interface in endpoint_group. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
            }
            if let s = value.stringValue { out[key] = s }
        }
        return out
    }

    func addEndpointFilterRoutes(_ t: inout RouteTable) {
        let base = "/v3/OS-EP-FILTER/endpoint_groups"
        t.get(base) { req, ctx in
            try self.authorize("identity:list_endpoint_groups", ctx)
            return self.collection("endpoint_groups", try await self.service.listEndpointGroups(name: req.query("name")).map(self.view), request: req)
        }
        t.post(base) { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.endpointGroupCreate)
            try self.authorize("identity:create_endpoint_group", ctx)
            guard let filters = try self.filters(r), !filters.isEmpty else {
                throw NimbusError.badRequest("filters field is required and cannot be empty")
            }
            let g = try await self.service.createEndpointGroup(name: r.string("name") ?? "", description: r.string("description"), filters: filters)
            return self.created("endpoint_group", self.view(g))
        }
        t.get(base + "/{group_id}") { req, ctx in
            try self.authorize("identity:get_endpoint_group", ctx)
            return self.ok("endpoint_group", self.view(try await self.service.endpointGroup(try ctx.parameter("group_id"))))
        }
        t.patch(base + "/{group_id}") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.endpointGroupUpdate)
            try self.authorize("identity:update_endpoint_group", ctx)
            let g = try await self.service.updateEndpointGroup(try ctx.parameter("group_id"), name: r.string("name"), description: r.nullableString("description"),
                                                               filters: try self.filters(r))
            return self.ok("endpoint_group", self.view(g))
        }
        t.delete(base + "/{group_id}") { req, ctx in
            try self.authorize("identity:delete_endpoint_group", ctx)
            try await self.service.deleteEndpointGroup(try ctx.parameter("group_id"))
            return .empty()
        }
        t.get(base + "/{group_id}/endpoints") { req, ctx in
            try self.authorize("identity:list_endpoints_associated_with_endpoint_group", ctx)
            return self.collection("endpoints", try await self.service.endpoints(inGroup: try ctx.parameter("group_id")).map(self.view), request: req)
        }
        t.get(base + "/{group_id}/projects") { req, ctx in
            try self.authorize("identity:list_projects_associated_with_endpoint_group", ctx)
            let id = try ctx.parameter("group_id")
            _ = try await self.service.endpointGroup(id)
            var projects = [JSONValue]()
            for pid in try await self.service.projectIDs(forEndpointGroup: id) {
                if let p = try await self.service.project(pid) { projects.append(self.view(p)) }
            }
            return self.collection("projects", projects, request: req)
        }
        t.put(base + "/{group_id}/projects/{project_id}") { req, ctx in
            try self.authorize("identity:add_endpoint_group_to_project", ctx)
            try await self.service.associate(endpointGroup: try ctx.parameter("group_id"), project: try ctx.parameter("project_id"))
            return .empty()
        }
        t.get(base + "/{group_id}/projects/{project_id}") { req, ctx in
            try self.authorize("identity:get_endpoint_group_in_project", ctx)
            let (g, p) = (try ctx.parameter("group_id"), try ctx.parameter("project_id"))
            let project = try await self.service.requireProject(p)
            guard try await self.service.endpointGroupIDs(forProject: p).containsBytes(g) else {
                throw NimbusError.notFound("Could not find Endpoint Group Project Association: \(g), \(p).")
            }
            return self.ok("project", self.view(project))
        }
        t.delete(base + "/{group_id}/projects/{project_id}") { req, ctx in
            try self.authorize("identity:remove_endpoint_group_from_project", ctx)
            try await self.service.dissociate(endpointGroup: try ctx.parameter("group_id"), project: try ctx.parameter("project_id"))
            return .empty()
        }
        t.get("/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups") { req, ctx in
            try self.authorize("identity:list_endpoint_groups_for_project", ctx)
            let p = try await self.service.requireProject(try ctx.parameter("project_id"))
            var groups = [JSONValue]()
            for id in try await self.service.endpointGroupIDs(forProject: p.id) { groups.append(self.view(try await self.service.endpointGroup(id))) }
            return self.collection("endpoint_groups", groups, request: req)
        }
        addProjectEndpointRoutes(&t)
    }

    func addProjectEndpointRoutes(_ t: inout RouteTable) {
        let base = "/v3/OS-EP-FILTER/projects/{project_id}/endpoints"
        t.get(base) { req, ctx in
            try self.authorize("identity:list_endpoints_for_project", ctx)
            let p = try await self.service.requireProject(try ctx.parameter("project_id"))
            let ids = try await self.service.filteredEndpointIDs(forProject: p.id) ?? []
            let list = try await self.service.listEndpoints(interface: nil, serviceID: nil, regionID: nil).filter { ids.contains(Name($0.id)) }
            return self.collection("endpoints", list.map(self.view), request: req)
        }
        t.put(base + "/{endpoint_id}") { req, ctx in
            try self.authorize("identity:add_endpoint_to_project", ctx)
            try await self.service.associate(endpoint: try ctx.parameter("endpoint_id"), project: try ctx.parameter("project_id"))
            return .empty()
        }
        t.head(base + "/{endpoint_id}") { req, ctx in try await self.checkProjectEndpoint(ctx) }
        t.get(base + "/{endpoint_id}") { req, ctx in try await self.checkProjectEndpoint(ctx) }
        t.delete(base + "/{endpoint_id}") { req, ctx in
            try self.authorize("identity:remove_endpoint_from_project", ctx)
            try await self.service.dissociate(endpoint: try ctx.parameter("endpoint_id"), project: try ctx.parameter("project_id"))
            return .empty()
        }
        t.get("/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects") { req, ctx in
            try self.authorize("identity:list_projects_for_endpoint", ctx)
            let e = try await self.service.requireEndpoint(try ctx.parameter("endpoint_id"))
            var projects = [JSONValue]()
            for pid in try await self.service.projectIDs(forEndpoint: e.id) {
                if let p = try await self.service.project(pid) { projects.append(self.view(p)) }
            }
            return self.collection("projects", projects, request: req)
        }
    }

    func checkProjectEndpoint(_ ctx: NimbusRequestContext) async throws -> Response {
        try authorize("identity:check_endpoint_in_project", ctx)
        let (p, e) = (try ctx.parameter("project_id"), try ctx.parameter("endpoint_id"))
        _ = try await service.requireProject(p)
        _ = try await service.requireEndpoint(e)
        guard try await service.endpointIDs(forProject: p).containsBytes(e) else {
            throw NimbusError.notFound("Could not find Endpoint Project Association: \(e), \(p).")
        }
        return .empty()
    }
}
