import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// The collections: `GET /v2.0/<collection>` (filters, fields, sorting, pagination),
/// `POST` (one or bulk), `GET|PUT|DELETE /v2.0/<collection>/{id}`.
extension NeutronAPI {
    func addResourceRoutes(_ t: inout RouteTable, _ kind: ResourceKind) {
        let base = "/v2.0/\(kind.path)"
        t.get(base) { req, ctx in
            let c = try self.caller(ctx)
            if kind == .securityGroup { try await self.service.ensureDefaultSecurityGroup(project: c.projectID) }
            let s = self.service.state
            let query = try ListQuery(req.queryString, kind: kind)
            let needsView = [.network, .subnet, .subnetPool, .addressScope].contains(kind)
            // Filters and visibility are checked lazily, in page order: a page of `limit` costs a
            // sort and `limit` checks, not a policy evaluation per resource.
            let (page, links) = try query.page(s.inIDOrder(kind), url: "\(self.publicURL)\(base)", rawQuery: req.queryString) { d in
                query.matches(needsView ? self.view(kind, d, c, s) : d) && (c.isAdmin || self.visible(kind, d, c, s))
            }
            var body: JSONObject = [kind.collection: .array(page.map { .object(self.view(kind, $0, c, s, fields: query.fields)) })]
            if !links.isEmpty { body["\(kind.collection)_links"] = .array(links) }
            return .json(.object(body))
        }
        t.get(base + "/{id}") { req, ctx in
            let c = try self.caller(ctx)
            let s = self.service.state
            let d = try self.load(kind, try ctx.parameter("id"), c, s)
            return .json([kind.member: .object(self.view(kind, d, c, s, fields: req.queryString.all("fields")))])
        }
        t.post(base) { req, ctx in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            if let bulk = body[kind.collection] {
                guard case .array(let items) = bulk, !items.isEmpty else { throw NeutronFault.badRequest("Resources required") }
                var created = [JSONObject]()
                var bodies = [JSONObject]()
                for item in items {
                    guard case .object(let o) = item else { throw NeutronFault.badRequest("Invalid format: \(Validators.repr(item))") }
                    bodies.append(o)
                }
                // All or nothing: what was made before a failure is removed again.
                do {
                    for o in bodies { created.append(try await self.create(kind, o, c)) }
                } catch {
                    for d in created.reversed() {
                        if let id = d["id"]?.stringValue { try? await self.delete(kind, id, c) }
                    }
                    throw error
                }
                let s = self.service.state
                return .json([kind.collection: .array(created.map { .object(self.view(kind, $0, c, s)) })], status: .created)
            }
            let d = try await self.create(kind, try Self.member(body, kind), c)
            return .json([kind.member: .object(self.view(kind, d, c, self.service.state))], status: .created)
        }
        t.put(base + "/{id}") { req, ctx in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let body = try Self.member(try await Self.body(req, ctx), kind)
            let changes = try ResourceSpecs.prepareUpdate(kind, body)
            let s = self.service.state
            let current = try self.load(kind, id, c, s)
            let revision = try Self.checkRevision(req, current)
            var t = self.target(kind, current, c, s)
            for (k, v) in changes { if let str = v.stringValue { t[k] = str } else if let b = v.boolValue { t[k] = b ? "True" : "False" } }
            try self.authorize("update_\(kind.member)", c, t)
            try self.authorizeAttributes("update", kind, changes, body: body, c, t)
            let updated = try await Self.guardingRevision(revision, kind, current) { try await self.update(kind, id, changes, c) }
            return .json([kind.member: .object(self.view(kind, updated, c, self.service.state))])
        }
        t.delete(base + "/{id}") { req, ctx in
            let c = try self.caller(ctx)
            if (try await req.collectBody(upTo: ctx.maxUploadSize)).readableBytes > 0 {
                throw NeutronFault.badRequest("Request body is not supported in DELETE.")
            }
            let id = try ctx.parameter("id")
            let s = self.service.state
            let current = try self.load(kind, id, c, s)
            let revision = try Self.checkRevision(req, current)
            try self.authorize("delete_\(kind.member)", c, self.target(kind, current, c, s))
            try await Self.guardingRevision(revision, kind, current) { try await self.delete(kind, id, c) }
            return .empty(.noContent)
        }
    }

