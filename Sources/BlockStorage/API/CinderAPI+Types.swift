import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Volume types (`/types`), their extra specs and access lists, as Cinder's `v3/types.py`,
/// `types_manage.py`, `types_extra_specs.py` and `volume_type_access.py` answer.
extension CinderAPI {
    /// The extra specs a non-admin sees (Cinder's user-visible keys).
    static let userVisibleSpecs: Set<String> = ["RESKEY:availability_zones", "multiattach", "replication_enabled"]
    static let extraSpecKeyBytes: Set<UInt8> = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:.".utf8))

    /// The show/list view (`full`), or the older create/update view.
    func typeView(_ t: JSONObject, _ c: Caller, full: Bool, access: Bool) -> JSONObject {
        var o: JSONObject = ["id": t["id"] ?? .null, "name": t["name"] ?? .null, "is_public": t["is_public"] ?? true, "description": t["description"] ?? .null]
        var specs = t["extra_specs"]?.objectValue ?? [:]
        if !allows("volume_extension:types_extra_specs:read_sensitive", c) { specs = specs.filter { Self.userVisibleSpecs.contains($0.key) } }
        if !full || allows("volume_extension:access_types_extra_specs", c) { o["extra_specs"] = .object(specs) }
        if full, allows("volume_extension:access_types_qos_specs_id", c) { o["qos_specs_id"] = t["qos_specs_id"] ?? .null }
        if access, allows("volume_extension:volume_type_access", c) { o["os-volume-type-access:is_public"] = t["is_public"] ?? true }
        return o
    }

