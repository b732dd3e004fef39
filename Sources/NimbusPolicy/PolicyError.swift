/// Every policy problem is reported when the enforcer is built, so a broken
/// policy file stops the service at startup instead of silently denying (or
/// allowing) requests later, which is what oslo.policy's fail-closed parse does.
public enum PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `rule` is the name of the policy whose check string is invalid
    /// (or, for a rule cycle, one rule on the cycle).
    case parse(rule: String, message: String)
    /// A `rule:NAME` check names a rule that is not defined.
    case unknownRule(String)
    case file(path: String, message: String)

    public var description: String {
        switch self {
        case let .parse(rule, message):
            "invalid policy rule '\(rule)': \(message)"
        case let .unknownRule(name):
            "policy references undefined rule '\(name)'"
        case let .file(path, message):
            "cannot load policy file '\(path)': \(message)"
        }
    }
}
