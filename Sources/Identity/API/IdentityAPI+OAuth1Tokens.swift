import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    func addOAuth1TokenRoutes(_ t: inout RouteTable) {
        t.post("/v3/OS-OAUTH1/request_token", auth: .none) { req, ctx in
            let call = try self.oauthCall(req)
            guard call.request.consumerKey?.isEmpty == false else { throw NimbusError.badRequest("Expecting to find oauth_consumer_key in request.") }
            guard let project = req.headers[HTTPField.Name("Requested-Project-Id")!], !project.isEmpty else {
                throw NimbusError.badRequest("Expecting to find Requested-Project-Id in request.")
            }
            let r = try await self.service.createRequestToken(call, projectID: project)
            // Keystone leaves the expiry out when request tokens never expire (duration 0).
            return Self.formResponse([("oauth_token", r.id), ("oauth_token_secret", r.secret)] + (r.expiresAt.map { [("oauth_expires_at", $0)] } ?? []))
        }
        t.post("/v3/OS-OAUTH1/access_token", auth: .none) { req, ctx in
            let call = try self.oauthCall(req)
            guard call.request.consumerKey?.isEmpty == false else { throw NimbusError.badRequest("Expecting to find oauth_consumer_key in request.") }
            let r = try await self.service.createAccessToken(call)
            return Self.formResponse([("oauth_token", r.id), ("oauth_token_secret", r.secret)] + (r.expiresAt.map { [("oauth_expires_at", $0)] } ?? []))
        }
        t.put("/v3/OS-OAUTH1/authorize/{request_token_id}") { req, ctx in
            let caller = try self.authorize("identity:authorize_request_token", ctx)
            let roles = try await self.authorizeRoles(req, ctx)
            let verifier = try await self.service.authorizeRequestToken(try ctx.parameter("request_token_id"), caller: caller, roles: roles)
            return .json(["token": ["oauth_verifier": .string(verifier)]])
        }
    }

    /// `{"roles": [{"id": ...} | {"name": ...}, ...]}` (Keystone's `request_token_authorize`).
    func authorizeRoles(_ req: Request, _ ctx: NimbusRequestContext) async throws -> [(id: String?, name: String?)] {
        let body = try await req.jsonBody(context: ctx)
        guard case .object(let o) = body else { throw NimbusError.badRequest("Invalid input: the request body must be a JSON object.") }
        guard let list = o["roles"] ?? .array([]) as JSONValue?, case .array(let items) = list else {
            throw NimbusError.badRequest("Invalid input for field 'roles': the value is not of type 'array'")
        }
        guard items.count <= 100 else { throw NimbusError.badRequest("Invalid input for field 'roles': at most 100 roles may be authorized") }
        return try items.map { item in
            let r = try JSONObjectReader(item, path: "roles")
            guard r.object.count == 1, r.has("id") || r.has("name") else {
                throw NimbusError.badRequest("Invalid input for field 'roles': each role is {\"id\": ...} or {\"name\": ...}")
            }
            return (try r.string("id", maxLength: 64), try r.string("name", maxLength: 255))
        }
    }

    func addOAuth1AccessTokenRoutes(_ t: inout RouteTable) {
        let base = "/v3/users/{user_id}/OS-OAUTH1/access_tokens"
        t.get(base) { req, ctx in
            try self.blockDelegated(try self.authorize("identity:list_access_tokens", ctx))
            let list = try await self.service.listAccessTokens(userID: try ctx.parameter("user_id"))
            return self.collection("access_tokens", list.map(self.view), request: req)
        }
        t.get(base + "/{access_token_id}") { _, ctx in
            try self.blockDelegated(try self.authorize("identity:get_access_token", ctx))
            return self.ok("access_token", self.view(try await self.ownedAccessToken(ctx)))
        }
        t.delete(base + "/{access_token_id}") { _, ctx in
            let userID = try ctx.parameter("user_id")
            try self.blockDelegated(try self.authorize("identity:ec2_delete_credential", ctx, ["target.credential.user_id": userID]))
            try await self.service.deleteAccessToken(userID: userID, id: try ctx.parameter("access_token_id"))
            return .empty()
        }
        t.get(base + "/{access_token_id}/roles") { req, ctx in
            try self.authorize("identity:list_access_token_roles", ctx)
            let a = try await self.ownedAccessToken(ctx)
            var roles = [JSONValue]()
            for id in IdentityService.idList(fromColumn: a.roleIds) {
                if let r = try await self.service.role(id) { roles.append(self.accessTokenRoleView(r)) }
            }
            return self.collection("roles", roles, request: req)
        }
        t.get(base + "/{access_token_id}/roles/{role_id}") { _, ctx in
            try self.authorize("identity:get_access_token_role", ctx)
            let a = try await self.service.requireAccessToken(try ctx.parameter("access_token_id"))
            guard a.authorizingUserId.sameBytes(as: try ctx.parameter("user_id")) else { throw NimbusError.unauthorized("User IDs do not match") }
            let roleID = try ctx.parameter("role_id")
            guard IdentityService.idList(fromColumn: a.roleIds).containsBytes(roleID), let r = try await self.service.role(roleID) else {
                throw NimbusError.notFound("Could not find role: \(roleID).")
            }
            return self.ok("role", self.accessTokenRoleView(r))
        }
    }

    /// Keystone answers 404 for another user's access token.
    func ownedAccessToken(_ ctx: NimbusRequestContext) async throws -> OAuthAccessTokenRecord {
        let a = try await service.requireAccessToken(try ctx.parameter("access_token_id"))
        guard a.authorizingUserId.sameBytes(as: try ctx.parameter("user_id")) else { throw NimbusError.notFound("Could not find access token.") }
        return a
    }

    func blockDelegated(_ caller: AuthContext) throws {
        if caller.trust != nil || caller.isOAuth {
            throw NimbusError.forbidden("Cannot manage OAuth access tokens with a token issued via delegation.")
        }
        if caller.applicationCredentialID != nil {
            throw NimbusError.forbidden("Cannot manage OAuth access tokens with a token issued via an application credential.")
        }
    }

    func view(_ a: OAuthAccessTokenRecord) -> JSONValue {
        let url = v3 + "/users/\(a.authorizingUserId)/OS-OAUTH1/access_tokens/\(a.id)"
        return ["id": .string(a.id), "consumer_id": .string(a.consumerId), "project_id": .string(a.projectId),
                "authorizing_user_id": .string(a.authorizingUserId), "expires_at": a.expiresAt.map { .string($0) } ?? .null,
                "links": ["self": .string(url), "roles": .string(url + "/roles")]]
    }

    /// Keystone's `_format_role_entity`: the role without its description.
    func accessTokenRoleView(_ r: Role) -> JSONValue {
        guard case .object(var o) = view(r) else { return view(r) }
        _ = o.removeValue(forKey: "description")
        return .object(o)
    }
}
