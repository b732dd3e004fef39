import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Per-project default volume types (3.62 `/default-types`), as Cinder's
/// `v3/default_types.py` answers: a project's default wins over the configured one when a
/// volume (or a backup's restore target) names no type.
extension CinderAPI {
    func addDefaultTypeRoutes(_ t: inout RouteTable) {
        @Sendable func gate(_ v: CinderVersion) throws {
            guard v.atLeast(62) else { throw NimbusError.notFound("The resource could not be found.") }
        }
        /// The target project: Cinder asks Keystone for it and answers 404 for one it does not
        /// know (an id no project could have is that 404 without asking).
        @Sendable func project(_ ctx: NimbusRequestContext) async throws -> String {
            let id = try ctx.parameter("id")
            guard !id.isEmpty, id.utf8.count <= 64, id.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "/") }),
                  try await self.projectExists?(id) ?? true else {
                throw NimbusError.notFound("Project with id \(id) not found.")
            }
            return id
        }
        @Sendable func view(_ d: JSONObject) -> JSONObject {
            ["project_id": d["project_id"] ?? .null, "volume_type_id": d["volume_type_id"] ?? .null]
        }
        route(&t, .put, "/default-types/{id}") { req, ctx, v in
            try gate(v)
            let c = try self.caller(ctx)
            let target = try await project(ctx)
            let body = try await Self.body(req, ctx)
            guard let member = body["default_type"] else {
                throw NimbusError.badRequest("Invalid input for field/attribute default_type. Value: None. 'default_type' is a required property")
            }
            guard case .object(let o) = member else { throw CinderInput.invalid("default_type", member, "is not of type 'object'") }
            try CinderInput.only(o, ["volume_type"], "default_type")
            guard let typeValue = o["volume_type"] else {
                throw NimbusError.badRequest("Invalid input for field/attribute default_type. Value: \(member.pythonStr). 'volume_type' is a required property")
            }
            guard let name = typeValue.stringValue else { throw CinderInput.invalid("volume_type", typeValue, "is not of type 'string'") }
            guard !name.isEmpty, name.unicodeScalars.count <= 255, !name.pythonStripped.isEmpty else {
                throw CinderInput.invalid("volume_type", typeValue, name.isEmpty ? "is too short" : "is not a valid name")
            }
            guard self.allows("volume_extension:default_set_or_update", c, project: target) else {
                throw NimbusError.forbidden("You are not authorized to perform this operation.")
            }
            let d = try await self.service.setProjectDefaultType(target, type: name)
            return .json(["default_type": .object(view(d))])
        }
        route(&t, .get, "/default-types") { _, ctx, v in
            try gate(v)
            let c = try self.caller(ctx)
            guard self.allows("volume_extension:default_get_all", c) else {
                throw NimbusError.forbidden("You are not authorized to perform this operation.")
            }
            return .json(["default_types": .array(self.service.projectDefaultTypes().map { .object(view($0)) })])
        }
        route(&t, .get, "/default-types/{id}") { _, ctx, v in
            try gate(v)
            let c = try self.caller(ctx)
            let target = try await project(ctx)
            guard self.allows("volume_extension:default_get", c, project: target) else {
                throw NimbusError.forbidden("You are not authorized to perform this operation.")
            }
            guard let d = self.service.projectDefaultType(target) else {
                throw NimbusError.notFound("Default type for project \(target) not found.")
            }
            return .json(["default_type": .object(view(d))])
        }
        route(&t, .delete, "/default-types/{id}") { _, ctx, v in
            try gate(v)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            guard self.allows("volume_extension:default_unset", c, project: id) else {
                throw NimbusError.forbidden("You are not authorized to perform this operation.")
            }
            try await self.service.unsetProjectDefaultType(id)
            return .empty(.noContent)
        }
    }
}
