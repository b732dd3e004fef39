import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NimbusCore
import NimbusHTTP
import NimbusPolicy
import Testing
@testable import Identity

/// Coverage checks that fail when someone forgets: every route but the public ones needs a token,
/// and every policy action the API names exists in Keystone's rule table.
@Suite struct RouteCoverageTests {
    static let publicRoutes: Set<String> = ["GET /", "GET /v3", "POST /v3/auth/tokens", "POST /v3/users/{user_id}/password",
                                                       "POST /v3/OS-OAUTH1/request_token", "POST /v3/OS-OAUTH1/access_token"]

    @Test func everyNonPublicRouteAnswers401WithoutAToken() async throws {
        let f = try await IdentityFixture.make()
        let policy = try PolicyEnforcer(defaults: IdentityPolicyDefaults.rules, scopeTypes: IdentityPolicyDefaults.scopeTypes)
        let api = IdentityAPI(service: f.service, policy: policy, publicURL: "http://test/identity")
        let table = api.routes
        let open = Set(table.routeNames.filter { $0.authentication == .none }.map { "\($0.method) \($0.path)" })
        #expect(open == Self.publicRoutes)
        let responder = NimbusResponder(tables: [table], validator: f.service, rootHandlers: [:], fallbackRenderer: GenericErrorRenderer())
        let app = Application(responder: responder)
        let routes = table.routeNames.filter { $0.authentication == .token }
        #expect(routes.count > 150)
        try await app.test(.router) { client in
            for route in routes {
                let path = "/identity" + route.path.split(separator: "/").map { $0.hasPrefix("{") ? "x" : String($0) }.joined(separator: "/").prefixedSlash
                try await client.execute(uri: path, method: HTTPRequest.Method(route.method)!) { r in
                    #expect(r.status == .unauthorized, "\(route.method) \(route.path) answered \(r.status)")
                    #expect(r.headers[.wwwAuthenticate] != nil)
                }
            }
        }
        await f.close()
    }

    @Test func everyPolicyActionNamedInTheAPIExists() throws {
        let apiDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/Identity/API").standardized
        var named = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: apiDir.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: apiDir.appendingPathComponent(file), encoding: .utf8)
            let regex = try NSRegularExpression(pattern: "\"(identity:[a-z_0-9]+)\"")
            for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                named.insert(String(text[Range(m.range(at: 1), in: text)!]))
            }
        }
        // Names the API builds at run time.
        for verb in ["list", "get", "create", "update", "delete"] {
            named.insert("identity:\(verb)_\(verb == "list" ? "roles" : "role")")
            named.insert("identity:\(verb)_\(verb == "list" ? "domain_roles" : "domain_role")")
        }
        for verb in ["create", "check", "revoke"] {
            for actor in ["user", "group"] { named.insert("identity:\(verb)_system_grant_for_\(actor)") }
        }
        for actor in ["user", "group"] { named.insert("identity:list_system_grants_for_\(actor)") }
        #expect(named.count > 100)
        let missing = named.filter { IdentityPolicyDefaults.rules[$0] == nil }.sorted()
        #expect(missing.isEmpty, "actions without a default rule: \(missing)")
    }
}

extension String {
    fileprivate var prefixedSlash: String { hasPrefix("/") ? self : "/" + self }
}
