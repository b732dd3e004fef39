import NimbusCore

/// A Placement microversion `1.N`. Placement serves 1.0 to 1.39; `OpenStack-API-Version:
/// placement 1.N` (or `latest`) chooses one, a missing header means 1.0.
public struct Microversion: Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let minimum = Microversion(1, 0)
    public static let maximum = Microversion(1, 39)

    public var description: String { "\(major).\(minor)" }

    public static func < (a: Microversion, b: Microversion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }

    /// Whether this version is at least 1.`minor`.
    public func atLeast(_ minor: Int) -> Bool { self >= Microversion(1, minor) }

    /// What microversion_parse does with the header: `placement 1.N` picks 1.N, `latest` the
    /// maximum, another service's entry is ignored; a malformed version is a 400 and one out
    /// of range a 406 (the caller renders both).
    public enum Choice: Equatable, Sendable {
        case version(Microversion)
        case invalid(String)
        case unacceptable(String)
    }

    public static func negotiate(header: String?) -> Choice {
        guard let header else { return .version(minimum) }
        var requested: String?
        for entry in header.splitBytes(",") {
            let parts = entry.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 1, parts[0].lowercased() == "placement" else { continue }
            requested = parts.count >= 2 ? String(parts[1]) : ""
        }
        guard let text = requested else { return .version(minimum) }
        if text.lowercased() == "latest" { return .version(maximum) }
        let pieces = text.splitBytes(".", omittingEmpty: false)
        guard pieces.count == 2, let a = Int(pieces[0]), let b = Int(pieces[1]), a >= 0, b >= 0,
              pieces.allSatisfy({ $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }) else {
            return .invalid(text)
        }
        let v = Microversion(a, b)
        return v < minimum || v > maximum ? .unacceptable(text) : .version(v)
    }
}