    func create(_ kind: ResourceKind, _ body: JSONObject, _ c: Caller) async throws -> JSONObject {
        var attrs = try ResourceSpecs.prepareCreate(kind, body)
        let s = service.state
        // The target: the request's attributes with the owner filled in, and the parents.
        var doc = attrs
        let owner = NetworkService.given(attrs["project_id"])?.stringValue ?? NetworkService.given(attrs["tenant_id"])?.stringValue ?? c.projectID
        if !c.isAdmin && !owner.sameBytes(as: c.projectID) {
            throw NeutronFault.badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges")
        }
        doc["project_id"] = .string(owner)
        doc["tenant_id"] = .string(owner)
        var t = target(kind, doc, c, s)
        switch kind {
        case .subnet:
            // Another project's network: the policy (network owner) refuses it, with a 403.
            let n = attrs["network_id"]?.stringValue ?? ""
            guard s[.network, n] != nil else { throw ResourceKind.network.notFound(n) }
        case .port:
            // A network the caller cannot see is a 404, before any policy on it.
            let n = attrs["network_id"]?.stringValue ?? ""
            guard let network = s[.network, n], visible(.network, network, c, s) else { throw ResourceKind.network.notFound(n) }
        case .securityGroupRule:
            let g = attrs["security_group_id"]?.stringValue ?? ""
            guard let group = s[.securityGroup, g] else { throw ResourceKind.securityGroup.notFound(g) }
            if NetworkService.given(attrs["project_id"]) == nil && NetworkService.given(attrs["tenant_id"]) == nil {
                attrs["project_id"] = group["project_id"]
                t["project_id"] = group["project_id"]?.stringValue
                t["tenant_id"] = t["project_id"]
            }
        default: break
        }
        try authorize("create_\(kind.member)", c, t)
        try authorizeAttributes("create", kind, attrs, body: body, c, t)
        let actor = c.actor
        switch kind {
        case .network: return try await service.createNetwork(attrs, actor: actor)
        case .subnet: return try await service.createSubnet(attrs, actor: actor)
        case .port: return try await service.createPort(attrs, actor: actor)
        case .securityGroup: return try await service.createSecurityGroup(attrs, actor: actor)
        case .securityGroupRule: return try await service.createSecurityGroupRule(attrs, actor: actor)
        case .router: return try await service.createRouter(attrs, actor: actor)
        case .floatingIP: return try await service.createFloatingIP(attrs, actor: actor)
        case .rbacPolicy: return try await service.createRBAC(attrs, actor: actor)
        case .subnetPool: return try await service.createSubnetPool(attrs, actor: actor)
        case .addressScope: return try await service.createAddressScope(attrs, actor: actor)
        default: throw NimbusError.notFound("The resource could not be found.")
        }
    }

    func update(_ kind: ResourceKind, _ id: String, _ changes: JSONObject, _ c: Caller) async throws -> JSONObject {
        switch kind {
        case .network: return try await service.updateNetwork(id, changes, actor: c.actor)
        case .subnet: return try await service.updateSubnet(id, changes)
        case .port: return try await service.updatePort(id, changes, actor: c.actor)
        case .securityGroup: return try await service.updateSecurityGroup(id, changes)
        case .router: return try await service.updateRouter(id, changes, actor: c.actor)
        case .floatingIP: return try await service.updateFloatingIP(id, changes, actor: c.actor)
        case .rbacPolicy:
            guard let target = (changes["target_tenant"] ?? changes["target_project"])?.stringValue else { return try load(kind, id, c, service.state) }
            return try await service.updateRBAC(id, target: target)
        case .subnetPool: return try await service.updateSubnetPool(id, changes, actor: c.actor)
        case .addressScope: return try await service.updateAddressScope(id, changes)
        default:
            throw NeutronFault.badRequest("Cannot update read-only resource \(kind.member)")
        }
    }

    func delete(_ kind: ResourceKind, _ id: String, _ c: Caller) async throws {
        switch kind {
        case .network: try await service.deleteNetwork(id)
        case .subnet: try await service.deleteSubnet(id)
        case .port: try await service.deletePort(id, actor: c.actor)
        case .securityGroup: try await service.deleteSecurityGroup(id, actor: c.actor)
        case .securityGroupRule: try await service.deleteSecurityGroupRule(id)
        case .router: try await service.deleteRouter(id)
        case .floatingIP: try await service.deleteFloatingIP(id)
        case .rbacPolicy: try await service.deleteRBAC(id)
        case .subnetPool: try await service.deleteSubnetPool(id)
        case .addressScope: try await service.deleteAddressScope(id)
        default: throw NimbusError.notFound("The resource could not be found.")
        }
    }
}

