/// Compiles one rule string into a `PolicyCheck`.
///
/// oslo.policy uses a greedy shift-reduce parser; for every rule it accepts,
/// that parser yields a tree equivalent to this recursive descent with the
/// precedence `not` > `and` > `or`. Where oslo logs a parse failure and fails
/// closed, this parser throws, so mistakes surface at startup.
struct RuleParser {
    /// Name of the rule being parsed, for error messages.
    let ruleName: String
    /// Every defined rule name and its index in the enforcer's table.
    let ruleIndex: [String: Int]

    /// Parens deeper than this are certainly a mistake; the bound keeps
    /// parsing and evaluation recursion far from the stack limit.
    static let maximumNesting = 64

    func parse(_ rule: String) throws(PolicyError) -> PolicyCheck {
        if rule.isEmpty {
            return .allow
        }
        let tokens: [RuleToken]
        do {
            tokens = try tokenizeRule(rule)
        } catch {
            throw syntax(error.message)
        }
        guard !tokens.isEmpty else {
            throw syntax("rule contains only whitespace (use \"\" or \"@\" to allow everyone)")
        }
        var cursor = TokenCursor(tokens: tokens)
        let check = try parseOr(&cursor, depth: 0)
        if let extra = cursor.peek {
            throw syntax("unexpected \(describe(extra)) in '\(rule)'")
        }
        return check
    }

    private func parseOr(_ cursor: inout TokenCursor, depth: Int) throws(PolicyError) -> PolicyCheck {
        var checks = [try parseAnd(&cursor, depth: depth)]
        while cursor.peek == .or {
            cursor.advance()
            checks.append(try parseAnd(&cursor, depth: depth))
        }
        return checks.count == 1 ? checks[0] : .any(checks)
    }

    private func parseAnd(_ cursor: inout TokenCursor, depth: Int) throws(PolicyError) -> PolicyCheck {
        var checks = [try parseUnary(&cursor, depth: depth)]
        while cursor.peek == .and {
            cursor.advance()
            checks.append(try parseUnary(&cursor, depth: depth))
        }
        return checks.count == 1 ? checks[0] : .all(checks)
    }

    private func parseUnary(_ cursor: inout TokenCursor, depth: Int) throws(PolicyError) -> PolicyCheck {
        guard let token = cursor.peek else {
            throw syntax("rule ends where a check was expected")
        }
        cursor.advance()
        switch token {
        case .not:
            guard depth < Self.maximumNesting else { throw syntax("nesting is too deep") }
            return .not(try parseUnary(&cursor, depth: depth + 1))
        case .openParen:
            guard depth < Self.maximumNesting else { throw syntax("nesting is too deep") }
            let inner = try parseOr(&cursor, depth: depth + 1)
            guard cursor.peek == .closeParen else {
                throw syntax("missing ')'")
            }
            cursor.advance()
            return inner
        case let .check(text):
            return try parseCheck(text)
        case .closeParen, .and, .or:
            throw syntax("unexpected \(describe(token)) where a check was expected")
        }
    }

    /// One `KIND:MATCH` check, following `_parse_check` and `GenericCheck`.
    private func parseCheck(_ text: Substring) throws(PolicyError) -> PolicyCheck {
        if text == "@" { return .allow }
        if text == "!" { return .deny }
        guard let colon = text.firstIndex(of: ":") else {
            throw syntax("'\(text)' is not a check (expected KIND:VALUE, '@' or '!')")
        }
        let kind = text[..<colon]
        let match = text[text.index(after: colon)...]
        switch kind {
        case "rule":
            guard let index = ruleIndex[String(match)] else {
                throw .unknownRule(String(match))
            }
            return .rule(index)
        case "role":
            let template = try rightHandSide(match)
            if case let .constant(name) = template.form {
                return .roleConstant(name.lowercased())
            }
            return .roleTemplate(template)
        case "http", "https":
            throw syntax("'\(kind):' checks (remote policy servers) are not supported")
        case "field":
            // Neutron's FieldCheck: `field:<collection>:<attribute>=<value>`; the collection ends
            // at the first colon, the value after the first `=` (`field:networks:router:external=True`).
            // A value starting with `~` is a regular expression; only `~^literal` (a prefix) is supported.
            guard let colon2 = match.firstIndex(of: ":"), let eq = match[colon2...].firstIndex(of: "=") else {
                throw syntax("'\(text)' is not a field check (expected field:RESOURCE:FIELD=VALUE)")
            }
            let field = String(match[match.index(after: colon2)..<eq])
            let value = String(match[match.index(after: eq)...])
            if value.hasPrefix("~") {
                let pattern = value.dropFirst()
                guard pattern.hasPrefix("^"), !pattern.dropFirst().contains(where: { "\\.[]()*+?{}|$^".contains($0) }) else {
                    throw syntax("only prefix patterns (~^text) are supported in field checks: '\(text)'")
                }
                return .fieldPrefix(field, String(pattern.dropFirst()))
            }
            return .field(field, value)
        default:
            if let literal = pythonLiteral(kind) {
                return .literal(literal, try rightHandSide(match))
            }
            if let attribute = CredentialAttribute(name: kind) {
                return .credential(attribute, try rightHandSide(match))
            }
            throw syntax(
                "unknown check kind or credential attribute '\(kind)' in '\(text)'; supported: rule, role, "
                    + CredentialAttribute.supportedNames.joined(separator: ", ")
                    + ", or a quoted/True/False/None/integer literal")
        }
    }

    /// A constant right-hand side may be quoted; the quotes are not part of the value.
    private func rightHandSide(_ match: Substring) throws(PolicyError) -> SubstitutionTemplate {
        let template: SubstitutionTemplate
        do {
            template = try SubstitutionTemplate(parsing: match)
        } catch {
            throw syntax(error.message)
        }
        if case let .constant(value) = template.form, let unquoted = unquote(Substring(value)) {
            return SubstitutionTemplate(constant: unquoted)
        }
        return template
    }

    /// The string form of the Python literals `ast.literal_eval` accepts in
    /// practice on the left of a check: quoted strings, booleans, None, integers.
    private func pythonLiteral(_ kind: Substring) -> String? {
        if let unquoted = unquote(kind) {
            return unquoted
        }
        switch kind {
        case "True", "False", "None":
            return String(kind)
        default:
            let digits = kind.first == "-" || kind.first == "+" ? kind.dropFirst() : kind
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
                digits == "0" || digits.first != "0", let value = Int(kind)
            else { return nil }
            return String(value)
        }
    }

    private func unquote(_ text: Substring) -> String? {
        guard text.count >= 2, let quote = text.first, quote == "'" || quote == "\"", text.last == quote else {
            return nil
        }
        let inner = text.dropFirst().dropLast()
        guard !inner.contains(quote), !inner.contains("\\") else { return nil }
        return String(inner)
    }

    private func syntax(_ message: String) -> PolicyError {
        .parse(rule: ruleName, message: message)
    }

    private func describe(_ token: RuleToken) -> String {
        switch token {
        case .openParen: "'('"
        case .closeParen: "')'"
        case .and: "'and'"
        case .or: "'or'"
        case .not: "'not'"
        case let .check(text): "'\(text)'"
        }
    }
}

private struct TokenCursor {
    let tokens: [RuleToken]
    var position = 0

    var peek: RuleToken? {
        position < tokens.count ? tokens[position] : nil
    }

    mutating func advance() {
        position += 1
    }
}
