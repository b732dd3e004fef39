import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `/os-aggregates` as Nova's `aggregates.py` answers: list, create, show, update, delete,
/// and the `add_host`, `remove_host` and `set_metadata` actions; `uuid` shown from 2.41.
/// Image caching (`POST /os-aggregates/{id}/images`, 2.81) is not provided.
extension ComputeAPI {
    func addAggregateRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-aggregates", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-aggregates:index", c, target: [:])
            return .json(["aggregates": .array(try await self.service.aggregates.list().map { Self.aggregateView($0, v) })])
        })
        t.post("/v2.1/os-aggregates", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-aggregates:create", c, target: [:])
            let body = try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.aggregateCreate)
            let a = body["aggregate"]!
            let zone = a["availability_zone"]?.stringValue.map(Self.normalizedName).flatMap { $0.isEmpty ? nil : $0 }
            let created = try await self.service.createAggregate(name: Self.normalizedName(a["name"]!.stringValue!), zone: zone)
            return .json(["aggregate": Self.aggregateView(created, v, full: false)])
        })
        t.get("/v2.1/os-aggregates/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-aggregates:show", c, target: [:])
            return .json(["aggregate": Self.aggregateView(try await self.service.aggregate(try Self.aggregateID(ctx)), v)])
        })
        t.put("/v2.1/os-aggregates/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-aggregates:update", c, target: [:])
            let body = try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.aggregateUpdate)
            let a = body["aggregate"]!
            guard let o = a.objectValue, !o.isEmpty else {
                throw NimbusError.badRequest("Invalid input for field/attribute aggregate. Value: \(a.pythonStr). \(a.pythonRepr) is not valid under any of the given schemas")
            }
            let id = try Self.aggregateID(ctx)
            let zone: String?? = a["availability_zone"].map { $0.stringValue.map(Self.normalizedName) }
            let updated = try await self.service.updateAggregate(id, name: a["name"]?.stringValue.map(Self.normalizedName), zone: zone)
            return .json(["aggregate": Self.aggregateView(updated, v)])
        })
        t.delete("/v2.1/os-aggregates/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-aggregates:delete", c, target: [:])
            try await self.service.deleteAggregate(try Self.aggregateID(ctx))
            return .empty(.ok)
        })
        t.post("/v2.1/os-aggregates/{id}/action", versioned { req, ctx, v in try await self.aggregateAction(req, ctx, v) })
    }

    func aggregateAction(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion) async throws -> Response {
        let c = try caller(ctx)
        let body = try await Self.body(req, ctx)
        guard case .object(let o) = body, o.count == 1, let (name, _) = o.sortedMembers.first else {
            throw NimbusError.badRequest("There is no such action: \(body.pythonStr)")
        }
        switch name {
        case "add_host", "remove_host":
            try authorize("os_compute_api:os-aggregates:\(name)", c, target: [:])
            let host = try NovaSchemas.check(body, NovaSchemas.aggregateHost(name))[name]!["host"]!.stringValue!
            let id = try Self.aggregateID(ctx)
            let a = name == "add_host" ? try await service.addAggregateHost(id, host: host) : try await service.removeAggregateHost(id, host: host)
            return .json(["aggregate": Self.aggregateView(a, v)])
        case "set_metadata":
            try authorize("os_compute_api:os-aggregates:set_metadata", c, target: [:])
            let m = try NovaSchemas.check(body, NovaSchemas.aggregateMetadata)["set_metadata"]!["metadata"]!.objectValue!
            var metadata = [Name: String?]()
            for (k, value) in m { metadata[Name(k)] = value.stringValue }
            let a = try await service.setAggregateMetadata(try Self.aggregateID(ctx), metadata)
            return .json(["aggregate": Self.aggregateView(a, v)])
        default:
            throw NimbusError.badRequest("There is no such action: \(name)")
        }
    }

    /// `utils.validate_integer(id, 'id')`.
    static func aggregateID(_ ctx: NimbusRequestContext) throws -> Int {
        guard let id = integerID(try ctx.parameter("id")) else { throw NimbusError.badRequest("Invalid input received: id must be an integer") }
        return id
    }

    /// `common.normalize_name`: Python's `str.strip()`.
    static func normalizedName(_ s: String) -> String {
        let u = Array(s.unicodeScalars)
        guard let first = u.firstIndex(where: { !Pattern.pythonSpace($0) }), let last = u.lastIndex(where: { !Pattern.pythonSpace($0) }) else { return "" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: u[first...last])
        return String(out)
    }

    /// Nova's aggregate object as the API renders it (`full: false` for create: no hosts or metadata).
    static func aggregateView(_ a: Aggregate, _ v: NovaVersion, full: Bool = true) -> JSONValue {
        var o: JSONObject = ["id": .int(Int64(a.id)), "name": .string(a.name), "availability_zone": JSONValue(a.availabilityZone),
                             "created_at": .string(NovaTime.micros(a.createdAt)), "updated_at": a.updatedAt.map { .string(NovaTime.micros($0)) } ?? .null,
                             "deleted_at": .null, "deleted": false]
        if full {
            o["hosts"] = JSONValue(a.hosts)
            o["metadata"] = .object(JSONObject(names: a.metadata.mapValues { JSONValue.string($0) }))
        }
        if v.atLeast(41) { o["uuid"] = .string(a.uuid) }
        return .object(o)
    }
}