/// A list request's query: attribute filters (several values of one attribute match any of
/// them), tag filters, `fields`, `sort_key`/`sort_dir`, `limit`/`marker`/`page_reverse`. An
/// attribute that cannot filter is a 400, as with Neutron's filter validation on.
struct ListQuery {
    var filters: [(String, [String])] = []
    var tagsAll: [String] = [], tagsAny: [String] = [], notTags: [String] = [], notTagsAny: [String] = []
    var fields: [String] = []
    var sortKeys: [(String, Bool)] = []
    var limit: Int?
    var marker: String?
    var pageReverse = false
    let kind: ResourceKind

    init(_ q: QueryString, kind: ResourceKind) throws {
        self.kind = kind
        let specs = ResourceSpecs.attributes(kind)
        var grouped = [(String, [String])]()
        var keys = [String](), dirs = [String]()
        for item in q.items {
            let k = item.key
            let v = item.value ?? ""
            switch k {
            case "fields": fields.append(v)
            case "sort_key": keys.append(v)
            case "sort_dir": dirs.append(v)
            case "limit":
                guard let n = Int(v), n >= 0 else { throw NeutronFault.badRequest("Limit must be an integer 0 or greater and not '\(v)'", type: "BadRequest") }
                limit = n == 0 ? nil : n
            case "marker": marker = v
            case "page_reverse": pageReverse = Validators.toBoolean(.string(v)) ?? false
            case "tags": tagsAll += v.splitBytes(",").map(String.init)
            case "tags-any": tagsAny += v.splitBytes(",").map(String.init)
            case "not-tags": notTags += v.splitBytes(",").map(String.init)
            case "not-tags-any": notTagsAny += v.splitBytes(",").map(String.init)
            default:
                let known = specs.contains { $0.name.sameBytes(as: k) && $0.isFilter } || k == "id"
                    || (kind == .network && ["shared", "router:external", "subnets"].contains(where: { $0.sameBytes(as: k) }))
                    || (kind == .port && ["fixed_ips", "security_groups", "binding:vif_type", "status"].contains(where: { $0.sameBytes(as: k) }))
                guard known else { throw NeutronFault.badRequest("\(k) is invalid attribute for filtering") }
                // A filter value goes through the attribute's converter (`admin_state_up=maybe` is 400).
                if let spec = specs.first(where: { $0.name.sameBytes(as: k) }), let failure = spec.conversionFailure,
                   spec.convert?(.string(v)) == nil {
                    throw NeutronFault.invalidInput("'\(v)' \(failure)")
                }
                if let i = grouped.firstIndex(where: { $0.0.sameBytes(as: k) }) { grouped[i].1.append(v) } else { grouped.append((k, [v])) }
            }
        }
        filters = grouped
        if dirs.count != keys.count {
            throw NeutronFault.badRequest("The number of sort_keys and sort_dirs must be same")
        }
        for (i, k) in keys.enumerated() {
            guard specs.contains(where: { $0.name.sameBytes(as: k) && $0.isSortKey }) || k == "id" else {
                throw NeutronFault.badRequest("\(k) is an invalid attribute for sort_key")
            }
            let dir = dirs.isEmpty ? "asc" : dirs[i]
            guard dir == "asc" || dir == "desc" else {
                throw NeutronFault.badRequest("\(dir) is an invalid value for sort_dir, valid value is 'asc' and 'desc'")
            }
            sortKeys.append((k, dir == "asc"))
        }
    }

