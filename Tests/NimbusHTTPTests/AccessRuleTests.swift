import NimbusCore
import Testing

@Suite struct AccessRuleTests {
    typealias Rule = AuthContext.AccessRule

    @Test(arguments: [
        ("/v3/users/*/projects", "GET", "/v3/users/abc/projects", "GET", true),
        ("/v3/users/*/projects", "GET", "/v3/users/abc/projects", "POST", false),
        ("/v3/users/*/projects", "GET", "/v3/users/abc/groups", "GET", false),
        ("/v3/users/*", "GET", "/v3/users/abc/projects", "GET", false),
        ("/v3/users/**", "GET", "/v3/users/abc/projects", "GET", true),
        ("/v3/users/**", "GET", "/v3/users", "GET", true),
        ("/v3/**/projects", "GET", "/v3/users/a/projects", "GET", true),
        ("/v3/projects", "get", "/v3/projects", "GET", true),
    ])
    func matchesPathTemplates(_ pattern: String, _ method: String, _ path: String, _ requestMethod: String, _ expected: Bool) {
        let rule = Rule(service: "identity", path: pattern, method: method)
        #expect(rule.permits(service: "identity", path: path.split(separator: "/"), method: requestMethod) == expected)
    }

    @Test func serviceMustMatch() {
        let rule = Rule(service: "compute", path: "/v3/projects", method: "GET")
        #expect(!rule.permits(service: "identity", path: ["v3", "projects"], method: "GET"))
    }
}
