import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Flavors (`/flavors`, `/flavors/detail`, extra specs, access lists), as Nova's
/// `flavors.py`, `flavor_manage.py`, `flavors_extraspecs.py` and `flavor_access.py` answer.
extension ComputeAPI {
    func addFlavorRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/flavors", versioned { req, ctx, v in try await self.listFlavors(req, ctx, v, detail: false) })
        t.get("/v2.1/flavors/detail", versioned { req, ctx, v in try await self.listFlavors(req, ctx, v, detail: true) })
        t.get("/v2.1/flavors/{flavor_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let f = try await self.service.flavor(try ctx.parameter("flavor_id"))
            return .json(["flavor": self.flavorView(f, v, c, detail: true)])
        })
        t.post("/v2.1/flavors", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-manage:create", c, target: [:])
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), NovaSchemas.flavorCreate(v))
            let f = try await self.service.createFlavor(try Self.flavor(from: body["flavor"]!, v))
            return .json(["flavor": self.flavorView(f, v, c, detail: true)])
        })
        t.put("/v2.1/flavors/{flavor_id}", versioned { req, ctx, v in
            guard v.atLeast(55) else { throw NimbusError(.methodNotAllowed, "The method is not allowed for the requested URL.") }
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-manage:update", c, target: [:])
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), NovaSchemas.flavorUpdate)
            let description = body["flavor"]?["description"]?.stringValue
            let f = try await self.service.updateFlavor(try ctx.parameter("flavor_id")) { $0.description = description }
            return .json(["flavor": self.flavorView(f, v, c, detail: true)])
        })
        t.delete("/v2.1/flavors/{flavor_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-manage:delete", c, target: [:])
            try await self.service.deleteFlavor(try ctx.parameter("flavor_id"))
            return .empty(.accepted)
        })
        addFlavorExtraSpecRoutes(&t)
        addFlavorAccessRoutes(&t)
    }

    static func flavor(from v: JSONValue, _ version: NovaVersion) throws -> Flavor {
        func int(_ k: String) -> Int { v[k].flatMap(NovaSchemas.integer) ?? 0 }
        let id: String
        switch v["id"] {
        case .string(let s)?: id = s
        case .int(let i)?: id = String(i)
        case .double(let d)?: id = d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        default: id = Identifiers.uuid()
        }
        let rxtx: Double = switch v["rxtx_factor"] {
        case .double(let d)?: d
        case .int(let i)?: Double(i)
        case .string(let s)?: Double(s) ?? 1
        default: 1
        }
        return Flavor(id: id, name: v["name"]?.stringValue ?? "", memoryMB: int("ram"), vcpus: int("vcpus"), rootGB: int("disk"),
                      ephemeralGB: int("OS-FLV-EXT-DATA:ephemeral"), swapMB: int("swap"), rxtxFactor: rxtx,
                      isPublic: v["os-flavor-access:is_public"].flatMap(NovaSchemas.bool) ?? true,
                      description: version.atLeast(55) ? v["description"]?.stringValue : nil)
    }

    func listFlavors(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion, detail: Bool) async throws -> Response {
        let c = try caller(ctx)
        let params = req.queryString
        try NovaSchemas.checkQuery(params, allowed: v.atLeast(75) ? ["limit", "marker", "is_public", "minRam", "minDisk", "sort_key", "sort_dir"] : nil)
        var q = FlavorRepository.Query()
        if c.isAdmin {
            if let p = params["is_public"] {
                if ["none"].contains(p.lowercased()) { q.isPublic = nil } else {
                    guard let b = NovaSchemas.strictBool(p) else { throw NimbusError.badRequest("Invalid is_public filter [\(p)]") }
                    q.isPublic = b
                }
            }
            q.includeDisabled = true
        } else {
            q.project = c.projectID
        }
        if let m = params["minRam"] {
            guard let n = Int(m) else { throw NimbusError.badRequest("Invalid minRam filter [\(m)]") }
            q.minMemoryMB = n
        }
        if let m = params["minDisk"] {
            guard let n = Int(m) else { throw NimbusError.badRequest("Invalid minDisk filter [\(m)]") }
            q.minRootGB = n
        }
        if let key = params["sort_key"] {
            guard FlavorRepository.sortColumns[key] != nil else { throw NimbusError.badRequest("Invalid input for query parameters sort_key. Value: \(key).") }
            q.sortKey = key
        } else {
            q.sortKey = "flavorid"
        }
        if let dir = params["sort_dir"] {
            guard dir == "asc" || dir == "desc" else { throw NimbusError.badRequest("Invalid input for query parameters sort_dir. Value: \(dir).") }
            q.ascending = dir == "asc"
        }
        (q.limit, q.marker) = try NovaSchemas.limitAndMarker(params)
        guard let flavors = try await service.flavors.list(q) else { throw NimbusError.badRequest("marker [\(q.marker ?? "")] not found") }
        var body: JSONObject = ["flavors": .array(flavors.map { flavorView($0, v, c, detail: detail) })]
        if let limit = q.limit, flavors.count == limit, let last = flavors.last {
            body["flavors_links"] = [["rel": "next", "href": .string(nextLink("flavors" + (detail ? "/detail" : ""), req, marker: last.id))]]
        }
        return .json(.object(body))
    }

    func flavorView(_ f: Flavor, _ v: NovaVersion, _ c: Caller, detail: Bool) -> JSONValue {
        var o: JSONObject = ["id": .string(f.id), "name": .string(f.name), "links": links("flavors", f.id)]
        if v.atLeast(55) { o["description"] = JSONValue(f.description) }
        guard detail else { return .object(o) }
        o["ram"] = .int(Int64(f.memoryMB))
        o["vcpus"] = .int(Int64(f.vcpus))
        o["disk"] = .int(Int64(f.rootGB))
        o["OS-FLV-EXT-DATA:ephemeral"] = .int(Int64(f.ephemeralGB))
        o["swap"] = f.swapMB == 0 && !v.atLeast(75) ? "" : .int(Int64(f.swapMB))
        o["OS-FLV-DISABLED:disabled"] = .bool(f.disabled)
        o["os-flavor-access:is_public"] = .bool(f.isPublic)
        o["rxtx_factor"] = .double(f.rxtxFactor)
        if v.atLeast(61), allows("os_compute_api:os-flavor-extra-specs:index", c) {
            o["extra_specs"] = .object(JSONObject(names: f.extraSpecs.mapValues { JSONValue.string($0) }))
        }
        return .object(o)
    }

    /// The request's URL with `marker` replaced (Nova's `_get_next_link`).
    func nextLink(_ collection: String, _ req: Request, marker: String) -> String {
        var pairs = req.queryString.pairs.filter { $0.0 != "marker" }
        pairs.append(("marker", marker))
        return "\(publicURL)/v2.1/\(collection)?" + pairs.map { "\(PercentEncoding.encode($0.0))=\(PercentEncoding.encode($0.1))" }.joined(separator: "&")
    }

    // MARK: extra specs

    func addFlavorExtraSpecRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/flavors/{flavor_id}/os-extra_specs", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-extra-specs:index", c)
            let f = try await self.service.flavor(try ctx.parameter("flavor_id"))
            return .json(["extra_specs": .object(JSONObject(names: f.extraSpecs.mapValues { JSONValue.string($0) }))])
        })
        t.get("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-extra-specs:show", c)
            let f = try await self.service.flavor(try ctx.parameter("flavor_id"))
            let key = try ctx.parameter("key")
            guard let value = f.extraSpecs[Name(key)] else {
                throw NimbusError.notFound("Flavor \(f.id) has no extra specs with key \(key).")
            }
            return .json(.object([key: .string(value)]))
        })
        t.post("/v2.1/flavors/{flavor_id}/os-extra_specs", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-extra-specs:create", c, target: [:])
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), NovaSchemas.extraSpecsCreate)
            let specs = body["extra_specs"]!.objectValue!.compactMapValues(NovaSchemas.extraSpecValue)
            try ExtraSpecs.validate(specs)
            let f = try await self.service.updateFlavor(try ctx.parameter("flavor_id")) { $0.extraSpecs.merge(specs) { _, b in b } }
            return .json(["extra_specs": .object(JSONObject(names: f.extraSpecs.filter { specs[$0.key] != nil }.mapValues { JSONValue.string($0) }))])
        })
        t.put("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-extra-specs:update", c, target: [:])
            let key = try ctx.parameter("key")
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), NovaSchemas.extraSpecUpdate)
            let specs = body.objectValue!.compactMapValues(NovaSchemas.extraSpecValue)
            guard specs[Name(key)] != nil else { throw NimbusError.badRequest("Request body and URI mismatch") }
            try ExtraSpecs.validate(specs)
            _ = try await self.service.updateFlavor(try ctx.parameter("flavor_id")) { $0.extraSpecs.merge(specs) { _, b in b } }
            return .json(.object(JSONObject(names: specs.mapValues { JSONValue.string($0) })))
        })
        t.delete("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-extra-specs:delete", c, target: [:])
            let id = try ctx.parameter("flavor_id"), key = try ctx.parameter("key")
            _ = try await self.service.updateFlavor(id) { f in
                guard f.extraSpecs.removeValue(forKey: Name(key)) != nil else {
                    throw NimbusError.notFound("Flavor \(id) has no extra specs with key \(key).")
                }
            }
            return .empty(.ok)
        })
    }

    // MARK: access

    func addFlavorAccessRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/flavors/{flavor_id}/os-flavor-access", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-flavor-access", c, target: [:])
            let f = try await self.service.flavor(try ctx.parameter("flavor_id"))
            guard !f.isPublic else { throw NimbusError.notFound("Access list not available for public flavors.") }
            return .json(["flavor_access": .array(try await self.service.flavors.access(f.id).map { ["flavor_id": .string(f.id), "tenant_id": .string($0)] })])
        })
        t.post("/v2.1/flavors/{flavor_id}/action", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), NovaSchemas.flavorAction)
            let f = try await self.service.flavor(try ctx.parameter("flavor_id"))
            if let add = body["addTenantAccess"] {
                try self.authorize("os_compute_api:os-flavor-access:add_tenant_access", c, target: [:])
                let project = add["tenant"]!.stringValue!
                guard !f.isPublic else { throw NimbusError.conflict("Can not add access to a public flavor.") }
                guard try await self.service.flavors.addAccess(f.id, project: project) else {
                    throw NimbusError.conflict("Flavor access already exists for flavor \(f.id) and project \(project) combination.")
                }
            } else if let remove = body["removeTenantAccess"] {
                try self.authorize("os_compute_api:os-flavor-access:remove_tenant_access", c, target: [:])
                let project = remove["tenant"]!.stringValue!
                guard try await self.service.flavors.removeAccess(f.id, project: project) else {
                    throw NimbusError.notFound("Flavor access not found for \(f.id) / \(project) combination.")
                }
            }
            return .json(["flavor_access": .array(try await self.service.flavors.access(f.id).map { ["flavor_id": .string(f.id), "tenant_id": .string($0)] })])
        })
    }
}
