import Foundation
import NimbusCore
import SQLKit

/// A service's resources as JSON documents in three tables named after the service
/// (`<p>_resources`, `<p>_quotas`, `<p>_state`): one row per resource, quota limits per
/// project, and a version counter that every commit moves with a compare-and-set, so two
/// controllers on one PostgreSQL never both commit against the same state (the loser reloads
/// and retries). The network and block storage services keep their whole state this way.
public struct DocumentStore: Sendable {
    let database: Database
    /// The tables' prefix, a constant of the code (never user text).
    let prefix: String

    public init(database: Database, prefix: String) {
        self.database = database
        self.prefix = prefix
    }

    /// The statements that create the three tables.
    public static func tables(prefix: String, engine: DatabaseEngine) -> [String] {
        let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
        return [
            "CREATE TABLE \(prefix)_state (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
            "INSERT INTO \(prefix)_state (id, version) VALUES (1, 0)",
            """
            CREATE TABLE \(prefix)_resources (
                kind TEXT NOT NULL, id \(text) NOT NULL, project_id \(text) NOT NULL, doc TEXT NOT NULL,
                PRIMARY KEY (kind, id))
            """,
            "CREATE INDEX \(prefix)_resources_project ON \(prefix)_resources (project_id)",
            "CREATE TABLE \(prefix)_quotas (project_id \(text) PRIMARY KEY, limits TEXT NOT NULL)",
        ]
    }

    /// Another writer committed since the state being committed was loaded.
    public struct Conflict: Error {}

    /// Everything stored, read in one transaction.
    public struct Snapshot: Sendable {
        public var version: Int64 = 0
        public var documents: [(kind: String, doc: JSONObject)] = []
        public var quotas: [(project: String, limits: [String: Int64])] = []
    }

    /// One change of a commit: a document to write, or nil to delete it.
    public struct Change: Sendable {
        public let kind: String, id: String, doc: JSONObject?
        public init(kind: String, id: String, doc: JSONObject?) {
            self.kind = kind
            self.id = id
            self.doc = doc
        }
    }

    public func version() async throws -> Int64 {
        try await database.sql.raw("SELECT version FROM \(unsafeRaw: prefix)_state WHERE id = 1").first()?.decode(column: "version", as: Int64.self) ?? 0
    }

    public func load() async throws -> Snapshot {
        let prefix = prefix
        return try await database.transaction { db in
            var s = Snapshot()
            s.version = try await db.raw("SELECT version FROM \(unsafeRaw: prefix)_state WHERE id = 1").first()?.decode(column: "version", as: Int64.self) ?? 0
            for row in try await db.raw("SELECT kind, doc FROM \(unsafeRaw: prefix)_resources").all() {
                let text = try row.decode(column: "doc", as: String.self)
                guard case .object(let doc)? = try? JSONValue.parse(Array(text.utf8)) else { continue }
                s.documents.append((try row.decode(column: "kind", as: String.self), doc))
            }
            for row in try await db.raw("SELECT project_id, limits FROM \(unsafeRaw: prefix)_quotas").all() {
                let text = try row.decode(column: "limits", as: String.self)
                guard case .object(let o)? = try? JSONValue.parse(Array(text.utf8)) else { continue }
                var limits = [String: Int64]()
                for (k, v) in o { if let n = v.intValue { limits[k] = n } }
                s.quotas.append((try row.decode(column: "project_id", as: String.self), limits))
            }
            return s
        }
    }

    /// Writes the changes in one transaction if the stored version is still `expected`;
    /// returns the new version, or throws `Conflict`.
    public func commit(expected: Int64, changes: [Change], quotas: [(project: String, limits: [String: Int64]?)]) async throws -> Int64 {
        let prefix = prefix
        return try await database.transaction { db in
            guard let v = try await db.raw("""
                UPDATE \(unsafeRaw: prefix)_state SET version = version + 1 WHERE id = 1 AND version = \(bind: expected) RETURNING version
                """).first()?.decode(column: "version", as: Int64.self) else { throw Conflict() }
            for c in changes {
                try await db.raw("DELETE FROM \(unsafeRaw: prefix)_resources WHERE kind = \(bind: c.kind) AND id = \(bind: c.id)").run()
                guard let doc = c.doc else { continue }
                let project = doc["project_id"]?.stringValue ?? ""
                try await db.raw("""
                    INSERT INTO \(unsafeRaw: prefix)_resources (kind, id, project_id, doc) VALUES (\(bind: c.kind), \(bind: c.id), \(bind: project),
                    \(bind: JSONValue.object(doc).serializedString()))
                    """).run()
            }
            for (project, limits) in quotas {
                try await db.raw("DELETE FROM \(unsafeRaw: prefix)_quotas WHERE project_id = \(bind: project)").run()
                guard let limits else { continue }
                let doc = JSONValue.object(JSONObject(pairs: limits.sorted { $0.key.bytesPrecede($1.key) }.map { ($0.key, JSONValue.int($0.value)) }))
                try await db.raw("INSERT INTO \(unsafeRaw: prefix)_quotas (project_id, limits) VALUES (\(bind: project), \(bind: doc.serializedString()))").run()
            }
            return v
        }
    }
}
