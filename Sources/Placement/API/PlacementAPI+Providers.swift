import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

extension PlacementAPI {
    func providerURL(_ uuid: String) -> String { "\(prefix)/resource_providers/\(uuid)" }

    func providerView(_ s: PlacementState, _ p: Int, _ v: Microversion) -> JSONValue {
        let r = s[p]
        let url = providerURL(r.uuid)
        var rels = ["inventories", "usages"]
        if v.atLeast(1) { rels.append("aggregates") }
        if v.atLeast(6) { rels.append("traits") }
        if v.atLeast(11) { rels.append("allocations") }
        var o: JSONObject = [
            "uuid": .string(r.uuid), "name": .string(r.name), "generation": .int(r.generation),
            "links": .array([["rel": "self", "href": .string(url)]] + rels.map { ["rel": .string($0), "href": .string("\(url)/\($0)")] }),
        ]
        if v.atLeast(14) {
            o["parent_provider_uuid"] = JSONValue(r.parent.map { s[$0].uuid })
            o["root_provider_uuid"] = .string(s[r.root].uuid)
        }
        return .object(o)
    }

    func addProviderRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/resource_providers") { req, ctx, v in
            try self.authorize("placement:resource_providers:list", ctx)
            try Self.checkAccept(req)
            let filter = try ProviderListFilter(req.queryString, v: v)
            return try self.service.read { s in
                let found = try filter.apply(s)
                let modified = found.map { s[$0].updatedAt }.max()
                return Self.json(["resource_providers": .array(found.map { self.providerView(s, $0, v) })], v: v, modified: modified)
            }
        }
        route(&t, .post, "/resource_providers") { req, ctx, v in
            try self.authorize("placement:resource_providers:create", ctx)
            let body = try await Self.body(req, ctx, schema: v.atLeast(14) ? PlacementSchemas.postProvider114 : PlacementSchemas.postProvider)
            let name = try Self.field(body, "name", \.stringValue)
            let uuid = body["uuid"]?.stringValue.flatMap(Self.canonicalUUID) ?? Identifiers.uuid()
            let parent = body["parent_provider_uuid"]?.stringValue
            let view = try await self.service.write({ s in try s.createProvider(uuid: uuid, name: name, parentUUID: parent) }) { s in
                self.providerView(s, s.provider(uuid: uuid)!, v)
            }
            if v.atLeast(20) { return Self.json(view, v: v, location: Self.absolute(req, self.providerURL(uuid))) }
            var h = HTTPFields()
            h[.location] = Self.absolute(req, self.providerURL(uuid))
            return .empty(.created, headers: h)
        }
        route(&t, .get, "/resource_providers/{uuid}") { req, ctx, v in
            try self.authorize("placement:resource_providers:show", ctx)
            try Self.checkAccept(req)
            let uuid = try ctx.parameter("uuid")
            return try self.service.read { s in
                let p = try s.providerOrNotFound(uuid)
                return Self.json(self.providerView(s, p, v), v: v, modified: s[p].updatedAt)
            }
        }
        route(&t, .put, "/resource_providers/{uuid}") { req, ctx, v in
            try self.authorize("placement:resource_providers:update", ctx)
            let uuid = try ctx.parameter("uuid")
            _ = try self.service.read { s in try s.providerOrNotFound(uuid) }
            let body = try await Self.body(req, ctx, schema: v.atLeast(14) ? PlacementSchemas.putProvider114 : PlacementSchemas.putProvider)
            let name = try Self.field(body, "name", \.stringValue)
            let parent: String?? = body["parent_provider_uuid"].map { $0.stringValue }
            let view = try await self.service.write({ s in
                try s.updateProvider(try s.providerOrNotFound(uuid), name: name, parent: parent, allowReparenting: v.atLeast(37))
            }) { s in self.providerView(s, s.provider(uuid: uuid)!, v) }
            return Self.json(view, v: v)
        }
        route(&t, .delete, "/resource_providers/{uuid}") { req, ctx, v in
            try self.authorize("placement:resource_providers:delete", ctx)
            let uuid = try ctx.parameter("uuid")
            try await self.service.write({ s in
                try s.deleteProvider(try s.providerOrNotFound(uuid, "No resource provider with uuid \(uuid) found for delete"))
            }) { _ in () }
            return Self.noContent()
        }
    }
}

