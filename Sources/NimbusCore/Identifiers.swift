import Foundation

public enum Identifiers {
    /// Keystone-style identifier: a random UUID4 as 32 lowercase hex digits.
    public static func hex32() -> String {
        let u = UUID().uuid
        let bytes = [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
        return Hex.encode(bytes)
    }

    /// Dashed UUID4, as Nova, Glance and Neutron use.
    public static func uuid() -> String { UUID().uuidString.lowercased() }

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
