import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Volume type encryption specs (`/types/{type_id}/encryption`), as Cinder's
/// `contrib/volume_type_encryption.py` answers them (admins, by the default policy).
extension CinderAPI {
    /// The schema's checks of `{"encryption": {...}}` (`required`: provider and
    /// control_location on create, nothing on update); other members are allowed (the schema's
    /// additionalProperties) but not stored, as Cinder's table has no column for them.
    static func encryptionSpecs(_ body: JSONObject, create: Bool) throws -> (JSONObject, JSONObject) {
        try CinderInput.only(body, ["encryption"], "encryption")
        guard let member = body["encryption"] else {
            throw NimbusError.badRequest("Invalid input for field/attribute encryption. Value: \(JSONValue.object(body).pythonStr). 'encryption' is a required property")
        }
        guard case .object(var o) = member else { throw CinderInput.invalid("encryption", member, "is not of type 'object'") }
        if create {
            for k in ["provider", "control_location"] where o[k] == nil {
                throw NimbusError.badRequest("Invalid input for field/attribute encryption. Value: \(member.pythonStr). '\(k)' is a required property")
            }
        }
        if let v = o["key_size"] {
            switch v {
            case .null: break
            case .int(let n):
                guard n >= 0, n <= 2_147_483_647 else { throw CinderInput.invalid("key_size", v, n < 0 ? "is less than the minimum of 0" : "is greater than the maximum of 2147483647") }
            case .string(let s):
                guard !s.isEmpty, s.utf8.count <= 10, s.utf8.allSatisfy({ (48...57).contains($0) }), let n = Int64(s), n <= 2_147_483_647 else {
                    throw CinderInput.invalid("key_size", v, "is not a valid key size")
                }
                o["key_size"] = .int(n)
            default: throw CinderInput.invalid("key_size", v, "is not of type 'string', 'integer', 'null'")
            }
        }
        if let v = o["provider"] {
            guard let s = v.stringValue else { throw CinderInput.invalid("provider", v, "is not of type 'string'") }
            guard s.unicodeScalars.count <= 255 else { throw CinderInput.invalid("provider", v, "is too long") }
        }
        if let v = o["cipher"], !v.isNull {
            guard let s = v.stringValue else { throw CinderInput.invalid("cipher", v, "is not of type 'string', 'null'") }
            guard s.unicodeScalars.count <= 255 else { throw CinderInput.invalid("cipher", v, "is too long") }
        }
        if let v = o["control_location"], !(v.stringValue.map { $0 == "front-end" || $0 == "back-end" } ?? false) {
            throw CinderInput.invalid("control_location", v, "is not one of ['front-end', 'back-end']")
        }
        var stored = JSONObject()
        for k in VolumeService.encryptionFields { if let v = o[k] { stored[k] = v } }
        return (o, stored)
    }

    func addTypeEncryptionRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/types/{type_id}/encryption") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:volume_type_encryption:get", c)
            return .json(.object(try self.service.typeEncryption(try ctx.parameter("type_id"))))
        }
        route(&t, .post, "/types/{type_id}/encryption") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:volume_type_encryption:create", c)
            let (given, specs) = try Self.encryptionSpecs(try await Self.body(req, ctx), create: true)
            let made = try await self.service.createTypeEncryption(try ctx.parameter("type_id"), specs: specs)
            // Cinder answers with the request's member, which its database call gave the ids.
            var out = given
            out["volume_type_id"] = made["volume_type_id"]
            out["encryption_id"] = made["encryption_id"]
            return .json(["encryption": .object(out)])
        }
        route(&t, .get, "/types/{type_id}/encryption/{key}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:volume_type_encryption:get", c)
            let typeID = try ctx.parameter("type_id")
            let key = try ctx.parameter("key")
            guard let v = try self.service.typeEncryption(typeID)[key] else {
                throw NimbusError.notFound("Volume type encryption for type \(typeID) does not exist.")
            }
            return .json([key: v])
        }
        route(&t, .put, "/types/{type_id}/encryption/{id}") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:volume_type_encryption:update", c)
            let (given, specs) = try Self.encryptionSpecs(try await Self.body(req, ctx), create: false)
            try await self.service.updateTypeEncryption(try ctx.parameter("type_id"), specs: specs)
            return .json(["encryption": .object(given)])
        }
        route(&t, .delete, "/types/{type_id}/encryption/{id}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:volume_type_encryption:delete", c)
            try await self.service.deleteTypeEncryption(try ctx.parameter("type_id"))
            return .empty(.accepted)
        }
    }
}
