import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP
import NimbusPolicy

/// The Keystone v3 HTTP surface: decode, check policy, call `IdentityService`, render.
public struct IdentityAPI: Sendable {
    let service: IdentityService
    let policy: PolicyEnforcer
    /// e.g. `http://127.0.0.1:5000/identity`: links and version documents point here.
    let publicURL: String
    /// Encoded bodies of validated tokens, per identity generation.
    let renderedTokens = RenderedTokens()

    public init(service: IdentityService, policy: PolicyEnforcer, publicURL: String) {
        self.service = service
        self.policy = policy
        self.publicURL = publicURL
    }

    public var routes: RouteTable {
        var t = RouteTable(service: "identity", prefix: "/identity", renderer: KeystoneErrorRenderer(publicURL: publicURL))
        addVersionRoutes(&t)
        addAuthRoutes(&t)
        addProjectRoutes(&t)
        addDomainConfigRoutes(&t)
        addDomainRoutes(&t)
        addUserRoutes(&t)
        addGroupRoutes(&t)
        addRoleRoutes(&t)
        addGrantRoutes(&t)
        addCatalogRoutes(&t)
        addCredentialRoutes(&t)
        addPolicyRoutes(&t)
        addEC2Routes(&t)
        addEndpointFilterRoutes(&t)
        addTrustRoutes(&t)
        addLimitRoutes(&t)
        addOAuth1Routes(&t)
        return t
    }

    var v3: String { publicURL + "/v3" }

    /// Enforces `action` for the caller against `target` (flat oslo.policy keys), 403 if denied.
    @discardableResult
    func authorize(_ action: String, _ context: NimbusRequestContext, _ target: [String: String] = [:]) throws -> AuthContext {
        let caller = try context.caller()
        // As Keystone does, the URL's path parameters are part of the target (`user_id` in
        // `/v3/users/{user_id}/...` is what the owner rules compare the caller with).
        var t = context.pathParameters
        t.merge(target) { $1 }
        guard policy.enforce(action, credentials: caller.policyCredentials, target: t) else {
            throw NimbusError.forbidden("You are not authorized to perform the requested action: \(action).")
        }
        return caller
    }

    func collection(_ key: String, _ items: [JSONValue], request: Request) -> Response {
        let selfURL = publicURL + request.uri.path.dropFirst("/identity".count) + (request.uri.query.map { "?" + $0 } ?? "")
        return .json([key: .array(items), "links": ["self": .string(selfURL), "previous": nil, "next": nil]])
    }

    func created(_ key: String, _ value: JSONValue) -> Response { .json([key: value], status: .created) }
    func ok(_ key: String, _ value: JSONValue) -> Response { .json([key: value]) }

    /// Reads `{"<key>": {...}}` from the body.
    func entity(_ request: Request, _ context: NimbusRequestContext, _ key: String) async throws -> JSONObjectReader {
        let body = try await request.jsonBody(context: context)
        guard case .object = body else { throw NimbusError.badRequest("Invalid input: the request body must be a JSON object.") }
        return try JSONObjectReader(body[key], path: key)
    }

    /// Boolean query filters accept Keystone's spellings.
    func boolQuery(_ request: Request, _ name: String) throws -> Bool? {
        guard let v = request.query(name) else { return nil }
        switch v.lowercased() {
        case "true", "1", "yes", "": return true
        case "false", "0", "no": return false
        default: throw NimbusError.badRequest("Invalid value for query parameter \(name): \(v)")
        }
    }
}

extension Optional where Wrapped == String {
    /// oslo.policy stringifies a missing value as "None".
    var policyValue: String { self ?? "None" }
}
