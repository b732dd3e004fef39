import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NimbusCore
import NimbusHTTP
import NimbusPolicy
import Testing
@testable import Identity

/// The identity API in process (HummingbirdTesting's router mode) over a fresh fixture, with
/// JSON helpers: tests send bodies and read statuses and bodies as Keystone clients do.
struct APIHarness {
    let fixture: IdentityFixture
    let api: IdentityAPI

    var service: IdentityService { fixture.service }

    static func make(security: SecurityCompliance = SecurityCompliance()) async throws -> APIHarness {
        let f = try await IdentityFixture.make(security: security)
        let policy = try PolicyEnforcer(defaults: IdentityPolicyDefaults.rules, scopeTypes: IdentityPolicyDefaults.scopeTypes)
        return APIHarness(fixture: f, api: IdentityAPI(service: f.service, policy: policy, publicURL: "http://test/identity"))
    }

    func close() async { await fixture.close() }

    struct Reply: Sendable {
        let status: Int
        let body: JSONValue?
        let headers: HTTPFields
        subscript(key: String) -> JSONValue? { body?[key] }
        /// The Keystone error message, if any.
        var message: String { body?["error"]?["message"]?.stringValue ?? "" }
    }

    /// Runs `body` with a client on the API.
    func run<T: Sendable>(_ body: @Sendable (APIClient) async throws -> T) async throws -> T {
        let responder = NimbusResponder(tables: [api.routes], validator: service, rootHandlers: [:], fallbackRenderer: GenericErrorRenderer())
        return try await Application(responder: responder).test(.router) { client in try await body(APIClient(client: client)) }
    }
}

struct APIClient: Sendable {
    let client: any TestClientProtocol

    /// `path` is below `/identity`; `json` is sent as the body; `raw` as bytes.
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: JSONValue? = nil, raw: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> APIHarness.Reply {
        var headers = extra
        if let token { headers[HTTPField.Name("X-Auth-Token")!] = token }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(bytes: json.serialized()) }
        if let raw { body = ByteBuffer(string: raw) }
        if body != nil { headers[.contentType] = "application/json" }
        let r = try await client.execute(uri: "/identity" + path, method: method, headers: headers, body: body)
        let bytes = Array(r.body.readableBytesView)
        return APIHarness.Reply(status: Int(r.status.code), body: bytes.isEmpty ? nil : try? JSONValue.parse(bytes), headers: r.headers)
    }

    /// A token for `user` (in the default domain) scoped to `project` (by name) when given.
    func token(_ user: String, _ password: String, project: String? = nil) async throws -> String {
        var auth: JSONValue = ["identity": ["methods": ["password"], "password": ["user": ["name": .string(user), "domain": ["id": "default"], "password": .string(password)]]]]
        if let project, case .object(var o) = auth {
            o["scope"] = ["project": ["name": .string(project), "domain": ["id": "default"]]]
            auth = .object(o)
        }
        let r = try await call(.post, "/v3/auth/tokens", json: ["auth": auth])
        #expect(r.status == 201, "token for \(user): \(r.status) \(r.message)")
        return r.headers[HTTPField.Name("X-Subject-Token")!] ?? ""
    }
}

/// Percent-encodes a query value (every non-unreserved byte).
func q(_ value: String) -> String { PercentEncoding.encode(value) }
