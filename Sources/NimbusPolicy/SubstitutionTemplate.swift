/// The right-hand side of a check, e.g. `%(target.user.domain_id)s`.
///
/// oslo.policy runs Python `%` formatting against the target on every call;
/// here the format is split into pieces once so enforcement only does
/// dictionary lookups and byte comparisons.
struct SubstitutionTemplate: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case text(String)
        case key(String)
    }

    enum Form: Sendable, Equatable {
        case constant(String)
        case lookup(String)
        case pieces([Piece])
    }

    let form: Form

    init(constant: String) {
        form = .constant(constant)
    }

    /// Accepts `%(key)s` and `%%`, the only parts of Python's `%` syntax that
    /// make sense against a string-valued target; anything else would raise at
    /// enforcement time in oslo.policy, so it is rejected up front.
    init(parsing source: Substring) throws(RuleSyntaxError) {
        var pieces: [Piece] = []
        var text = ""
        var index = source.startIndex
        while index < source.endIndex {
            let character = source[index]
            index = source.index(after: index)
            guard character == "%" else {
                text.append(character)
                continue
            }
            guard index < source.endIndex else {
                throw RuleSyntaxError("incomplete '%' format in '\(source)'")
            }
            if source[index] == "%" {
                text.append("%")
                index = source.index(after: index)
                continue
            }
            guard source[index] == "(" else {
                throw RuleSyntaxError("only %(key)s substitutions are supported in '\(source)'")
            }
            let keyStart = source.index(after: index)
            var depth = 1
            var keyEnd = keyStart
            while keyEnd < source.endIndex {
                if source[keyEnd] == "(" { depth += 1 }
                if source[keyEnd] == ")" { depth -= 1 }
                if depth == 0 { break }
                keyEnd = source.index(after: keyEnd)
            }
            guard keyEnd < source.endIndex else {
                throw RuleSyntaxError("unterminated %( in '\(source)'")
            }
            let conversion = source.index(after: keyEnd)
            guard conversion < source.endIndex, source[conversion] == "s" else {
                throw RuleSyntaxError("only the 's' conversion is supported in '\(source)'")
            }
            if !text.isEmpty {
                pieces.append(.text(text))
                text = ""
            }
            pieces.append(.key(String(source[keyStart..<keyEnd])))
            index = source.index(after: conversion)
        }
        if !text.isEmpty {
            pieces.append(.text(text))
        }
        switch pieces.count {
        case 0: form = .constant("")
        case 1:
            switch pieces[0] {
            case let .text(value): form = .constant(value)
            case let .key(key): form = .lookup(key)
            }
        default: form = .pieces(pieces)
        }
    }

    /// Exact code-point equality with the substituted value, as Python's `==`.
    /// A missing target key makes the whole check false, as oslo's KeyError does.
    func matches(_ value: String, in target: [String: String]) -> Bool {
        switch form {
        case let .constant(constant):
            return value.utf8.elementsEqual(constant.utf8)
        case let .lookup(key):
            guard let substituted = target[key] else { return false }
            return value.utf8.elementsEqual(substituted.utf8)
        case let .pieces(pieces):
            var rest = Substring(value).utf8
            for piece in pieces {
                let part: String
                switch piece {
                case let .text(text): part = text
                case let .key(key):
                    guard let substituted = target[key] else { return false }
                    part = substituted
                }
                guard rest.starts(with: part.utf8) else { return false }
                rest = rest.dropFirst(part.utf8.count)
            }
            return rest.isEmpty
        }
    }

    /// The substituted string, or nil if a target key is missing. Only
    /// multi-piece templates allocate, and those are rare in real policies.
    func resolve(in target: [String: String]) -> String? {
        switch form {
        case let .constant(constant):
            return constant
        case let .lookup(key):
            return target[key]
        case let .pieces(pieces):
            var result = ""
            for piece in pieces {
                switch piece {
                case let .text(text): result += text
                case let .key(key):
                    guard let substituted = target[key] else { return nil }
                    result += substituted
                }
            }
            return result
        }
    }
}

/// An internal syntax error; the enforcer attaches the rule name.
struct RuleSyntaxError: Error {
    let message: String
    init(_ message: String) {
        self.message = message
    }
}
