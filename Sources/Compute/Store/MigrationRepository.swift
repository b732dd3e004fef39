import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// `compute_migrations` (Nova's `migrations` table): `record` for resize/migrate to call,
/// `update` as the move progresses, `list` for `os-migrations`.
public struct MigrationRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = """
        id, uuid, source_compute, dest_compute, source_node, dest_node, dest_host, old_instance_type_id, new_instance_type_id, \
        instance_uuid, status, migration_type, hidden, memory_total, memory_processed, memory_remaining, disk_total, disk_processed, \
        disk_remaining, cross_cell_move, user_id, project_id, created_at, updated_at
        """

    static func decode(_ row: any SQLRow) throws -> ComputeMigration {
        var m = ComputeMigration(uuid: try row.decode(column: "uuid", as: String.self), instanceID: try row.decode(column: "instance_uuid", as: String?.self) ?? "",
                                 kind: ComputeMigration.Kind(rawValue: try row.decode(column: "migration_type", as: String.self)) ?? .migration,
                                 status: try row.decode(column: "status", as: String?.self) ?? "",
                                 sourceCompute: try row.decode(column: "source_compute", as: String?.self),
                                 userID: try row.decode(column: "user_id", as: String?.self), projectID: try row.decode(column: "project_id", as: String?.self),
                                 createdAt: Micros.date(try row.decode(column: "created_at", as: Int64.self)))
        m.id = try row.decode(column: "id", as: Int.self)
        m.instanceID = try row.decode(column: "instance_uuid", as: String?.self)
        m.status = try row.decode(column: "status", as: String?.self)
        m.destCompute = try row.decode(column: "dest_compute", as: String?.self)
        m.sourceNode = try row.decode(column: "source_node", as: String?.self)
        m.destNode = try row.decode(column: "dest_node", as: String?.self)
        m.destHost = try row.decode(column: "dest_host", as: String?.self)
        m.oldFlavorID = try row.decode(column: "old_instance_type_id", as: Int?.self)
        m.newFlavorID = try row.decode(column: "new_instance_type_id", as: Int?.self)
        m.hidden = try row.decode(column: "hidden", as: Bool.self)
        m.memoryTotal = try row.decode(column: "memory_total", as: Int64?.self)
        m.memoryProcessed = try row.decode(column: "memory_processed", as: Int64?.self)
        m.memoryRemaining = try row.decode(column: "memory_remaining", as: Int64?.self)
        m.diskTotal = try row.decode(column: "disk_total", as: Int64?.self)
        m.diskProcessed = try row.decode(column: "disk_processed", as: Int64?.self)
        m.diskRemaining = try row.decode(column: "disk_remaining", as: Int64?.self)
        m.crossCellMove = try row.decode(column: "cross_cell_move", as: Bool.self)
        m.updatedAt = try row.decode(column: "updated_at", as: Int64?.self).map(Micros.date)
        return m
    }

    /// Records a migration; returns it with its id.
    @discardableResult
    public func record(_ m: ComputeMigration) async throws -> ComputeMigration {
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO compute_migrations (uuid, source_compute, dest_compute, source_node, dest_node, dest_host, old_instance_type_id,
                new_instance_type_id, instance_uuid, status, migration_type, hidden, memory_total, memory_processed, memory_remaining,
                disk_total, disk_processed, disk_remaining, cross_cell_move, user_id, project_id, created_at, updated_at, deleted_at, deleted)
                VALUES (\(bind: m.uuid), \(bind: m.sourceCompute), \(bind: m.destCompute), \(bind: m.sourceNode), \(bind: m.destNode),
                \(bind: m.destHost), \(bind: m.oldFlavorID), \(bind: m.newFlavorID), \(bind: m.instanceID), \(bind: m.status),
                \(bind: m.kind.rawValue), \(bind: m.hidden), \(bind: m.memoryTotal), \(bind: m.memoryProcessed), \(bind: m.memoryRemaining),
                \(bind: m.diskTotal), \(bind: m.diskProcessed), \(bind: m.diskRemaining), \(bind: m.crossCellMove), \(bind: m.userID),
                \(bind: m.projectID), \(bind: Micros.of(m.createdAt)), \(bind: nil as Int64?), \(bind: nil as Int64?), \(bind: false))
                """).run()
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_migrations WHERE uuid = \(bind: m.uuid)").first() else {
                throw NimbusError(.internal, "migration \(m.uuid) vanished")
            }
            return try Self.decode(row)
        }
    }

    /// Changes a migration's status (and destination, when known).
    public func update(uuid: String, status: String, destCompute: String? = nil) async throws {
        let now = Micros.of(Date())
        try await database.transaction { db in
            if let dest = destCompute {
                try await db.raw("""
                    UPDATE compute_migrations SET status = \(bind: status), dest_compute = \(bind: dest), dest_node = \(bind: dest),
                    updated_at = \(bind: now) WHERE uuid = \(bind: uuid)
                    """).run()
            } else {
                try await db.raw("UPDATE compute_migrations SET status = \(bind: status), updated_at = \(bind: now) WHERE uuid = \(bind: uuid)").run()
            }
        }
    }

    public struct Filter: Sendable {
        public var status: String?
        public var host: String?
        public var sourceCompute: String?
        public var migrationType: String?
        public var hidden: Bool?
        public var instanceID: String?
        public var userID: String?
        public var projectID: String?
        public var changesSince: Date?
        public var changesBefore: Date?
        public init() {}
    }

    /// Migrations matching `f`, newest first (`created_at`, `id` descending: Nova's paging order).
    public func list(_ f: Filter) async throws -> [ComputeMigration] {
        var sql = SQLQueryString("SELECT \(unsafeRaw: Self.columns) FROM compute_migrations WHERE deleted = \(bind: false)")
        if let s = f.status { sql.appendInterpolation(" AND status = \(bind: s)" as SQLQueryString) }
        if let h = f.host {
            sql.appendInterpolation(" AND (source_compute = \(bind: h) OR dest_compute = \(bind: h))" as SQLQueryString)
        } else if let h = f.sourceCompute {
            sql.appendInterpolation(" AND source_compute = \(bind: h)" as SQLQueryString)
        }
        if let t = f.migrationType { sql.appendInterpolation(" AND migration_type = \(bind: t)" as SQLQueryString) }
        if let h = f.hidden { sql.appendInterpolation(" AND hidden = \(bind: h)" as SQLQueryString) }
        if let i = f.instanceID { sql.appendInterpolation(" AND instance_uuid = \(bind: i)" as SQLQueryString) }
        if let u = f.userID { sql.appendInterpolation(" AND user_id = \(bind: u)" as SQLQueryString) }
        if let p = f.projectID { sql.appendInterpolation(" AND project_id = \(bind: p)" as SQLQueryString) }
        if let d = f.changesSince { sql.appendInterpolation(" AND COALESCE(updated_at, created_at) >= \(bind: Micros.of(d))" as SQLQueryString) }
        if let d = f.changesBefore { sql.appendInterpolation(" AND COALESCE(updated_at, created_at) <= \(bind: Micros.of(d))" as SQLQueryString) }
        sql.appendInterpolation(" ORDER BY created_at DESC, id DESC" as SQLQueryString)
        return try await database.sql.raw(sql).all().map(Self.decode)
    }

    public func get(uuid: String) async throws -> ComputeMigration? {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_migrations WHERE uuid = \(bind: uuid)").first().map(Self.decode)
    }

    /// Moves in which `host` has a step to do while the instance is placed on the other end:
    /// the source of a confirmed move or a finished evacuation (to clean up), the destination
    /// of a live migration being prepared or rolled back.
    public func acting(host: String) async throws -> [ComputeMigration] {
        try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_migrations WHERE deleted = \(bind: false) AND source_compute <> dest_compute
            AND ((source_compute = \(bind: host) AND status IN ('confirming', 'done'))
                 OR (dest_compute = \(bind: host) AND migration_type = 'live-migration' AND status IN ('preparing', 'running')))
            """).all().map(Self.decode)
    }

    /// Migrations still moving the instances of `host` (what a service delete must wait for).
    public func inProgress(host: String) async throws -> [ComputeMigration] {
        var f = Filter()
        f.host = host
        let done: Set<String> = ["confirmed", "reverted", "error", "failed", "completed", "cancelled", "done"]
        return try await list(f).filter { m in !(m.status.map { s in done.contains { s.sameBytes(as: $0) } } ?? false) }
    }
}
