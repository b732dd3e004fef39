import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    func view(_ t: Trust) -> JSONValue {
        [
            "id": .string(t.id), "trustor_user_id": .string(t.trustorID), "trustee_user_id": .string(t.trusteeID),
            "project_id": JSONValue(t.projectID), "impersonation": .bool(t.impersonation), "expires_at": JSONValue(t.expiresAt?.iso),
            "remaining_uses": t.remainingUses.map { .int(Int64($0)) } ?? nil, "redelegation_count": .int(Int64(t.redelegationCount)),
            "deleted_at": nil, "redelegated_trust_id": nil,
            "roles": .array(t.roles.map(view)), "roles_links": ["self": .string(v3 + "/OS-TRUST/trusts/\(t.id)/roles"), "previous": nil, "next": nil],
            "links": ["self": .string(v3 + "/OS-TRUST/trusts/\(t.id)")],
        ]
    }

    func trustTarget(_ t: Trust) -> [String: String] {
        ["target.trust.trustor_user_id": t.trustorID, "target.trust.trustee_user_id": t.trusteeID]
    }

    func addTrustRoutes(_ t: inout RouteTable) {
        let base = "/v3/OS-TRUST/trusts"
        t.post(base) { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.trustCreate)
            let trustor = r.string("trustor_user_id") ?? "", trustee = r.string("trustee_user_id") ?? ""
            try self.service.forbidApplicationCredential(try self.authorize("identity:create_trust", ctx, ["target.trust.trustor_user_id": trustor, "target.trust.trustee_user_id": trustee]))
            var input = TrustInput(trustorID: trustor, trusteeID: trustee, projectID: r.string("project_id"), impersonation: r.bool("impersonation") ?? false)
            input.expiresAt = r.string("expires_at")
            input.remainingUses = r.int("remaining_uses").map { Int($0) }
            for v in r.array("roles") { input.roles.append((v["id"]?.stringValue, v["name"]?.stringValue)) }
            return self.created("trust", self.view(try await self.service.createTrust(input, caller: try ctx.caller())))
        }
        t.get(base) { req, ctx in
            let trustor = req.query("trustor_user_id")
            let trustee = req.query("trustee_user_id")
            if let trustor {
                try self.authorize("identity:list_trusts_for_trustor", ctx, ["target.trust.trustor_user_id": trustor])
            } else if let trustee {
                try self.authorize("identity:list_trusts_for_trustee", ctx, ["target.trust.trustee_user_id": trustee])
            } else {
                try self.authorize("identity:list_trusts", ctx)
            }
            try self.service.forbidApplicationCredential(try ctx.caller())
            return self.collection("trusts", try await self.service.listTrusts(trustorID: trustor, trusteeID: trustee).map(self.view), request: req)
        }
        t.get(base + "/{trust_id}") { req, ctx in
            let trust = try await self.service.trust(try ctx.parameter("trust_id"))
            try self.service.forbidApplicationCredential(try self.authorize("identity:get_trust", ctx, self.trustTarget(trust)))
            return self.ok("trust", self.view(trust))
        }
        t.delete(base + "/{trust_id}") { req, ctx in
            let trust = try await self.service.trust(try ctx.parameter("trust_id"))
            try self.service.forbidApplicationCredential(try self.authorize("identity:delete_trust", ctx, self.trustTarget(trust)))
            try await self.service.deleteTrust(trust.id)
            return .empty()
        }
        t.get(base + "/{trust_id}/roles") { req, ctx in
            let trust = try await self.service.trust(try ctx.parameter("trust_id"))
            try self.service.forbidApplicationCredential(try self.authorize("identity:list_roles_for_trust", ctx, self.trustTarget(trust)))
            return self.collection("roles", trust.roles.map(self.view), request: req)
        }
        t.get(base + "/{trust_id}/roles/{role_id}") { req, ctx in
            let trust = try await self.service.trust(try ctx.parameter("trust_id"))
            try self.service.forbidApplicationCredential(try self.authorize("identity:get_role_for_trust", ctx, self.trustTarget(trust)))
            let roleID = try ctx.parameter("role_id")
            guard let role = trust.roles.first(where: { $0.id.sameBytes(as: roleID) }) else { throw NimbusError.notFound("Could not find role: \(roleID).") }
            return self.ok("role", self.view(role))
        }
    }
}
