import NimbusCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as a 128-bit number (IPv4 in the low 32 bits), parsed and printed
/// by the C library's `inet_pton`/`inet_ntop`: IPv4 only in strict dotted-quad form (no leading
/// zeros, no shorthand, as netaddr's `INET_PTON` reads it), IPv6 in every RFC 4291 form and
/// printed in RFC 5952's canonical form, which is what Neutron stores and shows.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let version: Int
    public let value: UInt128

    public init(version: Int, value: UInt128) {
        self.version = version
        self.value = version == 4 ? value & 0xFFFF_FFFF : value
    }

    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, s.utf8.count <= 45, !s.utf8.contains(0) else { return nil }
        if s.utf8.contains(UInt8(ascii: ":")) {
            var a = in6_addr()
            guard inet_pton(AF_INET6, s, &a) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &a) { Array($0) }
            var v: UInt128 = 0
            for b in bytes { v = (v << 8) | UInt128(b) }
            self.init(version: 6, value: v)
        } else {
            var a = in_addr()
            guard inet_pton(AF_INET, s, &a) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &a) { Array($0) }
            var v: UInt128 = 0
            for b in bytes { v = (v << 8) | UInt128(b) }
            self.init(version: 4, value: v)
        }
    }

    public var bits: Int { version == 4 ? 32 : 128 }

    public var description: String {
        if version == 4 {
            let v = UInt32(truncatingIfNeeded: value)
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        }
        var a = in6_addr()
        withUnsafeMutableBytes(of: &a) { raw in
            for i in 0..<16 { raw[i] = UInt8(truncatingIfNeeded: value >> UInt128(8 * (15 - i))) }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count)) != nil else { return "::" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.version != b.version ? a.version < b.version : a.value < b.value
    }

    public func adding(_ n: UInt128) -> IPAddress { IPAddress(version: version, value: value &+ n) }

    /// The link-local or global address a SLAAC host forms from `prefix` and its MAC (EUI-64).
    public static func eui64(prefix: IPNetwork, mac: MACAddress) -> IPAddress {
        let m = mac.bytes
        let iid: [UInt8] = [m[0] ^ 0x02, m[1], m[2], 0xFF, 0xFE, m[3], m[4], m[5]]
        var low: UInt128 = 0
        for b in iid { low = (low << 8) | UInt128(b) }
        return IPAddress(version: 6, value: prefix.network.value | low)
    }
}

/// A CIDR: an address and a prefix length; `network` has the host bits cleared.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let s = String(text)
        let parts = s.splitBytes("/", omittingEmpty: false)
        guard parts.count == 2, let a = IPAddress(parts[0]),
              !parts[1].isEmpty, parts[1].utf8.count <= 3, parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let p = Int(parts[1]), p >= 0, p <= a.bits else { return nil }
        self.address = a
        self.prefixLength = p
    }

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public var version: Int { address.version }
    var hostMask: UInt128 {
        let hostBits = address.bits - prefixLength
        return hostBits >= 128 ? UInt128.max : (UInt128(1) << UInt128(hostBits)) - 1
    }
    public var network: IPAddress { IPAddress(version: version, value: address.value & ~hostMask) }
    public var broadcast: IPAddress { IPAddress(version: version, value: network.value | hostMask) }
    /// The number of addresses (saturating at `UInt128.max` for a /0 IPv6 network).
    public var size: UInt128 { hostMask == UInt128.max ? UInt128.max : hostMask + 1 }
    public var first: IPAddress { network }
    public var last: IPAddress { broadcast }
    public var isCanonical: Bool { address.value & hostMask == 0 }
    /// `10.0.0.0/24`, the form Neutron stores.
    public var description: String { "\(network)/\(prefixLength)" }

    public func contains(_ a: IPAddress) -> Bool { a.version == version && a.value & ~hostMask == network.value }
    public func overlaps(_ o: IPNetwork) -> Bool {
        guard o.version == version else { return false }
        return contains(o.network) || o.contains(network)
    }
}

/// An inclusive range of addresses, as an allocation pool.
public struct IPRange: Sendable, Hashable {
    public var start: IPAddress
    public var end: IPAddress
    public init(start: IPAddress, end: IPAddress) { self.start = start; self.end = end }
    public func contains(_ a: IPAddress) -> Bool { a.version == start.version && a.value >= start.value && a.value <= end.value }
    public func overlaps(_ o: IPRange) -> Bool { start.value <= o.end.value && o.start.value <= end.value }
    public var size: UInt128 { end.value - start.value &+ 1 }
}

/// An Ethernet address in Neutron's form: six lowercase hex pairs separated by `:`.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Accepts `aa:bb:cc:dd:ee:ff` and `aa-bb-…` (netaddr's EUI forms most clients send).
    public init?(_ text: some StringProtocol) {
        let u = Array(String(text).utf8)
        guard u.count == 17 else { return nil }
        var out = [UInt8]()
        for i in 0..<6 {
            if i > 0 { guard u[i * 3 - 1] == UInt8(ascii: ":") || u[i * 3 - 1] == UInt8(ascii: "-") else { return nil } }
            guard let h = PercentEncoding.hexValue(u[i * 3]), let l = PercentEncoding.hexValue(u[i * 3 + 1]) else { return nil }
            out.append(h << 4 | l)
        }
        bytes = out
    }

    public var description: String { bytes.map { Hex.encode([$0]) }.joined(separator: ":") }

    public var isMulticast: Bool { bytes[0] & 1 == 1 }
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// A random address under Neutron's default base `fa:16:3e:00:00:00`.
    public static func random() -> MACAddress {
        MACAddress(bytes: [0xFA, 0x16, 0x3E, UInt8.random(in: 0...255), UInt8.random(in: 0...255), UInt8.random(in: 0...255)])
    }
}
