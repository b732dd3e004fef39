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

extension Sequence {
    /// Sorted by a text key's UTF-8 bytes (code point order, as Python and SQL `BINARY` sort).
    func sortedByBytes(_ key: (Element) -> String) -> [Element] {
        sorted { key($0).bytesPrecede(key($1)) }
    }
}

extension IdentityService {
    /// Extra attributes updated as Keystone updates them: given keys replace stored ones, the
    /// others stay (with `nullRemoves`, a null removes the key). Keys are bytes (`JSONObject`): a
    /// key equal to a stored one only by Unicode normalization is another attribute, as in Keystone.
    static func mergingExtras(_ stored: JSONObject, _ new: JSONObject, nullRemoves: Bool = false) throws -> JSONObject {
        var out = stored
        for (key, value) in new {
            // Not `out[key] = … ? nil : value`: JSONValue is ExpressibleByNilLiteral, so that `nil` would be `.null`.
            if nullRemoves && value == .null { out.removeValue(forKey: key) } else { out[key] = value }
        }
        return out
    }
}

extension IdentityService {
    /// Resource options as Keystone keeps them: a null value resets (removes) the option, so it is
    /// not shown; option names are fixed ASCII (the schema admits no others).
    static func mergingOptions(_ stored: JSONObject, _ new: JSONObject?) -> JSONObject {
        var out = stored
        for (key, value) in new ?? [:] {
            if value == .null { out.removeValue(forKey: key) } else { out[key] = value }
        }
        return out
    }
}
