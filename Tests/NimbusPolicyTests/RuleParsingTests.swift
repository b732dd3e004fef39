import NimbusPolicy
import Testing

@Suite("Rule language")
struct RuleParsingTests {
    @Test("empty and @ allow, ! denies")
    func constants() throws {
        #expect(try allows(""))
        #expect(try allows("@"))
        #expect(try !allows("!"))
        #expect(try allows("(@)"))
        #expect(try !allows("not @"))
        #expect(try allows("not !"))
    }

    @Test("and binds tighter than or", arguments: [
        // rule, roles held, expected
        ("role:a or role:b and role:c", ["a"], true),
        ("role:a or role:b and role:c", ["b"], false),
        ("role:a or role:b and role:c", ["b", "c"], true),
        ("role:a and role:b or role:c", ["c"], true),
        ("role:a and role:b or role:c", ["a"], false),
        ("role:a and role:b or role:c and role:d", ["c", "d"], true),
        ("role:a and role:b or role:c and role:d", ["a", "d"], false),
        ("role:a or role:b and role:c and role:d", ["b", "c"], false),
        ("role:a or role:b and role:c and role:d", ["b", "c", "d"], true),
        ("(role:a or role:b) and role:c", ["a"], false),
        ("(role:a or role:b) and role:c", ["b", "c"], true),
    ])
    func andOrPrecedence(rule: String, held: [String], expected: Bool) throws {
        #expect(try allows(rule, PolicyCredentials(roles: held)) == expected)
    }

    @Test("not binds tighter than and/or", arguments: [
        ("not role:a and role:b", ["b"], true),
        ("not role:a and role:b", ["a", "b"], false),
        ("not role:a or role:b", ["a"], false),
        ("not role:a or role:b", ["a", "b"], true),
        ("not (role:a or role:b)", ["b"], false),
        ("not (role:a or role:b)", [], true),
        ("role:x and not role:a", ["x"], true),
        ("role:x and not role:a", ["x", "a"], false),
        ("not not role:a", ["a"], true),
        ("role:a or not role:b and role:c", ["c"], true),
        ("role:a or not role:b and role:c", ["b", "c"], false),
    ])
    func notPrecedence(rule: String, held: [String], expected: Bool) throws {
        #expect(try allows(rule, PolicyCredentials(roles: held)) == expected)
    }

    @Test("keywords are case-insensitive and parentheses may hug checks")
    func tokenization() throws {
        #expect(try allows("role:a AND NOT role:b", roles("a")))
        #expect(try allows("((role:a)) Or role:b", roles("a")))
        #expect(try allows("(((role:a or role:b)))", roles("b")))
        #expect(try !allows("(role:a and (role:b or (role:c)))", roles("a")))
        #expect(try allows("\trole:a\n  and role:b ", roles("a", "b")))
    }

    @Test("parentheses inside substitutions are not operators")
    func substitutionParens() throws {
        let target = ["target.project.id": "p1"]
        #expect(try allows("(project_id:%(target.project.id)s)", PolicyCredentials(projectID: "p1"), target: target))
    }

    @Test("malformed rules are rejected at init", arguments: [
        "role:a and", "or role:a", "role:a role:b", "(role:a", "role:a)", "()", "not", "   ",
        "admin", "'quoted'", "role:a and \"x\"", "http://policy.example.com", "https:x",
        "fancy_attribute:%(x)s", "user_id:%(x)d", "user_id:%(x", "user_id:50%", "user_id:%x",
    ])
    func malformed(rule: String) {
        guard case let .parse(name, message)? = parseError(rule) else {
            Issue.record("expected a parse error for \(rule)")
            return
        }
        #expect(name == "under_test")
        #expect(!message.isEmpty)
    }

    @Test("excessive nesting is rejected rather than overflowing the stack")
    func nesting() {
        let deep = String(repeating: "(", count: 500) + "@" + String(repeating: ")", count: 500)
        #expect(parseError(deep) != nil)
        let shallow = String(repeating: "(", count: 20) + "@" + String(repeating: ")", count: 20)
        #expect(parseError(shallow) == nil)
    }

    @Test("errors describe themselves")
    func descriptions() {
        #expect(PolicyError.unknownRule("x").description.contains("'x'"))
        #expect(PolicyError.parse(rule: "r", message: "m").description.contains("'r'"))
        #expect(PolicyError.file(path: "/p", message: "m").description.contains("/p"))
    }
}
