import Foundation

public enum Identifiers {
    /// Keystone-style identifier: a random UUID4 as 32 lowercase hex digits.
    public static func hex32() -> String { Hex.encode(uuid4Bytes()) }

    /// Dashed UUID4, as Nova, Glance and Neutron use.
    public static func uuid() -> String {
        let hex = Array(hex32().utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, c) in hex.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// 16 random bytes from the kernel's CSPRNG (`getrandom`, through `SystemRandomNumberGenerator`)
    /// with the UUID version 4 and variant bits set. Foundation's `UUID()` on Linux opens and
    /// stats `/dev/urandom` for every identifier, which cost more than a cached token validation.
    public static func uuid4Bytes() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        for half in 0..<2 {
            let word = rng.next() as UInt64
            for i in 0..<8 { bytes[half * 8 + i] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(i))) }
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return bytes
    }

    /// `req-<uuid>`, the OpenStack request id format.
    public static func requestID() -> String { "req-" + uuid() }
}

public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public enum Base64URL {
    public static func encode<D: Collection>(_ data: D) -> String where D.Element == UInt8 {
        Data(data).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ string: String) -> Data? {
        var s = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let pad = (4 - s.count % 4) % 4
        if pad == 3 { return nil }
        s += String(repeating: "=", count: pad)
        return Data(base64Encoded: s)
    }
}
