import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// The network service's tables: one row per resource holding its JSON document (what Neutron
/// shows an admin), quota limits per project, and a version counter that every commit moves
/// with a compare-and-set, so two controllers on one PostgreSQL never both commit against the
/// same state (the loser reloads and retries).
public enum NetworkMigrations {
    public static let all: [Migration] = [
        Migration(service: "network", version: 1, name: "resources, quotas, state version") { engine in
            let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
            return [
                "CREATE TABLE network_state (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
                "INSERT INTO network_state (id, version) VALUES (1, 0)",
                """
                CREATE TABLE network_resources (
                    kind TEXT NOT NULL, id \(text) NOT NULL, project_id \(text) NOT NULL, doc TEXT NOT NULL,
                    PRIMARY KEY (kind, id))
                """,
                "CREATE INDEX network_resources_project ON network_resources (project_id)",
                "CREATE TABLE network_quotas (project_id \(text) PRIMARY KEY, limits TEXT NOT NULL)",
            ]
        },
    ]
}

public struct NetworkStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    /// Another writer committed since `version` was loaded.
    public struct Conflict: Error {}

    public func version() async throws -> Int64 {
        try await database.sql.raw("SELECT version FROM network_state WHERE id = 1").first()?.decode(column: "version", as: Int64.self) ?? 0
    }

    /// The whole state, read in one transaction.
    public func load() async throws -> NetworkState {
        try await database.transaction { db in
            var s = NetworkState()
            s.version = try await db.raw("SELECT version FROM network_state WHERE id = 1").first()?.decode(column: "version", as: Int64.self) ?? 0
            for row in try await db.raw("SELECT kind, doc FROM network_resources").all() {
                guard let kind = ResourceKind(rawValue: try row.decode(column: "kind", as: String.self)) else { continue }
                let text = try row.decode(column: "doc", as: String.self)
                guard case .object(let doc)? = try? JSONValue.parse(Array(text.utf8)) else { continue }
                s.load(kind, doc)
            }
            for row in try await db.raw("SELECT project_id, limits FROM network_quotas").all() {
                let text = try row.decode(column: "limits", as: String.self)
                guard case .object(let o)? = try? JSONValue.parse(Array(text.utf8)) else { continue }
                var limits = [String: Int64]()
                for (k, v) in o { if let n = v.intValue { limits[k] = n } }
                s.quotas[Name(try row.decode(column: "project_id", as: String.self))] = limits
            }
            return s
        }
    }

    /// Writes the state's recorded changes in one transaction if the stored version is still
    /// `state.version`; returns the new version.
    public func commit(_ state: NetworkState) async throws -> Int64 {
        let expected = state.version
        let changes = state.changes
        let quotaChanges = state.quotaChanges.map { ($0.string, state.quotas[$0]) }
        return try await database.transaction { db in
            guard let v = try await db.raw("""
                UPDATE network_state SET version = version + 1 WHERE id = 1 AND version = \(bind: expected) RETURNING version
                """).first()?.decode(column: "version", as: Int64.self) else { throw Conflict() }
            for (kind, docs) in changes {
                for (id, doc) in docs {
                    try await db.raw("DELETE FROM network_resources WHERE kind = \(bind: kind.rawValue) AND id = \(bind: id)").run()
                    if let doc {
                        let project = doc["project_id"]?.stringValue ?? ""
                        try await db.raw("""
                            INSERT INTO network_resources (kind, id, project_id, doc) VALUES (\(bind: kind.rawValue), \(bind: id), \(bind: project),
                            \(bind: JSONValue.object(doc).serializedString()))
                            """).run()
                    }
                }
            }
            for (project, limits) in quotaChanges {
                try await db.raw("DELETE FROM network_quotas WHERE project_id = \(bind: project)").run()
                if let limits {
                    let doc = JSONValue.object(JSONObject(pairs: limits.map { ($0.key, JSONValue.int($0.value)) })).serializedString()
                    try await db.raw("INSERT INTO network_quotas (project_id, limits) VALUES (\(bind: project), \(bind: doc))").run()
                }
            }
            return v
        }
    }
}
