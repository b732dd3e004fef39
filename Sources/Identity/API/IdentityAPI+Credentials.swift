import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    func addCredentialRoutes(_ t: inout RouteTable) {
        addApplicationCredentialRoutes(&t)
        let known = ["id", "user_id", "project_id", "type", "blob", "links"]
        t.get("/v3/credentials") { req, ctx in
            let caller = try ctx.caller()
            try self.authorize("identity:list_credentials", ctx, caller.isSystemScoped ? [:] : ["target.credential.user_id": caller.user.id])
            var list = try await self.service.listCredentials(userID: req.query("user_id"), type: req.query("type"))
            // Non-admins only see their own credentials, and delegated tokens only their project's, as Keystone filters per item.
            list = list.filter {
                self.policy.enforce("identity:get_credential", credentials: caller.policyCredentials, target: ["target.credential.user_id": $0.userID])
                    && self.service.isWithinDelegation(caller, credentialProject: $0.projectID)
            }
            return self.collection("credentials", list.map(self.view), request: req)
        }
        t.post("/v3/credentials") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.credentialCreate)
            let userID = r.string("user_id") ?? ""
            let caller = try self.authorize("identity:create_credential", ctx, ["target.credential.user_id": userID])
            let type = r.string("type") ?? "", projectID = r.string("project_id")
            if type.lowercased().sameBytes(as: "ec2") { try await self.service.requireUnrestricted(caller, "managing additional credentials") }
            try self.service.requireWithinDelegation(caller, credentialProject: projectID)
            let c = try await self.service.createCredential(userID: userID, projectID: projectID, type: type, blob: r.string("blob") ?? "",
                                                            extra: r.extras(excluding: known))
            return self.created("credential", self.view(c))
        }
        t.get("/v3/credentials/{credential_id}") { req, ctx in
            let c = try await self.service.requireCredential(try ctx.parameter("credential_id"))
            let caller = try self.authorize("identity:get_credential", ctx, ["target.credential.user_id": c.userID])
            try self.service.requireWithinDelegation(caller, credentialProject: c.projectID)
            return self.ok("credential", self.view(c))
        }
        t.patch("/v3/credentials/{credential_id}") { req, ctx in
            let c = try await self.service.requireCredential(try ctx.parameter("credential_id"))
            let caller = try self.authorize("identity:update_credential", ctx, ["target.credential.user_id": c.userID])
            try self.service.requireWithinDelegation(caller, credentialProject: c.projectID)
            let r = try await self.entity(req, ctx, KeystoneSchemas.credentialUpdate)
            try Self.requireMatchingID(r, c.id)
            let u = try await self.service.updateCredential(c.id, userID: r.string("user_id"), projectID: r.string("project_id"),
                                                            type: r.string("type"), blob: r.string("blob"), extra: r.extras(excluding: known))
            return self.ok("credential", self.view(u))
        }
        t.delete("/v3/credentials/{credential_id}") { req, ctx in
            let c = try await self.service.requireCredential(try ctx.parameter("credential_id"))
            let caller = try self.authorize("identity:delete_credential", ctx, ["target.credential.user_id": c.userID])
            try self.service.requireWithinDelegation(caller, credentialProject: c.projectID)
            try await self.service.deleteCredential(c.id)
            return .empty()
        }
    }

    func ownerTarget(_ ctx: NimbusRequestContext) async throws -> [String: String] {
        let userID = try ctx.parameter("user_id")
        guard let u = try await service.user(userID) else { throw NimbusError.notFound("Could not find user: \(userID).") }
        return ["user_id": u.id, "target.user.id": u.id, "target.user.domain_id": u.domainID, "target.credential.user_id": u.id]
    }

    func addApplicationCredentialRoutes(_ t: inout RouteTable) {
        let base = "/v3/users/{user_id}/application_credentials"
        t.get(base) { req, ctx in
            let target = try await self.ownerTarget(ctx)
            try self.service.forbidTrustScoped(try self.authorize("identity:list_application_credentials", ctx, target))
            return self.collection("application_credentials",
                                   try await self.service.listAppCredentials(userID: target["user_id"]!, name: req.query("name")).map(self.view), request: req)
        }
        t.post(base) { req, ctx in
            // As in Keystone, the body is validated before the policy check.
            let r = try await self.entity(req, ctx, KeystoneSchemas.applicationCredentialCreate)
            let target = try await self.ownerTarget(ctx)
            let caller = try self.authorize("identity:create_application_credential", ctx, target)
            guard target["user_id"].sameBytes(as: caller.user.id) else { throw NimbusError.forbidden("Application credentials can only be created by their owner.") }
            var input = AppCredentialInput(name: r.string("name") ?? "")
            input.secret = r.string("secret")
            input.description = r.string("description")
            input.expiresAt = r.string("expires_at")
            input.unrestricted = r.bool("unrestricted") ?? false
            for v in r.array("roles") { input.roles.append((v["id"]?.stringValue, v["name"]?.stringValue)) }
            for v in r.array("access_rules") {
                input.accessRules.append((v["id"]?.stringValue, v["service"]?.stringValue, v["path"]?.stringValue, v["method"]?.stringValue))
            }
            return self.created("application_credential", self.view(try await self.service.createAppCredential(input, caller: caller)))
        }
        t.get(base + "/{credential_id}") { req, ctx in
            let target = try await self.ownerTarget(ctx)
            try self.service.forbidTrustScoped(try self.authorize("identity:get_application_credential", ctx, target))
            return self.ok("application_credential", self.view(try await self.service.appCredential(userID: target["user_id"]!, id: try ctx.parameter("credential_id"))))
        }
        t.delete(base + "/{credential_id}") { req, ctx in
            let target = try await self.ownerTarget(ctx)
            try self.authorize("identity:delete_application_credential", ctx, target)
            try await self.service.deleteAppCredential(userID: target["user_id"]!, id: try ctx.parameter("credential_id"), caller: try ctx.caller())
            return .empty()
        }
        t.get("/v3/users/{user_id}/access_rules") { req, ctx in
            let target = try await self.ownerTarget(ctx)
            try self.service.forbidTrustScoped(try self.authorize("identity:list_access_rules", ctx, target))
            return self.collection("access_rules", try await self.service.listAccessRules(userID: target["user_id"]!).map(self.view), request: req)
        }
        t.get("/v3/users/{user_id}/access_rules/{rule_id}") { req, ctx in
            let target = try await self.ownerTarget(ctx)
            try self.service.forbidTrustScoped(try self.authorize("identity:get_access_rule", ctx, target))
            return self.ok("access_rule", self.view(try await self.service.accessRule(userID: target["user_id"]!, id: try ctx.parameter("rule_id"))))
        }
        t.delete("/v3/users/{user_id}/access_rules/{rule_id}") { req, ctx in
            let target = try await self.ownerTarget(ctx)
            try self.service.forbidTrustScoped(try self.authorize("identity:delete_access_rule", ctx, target))
            try await self.service.deleteAccessRule(userID: target["user_id"]!, id: try ctx.parameter("rule_id"))
            return .empty()
        }
    }
}
