/// The token scopes an action accepts, oslo.policy's `scope_types`.
///
/// Keystone's check strings alone are not its whole policy: `identity:create_domain`
/// is `rule:admin_required`, and only its scope types (`system`, `project`)
/// keep a domain-scoped admin from creating domains. Current oslo.policy
/// always enforces them, so Nimbus does too.
struct PolicyScopes: OptionSet, Sendable {
    let rawValue: UInt8

    static let system = PolicyScopes(rawValue: 1)
    static let domain = PolicyScopes(rawValue: 2)
    static let project = PolicyScopes(rawValue: 4)

    init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    init(names: Set<String>, rule: String) throws(PolicyError) {
        var scopes: PolicyScopes = []
        for name in names {
            switch name {
            case "system": scopes.insert(.system)
            case "domain": scopes.insert(.domain)
            case "project": scopes.insert(.project)
            default:
                throw .parse(rule: rule, message: "unknown scope type '\(name)' (expected system, domain or project)")
            }
        }
        self = scopes
    }

    /// oslo.policy's classification: system if `system` is set, else domain if
    /// `domain_id` is set, else project (which includes unscoped tokens).
    static func of(_ credentials: PolicyCredentials) -> PolicyScopes {
        if let system = credentials.systemScope, !system.isEmpty {
            return .system
        }
        if let domain = credentials.domainID, !domain.isEmpty {
            return .domain
        }
        return .project
    }
}
