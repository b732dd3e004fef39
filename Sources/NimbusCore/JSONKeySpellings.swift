extension JSONValue {
    /// Two keys of one object in the JSON text `bytes` that `JSONValue.object` (a `[String: …]`)
    /// would merge into one because they are canonically equivalent (`"caf\u{E9}"` and
    /// `"cafe\u{301}"`), although their bytes differ and OpenStack keeps them apart. nil when there
    /// is no such pair, or when the text does not parse (`parse` reports that).
    ///
    /// Services that store client-chosen keys (Keystone's extra attributes) check a body with this
    /// before parsing it, and refuse what they cannot keep rather than lose a key.
    public static func equivalentKeys<C: Collection>(in bytes: C, maxDepth: Int = 64) -> (String, String)? where C.Element == UInt8 {
        var parser = JSONParser(bytes: Array(bytes), maxDepth: maxDepth)
        return (try? parser.findEquivalentKeys(depth: 0)) ?? nil
    }
}

extension JSONParser {
    /// Walks one value; for objects, compares each key with the earlier ones by canonical
    /// equivalence (a `String`-keyed dictionary) and by bytes.
    mutating func findEquivalentKeys(depth: Int) throws(JSONParseError) -> (String, String)? {
        skipWhitespace()
        guard depth < maxDepth else { throw fail("nesting too deep") }
        guard i < bytes.count else { throw fail("unexpected end of document") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var seen = [String: String]()
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return nil }
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                if let first = seen[key], !first.utf8.elementsEqual(key.utf8) { return (first, key) }
                if seen[key] == nil { seen[key] = key }
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                if let pair = try findEquivalentKeys(depth: depth + 1) { return pair }
                skipWhitespace()
                guard i < bytes.count else { throw fail("unterminated object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return nil }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return nil }
            while true {
                if let pair = try findEquivalentKeys(depth: depth + 1) { return pair }
                skipWhitespace()
                guard i < bytes.count else { throw fail("unterminated array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return nil }
                throw fail("expected ',' or ']'")
            }
        default:
            _ = try parseValue(depth: depth)
            return nil
        }
    }
}
