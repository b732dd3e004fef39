import Foundation

/// Object version ids as Swift's object versioning middleware makes and reads them. An id is
/// the timestamp of the write that made the version, in Swift's normal form (`%016.5f`
/// seconds, e.g. `1700000000.12345`); versions are stored under the inverted timestamp
/// (`ObjectIndex.versionKey`), so newer versions sort first. `null` names an object's plain
/// (unversioned) data.
public enum VersionID {
    /// The id of a version made at `timestamp` (a Nimbus timestamp is already normal).
    public static func of(timestamp: String) -> String { timestamp }

    /// The normalized id a `version-id` (or `version_marker`) value names, read as Swift's
    /// `Timestamp(value)` reads it (`validate_version`): a float in Python's syntax, optionally
    /// followed by `_` and a hex offset of at most 16 digits (which does not change the
    /// version addressed), rounded to 10 µs, at least 0 and below 10^10. nil when Swift
    /// refuses it (a 400). Only ASCII digits and spaces are read; `inf` is refused (Swift
    /// answers it with a 500).
    public static func normalize(_ value: String) -> String? {
        let (floatPart, hexPart) = value.splitOnceBytes("_").map { (String($0.head), Optional(String($0.tail))) } ?? (value, nil)
        if let hexPart {
            guard !hexPart.containsByte("_"), hexPart.utf8.count <= 16, validOffset(hexPart) else { return nil }
        }
        guard let seconds = pythonFloat(floatPart), seconds.isFinite else { return nil }
        let scaled = (seconds / 1e-5).rounded(.toNearestOrEven)
        guard scaled > -1e16, scaled < 1e16 else { return nil }
        let raw = Int(scaled)
        guard raw >= 0, raw < 1_000_000_000_000_000 else { return nil }
        return format(raw: raw)
    }

    /// `%016.5f` of `raw` units of 10 µs (0 ≤ raw < 10^15), without floating point.
    public static func format(raw: Int) -> String {
        func padded(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.utf8.count)) + s
        }
        return padded(raw / 100_000, 10) + "." + padded(raw % 100_000, 5)
    }

    /// Python's `int(text, 16)` for an offset (empty means 0), which must not be negative.
    static func validOffset(_ text: String) -> Bool {
        if text.isEmpty { return true }
        var bytes = ArraySlice(trimmed(Array(text.utf8)))
        var negative = false
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        if bytes.count >= 2, bytes.first == UInt8(ascii: "0"), bytes.dropFirst().first.map({ $0 | 0x20 }) == UInt8(ascii: "x") {
            bytes = bytes.dropFirst(2)
        }
        guard !bytes.isEmpty, bytes.allSatisfy({ isHexDigit($0) }) else { return false }
        return !negative || bytes.allSatisfy { $0 == UInt8(ascii: "0") }
    }

    /// Python's `float(text)` for ASCII text: optional spaces, sign, digits with an optional
    /// point and exponent, or `inf`/`infinity`/`nan` in any case.
    static func pythonFloat(_ text: String) -> Double? {
        let bytes = trimmed(Array(text.utf8))
        guard !bytes.isEmpty else { return nil }
        var i = bytes.startIndex
        if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        let word = String(decoding: bytes[i...], as: UTF8.self).lowercased()
        if ["inf", "infinity", "nan"].contains(word) { return bytes[bytes.startIndex] == UInt8(ascii: "-") ? -.infinity : .infinity }
        var digits = 0
        while i < bytes.endIndex, isDigit(bytes[i]) { i += 1; digits += 1 }
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.endIndex, isDigit(bytes[i]) { i += 1; digits += 1 }
        }
        guard digits > 0 else { return nil }
        if i < bytes.endIndex, bytes[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < bytes.endIndex, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            var exponentDigits = 0
            while i < bytes.endIndex, isDigit(bytes[i]) { i += 1; exponentDigits += 1 }
            guard exponentDigits > 0 else { return nil }
        }
        guard i == bytes.endIndex else { return nil }
        return Double(String(decoding: bytes, as: UTF8.self))
    }

    static func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let space: (UInt8) -> Bool = { $0 == 0x20 || (0x09...0x0D).contains($0) }
        var s = bytes[...]
        while let f = s.first, space(f) { s = s.dropFirst() }
        while let l = s.last, space(l) { s = s.dropLast() }
        return s
    }

    static func isDigit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
    static func isHexDigit(_ b: UInt8) -> Bool { isDigit(b) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b | 0x20) }
}