/// The filters of `GET /resource_providers`, by microversion.
struct ProviderListFilter {
    var name: String?
    var uuid: String?
    var inTree: String?
    var resources: [(String, Int64)] = []
    var traits = PlacementQuery.Traits()
    var aggregates = PlacementQuery.Aggregates()

    init(_ q: QueryString, v: Microversion) throws {
        var allowed: Set<String> = ["name", "uuid"]
        if v.atLeast(3) { allowed.insert("member_of") }
        if v.atLeast(4) { allowed.insert("resources") }
        if v.atLeast(14) { allowed.insert("in_tree") }
        if v.atLeast(18) { allowed.insert("required") }
        try PlacementQuery.checkKeys(q, allowed: allowed)
        name = q.all("name").last
        if let u = q.all("uuid").last {
            guard PlacementAPI.isUUIDLike(u) else { throw NimbusError.badRequest("Invalid query string parameters: '\(u)' is not a 'uuid'") }
            uuid = u
        }
        if let t = q.all("in_tree").last {
            guard PlacementAPI.isUUIDLike(t) else { throw NimbusError.badRequest("Invalid query string parameters: '\(t)' is not a 'uuid'") }
            inTree = try PlacementQuery.inTree(t)
        }
        if let r = q.all("resources").last { resources = try PlacementQuery.resources(r) }
        let required = q.all("required")
        if !required.isEmpty { traits = try PlacementQuery.traits(required, v: v) }
        let member = q.all("member_of")
        if !member.isEmpty { aggregates = try PlacementQuery.memberOf(member, suffix: "", v: v) }
    }

    func apply(_ s: PlacementState) throws -> [Int] {
        var rcs = [(Int, Int64)]()
        for (name, amount) in resources {
            guard let rc = s.resourceClass(name) else {
                throw NimbusError.badRequest("Invalid resource class in resources parameter: No such resource class \(name).")
            }
            rcs.append((rc, amount))
        }
        let allTraits = traits.required.flatMap { $0 } + traits.forbidden
        let missing = allTraits.filter { s.trait($0) == nil }
        if !missing.isEmpty { throw NimbusError.badRequest("Invalid trait(s) in \"required\" parameter: No such trait(s): \(missing.joined(separator: ", ")).") }
        let requiredSets = traits.required.map { Set($0.compactMap { s.trait($0) }) }
        let forbidden = Set(traits.forbidden.compactMap { s.trait($0) })
        var treeRoot: Int?
        if let inTree {
            guard let p = s.provider(uuid: inTree) else { return [] }
            treeRoot = s[p].root
        }
        var aggSets = [Set<Int>]()
        for list in aggregates.required {
            let known = Set(list.compactMap { s.aggregate($0) })
            if known.isEmpty { return [] }
            aggSets.append(known)
        }
        let badAggs = Set(aggregates.forbidden.compactMap { s.aggregate($0) })
        return s.providerIndexes.filter { p in
            let r = s[p]
            if let name, !r.name.sameBytes(as: name) { return false }
            if let uuid, !r.uuid.sameBytes(as: uuid) { return false }
            if let treeRoot, r.root != treeRoot { return false }
            if !requiredSets.allSatisfy({ !$0.isDisjoint(with: r.traits) }) { return false }
            if !forbidden.isDisjoint(with: r.traits) { return false }
            if !aggSets.allSatisfy({ !$0.isDisjoint(with: r.aggregates) }) { return false }
            if !badAggs.isDisjoint(with: r.aggregates) { return false }
            for (rc, amount) in rcs {
                guard let inv = r.inventories[rc], inv.admits(amount, used: r.used(rc)) else { return false }
            }
            return true
        }
    }
}
