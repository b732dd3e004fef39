import NimbusCore

/// Byte comparisons for the identity module's user text (names, ids a client chose, tags, types,
/// resource names, filter values): Keystone and its database compare bytes, where Swift's `==`
/// on `String` compares canonical equivalence (`"caf\u{E9}" == "cafe\u{301}"`).
extension Optional where Wrapped == String {
    /// Byte equality; nil equals only nil.
    func sameBytes(as other: String?) -> Bool {
        switch (self, other) {
        case (nil, nil): true
        case let (a?, b?): a.sameBytes(as: b)
        default: false
        }
    }
}

/// A query filter: absent matches everything, present matches the same bytes only.
func matchesFilter(_ filter: String?, _ value: String?) -> Bool {
    guard let filter else { return true }
    return value.sameBytes(as: filter)
}

extension String {
    /// Every occurrence of `target` replaced, matching bytes (Foundation's `replacingOccurrences`
    /// matches canonically equivalent text and so also rewrites `%(project_id)s` followed by a
    /// combining mark, and text that merely normalizes to the target).
    func replacingBytes(of target: String, with replacement: String) -> String {
        let t = Array(target.utf8)
        guard !t.isEmpty, containsBytes(target) else { return self }
        let s = Array(utf8)
        var out = [UInt8]()
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == t[0], i + t.count <= s.count, s[i..<(i + t.count)].elementsEqual(t) {
                out.append(contentsOf: replacement.utf8)
                i += t.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    /// Python's `str.strip()`: leading and trailing characters `str.isspace()` holds for removed.
    var pythonStripped: String {
        let s = unicodeScalars
        guard let first = s.firstIndex(where: { !Pattern.pythonSpace($0) }), let last = s.lastIndex(where: { !Pattern.pythonSpace($0) }) else { return "" }
        return String(s[first...last])
    }
}

extension Sequence {
    /// Sorted by a text key's UTF-8 bytes (code point order, as Python and SQL `BINARY` sort).
    func sortedByBytes(_ key: (Element) -> String) -> [Element] {
        sorted { key($0).bytesPrecede(key($1)) }
    }
}

extension IdentityService {
    /// Extra attributes updated as Keystone updates them: given keys replace stored ones, the
    /// others stay (with `nullRemoves`, a null removes the key). A `[String: …]` would let a key
    /// equal to a stored one only by Unicode normalization take the stored key's place, where
    /// Keystone keeps both; Nimbus cannot keep both, so it refuses.
    static func mergingExtras(_ stored: [String: JSONValue], _ new: [String: JSONValue], nullRemoves: Bool = false) throws -> [String: JSONValue] {
        var out = stored
        for (key, value) in new {
            if let i = out.index(forKey: key), !out[i].key.sameBytes(as: key) {
                throw NimbusError.badRequest("Invalid input: the attribute name \(JSONValue.string(key).pythonRepr) differs from the stored \(JSONValue.string(out[i].key).pythonRepr) only in its Unicode normalization; Nimbus cannot keep both.")
            }
            // Not `out[key] = … ? nil : value`: JSONValue is ExpressibleByNilLiteral, so that `nil` would be `.null`.
            if nullRemoves && value == .null { out.removeValue(forKey: key) } else { out[key] = value }
        }
        return out
    }
}

extension IdentityService {
    /// Resource options as Keystone keeps them: a null value resets (removes) the option, so it is
    /// not shown; option names are fixed ASCII (the schema admits no others).
    static func mergingOptions(_ stored: [String: JSONValue], _ new: [String: JSONValue]?) -> [String: JSONValue] {
        var out = stored
        for (key, value) in new ?? [:] {
            if value == .null { out.removeValue(forKey: key) } else { out[key] = value }
        }
        return out
    }
}
