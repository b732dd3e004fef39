import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    func view(_ p: PolicyBlob) -> JSONValue {
        var o = p.extra
        o["id"] = .string(p.id)
        o["type"] = .string(p.type)
        o["blob"] = .string(p.blob)
        o["links"] = link("/policies/\(p.id)")
        return .object(o)
    }

    func ec2View(_ c: Credential) -> JSONValue {
        let blob = (try? JSONValue.parse(string: c.blob)) ?? [:]
        return [
            "user_id": .string(c.userID), "tenant_id": JSONValue(c.projectID), "access": blob["access"] ?? nil,
            "secret": blob["secret"] ?? nil, "trust_id": blob["trust_id"] ?? nil,
            "links": link("/users/\(c.userID)/credentials/OS-EC2/\(blob["access"]?.stringValue ?? "")"),
        ]
    }

    func addPolicyRoutes(_ t: inout RouteTable) {
        let known = ["id", "type", "blob", "links"]
        t.get("/v3/policies") { req, ctx in
            try self.authorize("identity:list_policies", ctx)
            return self.collection("policies", try await self.service.listPolicyBlobs(type: req.query("type")).map(self.view), request: req)
        }
        t.post("/v3/policies") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.policyCreate)
            try self.authorize("identity:create_policy", ctx)
            let p = try await self.service.createPolicyBlob(type: r.string("type") ?? "", blob: r.string("blob") ?? "", extra: r.extras(excluding: known))
            return self.created("policy", self.view(p))
        }
        t.get("/v3/policies/{policy_id}") { req, ctx in
            try self.authorize("identity:get_policy", ctx)
            return self.ok("policy", self.view(try await self.service.policyBlob(try ctx.parameter("policy_id"))))
        }
        t.patch("/v3/policies/{policy_id}") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.policyUpdate)
            try self.authorize("identity:update_policy", ctx)
            let id = try ctx.parameter("policy_id")
            try Self.requireMatchingID(r, id)
            let p = try await self.service.updatePolicyBlob(id, type: r.string("type"), blob: r.string("blob"), extra: r.extras(excluding: known))
            return self.ok("policy", self.view(p))
        }
        t.delete("/v3/policies/{policy_id}") { req, ctx in
            try self.authorize("identity:delete_policy", ctx)
            try await self.service.deletePolicyBlob(try ctx.parameter("policy_id"))
            return .empty()
        }
    }

    func addEC2Routes(_ t: inout RouteTable) {
        let base = "/v3/users/{user_id}/credentials/OS-EC2"
        t.get(base) { req, ctx in
            let target = try await self.ownerTarget(ctx)
            let caller = try self.authorize("identity:ec2_list_credentials", ctx, target)
            let list = try await self.service.ec2Credentials(userID: target["user_id"]!).filter { self.service.isWithinDelegation(caller, credentialProject: $0.projectID) }
            return self.collection("credentials", list.map(self.ec2View), request: req)
        }
        t.post(base) { req, ctx in
            let target = try await self.ownerTarget(ctx)
            let caller = try self.authorize("identity:ec2_create_credential", ctx, target)
            try await self.service.requireUnrestricted(caller, "managing additional application credentials")
            let body = try JSONObjectReader(try await req.jsonBody(context: ctx), path: "credential")
            let project = try body.requireString("tenant_id", maxLength: 64)
            try self.service.requireWithinDelegation(caller, credentialProject: project)
            let (c, _, _) = try await self.service.createEC2Credential(userID: target["user_id"]!, projectID: project, trustID: caller.trust?.id)
            return self.created("credential", self.ec2View(c))
        }
        t.get(base + "/{access}") { req, ctx in
            let target = try await self.ownerTarget(ctx)
            let c = try await self.service.ec2Credential(userID: target["user_id"]!, access: try ctx.parameter("access"))
            let caller = try self.authorize("identity:ec2_get_credential", ctx, target.merging(["target.credential.user_id": c.userID]) { $1 })
            try self.service.requireWithinDelegation(caller, credentialProject: c.projectID)
            return self.ok("credential", self.ec2View(c))
        }
        t.delete(base + "/{access}") { req, ctx in
            let target = try await self.ownerTarget(ctx)
            let c = try await self.service.ec2Credential(userID: target["user_id"]!, access: try ctx.parameter("access"))
            let caller = try self.authorize("identity:ec2_delete_credential", ctx, target.merging(["target.credential.user_id": c.userID]) { $1 })
            try self.service.requireWithinDelegation(caller, credentialProject: c.projectID)
            try await self.service.deleteCredential(c.id)
            return .empty()
        }
    }
}
