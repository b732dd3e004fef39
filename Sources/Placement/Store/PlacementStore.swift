import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Placement's rows in SQL: loads the whole state at start (and when another controller wrote)
/// and commits `WriteSet`s, each in one transaction with compare-and-set on every generation
/// it names, so two controllers can never both win a claim on one provider.
public struct PlacementStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static func micros(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1_000_000).rounded()) }
    static func date(_ m: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(m) / 1_000_000) }

    public func version() async throws -> Int64 {
        try await database.sql.raw("SELECT version FROM placement_state WHERE id = 1").first()?.decode(column: "version", as: Int64.self) ?? 0
    }

    /// The whole state, read in one transaction (a consistent snapshot).
    public func load() async throws -> PlacementState {
        try await database.transaction { db in try await Self.load(db) }
    }

    static func load(_ db: any SQLDatabase) async throws -> PlacementState {
        var s = PlacementState()
        s.version = try await db.raw("SELECT version FROM placement_state WHERE id = 1").first()?.decode(column: "version", as: Int64.self) ?? 0
        for row in try await db.raw("SELECT name, created_at, updated_at FROM placement_resource_classes ORDER BY created_at, name").all() {
            let name = try row.decode(column: "name", as: String.self)
            s.addClass(name, created: date(try row.decode(column: "created_at", as: Int64.self)))
            if let u = try row.decode(column: "updated_at", as: Int64?.self), let i = s.resourceClass(name) {
                s.classTimes[i] = (s.classTimes[i]!.created, date(u))
            }
        }
        for row in try await db.raw("SELECT name, created_at FROM placement_traits ORDER BY created_at, name").all() {
            s.addTrait(try row.decode(column: "name", as: String.self), created: date(try row.decode(column: "created_at", as: Int64.self)))
        }
        var tree = [WriteSet.ProviderRow]()
        for row in try await db.raw("SELECT uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at FROM placement_providers ORDER BY seq, uuid").all() {
            let uuid = try row.decode(column: "uuid", as: String.self)
            let r = WriteSet.ProviderRow(uuid: uuid, name: try row.decode(column: "name", as: String.self),
                                         parentUUID: try row.decode(column: "parent_uuid", as: String?.self),
                                         rootUUID: try row.decode(column: "root_uuid", as: String.self))
            s.addProvider(.init(uuid: uuid, name: r.name, parentUUID: nil, rootUUID: uuid),
                          generation: try row.decode(column: "generation", as: Int64.self),
                          time: date(try row.decode(column: "updated_at", as: Int64.self)),
                          created: date(try row.decode(column: "created_at", as: Int64.self)))
            if r.parentUUID != nil { tree.append(r) }
        }
        for r in tree {
            let p = s.provider(uuid: r.uuid)!
            let updated = s[p].updatedAt
            s.updateProvider(r, time: updated)
        }
        var inventories = [String: [(String, Inventory)]]()
        for row in try await db.raw("SELECT provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio FROM placement_inventories").all() {
            let inv = Inventory(total: try row.decode(column: "total", as: Int64.self), reserved: try row.decode(column: "reserved", as: Int64.self),
                                minUnit: try row.decode(column: "min_unit", as: Int64.self), maxUnit: try row.decode(column: "max_unit", as: Int64.self),
                                stepSize: try row.decode(column: "step_size", as: Int64.self),
                                allocationRatio: try row.decode(column: "allocation_ratio", as: Double.self))
            inventories[try row.decode(column: "provider_uuid", as: String.self), default: []].append((try row.decode(column: "resource_class", as: String.self), inv))
        }
        for (uuid, records) in inventories { if let p = s.provider(uuid: uuid) { s.setInventories(p, records) } }
        var traits = [String: [Int]]()
        for row in try await db.raw("SELECT provider_uuid, trait FROM placement_provider_traits").all() {
            if let t = s.trait(try row.decode(column: "trait", as: String.self)) { traits[try row.decode(column: "provider_uuid", as: String.self), default: []].append(t) }
        }
        for (uuid, ts) in traits { if let p = s.provider(uuid: uuid) { s.setTraits(p, ts) } }
        var aggregates = [String: [String]]()
        for row in try await db.raw("SELECT provider_uuid, aggregate_uuid FROM placement_provider_aggregates ORDER BY aggregate_uuid").all() {
            aggregates[try row.decode(column: "provider_uuid", as: String.self), default: []].append(try row.decode(column: "aggregate_uuid", as: String.self))
        }
        for (uuid, aggs) in aggregates { if let p = s.provider(uuid: uuid) { s.setAggregates(p, aggs) } }
        var allocations = [String: [WriteSet.AllocationRow]]()
        for row in try await db.raw("SELECT consumer_uuid, provider_uuid, resource_class, used FROM placement_allocations").all() {
            allocations[try row.decode(column: "consumer_uuid", as: String.self), default: []].append(
                .init(providerUUID: try row.decode(column: "provider_uuid", as: String.self),
                      resourceClass: try row.decode(column: "resource_class", as: String.self), used: try row.decode(column: "used", as: Int64.self)))
        }
        for row in try await db.raw("SELECT uuid, project_id, user_id, consumer_type, generation, created_at, updated_at FROM placement_consumers").all() {
            let uuid = try row.decode(column: "uuid", as: String.self)
            s.setAllocations(consumer: uuid, allocations[uuid] ?? [], time: date(try row.decode(column: "updated_at", as: Int64.self)))
            let key = Name(uuid)
            guard s.consumers[key] != nil else { continue }
            s.consumers[key]!.projectID = try row.decode(column: "project_id", as: String.self)
            s.consumers[key]!.userID = try row.decode(column: "user_id", as: String.self)
            s.consumers[key]!.consumerType = try row.decode(column: "consumer_type", as: String?.self)
            s.consumers[key]!.generation = try row.decode(column: "generation", as: Int64.self)
            s.consumers[key]!.createdAt = date(try row.decode(column: "created_at", as: Int64.self))
        }
        return s
    }

    /// Commits `w`; returns the new change counter. Throws a 409 concurrent update when a
    /// generation it names moved (another controller wrote first).
    public func commit(_ w: WriteSet) async throws -> Int64 {
        try await database.transaction { db in try await Self.write(w, db) }
    }

    static func conflict() -> NimbusError {
        .concurrentUpdate("Inventory and/or allocations changed while attempting to allocate: Another thread concurrently updated the data. Please retry your update")
    }

    static func write(_ w: WriteSet, _ db: any SQLDatabase) async throws -> Int64 {
        let now = micros(w.time)
        guard let version = try await db.raw("UPDATE placement_state SET version = version + 1 WHERE id = 1 RETURNING version").first()?
            .decode(column: "version", as: Int64.self) else { throw NimbusError(.internal, "placement_state is missing") }
        for name in w.newClasses {
            try await db.raw("INSERT INTO placement_resource_classes (name, created_at) VALUES (\(bind: name), \(bind: now))").run()
        }
        for (from, to) in w.renamedClasses {
            try await db.raw("UPDATE placement_resource_classes SET name = \(bind: to), updated_at = \(bind: now) WHERE name = \(bind: from)").run()
            try await db.raw("UPDATE placement_inventories SET resource_class = \(bind: to) WHERE resource_class = \(bind: from)").run()
            try await db.raw("UPDATE placement_allocations SET resource_class = \(bind: to) WHERE resource_class = \(bind: from)").run()
        }
        for name in w.newTraits { try await db.raw("INSERT INTO placement_traits (name, created_at) VALUES (\(bind: name), \(bind: now))").run() }
        var seq = now * 16
        for r in w.newProviders {
            seq += 1
            try await db.raw("""
                INSERT INTO placement_providers (uuid, name, generation, parent_uuid, root_uuid, seq, created_at, updated_at)
                VALUES (\(bind: r.uuid), \(bind: r.name), 0, \(bind: r.parentUUID), \(bind: r.rootUUID), \(bind: seq), \(bind: now), \(bind: now))
                """).run()
        }
        for r in w.updatedProviders {
            try await db.raw("""
                UPDATE placement_providers SET name = \(bind: r.name), parent_uuid = \(bind: r.parentUUID), root_uuid = \(bind: r.rootUUID),
                updated_at = \(bind: now) WHERE uuid = \(bind: r.uuid)
                """).run()
        }
        for b in w.bumps {
            let hit = try await db.raw("""
                UPDATE placement_providers SET generation = \(bind: b.expected + 1), updated_at = \(bind: now)
                WHERE uuid = \(bind: b.uuid) AND generation = \(bind: b.expected) RETURNING uuid
                """).all()
            if hit.isEmpty { throw conflict() }
        }
        try await writeProviderSets(w, db)
        try await writeConsumers(w, db, now: now)
        for uuid in w.deletedProviders {
            for table in ["placement_inventories", "placement_provider_traits", "placement_provider_aggregates"] {
                try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE provider_uuid = \(bind: uuid)").run()
            }
            let gone = try await db.raw("""
                DELETE FROM placement_providers WHERE uuid = \(bind: uuid)
                AND NOT EXISTS (SELECT 1 FROM placement_allocations WHERE provider_uuid = \(bind: uuid))
                AND NOT EXISTS (SELECT 1 FROM placement_providers c WHERE c.parent_uuid = \(bind: uuid)) RETURNING uuid
                """).all()
            if gone.isEmpty { throw conflict() }
        }
        for name in w.deletedTraits { try await db.raw("DELETE FROM placement_traits WHERE name = \(bind: name)").run() }
        for name in w.deletedClasses { try await db.raw("DELETE FROM placement_resource_classes WHERE name = \(bind: name)").run() }
        return version
    }

    static func writeProviderSets(_ w: WriteSet, _ db: any SQLDatabase) async throws {
        for (uuid, records) in w.inventories {
            try await db.raw("DELETE FROM placement_inventories WHERE provider_uuid = \(bind: uuid)").run()
            for (rc, i) in records {
                try await db.raw("""
                    INSERT INTO placement_inventories (provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio)
                    VALUES (\(bind: uuid), \(bind: rc), \(bind: i.total), \(bind: i.reserved), \(bind: i.minUnit), \(bind: i.maxUnit),
                    \(bind: i.stepSize), \(bind: i.allocationRatio))
                    """).run()
            }
        }
        for (uuid, names) in w.traits {
            try await db.raw("DELETE FROM placement_provider_traits WHERE provider_uuid = \(bind: uuid)").run()
            for t in names { try await db.raw("INSERT INTO placement_provider_traits (provider_uuid, trait) VALUES (\(bind: uuid), \(bind: t))").run() }
        }
        for (uuid, aggs) in w.aggregates {
            try await db.raw("DELETE FROM placement_provider_aggregates WHERE provider_uuid = \(bind: uuid)").run()
            for a in aggs {
                try await db.raw("INSERT INTO placement_provider_aggregates (provider_uuid, aggregate_uuid) VALUES (\(bind: uuid), \(bind: a))").run()
            }
        }
    }

    static func writeConsumers(_ w: WriteSet, _ db: any SQLDatabase, now: Int64) async throws {
        for c in w.consumers {
            let generation = c.bumps ? (c.expected.map { $0 + 1 } ?? 1) : (c.expected ?? 0)
            if let expected = c.expected {
                let hit = try await db.raw("""
                    UPDATE placement_consumers SET project_id = \(bind: c.projectID), user_id = \(bind: c.userID), consumer_type = \(bind: c.consumerType),
                    generation = \(bind: generation), updated_at = \(bind: now) WHERE uuid = \(bind: c.uuid) AND generation = \(bind: expected) RETURNING uuid
                    """).all()
                if hit.isEmpty { throw conflict() }
            } else {
                let hit = try await db.raw("""
                    INSERT INTO placement_consumers (uuid, project_id, user_id, consumer_type, generation, created_at, updated_at)
                    VALUES (\(bind: c.uuid), \(bind: c.projectID), \(bind: c.userID), \(bind: c.consumerType), \(bind: generation), \(bind: now), \(bind: now))
                    ON CONFLICT (uuid) DO NOTHING RETURNING uuid
                    """).all()
                if hit.isEmpty { throw conflict() }
            }
        }
        for (uuid, rows) in w.allocations {
            try await db.raw("DELETE FROM placement_allocations WHERE consumer_uuid = \(bind: uuid)").run()
            for r in rows {
                try await db.raw("""
                    INSERT INTO placement_allocations (consumer_uuid, provider_uuid, resource_class, used)
                    VALUES (\(bind: uuid), \(bind: r.providerUUID), \(bind: r.resourceClass), \(bind: r.used))
                    """).run()
            }
            if rows.isEmpty { try await db.raw("DELETE FROM placement_consumers WHERE uuid = \(bind: uuid)").run() }
        }
        for (uuid, _) in w.deletedConsumers {
            try await db.raw("DELETE FROM placement_allocations WHERE consumer_uuid = \(bind: uuid)").run()
            try await db.raw("DELETE FROM placement_consumers WHERE uuid = \(bind: uuid)").run()
        }
    }
}