    func addTypeRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/types") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:type_get_all", c)
            var publicOnly: Bool? = true
            if c.isAdmin, let p = req.query("is_public") {
                publicOnly = p.lowercased() == "none" ? nil : try CinderInput.boolean(.string(p), "is_public")
            }
            let types = self.service.state.all(.volumeType).filter { type in
                guard self.service.typeVisible(type, c.actor) else { return false }
                if !c.isAdmin { return true }
                guard let publicOnly else { return true }
                return (type["is_public"]?.boolValue ?? true) == publicOnly
            }
            let (page, _) = try CinderListing(req.queryString, keys: ["id": "id", "name": "name", "created_at": "created_at", "display_name": "name",
                                                                      "is_public": "is_public", "description": "description"],
                                              defaultKey: "created_at", defaultAscending: true).apply(types)
            return .json(["volume_types": .array(page.map { .object(self.typeView($0, c, full: true, access: true)) })])
        }
        route(&t, .get, "/types/default") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:type_get", c)
            return .json(["volume_type": .object(self.typeView(try self.service.defaultType(actor: c.actor), c, full: true, access: true))])
        }
        route(&t, .get, "/types/{id}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:type_get", c)
            return .json(["volume_type": .object(self.typeView(try self.service.volumeType(try ctx.parameter("id"), actor: c.actor), c, full: true, access: true))])
        }
        route(&t, .post, "/types") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:type_create", c)
            let o = try Self.member(try await Self.body(req, ctx), "volume_type")
            guard let nameValue = o["name"] else { throw NimbusError.badRequest("Invalid input for field/attribute name. 'name' is a required property") }
            // Stored as given (Cinder keeps the bytes), but not blank.
            guard let name = nameValue.stringValue, !name.pythonStripped.isEmpty, name.unicodeScalars.count <= 255 else {
                throw CinderInput.invalid("name", nameValue, "is not a valid name")
            }
            let description = (try CinderInput.name(o, "description")) ?? nil
            var isPublic = true
            if let p = o["os-volume-type-access:is_public"], !p.isNull { isPublic = try CinderInput.boolean(p, "os-volume-type-access:is_public") }
            let specs = try CinderInput.metadata(o["extra_specs"], "extra_specs", keyBytes: Self.extraSpecKeyBytes) ?? [:]
            let created = try await self.service.createType(name: name, description: description, isPublic: isPublic, extraSpecs: specs)
            return .json(["volume_type": .object(self.typeView(created, c, full: false, access: true))])
        }
        route(&t, .put, "/types/{id}") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:type_update", c)
            let o = try Self.member(try await Self.body(req, ctx), "volume_type")
            try CinderInput.only(o, ["name", "description", "is_public"], "volume_type")
            guard !o.isEmpty else { throw NimbusError.badRequest("Specify volume type name, description, is_public or a combination thereof.") }
            var name: String?
            if let n = o["name"] {
                guard let s = n.stringValue, !s.pythonStripped.isEmpty, s.unicodeScalars.count <= 255 else {
                    throw NimbusError.badRequest("Volume type name can not be empty.")
                }
                name = s
            }
            let description = try CinderInput.name(o, "description")
            let isPublic = try o["is_public"].map { try CinderInput.boolean($0, "is_public") }
            let updated = try await self.service.updateType(try ctx.parameter("id"), name: name, description: description, isPublic: isPublic)
            return .json(["volume_type": .object(self.typeView(updated, c, full: false, access: false))])
        }
        route(&t, .delete, "/types/{id}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:type_delete", c)
            try await self.service.deleteType(try ctx.parameter("id"))
            return .empty(.accepted)
        }
        addExtraSpecRoutes(&t)
        route(&t, .get, "/types/{id}/os-volume-type-access") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:volume_type_access:get_all_for_type", c)
            let id = try ctx.parameter("id")
            guard let type = self.service.state[.volumeType, id] else { throw VolumeFault.typeNotFound(id) }
            guard type["is_public"]?.boolValue == false else { throw NimbusError.notFound("Access list not available for public volume types.") }
            return .json(["volume_type_access": .array((type["projects"]?.arrayValue ?? []).map { ["volume_type_id": .string(id), "project_id": $0] })])
        }
        route(&t, .post, "/types/{id}/action") { req, ctx, _ in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            guard body.count == 1, let (action, arg) = body.sortedMembers.first, action == "addProjectAccess" || action == "removeProjectAccess" else {
                throw NimbusError.badRequest("There is no such action: \(body.keys.first ?? "")")
            }
            try self.authorize("volume_extension:volume_type_access:\(action)", c)
            guard let project = arg["project"]?.stringValue, !project.isEmpty, project.utf8.count <= 255 else {
                throw NimbusError.badRequest("Access list not available for public volume types.")
            }
            try await self.service.changeTypeAccess(try ctx.parameter("id"), project: project, add: action == "addProjectAccess")
            return .empty(.accepted)
        }
    }

    func addExtraSpecRoutes(_ t: inout RouteTable) {
        @Sendable func specs(_ ctx: NimbusRequestContext, _ c: Caller) throws -> (String, JSONObject) {
            let id = try ctx.parameter("id")
            guard let type = service.state[.volumeType, id], service.typeVisible(type, c.actor) else { throw VolumeFault.typeNotFound(id) }
            var all = type["extra_specs"]?.objectValue ?? [:]
            if !allows("volume_extension:types_extra_specs:read_sensitive", c) { all = all.filter { Self.userVisibleSpecs.contains($0.key) } }
            return (id, all)
        }
        @Sendable func inUse(_ id: String) throws {
            if service.state.all(.volume).contains(where: { $0["volume_type_id"]?.stringValue == id }) {
                throw NimbusError.badRequest("Volume Type is currently in use.")
            }
        }
        route(&t, .get, "/types/{id}/extra_specs") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:types_extra_specs:index", c)
            return .json(["extra_specs": .object(try specs(ctx, c).1)])
        }
        route(&t, .post, "/types/{id}/extra_specs") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:types_extra_specs:create", c)
            let id = try ctx.parameter("id")
            try inUse(id)
            guard let m = try CinderInput.metadata(try await Self.body(req, ctx)["extra_specs"], "extra_specs", keyBytes: Self.extraSpecKeyBytes) else {
                throw NimbusError.badRequest("Malformed request body")
            }
            _ = try await self.service.changeExtraSpecs(id, set: m)
            return .json(["extra_specs": .object(JSONObject(pairs: m.map { ($0.key, .string($0.value)) }))])
        }
        route(&t, .get, "/types/{id}/extra_specs/{key}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:types_extra_specs:show", c)
            let (id, all) = try specs(ctx, c)
            let key = try ctx.parameter("key")
            guard let v = all[key] else { throw NimbusError.notFound("Volume Type \(id) has no extra specs with key \(key).") }
            return .json(.object(JSONObject(pairs: [(key, v)])))
        }
        route(&t, .put, "/types/{id}/extra_specs/{key}") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:types_extra_specs:update", c)
            let id = try ctx.parameter("id")
            let key = try ctx.parameter("key")
            guard let m = try CinderInput.metadata(.object(try await Self.body(req, ctx)), "extra_specs", keyBytes: Self.extraSpecKeyBytes) else {
                throw NimbusError.badRequest("Malformed request body")
            }
            guard m.count == 1 else { throw NimbusError.badRequest("Request body contains too many items.") }
            guard m[key] != nil else { throw NimbusError.badRequest("Request body and URI mismatch") }
            try inUse(id)
            _ = try await self.service.changeExtraSpecs(id, set: m)
            return .json(.object(JSONObject(pairs: m.map { ($0.key, .string($0.value)) })))
        }
        route(&t, .delete, "/types/{id}/extra_specs/{key}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:types_extra_specs:delete", c)
            let id = try ctx.parameter("id")
            try inUse(id)
            _ = try await self.service.changeExtraSpecs(id, set: [:], delete: try ctx.parameter("key"))
            return .empty(.accepted)
        }
    }
}
