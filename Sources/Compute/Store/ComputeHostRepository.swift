import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// A compute host as `os-services` and `os-hypervisors` show it; its id is its resource
/// provider's uuid in Placement.
public struct ComputeHost: Sendable, Equatable {
    public var id: String
    public var host: String
    public var zone: String
    public var disabled: Bool
    public var disabledReason: String?
    public var forcedDown: Bool
    public var lastSeenAt: Date?
    public var createdAt: Date
    public var updatedAt: Date?
    /// The node's report: hypervisor type and version, vCPUs, memory, disk, CPU model.
    public var hypervisor: JSONValue

    /// Up when it reported within `serviceDownTime` (Nova's `service_down_time`, 60 s) and is not forced down.
    public func isUp(now: Date = Date(), serviceDownTime: TimeInterval = 60) -> Bool {
        guard !forcedDown, let seen = lastSeenAt else { return false }
        return now.timeIntervalSince(seen) <= serviceDownTime
    }
}

public struct ComputeHostRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = "id, host, service_binary, zone, disabled, disabled_reason, forced_down, last_seen_at, created_at, updated_at, hypervisor"

    static func decode(_ row: any SQLRow) throws -> ComputeHost {
        ComputeHost(id: try row.decode(column: "id", as: String.self), host: try row.decode(column: "host", as: String.self),
                    zone: try row.decode(column: "zone", as: String.self), disabled: try row.decode(column: "disabled", as: Bool.self),
                    disabledReason: try row.decode(column: "disabled_reason", as: String?.self),
                    forcedDown: try row.decode(column: "forced_down", as: Bool.self),
                    lastSeenAt: try row.decode(column: "last_seen_at", as: Int64?.self).map(Micros.date),
                    createdAt: Micros.date(try row.decode(column: "created_at", as: Int64.self)),
                    updatedAt: try row.decode(column: "updated_at", as: Int64?.self).map(Micros.date),
                    hypervisor: (try? JSONValue.parse(Array(try row.decode(column: "hypervisor", as: String.self).utf8))) ?? [:])
    }

    /// Registers a node (keeping its id, zone and disabled state when it re-registers).
    public func register(host: String, hypervisor: JSONValue) async throws -> ComputeHost {
        let now = Micros.of(Date())
        let doc = hypervisor.serializedString()
        return try await database.transaction { db in
            if let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_services WHERE host = \(bind: host) AND service_binary = 'nova-compute'").first() {
                try await db.raw("""
                    UPDATE compute_services SET hypervisor = \(bind: doc), last_seen_at = \(bind: now), updated_at = \(bind: now)
                    WHERE host = \(bind: host) AND service_binary = 'nova-compute'
                    """).run()
                var h = try Self.decode(row)
                h.hypervisor = hypervisor
                h.lastSeenAt = Micros.date(now)
                return h
            }
            let id = Identifiers.uuid()
            try await db.raw("""
                INSERT INTO compute_services (\(unsafeRaw: Self.columns)) VALUES (\(bind: id), \(bind: host), 'nova-compute', \(bind: ComputeService.defaultZone),
                \(bind: false), \(bind: nil as String?), \(bind: false), \(bind: now), \(bind: now), \(bind: nil as Int64?), \(bind: doc))
                """).run()
            return ComputeHost(id: id, host: host, zone: ComputeService.defaultZone, disabled: false, disabledReason: nil, forcedDown: false,
                               lastSeenAt: Micros.date(now), createdAt: Micros.date(now), updatedAt: nil, hypervisor: hypervisor)
        }
    }

    /// Records that the node's agent was heard from.
    public func seen(_ host: String) async throws {
        try await database.transaction { db in
            try await db.raw("UPDATE compute_services SET last_seen_at = \(bind: Micros.of(Date())) WHERE host = \(bind: host)").run()
        }
    }

    public func list() async throws -> [ComputeHost] {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_services").all().map(Self.decode).sorted { $0.host.bytesPrecede($1.host) }
    }

    public func get(host: String) async throws -> ComputeHost? {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_services WHERE host = \(bind: host)").first().map(Self.decode)
    }
}
