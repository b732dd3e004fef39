import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

extension HTTPField.Name {
    static let subjectToken = HTTPField.Name("X-Subject-Token")!
    static let authToken = HTTPField.Name("X-Auth-Token")!
}

extension IdentityAPI {
    func versionDocument() -> JSONValue {
        [
            "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [["rel": "self", "href": .string(v3 + "/")]],
            "media-types": [["base": "application/json", "type": "application/vnd.openstack.identity-v3+json"]],
        ]
    }

    func addVersionRoutes(_ t: inout RouteTable) {
        t.get("/", auth: .none) { _, _ in .json(["versions": ["values": [self.versionDocument()]]], status: .multipleChoices) }
        t.get("/v3", auth: .none) { _, _ in .json(["version": self.versionDocument()]) }
    }

    func addAuthRoutes(_ t: inout RouteTable) {
        t.post("/v3/auth/tokens", auth: .none) { req, ctx in try await self.issueToken(req, ctx) }
        t.get("/v3/auth/tokens") { req, ctx in try await self.validateToken(req, ctx) }
        t.delete("/v3/auth/tokens") { req, ctx in
            let subject = try await self.subject(req, ctx, allowExpired: false)
            try self.authorize("identity:revoke_token", ctx, ["target.token.user_id": subject.user.id])
            try await self.service.revokeToken(subject.token)
            return .empty()
        }
        t.get("/v3/auth/catalog") { req, ctx in
            let caller = try self.authorize("identity:get_auth_catalog", ctx)
            guard caller.scope != .unscoped else { throw NimbusError.forbidden("A scoped token is required to get the catalog.") }
            return .json(["catalog": self.catalogView(try await self.service.catalog(forProject: caller.projectID), projectID: caller.projectID), "links": ["self": .string(self.v3 + "/auth/catalog"), "previous": nil, "next": nil]])
        }
        t.get("/v3/auth/projects") { req, ctx in
            let caller = try self.authorize("identity:get_auth_projects", ctx)
            let projects = try await self.service.projectsForUser(caller.user.id).filter(\.enabled)
            return self.collection("projects", projects.map(self.view), request: req)
        }
        t.get("/v3/auth/domains") { req, ctx in
            let caller = try self.authorize("identity:get_auth_domains", ctx)
            let domains = try await self.service.domainsForUser(caller.user.id).filter(\.enabled)
            return self.collection("domains", domains.map(self.domainView), request: req)
        }
        t.get("/v3/auth/system") { req, ctx in
            let caller = try self.authorize("identity:get_auth_system", ctx)
            let roles = try await self.service.effectiveRoles(userID: caller.user.id, scope: .system)
            return self.collection("system", roles.isEmpty ? [] : [["all": true]], request: req)
        }
    }

    func subject(_ req: Request, _ ctx: NimbusRequestContext, allowExpired: Bool) async throws -> AuthContext {
        guard let token = req.headers[.subjectToken], !token.isEmpty else {
            throw NimbusError.badRequest("Expecting to find X-Subject-Token in the request headers.")
        }
        return try await service.validate(token, allowExpired: allowExpired)
    }

    func validateToken(_ req: Request, _ ctx: NimbusRequestContext) async throws -> Response {
        // Read first: a body rendered from state older than a write is never kept under a newer generation.
        let generation = service.generation
        let subject = try await subject(req, ctx, allowExpired: req.queryFlag("allow_expired"))
        try authorize(req.method == .head ? "identity:check_token" : "identity:validate_token", ctx, ["target.token.user_id": subject.user.id])
        let key = RenderedTokens.Key(token: Name(subject.token), catalog: !req.queryFlag("nocatalog"))
        if let body = renderedTokens.body(key, generation: generation) {
            return .json(encoded: body, headers: [.subjectToken: subject.token])
        }
        let body = ByteBuffer(bytes: try await tokenView(subject, includeCatalog: key.catalog).serialized())
        renderedTokens.remember(key, body, generation: generation, current: service.generation)
        return .json(encoded: body, headers: [.subjectToken: subject.token])
    }

    func issueToken(_ req: Request, _ ctx: NimbusRequestContext) async throws -> Response {
        let auth = try await entity(req, ctx, "auth")
        let identity = try auth.requireReader("identity")
        guard let methods = try identity.stringArray("methods"), !methods.isEmpty else {
            throw NimbusError.badRequest("Invalid input for field 'identity': 'methods' is a required property")
        }
        let method: AuthMethod
        // An OAuth token stands for its access token alone; it is not combined with another method.
        if methods.containsBytes("oauth1") && methods.count > 1 {
            throw NimbusError.unauthorized("Attempted to authenticate with an unsupported method.")
        }
        if methods.containsBytes("password") {
            let user = try identity.requireReader("password").requireReader("user")
            let domain = try user.reader("domain")
            method = .password(userID: try user.string("id"), name: try user.string("name"), domainID: try domain?.string("id"),
                               domainName: try domain?.string("name"), password: try user.requireString("password", maxLength: 4096, allowEmpty: true))
        } else if methods.containsBytes("token") {
            method = .token(try identity.requireReader("token").requireString("id", maxLength: 4096))
        } else if methods.containsBytes("application_credential") {
            let a = try identity.requireReader("application_credential")
            let user = try a.reader("user")
            let domain = try user?.reader("domain")
            method = .applicationCredential(id: try a.string("id"), name: try a.string("name"), userID: try user?.string("id"),
                                            userName: try user?.string("name"), userDomainID: try domain?.string("id"),
                                            userDomainName: try domain?.string("name"), secret: try a.requireString("secret", maxLength: 4096))
        } else if methods.containsBytes("oauth1") {
            method = .oauth1(try oauthCall(req))
        } else {
            throw NimbusError.unauthorized("Attempted to authenticate with an unsupported method.")
        }
        let context = try await service.issueToken(methods: methods.filter { ["password", "token", "application_credential", "oauth1"].containsBytes($0) },
                                                   method: method, scope: try parseScope(auth))
        let body = try await tokenView(context, includeCatalog: !req.queryFlag("nocatalog"))
        return .json(body, status: .created, headers: [.subjectToken: context.token])
    }

    func parseScope(_ auth: JSONObjectReader) throws -> ScopeRequest {
        guard let scopeValue = auth.object["scope"] else { return .none }
        if scopeValue == "unscoped" { return .none }
        let scope = try JSONObjectReader(scopeValue, path: "scope")
        if let p = try scope.reader("project") {
            let d = try p.reader("domain")
            return .project(id: try p.string("id"), name: try p.string("name"), domainID: try d?.string("id"), domainName: try d?.string("name"))
        }
        if let d = try scope.reader("domain") {
            guard d.has("id") || d.has("name") else { throw NimbusError.badRequest("Expecting to find id or name in domain.") }
            return .domain(id: try d.string("id"), name: try d.string("name"))
        }
        if let s = try scope.reader("system") {
            guard try s.bool("all") == true else { throw NimbusError.badRequest("Invalid system scope: only {\"all\": true} is supported.") }
            return .system
        }
        if let t = try scope.reader("OS-TRUST:trust") { return .trust(try t.requireString("id", maxLength: 64)) }
        return .none
    }
}
