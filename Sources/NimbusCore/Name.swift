/// User-supplied text (a name, path segment, query value, ACL entry, metadata key, tag, token) as
/// OpenStack sees it: a sequence of bytes.
///
/// Swift's `String` compares and hashes by Unicode canonical equivalence: `"caf\u{E9}"` and
/// `"cafe\u{301}"` are equal, and so are `"K"` and KELVIN SIGN (U+212A). The OpenStack services, their
/// databases and ours compare bytes, so two such names are two resources there. Keyed by `String`, they
/// become one in memory: a set of checked containers, a dictionary of metadata, an ACL lookup.
/// `Name` compares, hashes and orders by UTF-8 bytes (which is code point order, as Python and SQL
/// `BINARY` order), so it can key sets and dictionaries safely.
public struct Name: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral, Codable {
    public let string: String

    public init(_ string: some StringProtocol) { self.string = String(string) }
    public init(stringLiteral value: String) { self.string = value }

    public var description: String { string }

    public init(from decoder: any Decoder) throws { string = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(string)
    }

    public static func == (a: Name, b: Name) -> Bool { a.string.sameBytes(as: b.string) }
    public static func < (a: Name, b: Name) -> Bool { a.string.bytesPrecede(b.string) }

    public func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(s.utf8.count)
    }
}

extension StringProtocol {
    /// The text as a `Substring` (free for `String` and `Substring`).
    @usableFromInline
    var substring: Substring {
        if let s = self as? Substring { return s }
        if let s = self as? String { return s[...] }
        return Substring(String(self))
    }

    /// Byte equality: what `==` means for names on the wire and in the database.
    @inlinable
    public func sameBytes(as other: some StringProtocol) -> Bool { utf8.elementsEqual(other.utf8) }

    /// UTF-8 byte order (equal to code point order): how SQL `BINARY`, Python and OpenStack sort names.
    @inlinable
    public func bytesPrecede(_ other: some StringProtocol) -> Bool { utf8.lexicographicallyPrecedes(other.utf8) }

    @inlinable
    public func hasBytePrefix(_ prefix: some StringProtocol) -> Bool { utf8.starts(with: prefix.utf8) }

    @inlinable
    public func hasByteSuffix(_ suffix: some StringProtocol) -> Bool { utf8.reversed().starts(with: suffix.utf8.reversed()) }

    /// The text after `prefix` when it begins with those bytes.
    public func droppingBytePrefix(_ prefix: some StringProtocol) -> Substring? {
        guard hasBytePrefix(prefix) else { return nil }
        let s = substring
        let i = s.utf8.index(s.startIndex, offsetBy: prefix.utf8.count)
        return Substring(s.unicodeScalars[i...])
    }

    /// Splits on an ASCII separator by bytes. `split(separator: Character)` works on grapheme
    /// clusters: a `/` followed by a combining mark is one `Character` and never matches, and a
    /// separator such as `;` also matches its canonical equivalents (U+037E). Pieces keep their exact bytes.
    public func splitBytes(_ separator: Unicode.Scalar, maxSplits: Int = .max, omittingEmpty: Bool = true) -> [Substring] {
        precondition(separator.isASCII, "splitBytes splits on ASCII separators only")
        let s = substring
        let sep = UInt8(separator.value)
        var out = [Substring]()
        var start = s.utf8.startIndex
        var i = start
        while i != s.utf8.endIndex {
            if s.utf8[i] == sep && out.count < maxSplits {
                if !(omittingEmpty && start == i) { out.append(Substring(s.unicodeScalars[start..<i])) }
                start = s.utf8.index(after: i)
            }
            i = s.utf8.index(after: i)
        }
        if !(omittingEmpty && start == s.utf8.endIndex) { out.append(Substring(s.unicodeScalars[start...])) }
        return out
    }

    /// The text before and after the first (or last) ASCII `separator`, by bytes.
    public func splitOnceBytes(_ separator: Unicode.Scalar, last: Bool = false) -> (head: Substring, tail: Substring)? {
        precondition(separator.isASCII)
        let s = substring
        let b = UInt8(separator.value)
        guard let i = last ? s.utf8.lastIndex(of: b) : s.utf8.firstIndex(of: b) else { return nil }
        return (Substring(s.unicodeScalars[..<i]), Substring(s.unicodeScalars[s.utf8.index(after: i)...]))
    }

    /// Whether the text holds an ASCII byte.
    public func containsByte(_ scalar: Unicode.Scalar) -> Bool { utf8.contains(UInt8(scalar.value)) }

    /// Whether the text holds `needle` as a byte sequence.
    public func containsBytes(_ needle: some StringProtocol) -> Bool {
        let n = Array(needle.utf8), h = Array(utf8)
        if n.isEmpty { return true }
        guard h.count >= n.count else { return false }
        for i in 0...(h.count - n.count) where h[i] == n[0] && h[i..<(i + n.count)].elementsEqual(n) { return true }
        return false
    }

    /// Every occurrence of `target` replaced, matched by code points. Foundation's
    /// `replacingOccurrences(of:with:)` matches composed character sequences: it leaves a `<`
    /// followed by a combining mark unreplaced, which would let markup through an escaper.
    public func replacingBytes(_ target: some StringProtocol, with replacement: some StringProtocol) -> String {
        // On UTF-8 bytes: a valid UTF-8 target matches only at scalar boundaries (no UTF-8
        // sequence starts inside another), so this is the scalar-wise replacement.
        let t = Array(target.utf8)
        precondition(!t.isEmpty)
        let src = Array(utf8)
        guard src.count >= t.count else { return String(self) }
        var out = [UInt8]()
        out.reserveCapacity(src.count)
        var i = 0
        while i < src.count {
            if src[i] == t[0], i + t.count <= src.count, src[i..<(i + t.count)].elementsEqual(t) {
                out.append(contentsOf: replacement.utf8)
                i += t.count
            } else {
                out.append(src[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The text with `&`, `<`, `>` (and, with `quotes`, `"` and `'`) escaped for XML and HTML,
    /// scalar by scalar: iterating `Character`s would miss a `<` that a combining mark follows.
    public func markupEscaped(quotes: Bool = true) -> String {
        var out = String.UnicodeScalarView()
        for c in unicodeScalars {
            switch c {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"" where quotes: out.append(contentsOf: "&quot;".unicodeScalars)
            case "'" where quotes: out.append(contentsOf: "&#x27;".unicodeScalars)
            default: out.append(c)
            }
        }
        return String(out)
    }

    /// Length as Python's `len()` counts it: code points, not grapheme clusters.
    @inlinable
    public var scalarCount: Int { unicodeScalars.count }
}

extension Sequence where Element: StringProtocol {
    /// Sorted by UTF-8 bytes.
    public func sortedByBytes() -> [Element] { sorted { $0.bytesPrecede($1) } }

    /// Whether one element has exactly these bytes.
    public func containsBytes(_ value: some StringProtocol) -> Bool { contains { $0.sameBytes(as: value) } }
}

extension String {
    /// Python's `str.strip()`: leading and trailing characters `str.isspace()` holds for removed
    /// (what OpenStack services strip from names).
    public var pythonStripped: String {
        let s = unicodeScalars
        guard let first = s.firstIndex(where: { !Pattern.pythonSpace($0) }), let last = s.lastIndex(where: { !Pattern.pythonSpace($0) }) else { return "" }
        return String(s[first...last])
    }
}
