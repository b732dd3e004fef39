import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Host aggregates in SQL: the aggregate, its hosts and its metadata. Every change is one
/// transaction that also checks what must hold (a unique name, a known host); the zone rules
/// that span aggregates are checked by the caller inside the same transaction (`modify`).
public struct AggregateRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static func decode(_ row: any SQLRow) throws -> Aggregate {
        Aggregate(id: try row.decode(column: "id", as: Int.self), uuid: try row.decode(column: "uuid", as: String.self),
                  name: try row.decode(column: "name", as: String.self), hosts: [], metadata: [:],
                  createdAt: Micros.date(try row.decode(column: "created_at", as: Int64.self)),
                  updatedAt: try row.decode(column: "updated_at", as: Int64?.self).map(Micros.date))
    }

    /// Every aggregate with hosts and metadata, by id.
    static func all(_ db: any SQLDatabase) async throws -> [Aggregate] {
        var aggregates = try await db.raw("SELECT id, uuid, name, created_at, updated_at FROM compute_aggregates ORDER BY id").all().map(Self.decode)
        var index = [Int: Int]()
        for (i, a) in aggregates.enumerated() { index[a.id] = i }
        for row in try await db.raw("SELECT aggregate_id, host FROM compute_aggregate_hosts").all() {
            if let i = index[try row.decode(column: "aggregate_id", as: Int.self)] {
                aggregates[i].hosts.append(try row.decode(column: "host", as: String.self))
            }
        }
        for row in try await db.raw("SELECT aggregate_id, meta_key, meta_value FROM compute_aggregate_metadata").all() {
            if let i = index[try row.decode(column: "aggregate_id", as: Int.self)] {
                aggregates[i].metadata[Name(try row.decode(column: "meta_key", as: String.self))] = try row.decode(column: "meta_value", as: String.self)
            }
        }
        for i in aggregates.indices { aggregates[i].hosts = aggregates[i].hosts.sortedByBytes() }
        return aggregates
    }

    public func list() async throws -> [Aggregate] { try await Self.all(database.sql) }

    public func get(_ id: Int) async throws -> Aggregate? { try await list().first { $0.id == id } }

    /// Aggregates `host` belongs to.
    public func aggregates(ofHost host: String) async throws -> [Aggregate] {
        try await list().filter { $0.hosts.containsBytes(host) }
    }

    public enum Failure: Error, Sendable { case nameTaken, notFound }

    /// Creates an aggregate (the name must be unused).
    public func create(name: String, metadata: [Name: String]) async throws -> Aggregate {
        let now = Date()
        let uuid = Identifiers.uuid()
        return try await database.transaction { db in
            if try await db.raw("SELECT id FROM compute_aggregates WHERE name = \(bind: name)").first() != nil { throw Failure.nameTaken }
            try await db.raw("""
                INSERT INTO compute_aggregates (uuid, name, created_at, updated_at) VALUES (\(bind: uuid), \(bind: name), \(bind: Micros.of(now)),
                \(bind: nil as Int64?))
                """).run()
            guard let row = try await db.raw("SELECT id, uuid, name, created_at, updated_at FROM compute_aggregates WHERE uuid = \(bind: uuid)").first() else {
                throw Failure.notFound
            }
            var a = try Self.decode(row)
            try await Self.writeMetadata(db, a.id, metadata)
            a.metadata = metadata
            return a
        }
    }

    /// Applies `change` to the aggregate inside one transaction, with every aggregate as it is
    /// now (for checks across aggregates), and writes the result. `change` may throw to refuse;
    /// it sets `updatedAt` when the change should show.
    public func modify(_ id: Int, _ change: @escaping @Sendable (inout Aggregate, _ all: [Aggregate]) throws -> Void) async throws -> Aggregate {
        try await database.transaction { db in
            let all = try await Self.all(db)
            guard let before = all.first(where: { $0.id == id }) else { throw Failure.notFound }
            var a = before
            try change(&a, all)
            if !a.name.sameBytes(as: before.name) {
                if try await db.raw("SELECT id FROM compute_aggregates WHERE name = \(bind: a.name) AND id <> \(bind: id)").first() != nil {
                    throw Failure.nameTaken
                }
            }
            try await db.raw("UPDATE compute_aggregates SET name = \(bind: a.name), updated_at = \(bind: a.updatedAt.map(Micros.of)) WHERE id = \(bind: id)").run()
            // Hosts and metadata are rewritten whole: comparing them first would need byte
            // comparisons of every value, and the sets are small.
            try await db.raw("DELETE FROM compute_aggregate_hosts WHERE aggregate_id = \(bind: id)").run()
            for h in a.hosts {
                try await db.raw("INSERT INTO compute_aggregate_hosts (aggregate_id, host) VALUES (\(bind: id), \(bind: h))").run()
            }
            try await db.raw("DELETE FROM compute_aggregate_metadata WHERE aggregate_id = \(bind: id)").run()
            try await Self.writeMetadata(db, id, a.metadata)
            try await Self.syncZones(db, all.map { $0.id == id ? a : $0 })
            return a
        }
    }

    static func writeMetadata(_ db: any SQLDatabase, _ id: Int, _ metadata: [Name: String]) async throws {
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) {
            try await db.raw("INSERT INTO compute_aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (\(bind: id), \(bind: k.string), \(bind: v))").run()
        }
    }

    /// Deletes the aggregate when `allowed` accepts it (run inside the transaction).
    public func delete(_ id: Int, _ allowed: @escaping @Sendable (Aggregate) throws -> Void) async throws {
        try await database.transaction { db in
            guard let a = try await Self.all(db).first(where: { $0.id == id }) else { throw Failure.notFound }
            try allowed(a)
            try await db.raw("DELETE FROM compute_aggregate_metadata WHERE aggregate_id = \(bind: id)").run()
            try await db.raw("DELETE FROM compute_aggregate_hosts WHERE aggregate_id = \(bind: id)").run()
            try await db.raw("DELETE FROM compute_aggregates WHERE id = \(bind: id)").run()
        }
    }

    /// The availability zone of `host` given the aggregates: the `availability_zone` values of
    /// the aggregates holding it (sorted, joined by "," as Nova joins them), else `nova`.
    public static func zone(of host: String, in aggregates: [Aggregate]) -> String {
        var zones = Set<Name>()
        for a in aggregates where a.hosts.containsBytes(host) { if let z = a.availabilityZone { zones.insert(Name(z)) } }
        return zones.isEmpty ? ComputeService.defaultZone : zones.sorted().map(\.string).joined(separator: ",")
    }

    /// Writes every compute host's zone (`compute_services.zone`, which the scheduler reads).
    static func syncZones(_ db: any SQLDatabase, _ aggregates: [Aggregate]) async throws {
        for row in try await db.raw("SELECT id, host, zone FROM compute_services WHERE service_binary = 'nova-compute'").all() {
            let host = try row.decode(column: "host", as: String.self)
            let zone = zone(of: host, in: aggregates)
            if !zone.sameBytes(as: try row.decode(column: "zone", as: String.self)) {
                try await db.raw("UPDATE compute_services SET zone = \(bind: zone) WHERE id = \(bind: try row.decode(column: "id", as: String.self))").run()
            }
        }
    }

    /// Removes a host from every aggregate (its service was deleted).
    public func removeHostEverywhere(_ host: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM compute_aggregate_hosts WHERE host = \(bind: host)").run()
            try await Self.syncZones(db, try await Self.all(db))
        }
    }
}
