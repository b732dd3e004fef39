/// Decides API access from oslo.policy-style rules.
///
/// All parsing, rule-name resolution and cycle detection happen in `init`;
/// `enforce` only walks a prebuilt tree, because it runs on every request.
public struct PolicyEnforcer: Sendable {
    /// The rule named `default` covers actions that have no rule of their
    /// own, matching oslo.policy's `default_rule`.
    public static let defaultRuleName = "default"

    /// Sorted; a rule's position is its index in `checks`.
    public let ruleNames: [String]
    private let checks: [PolicyCheck]
    /// Parallel to `checks`; empty means the rule accepts every scope.
    private let scopes: [PolicyScopes]
    private let indexByName: [String: Int]
    private let defaultIndex: Int?

    /// - Parameters:
    ///   - defaults: action/rule name to rule string, as shipped by the service.
    ///   - overrides: operator rules (usually from `loadOverrides(path:)`); each
    ///     replaces the default of the same name, and new names are added.
    ///   - scopeTypes: for each action, the token scopes (`system`, `domain`,
    ///     `project`) it accepts, like oslo.policy's `scope_types`. They belong
    ///     to the service's defaults and stay in force when an operator
    ///     overrides the check string. Actions not listed accept any scope.
    public init(
        defaults: [String: String],
        overrides: [String: String] = [:],
        scopeTypes: [String: Set<String>] = [:]
    ) throws {
        var merged = defaults
        merged.merge(overrides) { _, override in override }
        // Sorted so that, with several broken rules, the same one is reported every time.
        let names = merged.keys.sorted()
        var indexByName: [String: Int] = [:]
        indexByName.reserveCapacity(names.count)
        for (index, name) in names.enumerated() {
            indexByName[name] = index
        }
        var checks: [PolicyCheck] = []
        checks.reserveCapacity(names.count)
        for name in names {
            let parser = RuleParser(ruleName: name, ruleIndex: indexByName)
            checks.append(try parser.parse(merged[name] ?? ""))
        }
        try Self.rejectCycles(checks: checks, names: names)
        var scopes = Array(repeating: PolicyScopes(), count: names.count)
        for (name, types) in scopeTypes {
            guard let index = indexByName[name] else {
                throw PolicyError.parse(rule: name, message: "scope types are given for an undefined rule")
            }
            scopes[index] = try PolicyScopes(names: types, rule: name)
        }
        self.ruleNames = names
        self.checks = checks
        self.scopes = scopes
        self.indexByName = indexByName
        self.defaultIndex = indexByName[Self.defaultRuleName]
    }

    /// Whether `credentials` may perform `action` on `target`.
    ///
    /// `target` holds oslo's flattened keys (`"target.user.domain_id"`,
    /// `"user_id"`, ...) and must mirror what Keystone builds: a key Keystone
    /// sets to Python `None` is passed as `"None"` (rules test for it, e.g.
    /// `None:%(target.role.domain_id)s`), and a key Keystone leaves out is left
    /// out, which makes every check substituting it false. The difference
    /// matters: unset credential attributes also read `"None"`, so a `"None"`
    /// target value matches them (Keystone's `identity:list_users` sets
    /// `target.domain_id` only for domain-scoped tokens for this reason).
    ///
    /// A token whose scope the action does not accept is denied before the
    /// rule is evaluated; the `default` fallback carries no scope types.
    public func enforce(_ action: String, credentials: PolicyCredentials, target: [String: String]) -> Bool {
        let index: Int
        if let own = indexByName[action] {
            let accepted = scopes[own]
            if !accepted.isEmpty && !accepted.contains(PolicyScopes.of(credentials)) {
                return false
            }
            index = own
        } else if let fallback = defaultIndex {
            index = fallback
        } else {
            return false
        }
        return checks[index].evaluate(rules: checks, credentials: credentials, target: target)
    }

    /// Whether a rule of this exact name exists (no `default` fallback), so
    /// callers can tell a missing registration from a denial.
    public func hasRule(_ name: String) -> Bool {
        indexByName[name] != nil
    }

    /// oslo.policy would recurse until Python's stack limit on a cycle; here a
    /// cycle is a configuration error found before any request is served.
    private static func rejectCycles(checks: [PolicyCheck], names: [String]) throws(PolicyError) {
        let references = checks.map { check in
            var found: [Int] = []
            check.collectReferences(into: &found)
            return found
        }
        enum Mark { case unvisited, inProgress, done }
        var marks = Array(repeating: Mark.unvisited, count: checks.count)
        // Iterative depth-first search: each frame is a rule and the position
        // of the next reference to follow.
        for root in checks.indices where marks[root] == .unvisited {
            var stack: [(rule: Int, next: Int)] = [(root, 0)]
            marks[root] = .inProgress
            while let top = stack.last {
                let refs = references[top.rule]
                guard top.next < refs.count else {
                    marks[top.rule] = .done
                    stack.removeLast()
                    continue
                }
                stack[stack.count - 1].next += 1
                let child = refs[top.next]
                switch marks[child] {
                case .done:
                    continue
                case .inProgress:
                    let start = stack.firstIndex { $0.rule == child } ?? 0
                    let path = stack[start...].map { names[$0.rule] } + [names[child]]
                    throw .parse(rule: names[child], message: "rule cycle: " + path.joined(separator: " -> "))
                case .unvisited:
                    marks[child] = .inProgress
                    stack.append((child, 0))
                }
            }
        }
    }
}
