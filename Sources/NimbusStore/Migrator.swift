import Foundation
import NimbusCore
import SQLKit

/// One schema step of one service. Steps are numbered per service and applied in order, each in its
/// own transaction together with its row in `nimbus_migrations`.
public struct Migration: Sendable {
    public let service: String
    public let version: Int
    public let name: String
    public let statements: @Sendable (DatabaseEngine) -> [String]

    public init(service: String, version: Int, name: String, statements: @escaping @Sendable (DatabaseEngine) -> [String]) {
        self.service = service
        self.version = version
        self.name = name
        self.statements = statements
    }
}

public struct MigrationStatus: Sendable {
    public let service: String
    public let version: Int
    public let name: String
    public let appliedAt: String?
}

public struct Migrator: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    private func ensureTable() async throws {
        try await database.sql.raw("""
            CREATE TABLE IF NOT EXISTS nimbus_migrations (
                service TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
                PRIMARY KEY (service, version))
            """).run()
    }

    private struct Applied: Decodable { let service: String; let version: Int; let applied_at: String }

    private func applied() async throws -> [String: [Int: String]] {
        try await ensureTable()
        let rows = try await database.sql.select().columns("service", "version", "applied_at").from("nimbus_migrations").all(decoding: Applied.self)
        var out = [String: [Int: String]]()
        for r in rows { out[r.service, default: [:]][r.version] = r.applied_at }
        return out
    }

    /// Applies what is missing; returns the steps applied now.
    @discardableResult
    public func migrate(_ migrations: [Migration]) async throws -> [Migration] {
        let done = try await applied()
        var appliedNow = [Migration]()
        for m in migrations.sorted(by: { ($0.service, $0.version) < ($1.service, $1.version) }) where done[m.service]?[m.version] == nil {
            let engine = database.engine
            try await database.transaction { db in
                for statement in m.statements(engine) { try await db.raw(SQLQueryString(statement)).run() }
                try await db.insert(into: "nimbus_migrations")
                    .columns("service", "version", "name", "applied_at")
                    .values(SQLBind(m.service), SQLBind(m.version), SQLBind(m.name), SQLBind(Timestamps.micros(Date())))
                    .run()
            }
            appliedNow.append(m)
        }
        return appliedNow
    }

    public func status(_ migrations: [Migration]) async throws -> [MigrationStatus] {
        let done = try await applied()
        return migrations.sorted(by: { ($0.service, $0.version) < ($1.service, $1.version) }).map {
            MigrationStatus(service: $0.service, version: $0.version, name: $0.name, appliedAt: done[$0.service]?[$0.version])
        }
    }
}

extension Database {
    /// Column names per table as the engine reports them, for schema comparisons in tests and `db status`.
    public func describeSchema() async throws -> [String: [String]] {
        struct Col: Decodable { let table_name: String; let column_name: String }
        let query: String
        switch engine {
        case .sqlite:
            query = """
                SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m
                JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                """
        case .postgres:
            query = "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        }
        var out = [String: [String]]()
        for c in try await sql.raw(SQLQueryString(query)).all(decoding: Col.self) {
            out[c.table_name, default: []].append(c.column_name)
        }
        return out.mapValues { $0.sorted() }
    }
}
