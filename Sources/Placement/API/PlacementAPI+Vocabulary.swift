import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

extension PlacementAPI {
    func classView(_ name: String) -> JSONValue {
        ["name": .string(name), "links": [["rel": "self", "href": .string("\(prefix)/resource_classes/\(name)")]]]
    }

    static let badTrait = "The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\""

    func addClassAndTraitRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/resource_classes", since: 2) { req, ctx, v in
            try self.authorize("placement:resource_classes:list", ctx)
            try Self.checkAccept(req)
            return self.service.read { s in
                let names = s.classNames.compactMap { $0 }
                return Self.json(["resource_classes": .array(names.map(self.classView))], v: v)
            }
        }
        route(&t, .post, "/resource_classes", since: 2) { req, ctx, v in
            try self.authorize("placement:resource_classes:create", ctx)
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.resourceClass)
            let name = try Self.field(body, "name", \.stringValue)
            try await self.service.write({ s in try s.createClass(name) }) { _ in () }
            var h = HTTPFields()
            h[.location] = Self.absolute(req, "\(self.prefix)/resource_classes/\(name)")
            return .empty(.created, headers: h)
        }
        route(&t, .get, "/resource_classes/{name}", since: 2) { req, ctx, v in
            try self.authorize("placement:resource_classes:show", ctx)
            try Self.checkAccept(req)
            let name = try ctx.parameter("name")
            return try self.service.read { s in
                guard let rc = s.resourceClass(name) else { throw NimbusError.notFound("No such resource class \(name).") }
                let times = s.classCreated(rc)
                return Self.json(self.classView(s.className(rc)), v: v, modified: times?.updated ?? times?.created)
            }
        }
        route(&t, .put, "/resource_classes/{name}", since: 2) { req, ctx, v in
            try self.authorize("placement:resource_classes:update", ctx)
            let name = try ctx.parameter("name")
            if v.atLeast(7) {
                if let problem = PlacementSchemas.resourceClass.firstError(["name": .string(name)]) {
                    throw NimbusError.badRequest("JSON does not validate: \(problem)")
                }
                var created = false
                try await self.service.write({ s in
                    guard s.resourceClass(name) == nil else { return WriteSet() }
                    created = true
                    return try s.createClass(name)
                }) { _ in () }
                var h = HTTPFields()
                h[.location] = Self.absolute(req, "\(self.prefix)/resource_classes/\(name)")
                return .empty(created ? .created : .noContent, headers: h)
            }
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.resourceClass)
            let newName = try Self.field(body, "name", \.stringValue)
            let view = try await self.service.write({ s in try s.renameClass(name, to: newName) }) { _ in self.classView(newName) }
            return Self.json(view, v: v)
        }
        route(&t, .delete, "/resource_classes/{name}", since: 2) { req, ctx, v in
            try self.authorize("placement:resource_classes:delete", ctx)
            let name = try ctx.parameter("name")
            try await self.service.write({ s in try s.deleteClass(name) }) { _ in () }
            return Self.noContent()
        }
        addTraitRoutes(&t)
    }

    func addTraitRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/traits", since: 6) { req, ctx, v in
            try self.authorize("placement:traits:list", ctx)
            try Self.checkAccept(req)
            let q = req.queryString
            try PlacementQuery.checkKeys(q, allowed: ["name", "associated"])
            var names: [String]?, prefix: String?
            if let n = q.all("name").last {
                guard let (op, value) = n.splitOnceBytes(":") else {
                    throw NimbusError.badRequest("Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"\(n)\"")
                }
                if op == "in" { names = value.splitBytes(",", omittingEmpty: false).map(String.init) }
                else if op == "startswith" { prefix = String(value) }
            }
            var associated: Bool?
            if let a = q.all("associated").last {
                switch a.lowercased() {
                case "true": associated = true
                case "false": associated = false
                default: throw NimbusError.badRequest("The query parameter \"associated\" only accepts \"true\" or \"false\"")
                }
            }
            let list = self.service.read { s in
                s.traitNames.indices.filter { i in
                    guard let n = s.traitNames[i] else { return false }
                    if let names, !names.containsBytes(n) { return false }
                    if let prefix, !n.hasBytePrefix(prefix) { return false }
                    if let associated, s.providers(inTrait: i).isEmpty == associated { return false }
                    return true
                }.map { s.traitName($0) }.sortedByBytes()
            }
            return Self.json(["traits": JSONValue(list)], v: v)
        }
        route(&t, .get, "/traits/{name}", since: 6) { req, ctx, v in
            try self.authorize("placement:traits:show", ctx)
            let name = try ctx.parameter("name")
            let created: Date? = try self.service.read { s in
                guard let i = s.trait(name) else { throw NimbusError.notFound("No such trait(s): \(name).") }
                return s.traitCreatedAt(i)
            }
            var h = HTTPFields()
            if v.atLeast(15) { h[.lastModified] = Timestamps.httpDate(created ?? Date()); h[.cacheControl] = "no-cache" }
            return .empty(.noContent, headers: h)
        }
        route(&t, .put, "/traits/{name}", since: 6) { req, ctx, v in
            try self.authorize("placement:traits:update", ctx)
            let name = try ctx.parameter("name")
            guard PlacementSchemas.isCustom(name), name.scalarCount <= 255 else { throw NimbusError.badRequest(Self.badTrait) }
            var created = false
            let createdAt = try await self.service.write({ s in
                var w = WriteSet()
                if s.trait(name) == nil { w.newTraits = [name]; created = true }
                return w
            }) { s in s.traitCreatedAt(s.trait(name)!) }
            var h = HTTPFields()
            h[.location] = Self.absolute(req, "\(self.prefix)/traits/\(name)")
            if v.atLeast(15) { h[.lastModified] = Timestamps.httpDate(createdAt ?? Date()); h[.cacheControl] = "no-cache" }
            return .empty(created ? .created : .noContent, headers: h)
        }
        route(&t, .delete, "/traits/{name}", since: 6) { req, ctx, v in
            try self.authorize("placement:traits:delete", ctx)
            let name = try ctx.parameter("name")
            try await self.service.write({ s in try s.deleteTrait(name) }) { _ in () }
            return Self.noContent()
        }
        let base = "/resource_providers/{uuid}/traits"
        route(&t, .get, base, since: 6) { req, ctx, v in
            try self.authorize("placement:resource_providers:traits:list", ctx)
            try Self.checkAccept(req)
            let uuid = try ctx.parameter("uuid")
            return try self.service.read { s in
                let p = try s.providerOrNotFound(uuid, "No resource provider with uuid \(uuid) found: No resource provider with uuid \(uuid) found")
                return Self.json(["traits": JSONValue(s.traitNames(of: p)), "resource_provider_generation": .int(s[p].generation)], v: v)
            }
        }
        route(&t, .put, base, since: 6) { req, ctx, v in
            try self.authorize("placement:resource_providers:traits:update", ctx)
            let uuid = try ctx.parameter("uuid")
            _ = try self.service.read { s in try s.providerOrNotFound(uuid) }
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.providerTraits)
            let names = try Self.field(body, "traits", \.arrayValue).compactMap(\.stringValue)
            let generation = try Self.field(body, "resource_provider_generation", \.intValue)
            let view = try await self.service.write({ s in try s.setTraits(try s.providerOrNotFound(uuid), names, generation: generation) }) { s in
                let p = s.provider(uuid: uuid)!
                let o: JSONObject = ["traits": JSONValue(s.traitNames(of: p)), "resource_provider_generation": .int(s[p].generation)]
                return JSONValue.object(o)
            }
            return Self.json(view, v: v)
        }
        route(&t, .delete, base, since: 6) { req, ctx, v in
            try self.authorize("placement:resource_providers:traits:delete", ctx)
            let uuid = try ctx.parameter("uuid")
            try await self.service.write({ s in try s.setTraits(try s.providerOrNotFound(uuid), [], generation: nil) }) { _ in () }
            return Self.noContent()
        }
    }

    func addAggregateRoutes(_ t: inout RouteTable) {
        let base = "/resource_providers/{uuid}/aggregates"
        let view: @Sendable (PlacementState, Int, Microversion) -> JSONValue = { s, p, v in
            var o: JSONObject = ["aggregates": JSONValue(s.aggregateUUIDs(of: p))]
            if v.atLeast(19) { o["resource_provider_generation"] = .int(s[p].generation) }
            return .object(o)
        }
        route(&t, .get, base, since: 1) { req, ctx, v in
            try self.authorize("placement:resource_providers:aggregates:list", ctx)
            try Self.checkAccept(req)
            let uuid = try ctx.parameter("uuid")
            return try self.service.read { s in Self.json(view(s, try s.providerOrNotFound(uuid), v), v: v) }
        }
        route(&t, .put, base, since: 1) { req, ctx, v in
            try self.authorize("placement:resource_providers:aggregates:update", ctx)
            let uuid = try ctx.parameter("uuid")
            _ = try self.service.read { s in try s.providerOrNotFound(uuid) }
            let body = try await Self.body(req, ctx, schema: v.atLeast(19) ? PlacementSchemas.aggregates119 : PlacementSchemas.aggregateList)
            let list = (v.atLeast(19) ? body["aggregates"] : body)?.arrayValue?.compactMap(\.stringValue) ?? []
            let generation = v.atLeast(19) ? body["resource_provider_generation"]?.intValue : nil
            let out = try await self.service.write({ s in try s.setAggregates(try s.providerOrNotFound(uuid), list, generation: generation) }) { s in
                view(s, s.provider(uuid: uuid)!, v)
            }
            return Self.json(out, v: v)
        }
    }
}
