/// Percent-encoding as Python's `urllib.parse` does it, on bytes.
///
/// Decoding works on UTF-8 bytes and validates the result once: a malformed escape (`%zz`, a
/// lone `%`) stays as it is, as `unquote` leaves it, and bytes that are not UTF-8 (or encode a
/// surrogate) make the whole value invalid, which the HTTP layer answers with a 400.
public enum PercentEncoding {
    /// The bytes `text` stands for; with `plusAsSpace`, `+` is a space (form and query encoding).
    public static func decodeBytes(_ text: some StringProtocol, plusAsSpace: Bool = false) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%"), i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
                continue
            }
            out.append(b == UInt8(ascii: "+") && plusAsSpace ? UInt8(ascii: " ") : b)
            i += 1
        }
        return out
    }

    /// The text `text` stands for, or nil when its bytes are not valid UTF-8.
    public static func decode(_ text: some StringProtocol, plusAsSpace: Bool = false) -> String? {
        if !text.utf8.contains(UInt8(ascii: "%")) && !(plusAsSpace && text.utf8.contains(UInt8(ascii: "+"))) { return String(text) }
        return String(validating: decodeBytes(text, plusAsSpace: plusAsSpace), as: UTF8.self)
    }

    /// Escapes every byte except the unreserved ones (`A-Z a-z 0-9 - _ . ~`) and those in `safe`.
    public static func encode(_ text: some StringProtocol, safe: String = "") -> String {
        encode(bytes: text.utf8, safe: safe)
    }

    /// Escapes bytes that need not be UTF-8 (Python's `quote` of a `bytes` value).
    public static func encode(bytes: some Sequence<UInt8>, safe: String = "") -> String {
        let safeBytes = Set(safe.utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount)
        for b in bytes {
            if isUnreserved(b) || safeBytes.contains(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    static let hexDigits = Array("0123456789ABCDEF".utf8)

    public static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A URL query string read as WebOb and Swift's swob read it (`parse_qsl` with blank values kept):
/// pairs split on `&`, `+` is a space, keys and values percent-decoded as UTF-8, order and
/// repeats kept. Keys compare by bytes. The one query parser of every service.
public struct QueryString: Sendable {
    public struct Item: Sendable {
        public var key: String
        /// nil for a bare key without `=` (`?bulk-delete`); Python reads it as an empty value.
        public var value: String?
    }

    public private(set) var items: [Item] = []
    /// Whether some key or value was not UTF-8 once decoded (the services answer 400).
    public private(set) var isValid = true

    public init(_ raw: (some StringProtocol)?) {
        guard let raw else { return }
        for pair in raw.splitBytes("&") {
            let kv = pair.splitOnceBytes("=")
            let rawKey = kv?.head ?? pair
            guard let key = PercentEncoding.decode(rawKey, plusAsSpace: true) else { isValid = false; continue }
            var value: String?
            if let v = kv?.tail {
                guard let d = PercentEncoding.decode(v, plusAsSpace: true) else { isValid = false; continue }
                value = d
            }
            items.append(Item(key: key, value: value))
        }
    }

    /// The first value of `key` (empty for a bare key).
    public subscript(key: String) -> String? {
        items.first { $0.key.sameBytes(as: key) }.map { $0.value ?? "" }
    }

    /// The last value of `key`: what swob's `params` dict and WebOb's `MultiDict[...]` give for
    /// a repeated key (Flask's `args.get`, in Keystone, gives the first).
    public func last(_ key: String) -> String? {
        items.last { $0.key.sameBytes(as: key) }.map { $0.value ?? "" }
    }

    /// Every value of `key`, in order.
    public func all(_ key: String) -> [String] {
        items.filter { $0.key.sameBytes(as: key) }.map { $0.value ?? "" }
    }

    public func contains(_ key: String) -> Bool { items.contains { $0.key.sameBytes(as: key) } }

    /// Pairs as `(key, value)`, bare keys with an empty value.
    public var pairs: [(String, String)] { items.map { ($0.key, $0.value ?? "") } }
}
