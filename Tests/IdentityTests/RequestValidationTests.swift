import Foundation
import HTTPTypes
import NimbusCore
import Testing
@testable import Identity

/// Request bodies are checked as Keystone's jsonschema checks them: types, lengths in code points,
/// patterns, enums, required keys, unknown keys; the answer is Keystone's 400 with
/// `Invalid input for field '<field>': <jsonschema message>`.
@Suite struct RequestValidationTests {
    struct Case: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let body: String
        let status: Int
        let message: String
        init(_ method: HTTPRequest.Method, _ path: String, _ body: String, _ status: Int = 400, _ message: String = "") {
            self.method = method; self.path = path; self.body = body; self.status = status; self.message = message
        }
    }

    static func long(_ n: Int, _ c: String = "a") -> String { String(repeating: c, count: n) }

    /// Runs the cases with an admin token, with `{project}`, `{user}`, `{service}`, `{group}`,
    /// `{role}`, `{region}` and `{endpoint}` standing for real ids.
    static func run(_ cases: (_ ids: [String: String]) -> [Case]) async throws {
        let h = try await APIHarness.make()
        let s = h.service
        let demo = try #require(try await s.user(named: "demo", domainID: "default"))
        let project = try #require(try await s.project(named: "demo", domainID: "default"))
        let service = try #require(try await s.listServices(type: "identity", name: nil).first)
        let group = try await s.createGroup(name: "g", domainID: "default", description: nil, extra: [:])
        let role = try await s.createRole(name: "r", domainID: nil, description: nil, options: [:], extra: [:])
        let endpoint = try #require(try await s.listEndpoints(interface: nil, serviceID: nil, regionID: nil).first)
        let ids = ["project": project.id, "user": demo.id, "service": service.id, "group": group.id, "role": role.id, "region": "RegionOne",
                   "endpoint": endpoint.id]
        let list = cases(ids)
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            for t in list {
                var path = t.path, body = t.body
                for (k, v) in ids { path = path.replacingOccurrences(of: "{\(k)}", with: v); body = body.replacingOccurrences(of: "{\(k)}", with: v) }
                let r = try await c.call(t.method, path, token: admin, raw: body)
                #expect(r.status == t.status, "\(t.method) \(t.path) \(t.body.prefix(120)): \(r.status) \(r.message.prefix(200))")
                if !t.message.isEmpty {
                    #expect(r.message.contains(t.message), "\(t.method) \(t.path) \(t.body.prefix(120)): '\(r.message.prefix(300))' lacks '\(t.message)'")
                }
            }
        }
        await h.close()
    }

    @Test func projectsAndDomains() async throws {
        try await Self.run { _ in [
            Case(.post, "/v3/projects", #"{"project": {"name": 5}}"#, 400, "Invalid input for field 'name': 5 is not of type 'string'"),
            Case(.post, "/v3/projects", #"{"project": {"name": "\#(Self.long(65))"}}"#, 400, "is too long"),
            // 64 code points (128 bytes) is the limit, not 64 bytes.
            Case(.post, "/v3/projects", #"{"project": {"name": "\#(Self.long(64, "é"))"}}"#, 201),
            Case(.post, "/v3/projects", #"{"project": {"name": "  "}}"#, 400, "Invalid input for field 'name': '  ' does not match '[\\\\S]+'"),
            Case(.post, "/v3/projects", #"{"project": {"name": "nul\u0000"}}"#, 400, "field 'name'"),
            Case(.post, "/v3/projects", #"{"project": {}}"#, 400, "Invalid input for field 'project': 'name' is a required property"),
            Case(.post, "/v3/projects", #"{}"#, 400, "Invalid input for field 'project': 'project' is a required property"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p1"}, "extra": 1}"#, 400, "Additional properties are not allowed ('extra' was unexpected)"),
            Case(.post, "/v3/projects", #"{"project": "p"}"#, 400, "Invalid input for field 'project': 'p' is not of type 'object'"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p2", "enabled": "yes"}}"#, 400, "Invalid input for field 'enabled': 'yes' is not of type 'boolean'"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p3", "domain_id": "a b"}}"#, 400, "does not match '^[a-zA-Z0-9-]+$'"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p4", "tags": ["a", "a"]}}"#, 400, "Invalid input for field 'tags': ['a', 'a'] has non-unique elements"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p5", "tags": ["a/b"]}}"#, 400, "Invalid input for field 'tags/0'"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p6", "tags": [\#((0..<81).map { "\"t\($0)\"" }.joined(separator: ","))]}}"#, 400, "is too long"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p7", "options": {"frozen": true}}}"#, 400, "Additional properties are not allowed ('frozen' was unexpected)"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p8", "options": {"immutable": "x"}}}"#, 400, "'x' is not of type 'boolean', 'null'"),
            Case(.post, "/v3/projects", #"{"project": {"name": "p9", "description": null, "parent_id": null}}"#, 201),
            Case(.patch, "/v3/projects/{project}", #"{"project": {"name": 1}}"#, 400, "field 'name'"),
            Case(.patch, "/v3/projects/{project}", #"{"project": {"name": "demo"}, "x": 1}"#, 400, "Additional properties"),
            Case(.put, "/v3/projects/{project}/tags", #"{"tags": ["x", "x"]}"#, 400, "non-unique"),
            Case(.put, "/v3/projects/{project}/tags", #"{"tags": ["x"], "y": 1}"#, 400, "Additional properties"),
            Case(.put, "/v3/projects/{project}/tags/" + Self.long(256), "", 400, "is too long"),
            Case(.post, "/v3/domains", #"{"domain": {"name": "d1", "explicit_domain_id": "not an id"}}"#, 400, "field 'explicit_domain_id'"),
            Case(.post, "/v3/domains", #"{"domain": {"name": "d2", "description": "\#(Self.long(256))"}}"#, 400, "field 'description'"),
            Case(.post, "/v3/domains", #"{"domain": {"name": "\#(Self.long(65))"}}"#, 400, "is too long"),
            Case(.patch, "/v3/domains/default", #"{"domain": {}}"#, 400, "Invalid input for field 'domain': {} does not have enough properties"),
        ] }
    }

    @Test func projectTagAddedAloneIsCheckedWithTheList() async throws {
        try await Self.run { _ in [
            Case(.put, "/v3/projects/{project}/tags/one", "", 201),
            Case(.put, "/v3/projects/{project}/tags/one", "", 400, "non-unique"),
        ] }
    }

    @Test func usersGroupsAndRoles() async throws {
        try await Self.run { _ in [
            Case(.post, "/v3/users", #"{"user": {"name": "\#(Self.long(256))"}}"#, 400, "is too long"),
            Case(.post, "/v3/users", #"{"user": {"name": "u1", "password": 5}}"#, 400, "Invalid input for field 'password': 5 is not of type 'string', 'null'"),
            Case(.post, "/v3/users", #"{"user": {"name": "u2", "options": {"lock_password": "x"}}}"#, 400, "field 'options/lock_password'"),
            Case(.post, "/v3/users", #"{"user": {"name": "u3", "options": {"nope": true}}}"#, 400, "Additional properties"),
            Case(.post, "/v3/users", #"{"user": {"name": "u4"}, "x": 1}"#, 400, "Additional properties"),
            Case(.post, "/v3/users", #"{"user": {"name": "u5", "default_project_id": 7}}"#, 400, "field 'default_project_id'"),
            Case(.post, "/v3/users", #"{"user": {"name": "u6", "description": "kept", "email": "x@example.com"}}"#, 201),
            Case(.patch, "/v3/users/{user}", #"{"user": {}}"#, 400, "does not have enough properties"),
            Case(.post, "/v3/users/{user}/password", #"{"user": {"password": "x"}}"#, 400, "'original_password' is a required property"),
            Case(.post, "/v3/users/{user}/password", #"{}"#, 400, "'original_password' is a required property"),
            Case(.post, "/v3/users/{user}/password", #"{"user": {"password": "x", "original_password": "demo-pw", "x": 1}}"#, 400, "Additional properties"),
            Case(.post, "/v3/users/{user}/password", #"{"user": {"password": 1, "original_password": "demo-pw"}}"#, 400, "field 'password'"),
            Case(.post, "/v3/groups", #"{"group": {"name": ""}}"#, 400, "is too short"),
            Case(.post, "/v3/groups", #"{"group": {"name": "g2", "description": 3}}"#, 400, "field 'description'"),
            Case(.patch, "/v3/groups/{group}", #"{"group": {}}"#, 400, "does not have enough properties"),
            Case(.post, "/v3/roles", #"{"role": {"name": "\#(Self.long(256))"}}"#, 400, "is too long"),
            Case(.post, "/v3/roles", #"{"role": {"name": "r2", "domain_id": 5}}"#, 400, "field 'domain_id'"),
            Case(.post, "/v3/roles", #"{"role": {"name": "r3", "options": {"immutable": 1}}}"#, 400, "field 'options/immutable'"),
            Case(.patch, "/v3/roles/{role}", #"{"role": {}}"#, 400, "does not have enough properties"),
        ] }
    }

    @Test func catalog() async throws {
        try await Self.run { _ in [
            // The brief's example: any type, huge strings and NUL were taken as a service name.
            Case(.post, "/v3/services", #"{"service": {"type": "x", "name": 5}}"#, 400, "Invalid input for field 'name': 5 is not of type 'string'"),
            Case(.post, "/v3/services", #"{"service": {"type": "x", "name": "\#(Self.long(70_000))"}}"#, 400, "is too long"),
            Case(.post, "/v3/services", #"{"service": {"type": "x", "name": "a\u0000b"}}"#, 400, "field 'name'"),
            Case(.post, "/v3/services", #"{"service": {"type": ""}}"#, 400, "is too short"),
            Case(.post, "/v3/services", #"{"service": {"name": "n"}}"#, 400, "'type' is a required property"),
            Case(.post, "/v3/services", #"{"service": {"type": "x", "enabled": "no"}}"#, 400, "field 'enabled'"),
            Case(.post, "/v3/services", #"{"service": {"type": "x", "name": "ok", "description": "kept"}}"#, 201),
            Case(.patch, "/v3/services/{service}", #"{"service": {}}"#, 400, "does not have enough properties"),
            Case(.post, "/v3/regions", #"{"region": {"description": "\#(Self.long(256))"}}"#, 400, "field 'description'"),
            Case(.post, "/v3/regions", #"{"region": {"id": "\#(Self.long(256))"}}"#, 400, "field 'id'"),
            Case(.post, "/v3/regions", #"{"region": {"parent_region_id": ""}}"#, 400, "field 'parent_region_id'"),
            Case(.patch, "/v3/regions/{region}", #"{"region": {}}"#, 400, "does not have enough properties"),
            Case(.patch, "/v3/regions/{region}", #"{"region": {"id": "other"}}"#, 400, "Cannot change ID"),
            Case(.post, "/v3/endpoints", #"{"endpoint": {"service_id": "{service}", "interface": "bogus", "url": "http://x"}}"#, 400,
                 "Invalid input for field 'interface': 'bogus' is not one of ['admin', 'internal', 'public']"),
            Case(.post, "/v3/endpoints", #"{"endpoint": {"service_id": "{service}", "interface": "public", "url": "not a url"}}"#, 400, "field 'url'"),
            Case(.post, "/v3/endpoints", #"{"endpoint": {"service_id": "{service}", "interface": "public", "url": "http://\#(Self.long(220))"}}"#, 400, "is too long"),
            Case(.post, "/v3/endpoints", #"{"endpoint": {"service_id": "{service}", "interface": "public", "url": "http://x/%(foo)s"}}"#, 400, "invalid URL"),
            Case(.post, "/v3/endpoints", #"{"endpoint": {"service_id": "{service}", "interface": "public", "url": "http://x/$(project_id)s"}}"#, 201),
            Case(.post, "/v3/endpoints", #"{"endpoint": {"interface": "public", "url": "http://x"}}"#, 400, "'service_id' is a required property"),
            Case(.post, "/v3/endpoints", #"{"endpoint": {"service_id": "{service}", "interface": "public", "url": "http://x"}, "y": 2}"#, 400, "Additional properties"),
            Case(.patch, "/v3/endpoints/{endpoint}", #"{"endpoint": {}}"#, 400, "does not have enough properties"),
            Case(.post, "/v3/OS-EP-FILTER/endpoint_groups", #"{"endpoint_group": {"name": "g", "filters": {"interface": "x"}}}"#, 400, "field 'filters/interface'"),
            Case(.post, "/v3/OS-EP-FILTER/endpoint_groups", #"{"endpoint_group": {"name": "g", "filters": {"interface": "public"}, "x": 1}}"#, 400, "Additional properties"),
            Case(.post, "/v3/OS-EP-FILTER/endpoint_groups", #"{"endpoint_group": {"name": "g", "filters": {}}}"#, 400, "cannot be empty"),
            Case(.post, "/v3/OS-EP-FILTER/endpoint_groups", #"{"endpoint_group": {"name": "g", "filters": {"foo": "bar"}}}"#, 400, "Expecting to find"),
            Case(.post, "/v3/OS-EP-FILTER/endpoint_groups", #"{"endpoint_group": {"filters": {"interface": "public"}}}"#, 400, "'name' is a required property"),
        ] }
    }

    @Test func credentialsPoliciesTrustsAndApplicationCredentials() async throws {
        try await Self.run { ids in [
            Case(.post, "/v3/credentials", #"{"credential": {"user_id": "{user}", "type": "ec2", "blob": "{\"access\": \"a\"}"}}"#, 400, "'project_id' is a required property"),
            Case(.post, "/v3/credentials", #"{"credential": {"user_id": "{user}", "type": "cert", "blob": 5}}"#, 400, "field 'blob'"),
            Case(.post, "/v3/credentials", #"{"credential": {"type": "cert", "blob": "b"}}"#, 400, "'user_id' is a required property"),
            Case(.post, "/v3/policies", #"{}"#, 400, "'blob' is a required property"),
            Case(.post, "/v3/policies", #"{"policy": {"blob": "{}", "type": "\#(Self.long(256))"}}"#, 400, "field 'type'"),
            Case(.post, "/v3/OS-TRUST/trusts", #"{"trust": {"trustor_user_id": "x", "trustee_user_id": "{user}"}}"#, 400, "'impersonation' is a required property"),
            Case(.post, "/v3/OS-TRUST/trusts", #"{"trust": {"trustor_user_id": "x", "trustee_user_id": "{user}", "impersonation": false, "remaining_uses": 0}}"#, 400,
                 "Invalid input for field 'remaining_uses': 0 is less than the minimum of 1"),
            Case(.post, "/v3/OS-TRUST/trusts", #"{"trust": {"trustor_user_id": "x", "trustee_user_id": "{user}", "impersonation": false, "roles": [{"id": "a", "name": "b"}]}}"#, 400,
                 "has too many properties"),
            Case(.post, "/v3/OS-TRUST/trusts", #"{"trust": {"trustor_user_id": "x", "trustee_user_id": "{user}", "impersonation": "no"}}"#, 400, "field 'impersonation'"),
            Case(.post, "/v3/users/\(ids["user"]!)/application_credentials", #"{"application_credential": {"name": ""}}"#, 400, "is too short"),
            Case(.post, "/v3/users/\(ids["user"]!)/application_credentials", #"{"application_credential": {"name": "n", "colour": "red"}}"#, 400, "Additional properties"),
            Case(.post, "/v3/users/\(ids["user"]!)/application_credentials",
                 #"{"application_credential": {"name": "n", "access_rules": [{"service": "compute", "path": "/x", "method": "FETCH"}]}}"#, 400, "field 'access_rules/0/method'"),
            Case(.post, "/v3/users/\(ids["user"]!)/application_credentials",
                 #"{"application_credential": {"name": "n", "access_rules": [{"service": "compute", "path": "x", "method": "GET"}]}}"#, 400, "field 'access_rules/0/path'"),
        ] }
    }

    @Test func limits() async throws {
        try await Self.run { ids in
            let svc = ids["service"]!, project = ids["project"]!
            return [
                Case(.post, "/v3/registered_limits", #"{"registered_limits": []}"#, 400, "Invalid input for field 'registered_limits': [] is too short"),
                Case(.post, "/v3/registered_limits", #"{"registered_limits": [{"service_id": "\#(svc)", "resource_name": "r", "default_limit": "5"}]}"#, 400,
                     "field 'registered_limits/0/default_limit'"),
                Case(.post, "/v3/registered_limits", #"{"registered_limits": [{"service_id": "not-a-uuid", "resource_name": "r", "default_limit": 5}]}"#, 400, "is not a 'uuid'"),
                Case(.post, "/v3/registered_limits", #"{"registered_limits": [{"service_id": "\#(svc)", "resource_name": "r", "default_limit": 2147483648}]}"#, 400,
                     "is greater than the maximum of 2147483647"),
                Case(.post, "/v3/registered_limits", #"{"registered_limits": [{"service_id": "\#(svc)", "resource_name": "r", "default_limit": 5, "x": 1}]}"#, 400, "Additional properties"),
                Case(.post, "/v3/registered_limits", #"{"registered_limits": [{"service_id": "\#(svc)", "resource_name": "r", "default_limit": 3e9}]}"#, 400, "is greater than the maximum"),
                Case(.post, "/v3/registered_limits", #"{"registered_limits": [{"service_id": "\#(svc)", "resource_name": "r", "default_limit": 1.5}]}"#, 400, "is not of type 'integer'"),
                Case(.post, "/v3/registered_limits", #"{"registered_limits": [{"service_id": "\#(svc)", "resource_name": "r", "default_limit": 5}]}"#, 201),
                Case(.post, "/v3/limits", #"{"limits": [{"service_id": "\#(svc)", "resource_name": "r", "resource_limit": 1, "project_id": "\#(project)", "domain_id": "default"}]}"#, 400,
                     "is valid under each of"),
                Case(.post, "/v3/limits", #"{"limits": [{"service_id": "\#(svc)", "resource_name": "r", "resource_limit": 1}]}"#, 400, "is not valid under any of the given schemas"),
                Case(.post, "/v3/limits", #"{"limits": [{"service_id": "\#(svc)", "resource_name": "r", "resource_limit": -2, "project_id": "\#(project)"}]}"#, 400,
                     "is less than the minimum of -1"),
                Case(.post, "/v3/limits", #"{"limits": [{"service_id": "\#(svc)", "resource_name": "r", "resource_limit": 1, "project_id": "\#(project)"}]}"#, 201),
            ]
        }
    }

    /// Two extra attribute names that only Unicode normalization tells apart would be merged
    /// into one by a `[String: …]` object; Nimbus refuses them instead of losing one.
    /// Two attribute names that differ only by normalization are two attributes, as in Keystone.
    @Test func attributeNamesEqualOnlyByNormalizationAreTwoAttributes() async throws {
        try await Self.run { _ in [
            Case(.post, "/v3/projects", #"{"project": {"name": "pk", "caf\u00e9": 1, "cafe\u0301": 2}}"#, 201),
        ] }
    }

    @Test func pythonReprOfValues() {
        #expect(JSONValue.string("it's").pythonRepr == "\"it's\"")
        #expect(JSONValue.string("a\nb").pythonRepr == "'a\\nb'")
        #expect(JSONValue.string("nul\u{0}").pythonRepr == "'nul\\x00'")
        #expect(JSONValue.string("caf\u{E9}\u{A0}").pythonRepr == "'caf\u{E9}\\xa0'")
        #expect(JSONValue.array([1, true, nil, "x"]).pythonRepr == "[1, True, None, 'x']")
        #expect(JSONValue.object(["b": 1, "a": [:]]).pythonRepr == "{'a': {}, 'b': 1}")
    }
}
