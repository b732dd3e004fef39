import NimbusPolicy
import Testing

@Suite("Enforcer")
struct PolicyEnforcerTests {
    let defaults = [
        "admin_required": "role:admin",
        "owner": "user_id:%(user_id)s",
        "admin_or_owner": "rule:admin_required or rule:owner",
        "thing:get": "rule:admin_or_owner",
        "thing:list": "",
        "thing:delete": "rule:admin_required",
    ]

    @Test("rules refer to other rules")
    func ruleReferences() throws {
        let enforcer = try PolicyEnforcer(defaults: defaults)
        let owner = PolicyCredentials(userID: "u1", roles: ["member"])
        #expect(enforcer.enforce("thing:get", credentials: owner, target: ["user_id": "u1"]))
        #expect(!enforcer.enforce("thing:get", credentials: owner, target: ["user_id": "u2"]))
        #expect(enforcer.enforce("thing:get", credentials: roles("admin"), target: ["user_id": "u2"]))
        #expect(!enforcer.enforce("thing:delete", credentials: owner, target: ["user_id": "u1"]))
        #expect(enforcer.enforce("thing:list", credentials: PolicyCredentials(), target: [:]))
    }

    @Test("an unknown action falls back to default, or is denied without one")
    func defaultRule() throws {
        let without = try PolicyEnforcer(defaults: defaults)
        #expect(!without.enforce("thing:unknown", credentials: roles("admin"), target: [:]))
        let with = try PolicyEnforcer(defaults: defaults, overrides: ["default": "rule:admin_required"])
        #expect(with.enforce("thing:unknown", credentials: roles("admin"), target: [:]))
        #expect(!with.enforce("thing:unknown", credentials: roles("member"), target: [:]))
        #expect(with.hasRule("thing:get"))
        #expect(!with.hasRule("thing:unknown"))
    }

    @Test("a reference to an undefined rule is rejected at init")
    func unknownRule() {
        #expect(throws: PolicyError.unknownRule("nope")) {
            try PolicyEnforcer(defaults: ["a": "role:x or rule:nope"])
        }
        #expect(throws: PolicyError.unknownRule("admin_required")) {
            try PolicyEnforcer(defaults: ["a": "rule:admin_required"], overrides: ["b": "@"])
        }
    }

    @Test("rule cycles are rejected at init", arguments: [
        ["a": "rule:a"],
        ["a": "role:x or rule:b", "b": "rule:a"],
        ["a": "rule:b", "b": "not rule:c", "c": "(role:y and rule:a)", "d": "@"],
        ["ok": "rule:a", "a": "rule:b and rule:c", "b": "@", "c": "rule:d", "d": "rule:b or rule:c"],
    ])
    func cycles(rules: [String: String]) {
        do {
            _ = try PolicyEnforcer(defaults: rules)
            Issue.record("cycle was not detected")
        } catch let PolicyError.parse(_, message) {
            #expect(message.contains("cycle"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("shared sub-rules (a diamond) are not mistaken for a cycle")
    func diamond() throws {
        let enforcer = try PolicyEnforcer(defaults: [
            "top": "rule:left and rule:right", "left": "rule:base", "right": "rule:base or rule:left", "base": "role:r",
        ])
        #expect(enforcer.enforce("top", credentials: roles("r"), target: [:]))
        #expect(!enforcer.enforce("top", credentials: roles("s"), target: [:]))
    }

    @Test("overrides replace defaults by name and may add names")
    func overrides() throws {
        let enforcer = try PolicyEnforcer(
            defaults: defaults,
            overrides: ["thing:delete": "role:janitor", "admin_required": "role:superuser", "thing:new": "!"])
        #expect(enforcer.enforce("thing:delete", credentials: roles("janitor"), target: [:]))
        #expect(!enforcer.enforce("thing:delete", credentials: roles("admin"), target: [:]))
        // Overriding a building block changes every rule that references it.
        #expect(enforcer.enforce("thing:get", credentials: roles("superuser"), target: [:]))
        #expect(!enforcer.enforce("thing:get", credentials: roles("admin"), target: [:]))
        #expect(!enforcer.enforce("thing:new", credentials: roles("superuser"), target: [:]))
        #expect(enforcer.ruleNames == (Array(defaults.keys) + ["thing:new"]).sorted())
    }

    @Test("a broken override names the rule it came from")
    func brokenOverride() {
        #expect(throws: PolicyError.self) { try PolicyEnforcer(defaults: defaults, overrides: ["thing:get": "role:a and"]) }
        guard case let .parse(rule, _)? = parseError("@", extraRules: ["other": "role:a or"]) else {
            Issue.record("expected parse error")
            return
        }
        #expect(rule == "other")
    }

    @Test("scope types deny tokens of other scopes before the rule runs")
    func scopeTypes() throws {
        let enforcer = try PolicyEnforcer(
            defaults: ["create_domain": "role:admin", "get_thing": "role:reader", "open": "@"],
            overrides: ["create_domain": "role:admin or role:domain_creator"],
            scopeTypes: ["create_domain": ["system", "project"], "get_thing": ["system", "domain", "project"]])
        let projectAdmin = PolicyCredentials(projectID: "p", roles: ["admin"])
        let domainAdmin = PolicyCredentials(domainID: "d", roles: ["admin"])
        let systemAdmin = PolicyCredentials(systemScope: "all", roles: ["admin"])
        #expect(enforcer.enforce("create_domain", credentials: projectAdmin, target: [:]))
        #expect(enforcer.enforce("create_domain", credentials: systemAdmin, target: [:]))
        #expect(!enforcer.enforce("create_domain", credentials: domainAdmin, target: [:]))
        #expect(!enforcer.enforce("create_domain", credentials: PolicyCredentials(domainID: "d", roles: ["domain_creator"]), target: [:]))
        #expect(enforcer.enforce("get_thing", credentials: PolicyCredentials(domainID: "d", roles: ["reader"]), target: [:]))
        #expect(enforcer.enforce("open", credentials: domainAdmin, target: [:]))
    }

    @Test("scope types must name known scopes and defined rules")
    func badScopeTypes() {
        #expect(throws: PolicyError.self) { try PolicyEnforcer(defaults: ["a": "@"], scopeTypes: ["a": ["tenant"]]) }
        #expect(throws: PolicyError.self) { try PolicyEnforcer(defaults: ["a": "@"], scopeTypes: ["b": ["system"]]) }
    }

    @Test("one enforcer serves concurrent requests")
    func concurrentUse() async throws {
        let enforcer = try PolicyEnforcer(defaults: defaults)
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let creds = PolicyCredentials(userID: "u\(index)")
                    return enforcer.enforce("thing:get", credentials: creds, target: ["user_id": "u\(index)"])
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 200 && results.allSatisfy { $0 })
    }
}
