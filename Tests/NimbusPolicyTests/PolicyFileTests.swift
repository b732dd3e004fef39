import Foundation
import NimbusPolicy
import Testing

@Suite("Policy files")
struct PolicyFileTests {
    /// Writes `contents` to a fresh temporary file and passes its path to `body`.
    private func withFile<T>(_ contents: String, suffix: String, _ body: (String) throws -> T) throws -> T {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("nimbus-policy-\(UUID().uuidString)\(suffix)")
        try contents.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(url.path)
    }

    @Test("YAML policy file")
    func yaml() throws {
        let yaml = """
            # Generated samples comment everything out; real overrides follow.
            #"identity:get_user": "rule:admin_required"
            "identity:get_user": "role:reader and system_scope:all"
            identity:list_users: role:admin or (role:reader and domain_id:%(target.domain_id)s)
            "identity:get_auth_catalog": ""
            'always': '@'
            """
        let rules = try withFile(yaml, suffix: ".yaml") { try PolicyEnforcer.loadOverrides(path: $0) }
        #expect(rules == [
            "identity:get_user": "role:reader and system_scope:all",
            "identity:list_users": "role:admin or (role:reader and domain_id:%(target.domain_id)s)",
            "identity:get_auth_catalog": "",
            "always": "@",
        ])
        let enforcer = try PolicyEnforcer(defaults: ["identity:get_user": "rule:nothing", "nothing": "!"], overrides: rules)
        let reader = PolicyCredentials(domainID: "d1", roles: ["reader"])
        #expect(enforcer.enforce("identity:list_users", credentials: reader, target: ["target.domain_id": "d1"]))
        #expect(!enforcer.enforce("identity:get_user", credentials: reader, target: [:]))
    }

    @Test("JSON policy file, including the legacy list form")
    func json() throws {
        let json = #"""
            {
                "admin_required": "role:admin or is_admin:1",
                "identity:get_user": "rule:admin_required or user_id:%(target.user.id)s",
                "legacy_any": [["role:a", "role:b"], ["role:c"], "role:d"],
                "legacy_allow": [],
                "legacy_deny": [[], ""]
            }
            """#
        let rules = try withFile(json, suffix: ".json") { try PolicyEnforcer.loadOverrides(path: $0) }
        #expect(rules["identity:get_user"] == "rule:admin_required or user_id:%(target.user.id)s")
        #expect(rules["legacy_any"] == "(role:a and role:b) or role:c or role:d")
        #expect(rules["legacy_allow"] == "")
        #expect(rules["legacy_deny"] == "!")
        let enforcer = try PolicyEnforcer(defaults: [:], overrides: rules)
        #expect(enforcer.enforce("legacy_any", credentials: roles("a", "b"), target: [:]))
        #expect(!enforcer.enforce("legacy_any", credentials: roles("a"), target: [:]))
        #expect(enforcer.enforce("legacy_allow", credentials: roles(), target: [:]))
        #expect(!enforcer.enforce("legacy_deny", credentials: roles("a"), target: [:]))
        #expect(enforcer.enforce("identity:get_user", credentials: PolicyCredentials(userID: "u"), target: ["target.user.id": "u"]))
    }

    @Test("YAML list form is translated too")
    func yamlList() throws {
        let yaml = """
            legacy:
              - [role:a, role:b]
              - role:c
            """
        let rules = try withFile(yaml, suffix: ".yaml") { try PolicyEnforcer.loadOverrides(path: $0) }
        #expect(rules == ["legacy": "(role:a and role:b) or role:c"])
    }

    @Test("empty and comment-only files hold no overrides")
    func empty() throws {
        #expect(try withFile("", suffix: ".yaml") { try PolicyEnforcer.loadOverrides(path: $0) }.isEmpty)
        #expect(try withFile("# nothing\n#\"a\": \"@\"\n", suffix: ".yaml") { try PolicyEnforcer.loadOverrides(path: $0) }.isEmpty)
        #expect(try withFile("{}", suffix: ".json") { try PolicyEnforcer.loadOverrides(path: $0) }.isEmpty)
    }

    @Test("unreadable or malformed files are reported with their path", arguments: [
        "\"a\": \"@\"\n  bad: [indent",
        "- just\n- a list\n",
        "\"a\":\n",
        "{\"a\": null}",
        "a: {nested: mapping}",
        "a: [[role:x, [nested]]]",
        "a: ['role:x and role:y']",
    ])
    func malformed(contents: String) throws {
        try withFile(contents, suffix: ".yaml") { path in
            do {
                let rules = try PolicyEnforcer.loadOverrides(path: path)
                Issue.record("expected an error, got \(rules)")
            } catch let PolicyError.file(reported, message) {
                #expect(reported == path)
                #expect(!message.isEmpty)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }

    @Test("a missing file is an error")
    func missing() {
        #expect(throws: PolicyError.self) { try PolicyEnforcer.loadOverrides(path: "/nonexistent/nimbus/policy.yaml") }
    }
}
