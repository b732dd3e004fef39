import NimbusPolicy

/// Evaluates a single rule string, the way most engine tests want to.
func allows(
    _ rule: String,
    _ credentials: PolicyCredentials = PolicyCredentials(),
    target: [String: String] = [:],
    extraRules: [String: String] = [:]
) throws -> Bool {
    var defaults = extraRules
    defaults["under_test"] = rule
    return try PolicyEnforcer(defaults: defaults).enforce("under_test", credentials: credentials, target: target)
}

func roles(_ names: String...) -> PolicyCredentials {
    PolicyCredentials(roles: names)
}

/// The parse error a rule produces, or nil if it compiles.
func parseError(_ rule: String, extraRules: [String: String] = [:]) -> PolicyError? {
    var defaults = extraRules
    defaults["under_test"] = rule
    do {
        _ = try PolicyEnforcer(defaults: defaults)
        return nil
    } catch let error as PolicyError {
        return error
    } catch {
        return .parse(rule: "unexpected", message: "\(error)")
    }
}
