/// A compiled check tree. Rule references are resolved to indices into the
/// enforcer's rule table at compile time, so evaluation never hashes a rule
/// name and the table can be proven acyclic before the first request.
indirect enum PolicyCheck: Sendable, Equatable {
    case allow
    case deny
    case not(PolicyCheck)
    case all([PolicyCheck])
    case any([PolicyCheck])
    case rule(Int)
    /// The constant is stored lowercased so evaluation need not lowercase it.
    case roleConstant(String)
    /// `role:%(target.role.name)s`; oslo substitutes role checks too.
    case roleTemplate(SubstitutionTemplate)
    case credential(CredentialAttribute, SubstitutionTemplate)
    /// `'member':%(target.role.name)s`: a Python literal compared with the target.
    case literal(String, SubstitutionTemplate)
    /// Neutron's `field:RESOURCE:FIELD=VALUE`: the target's FIELD equals VALUE (booleans as
    /// Python prints them, `True`/`False`), or starts with a prefix (`=~^network:`).
    case field(String, String)
    case fieldPrefix(String, String)

    func evaluate(rules: [PolicyCheck], credentials: PolicyCredentials, target: [String: String]) -> Bool {
        switch self {
        case .allow:
            return true
        case .deny:
            return false
        case let .not(inner):
            return !inner.evaluate(rules: rules, credentials: credentials, target: target)
        case let .all(checks):
            for check in checks where !check.evaluate(rules: rules, credentials: credentials, target: target) {
                return false
            }
            return true
        case let .any(checks):
            for check in checks where check.evaluate(rules: rules, credentials: credentials, target: target) {
                return true
            }
            return false
        case let .rule(index):
            return rules[index].evaluate(rules: rules, credentials: credentials, target: target)
        case let .roleConstant(lowered):
            return credentials.hasRole(lowercased: lowered)
        case let .roleTemplate(template):
            guard let name = template.resolve(in: target) else { return false }
            return credentials.roles.contains { equalsIgnoringCase($0, name) }
        case let .credential(attribute, template):
            switch attribute.value(in: credentials) {
            case .absent:
                return false
            case let .string(value):
                return template.matches(value, in: target)
            case let .list(values):
                return values.contains { template.matches($0, in: target) }
            }
        case let .literal(value, template):
            return template.matches(value, in: target)
        case let .field(key, value):
            guard let actual = target[key] else { return false }
            return actual.utf8.elementsEqual(value.utf8)
        case let .fieldPrefix(key, prefix):
            guard let actual = target[key] else { return false }
            return actual.utf8.starts(with: prefix.utf8)
        }
    }

    /// Indices of rules this check refers to directly, for cycle detection.
    func collectReferences(into references: inout [Int]) {
        switch self {
        case .allow, .deny, .roleConstant, .roleTemplate, .credential, .literal, .field, .fieldPrefix:
            break
        case let .not(inner):
            inner.collectReferences(into: &references)
        case let .all(checks), let .any(checks):
            for check in checks {
                check.collectReferences(into: &references)
            }
        case let .rule(index):
            references.append(index)
        }
    }
}
