import HTTPTypes
import Hummingbird
import NimbusCore

/// A block storage API microversion (`3.0` … `CinderVersion.maximum`) from `OpenStack-API-Version:
/// volume 3.x` (`latest` is the maximum, no header the minimum), as Cinder's
/// `Request.set_api_version_request` reads it.
public struct CinderVersion: Sendable, Comparable, CustomStringConvertible {
    public let minor: Int

    public static let minimum = CinderVersion(minor: 0)
    public static let maximum = CinderVersion(minor: 71)

    public init(minor: Int) { self.minor = minor }
    public var description: String { "3.\(minor)" }
    public static func < (a: CinderVersion, b: CinderVersion) -> Bool { a.minor < b.minor }
    /// `self >= 3.minor`.
    public func atLeast(_ minor: Int) -> Bool { self.minor >= minor }

    static let header = HTTPField.Name("OpenStack-API-Version")!

    public static func requested(by request: Request) throws(NimbusError) -> CinderVersion {
        guard let value = request.headers[header] else { return .minimum }
        // The first comma-separated entry that mentions `volume` (Cinder tests a substring).
        guard let entry = value.splitBytes(",").first(where: { $0.utf8.contains(subsequence: Array("volume".utf8)) }) else {
            // Cinder's VersionNotFoundForAPIMethod is an Invalid: a 400.
            throw NimbusError.badRequest("API version None is not supported on this method.")
        }
        let parts = entry.trimmingCharacters(in: .whitespaces).splitBytes(" ")
        guard parts.count == 2 else {
            throw NimbusError.badRequest("API Version String \(entry.trimmingCharacters(in: .whitespaces)) is of invalid format. Must be of format MajorNum.MinorNum.")
        }
        let asked = String(parts[1])
        if asked.sameBytes(as: "latest") { return .maximum }
        // Cinder's pattern: ^([1-9]\d*)\.([1-9]\d*|0)$.
        let numbers = asked.splitBytes(".", omittingEmpty: false)
        func wellFormed(_ p: Substring, zeroAllowed: Bool) -> Bool {
            guard let first = p.utf8.first, p.utf8.allSatisfy({ (48...57).contains($0) }) else { return false }
            return first != UInt8(ascii: "0") || (zeroAllowed && p.utf8.count == 1)
        }
        guard numbers.count == 2, wellFormed(numbers[0], zeroAllowed: false), wellFormed(numbers[1], zeroAllowed: true) else {
            throw NimbusError.badRequest("API Version String \(asked) is of invalid format. Must be of format MajorNum.MinorNum.")
        }
        guard numbers[0].utf8.count < 6, numbers[1].utf8.count < 6, let major = Int(numbers[0]), let minor = Int(numbers[1]),
              major == 3, minor <= maximum.minor else {
            throw NimbusError(.notAcceptable, "Version \(asked) is not supported by the API. Minimum is \(minimum) and maximum is \(maximum).")
        }
        return CinderVersion(minor: minor)
    }

    /// The version text a request asks for when it is well formed (in range or not).
    static func wellFormed(_ request: Request) -> String? {
        guard let value = request.headers[header],
              let entry = value.splitBytes(",").first(where: { $0.utf8.contains(subsequence: Array("volume".utf8)) }) else { return nil }
        let parts = entry.trimmingCharacters(in: .whitespaces).splitBytes(" ")
        guard parts.count == 2 else { return nil }
        let numbers = parts[1].splitBytes(".", omittingEmpty: false)
        guard numbers.count == 2, numbers.allSatisfy({ !$0.isEmpty && $0.utf8.count < 10 && $0.utf8.allSatisfy { (48...57).contains($0) } }) else { return nil }
        return String(parts[1])
    }

    func apply(to headers: inout HTTPFields) {
        headers[Self.header] = "volume \(self)"
        headers[.vary] = "OpenStack-API-Version"
    }
}

extension Collection where Element: Equatable {
    func contains(subsequence s: [Element]) -> Bool {
        guard !s.isEmpty else { return true }
        var i = startIndex
        while i != endIndex {
            if self[i...].starts(with: s) { return true }
            i = index(after: i)
        }
        return false
    }
}
