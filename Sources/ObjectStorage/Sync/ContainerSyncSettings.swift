import Foundation
import NimbusCore

/// Container sync's configuration (`[object_storage] container_sync_*`).
public struct ContainerSyncSettings: Sendable {
    /// `container-sync-realms.conf` (Swift's format); none: only full URLs (old style) validate.
    public var realms = ContainerSyncRealms(path: nil)
    public var rules = ContainerSyncTarget.Rules()
    /// The container_sync middleware's `current` (`//REALM/CLUSTER`): marked in `/info`.
    public var current: (realm: String, cluster: String)?
    /// Seconds between the daemon's passes (Swift's `interval`, 300).
    public var interval: Duration = .seconds(300)
    /// Time spent on one container per pass (Swift's `container_time`, 60 s).
    public var containerTime: Duration = .seconds(60)
    /// Per-request timeout towards the destination (Swift's `conn_timeout` is 5 s for the
    /// connection; a whole object may take longer).
    public var requestTimeout: Duration = .seconds(300)
    public init() {}

    /// `//REALM/CLUSTER` as the middleware reads `current`; nil when malformed.
    public static func parseCurrent(_ value: String) -> (realm: String, cluster: String)? {
        var v = Substring(value.trimmingCharacters(in: .whitespaces))
        while v.hasPrefix("/") { v = v.dropFirst() }
        while v.hasSuffix("/") { v = v.dropLast() }
        let parts = v.splitBytes("/", omittingEmpty: false)
        guard parts.count == 2 else { return nil }
        return (parts[0].uppercased(), parts[1].uppercased())
    }
}
