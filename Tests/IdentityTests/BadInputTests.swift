import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NimbusCore
import NimbusHTTP
import NimbusPolicy
import Testing
@testable import Identity

/// Bad input gets a 4xx, never a 500: every write route receives a battery of malformed bodies
/// from an admin (so policy lets each request reach the decoding and the service).
@Suite struct BadInputTests {
    static let bodies: [String] = [
        "", "null", "[]", "{}", "\"text\"", "{\"x\": 1}", "{not json", "{\"a\": \"\\ud800\"}",
        String(repeating: "[", count: 200) + String(repeating: "]", count: 200),
    ]

    /// For an entity key such as "user": wrong shapes of the entity itself and of common fields.
    static func entityBodies(_ key: String) -> [String] {
        [
            "{\"\(key)\": null}", "{\"\(key)\": []}", "{\"\(key)\": 5}", "{\"\(key)\": {}}",
            "{\"\(key)\": {\"name\": 5, \"enabled\": \"yes\", \"domain_id\": [], \"description\": {}}}",
            "{\"\(key)\": {\"name\": \"\", \"id\": \"\", \"parent_id\": \"missing\", \"tags\": [1]}}",
            "{\"\(key)\": {\"name\": \"\(String(repeating: "n", count: 5000))\"}}",
            "{\"\(key)\": {\"name\": \"nul\\u0000\", \"expires_at\": \"2030-01-01T.\", \"roles\": [5], \"filters\": 3}}",
            "{\"\(key)s\": [1, null, {\"service_id\": 5}]}",
            "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\": 5}}}}}",
            "{\"auth\": {\"identity\": {\"methods\": \"password\"}, \"scope\": {\"project\": 1}}}",
        ]
    }

    @Test func malformedBodiesNever500() async throws {
        let f = try await IdentityFixture.make()
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        let policy = try PolicyEnforcer(defaults: IdentityPolicyDefaults.rules, scopeTypes: IdentityPolicyDefaults.scopeTypes)
        let table = IdentityAPI(service: f.service, policy: policy, publicURL: "http://test/identity").routes
        let app = Application(responder: NimbusResponder(tables: [table], validator: f.service, rootHandlers: [:], fallbackRenderer: GenericErrorRenderer()))
        let writes = table.routeNames.filter { ["POST", "PUT", "PATCH"].contains($0.method) }
        // Real ids where the route names one, so requests get past the lookups to the body.
        let s = f.service
        let group = try await s.createGroup(name: "g", domainID: "default", description: nil, extra: [:])
        let member = try #require(try await s.role(named: "member", domainID: nil))
        let reader = try #require(try await s.role(named: "reader", domainID: nil))
        let service = try #require(try await s.listServices(type: "identity", name: nil).first)
        let endpoint = try #require(try await s.listEndpoints(interface: nil, serviceID: nil, regionID: nil).first)
        let ids: [String: String] = [
            "project_id": admin.projectID!, "user_id": admin.user.id, "group_id": group.id, "role_id": reader.id, "domain_id": "default",
            "prior_role_id": member.id, "implied_role_id": reader.id, "region_id": "RegionOne", "service_id": service.id,
            "endpoint_id": endpoint.id,
        ]
        @Sendable func resolve(_ path: String) -> String {
            let parts = path.split(separator: "/").map(String.init)
            return "/identity/" + parts.enumerated().map { i, seg -> String in
                guard seg.hasPrefix("{") else { return seg }
                let name = String(seg.dropFirst().dropLast())
                let previous = i > 0 ? parts[i - 1] : ""
                switch name {
                case "target_id": return previous == "projects" ? admin.projectID! : "default"
                case "actor_id": return previous == "groups" ? group.id : admin.user.id
                default: return ids[name] ?? "does-not-exist"
                }
            }.joined(separator: "/")
        }
        let checked = try await app.test(.router) { client in
            var count = 0
            for route in writes {
                let key = route.path.split(separator: "/").last { !$0.hasPrefix("{") }.map { String($0.hasSuffix("s") ? $0.dropLast() : $0) } ?? "x"
                let path = resolve(route.path)
                for body in Self.bodies + Self.entityBodies(key) {
                    try await client.execute(uri: path, method: HTTPRequest.Method(route.method)!,
                                             headers: [HTTPField.Name("X-Auth-Token")!: admin.token, .contentType: "application/json"],
                                             body: ByteBuffer(string: body)) { r in
                        #expect(r.status.code < 500, "\(route.method) \(route.path) with \(body.prefix(80)) answered \(r.status)")
                    }
                    count += 1
                }
            }
            return count
        }
        #expect(checked > 500)
        await f.close()
    }
}
