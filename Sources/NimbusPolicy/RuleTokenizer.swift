/// Tokens of the oslo.policy text language.
enum RuleToken: Equatable {
    case openParen
    case closeParen
    case and
    case or
    case not
    case check(Substring)
}

/// Splits a rule the way oslo.policy's `_parse_tokenize` does: on whitespace,
/// peeling parentheses only off the ends of each word so that substitutions
/// such as `%(target.id)s` keep their inner parentheses.
func tokenizeRule(_ rule: String) throws(RuleSyntaxError) -> [RuleToken] {
    var tokens: [RuleToken] = []
    for word in rule.split(whereSeparator: \.isWhitespace) {
        var body = word.drop { $0 == "(" }
        tokens.append(contentsOf: repeatElement(.openParen, count: word.count - body.count))
        if body.isEmpty {
            continue
        }
        // oslo recognises a quoted string before trailing parens are removed.
        if body.count >= 2, let first = body.first, first == "'" || first == "\"", body.last == first {
            throw RuleSyntaxError("a quoted string (\(body)) cannot stand alone as a check")
        }
        let beforeTrailing = body.count
        while body.last == ")" {
            body = body.dropLast()
        }
        let trailing = beforeTrailing - body.count
        if !body.isEmpty {
            tokens.append(keyword(body) ?? .check(body))
        }
        tokens.append(contentsOf: repeatElement(.closeParen, count: trailing))
    }
    return tokens
}

private func keyword(_ word: Substring) -> RuleToken? {
    guard word.count <= 3 else { return nil }
    switch word.lowercased() {
    case "and": return .and
    case "or": return .or
    case "not": return .not
    default: return nil
    }
}
