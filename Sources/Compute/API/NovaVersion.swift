import HTTPTypes
import Hummingbird
import NimbusCore

/// A compute API microversion (`2.1` … `NovaVersion.maximum`), from `OpenStack-API-Version:
/// compute 2.x` or the legacy `X-OpenStack-Nova-API-Version: 2.x` (`latest` is the maximum, no
/// header the minimum), as `nova/api/openstack/api_version_request.py` reads them.
public struct NovaVersion: Sendable, Comparable, CustomStringConvertible {
    public let minor: Int

    public static let minimum = NovaVersion(minor: 1)
    public static let maximum = NovaVersion(minor: 96)

    public init(minor: Int) { self.minor = minor }

    public var description: String { "2.\(minor)" }
    public static func < (a: NovaVersion, b: NovaVersion) -> Bool { a.minor < b.minor }

    /// `self >= 2.minor`.
    public func atLeast(_ minor: Int) -> Bool { self.minor >= minor }

    static let header = HTTPField.Name("OpenStack-API-Version")!
    static let legacyHeader = HTTPField.Name("X-OpenStack-Nova-API-Version")!
    static let computeRequestID = HTTPField.Name("x-compute-request-id")!

    /// The version a request asks for; 400 for a malformed one, 406 outside the range.
    public static func requested(by request: Request) throws(NimbusError) -> NovaVersion {
        var asked: String?
        if let v = request.headers[header] {
            // A comma-separated list of `<service> <version>`; the compute entry wins.
            for item in v.splitBytes(",") {
                let parts = item.trimmingCharacters(in: .whitespaces).splitBytes(" ")
                guard let service = parts.first, service.lowercased().sameBytes(as: "compute") else { continue }
                guard parts.count == 2 else {
                    throw .badRequest("API Version String \(item.trimmingCharacters(in: .whitespaces)) is of invalid format. Must be of format MajorNum.MinorNum.")
                }
                asked = String(parts[1])
            }
        }
        if asked == nil, let legacy = request.headers[legacyHeader] { asked = legacy.trimmingCharacters(in: .whitespaces) }
        guard let asked else { return .minimum }
        if asked.lowercased().sameBytes(as: "latest") { return .maximum }
        // Nova's pattern: ^([1-9]\d*)\.([1-9]\d*|0)$ (no leading zeros); any size of number.
        let parts = asked.splitBytes(".", omittingEmpty: false)
        func wellFormed(_ p: Substring, zeroAllowed: Bool) -> Bool {
            guard let first = p.utf8.first, p.utf8.allSatisfy({ (48...57).contains($0) }) else { return false }
            return first != UInt8(ascii: "0") || (zeroAllowed && p.utf8.count == 1)
        }
        guard parts.count == 2, wellFormed(parts[0], zeroAllowed: false), wellFormed(parts[1], zeroAllowed: true) else {
            throw .badRequest("API Version String \(asked) is of invalid format. Must be of format MajorNum.MinorNum.")
        }
        guard let major = Int(parts[0]), let minor = Int(parts[1]), major == 2, minor >= minimum.minor, minor <= maximum.minor else {
            throw NimbusError(.notAcceptable, "Version \(asked) is not supported by the API. Minimum is \(minimum) and maximum is \(maximum).")
        }
        return NovaVersion(minor: minor)
    }

    /// The headers every versioned response carries, errors included.
    func apply(to headers: inout HTTPFields) {
        headers[Self.header] = "compute \(self)"
        headers[Self.legacyHeader] = description
        headers[.vary] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
    }
}
