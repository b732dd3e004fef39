import Crypto
import Foundation
import NimbusCore

/// A Nova service as `os-services` lists it: a compute host's `nova-compute` (a row of
/// `compute_services`), or the `nova-scheduler` and `nova-conductor` of the controller that
/// answers, which run inside its process (so they are up whenever it answers).
public struct ServiceRecord: Sendable {
    public var id: String
    /// The integer id shown before 2.53.
    public var number: Int
    public var host: String
    public var binary: String
    public var zone: String
    public var disabled: Bool
    public var disabledReason: String?
    public var forcedDown: Bool
    /// The last heartbeat (Nova's `updated_at`).
    public var updatedAt: Date?
    public var isUp: Bool
    /// The compute host behind a `nova-compute` service.
    public var compute: ComputeHost?

    public var isCompute: Bool { compute != nil }
}

extension ComputeService {
    /// Nova's `internal_service_availability_zone`: where non-compute services are listed.
    public static let internalZone = "internal"
    static let controllerBinaries = ["nova-scheduler", "nova-conductor"]

    /// The host name of this controller (as `nimbus up` names its compute node by default).
    static var controllerHost: String { ProcessInfo.processInfo.hostName }

    /// A stable uuid for a controller service: name-based (SHA-1, RFC 4122 version 5 layout).
    static func controllerServiceID(binary: String, host: String) -> String {
        var bytes = Array(Array(Insecure.SHA1.hash(data: Array("nimbus-service:\(binary)@\(host)".utf8))).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Hex.encode(bytes)
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }
}
