import NimbusCore

/// An instance id that is safe to use as a file name and inside a QEMU option: 1 to 64 bytes of
/// ASCII letters, digits, `-`, `_` and `.`, not starting with `.` (so never `.`, `..` or hidden).
/// Nova's ids are UUIDs; anything else the controller sends is refused before it reaches a path.
/// Compared and hashed by bytes (see ARCHITECTURE.md "Names are bytes"; being ASCII, the bytes are
/// also the only spelling).
public struct InstanceID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public static let maxBytes = 64
    public let rawValue: String

    public init(_ text: String) throws(NimbusError) {
        guard InstanceID.isValid(text) else {
            throw .badRequest("Invalid instance id: use 1 to \(InstanceID.maxBytes) ASCII letters, digits, '-', '_' or '.', not starting with '.'")
        }
        rawValue = text
    }

    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...maxBytes).contains(bytes.count), bytes[0] != UInt8(ascii: ".") else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
        }
    }

    public var description: String { rawValue }

    /// Whether the id has the shape of a UUID (QEMU's `-uuid` then gives it to the guest's SMBIOS).
    var isUUID: Bool {
        let b = Array(rawValue.utf8)
        guard b.count == 36 else { return false }
        for (i, c) in b.enumerated() {
            if [8, 13, 18, 23].contains(i) { if c != UInt8(ascii: "-") { return false } } else if !c.isHexDigit { return false }
        }
        return true
    }

    public static func == (a: InstanceID, b: InstanceID) -> Bool { a.rawValue.sameBytes(as: b.rawValue) }
    public static func < (a: InstanceID, b: InstanceID) -> Bool { a.rawValue.bytesPrecede(b.rawValue) }
    public func hash(into hasher: inout Hasher) { for b in rawValue.utf8 { hasher.combine(b) } }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

extension UInt8 {
    var isHexDigit: Bool { (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66) }
}
