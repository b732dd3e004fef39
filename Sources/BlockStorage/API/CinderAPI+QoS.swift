import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// QoS specs (`/qos-specs`), as Cinder's `contrib/qos_specs_manage.py` answers: admins only by
/// default policy; associations are `GET`s with `vol_type_id`, as in Cinder.
extension CinderAPI {
    func qosView(_ q: JSONObject) -> JSONObject {
        ["id": q["id"] ?? .null, "name": q["name"] ?? .null, "consumer": q["consumer"] ?? .null, "specs": q["specs"] ?? .object([:])]
    }

    /// Spec values: strings of at most 255 characters (numbers are taken as their text, as
    /// oslo's string fields coerce them); keys of 1–255 characters.
    static func qosSpecValues(_ o: JSONObject, allowNull: Bool, field: String) throws -> JSONObject {
        var out = JSONObject()
        for (k, v) in o {
            guard !k.isEmpty, k.unicodeScalars.count <= 255 else {
                throw NimbusError.badRequest("Invalid input received: QoS spec key \(JSONValue.string(k).pythonRepr) must be 1 to 255 characters long.")
            }
            switch v {
            case .string(let s):
                guard s.unicodeScalars.count <= 255 else { throw CinderInput.invalid(k, v, "is too long") }
                out[k] = v
            case .int(let n): out[k] = .string(String(n))
            case .double(let d): out[k] = .string(String(d))
            case .null where allowNull: out[k] = .null
            default: throw CinderInput.invalid(field, v, "is not of type 'string'\(allowNull ? ", 'null'" : "")")
            }
        }
        return out
    }

    func addQoSRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/qos-specs") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:qos_specs_manage:get_all", c)
            var docs = self.service.state.all(.qosSpecs)
            for key in ["id", "name", "consumer"] {
                if let want = req.query(key) { docs = docs.filter { $0[key]?.stringValue?.sameBytes(as: want) == true } }
            }
            let listing = try CinderListing(req.queryString, keys: ["id": "id", "name": "name", "consumer": "consumer", "created_at": "created_at"],
                                            defaultKey: "created_at", defaultAscending: false)
            let (page, full) = try listing.apply(docs)
            var body: JSONObject = ["qos_specs": .array(page.map { .object(self.qosView($0)) })]
            if full, let last = page.last?["id"]?.stringValue {
                let path = ctx.pathParameters["project_id"].map { "/v3/\($0)/qos-specs" } ?? "/v3/qos-specs"
                body["qos_specs_links"] = CinderListing.nextLink(base: self.publicURL, path: path, req.queryString, lastID: last)
            }
            return .json(.object(body))
        }
        route(&t, .post, "/qos-specs") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:qos_specs_manage:create", c)
            let body = try await Self.body(req, ctx)
            try CinderInput.only(body, ["qos_specs"], "body")
            var o = try Self.member(body, "qos_specs")
            guard let nameValue = o.removeValue(forKey: "name") else {
                throw NimbusError.badRequest("Invalid input for field/attribute qos_specs. Value: \(JSONValue.object(o).pythonStr). 'name' is a required property")
            }
            guard let raw = nameValue.stringValue else { throw CinderInput.invalid("name", nameValue, "is not of type 'string'") }
            let name = raw.pythonStripped
            guard !name.isEmpty, name.unicodeScalars.count <= 255 else { throw CinderInput.invalid("name", nameValue, "is not a valid name") }
            var consumer: String?
            if let cv = o.removeValue(forKey: "consumer") {
                guard let s = cv.stringValue else { throw VolumeService.invalidQoS("Valid consumer of QoS specs are: ['front-end', 'back-end', 'both']") }
                consumer = s
            }
            let specs = try Self.qosSpecValues(o, allowNull: false, field: "qos_specs")
            let q = try await self.service.createQoS(name: name, consumer: consumer, specs: specs)
            return .json(["qos_specs": .object(self.qosView(q)), "links": self.links("qos-specs", q["id"]?.stringValue ?? "", project: ctx.pathParameters["project_id"])])
        }
        route(&t, .get, "/qos-specs/{id}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:qos_specs_manage:get", c)
            let id = try ctx.parameter("id")
            let q = try self.service.qosSpecs(id)
            return .json(["qos_specs": .object(self.qosView(q)), "links": self.links("qos-specs", id, project: ctx.pathParameters["project_id"])])
        }
        route(&t, .put, "/qos-specs/{id}") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:qos_specs_manage:update", c)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            try CinderInput.only(body, ["qos_specs"], "body")
            let specs = try Self.qosSpecValues(try Self.member(body, "qos_specs"), allowNull: true, field: "qos_specs")
            try await self.service.updateQoS(id, specs: specs)
            return .json(["qos_specs": .object(specs)])
        }
        route(&t, .put, "/qos-specs/{id}/delete_keys") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:qos_specs_manage:delete", c)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            try CinderInput.only(body, ["keys"], "body")
            guard let kv = body["keys"] else { throw NimbusError.badRequest("Invalid input for field/attribute body. 'keys' is a required property") }
            guard let items = kv.arrayValue else { throw CinderInput.invalid("keys", kv, "is not of type 'array'") }
            var keys = [String]()
            var seen = Set<Name>()
            for item in items {
                guard let k = item.stringValue else { throw CinderInput.invalid("keys", kv, "is not of type 'string'") }
                guard !k.isEmpty, k.unicodeScalars.count <= 255 else { throw CinderInput.invalid("keys", kv, "is too long or empty") }
                guard seen.insert(Name(k)).inserted else { throw CinderInput.invalid("keys", kv, "has non-unique elements") }
                keys.append(k)
            }
            try await self.service.deleteQoSKeys(id, keys: keys)
            return .empty(.accepted)
        }
        route(&t, .delete, "/qos-specs/{id}") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:qos_specs_manage:delete", c)
            let force = try req.query("force").map { try CinderInput.boolean(.string($0), "force") } ?? false
            try await self.service.deleteQoS(try ctx.parameter("id"), force: force)
            return .empty(.accepted)
        }
        route(&t, .get, "/qos-specs/{id}/associations") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:qos_specs_manage:get_all", c)
            return .json(["qos_associations": .array(try self.service.qosAssociations(try ctx.parameter("id")).map { .object($0) })])
        }
        // Cinder's GETs with `vol_type_id`: associate with a type, or disassociate from it.
        for (action, associate) in [("associate", true), ("disassociate", false)] {
            route(&t, .get, "/qos-specs/{id}/\(action)") { req, ctx, _ in
                let c = try self.caller(ctx)
                try self.authorize("volume_extension:qos_specs_manage:update", c)
                guard let type = req.query("vol_type_id"), !type.isEmpty else { throw NimbusError.badRequest("Volume Type id must not be None.") }
                let id = try ctx.parameter("id")
                if associate { try await self.service.associateQoS(id, typeID: type) } else { try await self.service.disassociateQoS(id, typeID: type) }
                return .empty(.accepted)
            }
        }
        route(&t, .get, "/qos-specs/{id}/disassociate_all") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:qos_specs_manage:update", c)
            try await self.service.disassociateQoS(try ctx.parameter("id"), typeID: nil)
            return .empty(.accepted)
        }
    }
}