    /// Whether a document (as the caller sees it) passes the filters.
    func matches(_ d: JSONObject) -> Bool {
        for (k, values) in filters {
            let actual = d[k] ?? .null
            if k == "fixed_ips" {
                // `fixed_ips=ip_address=10.0.0.5`, `fixed_ips=subnet_id=…`: every one must match.
                let ips = actual.arrayValue ?? []
                for v in values {
                    let kv = v.splitBytes("=", maxSplits: 1, omittingEmpty: false)
                    guard kv.count == 2 else { return false }
                    let key = String(kv[0]), want = String(kv[1])
                    let hit = ips.contains { e in
                        if key == "ip_address_substr" { return e["ip_address"]?.stringValue?.contains(want) == true }
                        return e[key]?.stringValue?.sameBytes(as: want) == true
                    }
                    if !hit { return false }
                }
                continue
            }
            if !values.contains(where: { Self.valueMatches(actual, $0) }) { return false }
        }
        let tags = (d["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
        func has(_ t: String) -> Bool { tags.contains { $0.sameBytes(as: t) } }
        if !tagsAll.isEmpty && !tagsAll.allSatisfy(has) { return false }
        if !tagsAny.isEmpty && !tagsAny.contains(where: has) { return false }
        if !notTags.isEmpty && notTags.allSatisfy(has) { return false }
        if !notTagsAny.isEmpty && notTagsAny.contains(where: has) { return false }
        return true
    }

    static func valueMatches(_ actual: JSONValue, _ want: String) -> Bool {
        switch actual {
        case .string(let s): return s.sameBytes(as: want)
        case .bool(let b): return Validators.toBoolean(.string(want)) == b
        case .int(let i): return Int64(want) == i
        case .null: return want.isEmpty || want == "None"
        case .array(let a): return a.contains { valueMatches($0, want) }
        default: return false
        }
    }

    static func compare(_ a: JSONValue?, _ b: JSONValue?) -> Int {
        switch (a, b) {
        case (.int(let x)?, .int(let y)?): return x < y ? -1 : x > y ? 1 : 0
        case (.bool(let x)?, .bool(let y)?): return x == y ? 0 : (!x ? -1 : 1)
        case (.string(let x)?, .string(let y)?): return x.sameBytes(as: y) ? 0 : (x.bytesPrecede(y) ? -1 : 1)
        case (nil, nil), (.null?, .null?): return 0
        case (nil, _), (.null?, _): return -1
        case (_, nil), (_, .null?): return 1
        default: return 0
        }
    }

    /// Sorts (by the keys, then id), pages from the marker, and builds Neutron's `next` and
    /// `previous` links.
    /// `docs` come in id order (the default sort, which then costs nothing).
    func page(_ docs: [JSONObject], url: String, rawQuery: QueryString, include: (JSONObject) -> Bool) throws -> ([JSONObject], [JSONValue]) {
        let keys = sortKeys + [("id", sortKeys.first?.1 ?? true)]
        var sorted = sortKeys.isEmpty ? docs : docs.sorted { a, b in
            for (k, asc) in keys {
                let r = Self.compare(a[k], b[k])
                if r != 0 { return asc ? r < 0 : r > 0 }
            }
            return false
        }
        if pageReverse { sorted.reverse() }
        var start = 0
        if let marker {
            guard let i = sorted.firstIndex(where: { $0["id"]?.stringValue == marker }), include(sorted[i]) else {
                throw kind.notFound(marker)
            }
            start = i + 1
        }
        guard let limit else { return (sorted[start...].filter(include), []) }
        var page = [JSONObject]()
        var i = start
        while page.count < limit && i < sorted.count {
            if include(sorted[i]) { page.append(sorted[i]) }
            i += 1
        }
        var links = [JSONValue]()
        func link(_ rel: String, marker: String?, reverse: Bool?) -> JSONValue {
            var q = rawQuery.pairs.filter { $0.0 != "marker" && (reverse == nil || $0.0 != "page_reverse") }
            if let marker { q.append(("marker", marker)) }
            if reverse == true { q.append(("page_reverse", "True")) }
            let query = q.map { PercentEncoding.encode($0.0) + "=" + PercentEncoding.encode($0.1) }.joined(separator: "&")
            return ["rel": .string(rel), "href": .string(url + "?" + query)]
        }
        if pageReverse { page.reverse() }
        // neutron/api/api_common.py get_pagination_links: `next` unless a short forward page,
        // `previous` unless a short reverse page.
        if !(page.count < limit && !pageReverse) {
            links.append(link("next", marker: page.last?["id"]?.stringValue, reverse: nil))
        }
        if !(page.count < limit && pageReverse) {
            links.append(link("previous", marker: page.first?["id"]?.stringValue, reverse: true))
        }
        return (page, links)
    }
}
