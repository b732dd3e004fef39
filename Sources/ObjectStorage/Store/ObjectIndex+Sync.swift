import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// One change of an object in a synced container (see `ContainerSyncMigration`).
public struct SyncLogRow: Sendable, Equatable {
    public var seq: Int
    public var name: String
    /// The object's last modification, or for a delete the delete's time.
    public var timestamp: String
    public var deleted: Bool
}

/// How far a container's sync has gone.
public struct SyncPoint: Sendable, Equatable {
    public var syncTo: String
    /// Objects that existed when sync started are sent in name order; nil once all were sent.
    public var initialMarker: String?
    /// The last `object_sync_log` row sent.
    public var logSeq: Int
}

extension ObjectIndex {
    /// Containers with `X-Container-Sync-To` after `(account, name)` in key order, at most `limit`.
    public func syncedContainers(after: (String, String)?, limit: Int) async throws -> [ContainerRow] {
        let (a, c) = after ?? ("", "")
        return try await sql.raw("""
            SELECT \(unsafeRaw: Self.containerColumns) FROM object_containers
            WHERE \(unsafeRaw: ContainerSyncMigration.hasSyncTo("metadata")) AND (account > \(bind: a) OR (account = \(bind: a) AND name > \(bind: c)))
            ORDER BY account, name LIMIT \(bind: limit)
            """).all().map(Self.containerRow)
    }

    public func syncPoint(_ account: String, _ container: String) async throws -> SyncPoint? {
        guard let row = try await sql.raw("""
            SELECT sync_to, initial_marker, log_seq FROM object_sync_points WHERE account = \(bind: account) AND container = \(bind: container)
            """).first() else { return nil }
        return SyncPoint(syncTo: try row.decode(column: "sync_to", as: String.self), initialMarker: try row.decode(column: "initial_marker", as: String?.self),
                         logSeq: try row.decode(column: "log_seq", as: Int.self))
    }

    /// Stores the point and forgets the log rows it has passed.
    public func saveSyncPoint(_ account: String, _ container: String, _ p: SyncPoint) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM object_sync_points WHERE account = \(bind: account) AND container = \(bind: container)").run()
            try await db.raw("""
                INSERT INTO object_sync_points (account, container, sync_to, initial_marker, log_seq)
                VALUES (\(bind: account), \(bind: container), \(bind: p.syncTo), \(bind: p.initialMarker), \(bind: p.logSeq))
                """).run()
            try await db.raw("""
                DELETE FROM object_sync_log WHERE account = \(bind: account) AND container = \(bind: container) AND seq <= \(bind: p.logSeq)
                """).run()
        }
    }

    /// Current objects named after `marker`, in name order (the first pass of a sync).
    public func objects(_ account: String, _ container: String, after marker: String, limit: Int) async throws -> [ObjectRow] {
        try await sql.raw("""
            SELECT \(unsafeRaw: Self.objectColumns) FROM object_objects
            WHERE account = \(bind: account) AND container = \(bind: container) AND name > \(bind: marker)
            ORDER BY name LIMIT \(bind: limit)
            """).all().map(Self.objectRow)
    }

    public func syncLog(_ account: String, _ container: String, after seq: Int, limit: Int) async throws -> [SyncLogRow] {
        try await sql.raw("""
            SELECT seq, name, timestamp, deleted FROM object_sync_log
            WHERE account = \(bind: account) AND container = \(bind: container) AND seq > \(bind: seq) ORDER BY seq LIMIT \(bind: limit)
            """).all().map { r in
                SyncLogRow(seq: try r.decode(column: "seq", as: Int.self), name: try r.decode(column: "name", as: String.self),
                           timestamp: try r.decode(column: "timestamp", as: String.self), deleted: try r.decode(column: "deleted", as: Int.self) != 0)
            }
    }

    /// The newest log row of the container (where a new sync point starts: rows before it are
    /// covered by the first pass over the objects).
    public func lastSyncLogSeq(_ account: String, _ container: String) async throws -> Int {
        try await sql.raw("""
            SELECT COALESCE(MAX(seq), 0) AS seq FROM object_sync_log WHERE account = \(bind: account) AND container = \(bind: container)
            """).first()?.decode(column: "seq", as: Int.self) ?? 0
    }

    /// Drops sync points and log rows of containers that no longer sync (sync-to removed,
    /// container deleted).
    public func forgetUnsyncedContainers() async throws {
        for table in ["object_sync_log", "object_sync_points"] {
            try await sql.raw("""
                DELETE FROM \(unsafeRaw: table) WHERE NOT EXISTS (SELECT 1 FROM object_containers c
                WHERE c.account = \(unsafeRaw: table).account AND c.name = \(unsafeRaw: table).container AND \(unsafeRaw: ContainerSyncMigration.hasSyncTo("c.metadata")))
                """).run()
        }
    }

    /// In a delete's transaction: the delete's log row gets the timestamp a sync peer sent.
    static func stampSyncDelete(_ db: any SQLDatabase, _ account: String, _ container: String, _ name: String, timestamp: String) async throws {
        try await db.raw("""
            UPDATE object_sync_log SET timestamp = \(bind: timestamp) WHERE seq = (SELECT MAX(seq) FROM object_sync_log
            WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)) AND deleted = 1
            """).run()
    }
}

extension ObjectIndex {
    public enum SyncDeleteResult: Sendable, Equatable {
        case deleted(ObjectRow)
        case notFound
        /// The object is as new as the delete or newer (the object server's 409).
        case newer
    }

    /// A DELETE received from a sync peer: removes the object only when it is older than
    /// `timestamp`, and records that timestamp as the delete's (so it syncs on unchanged).
    public func deleteObject(_ account: String, _ container: String, _ name: String, syncTimestamp timestamp: String) async throws -> SyncDeleteResult {
        try await database.groupTransaction { db in
            _ = try await lockContainer(db, account, container)
            guard let old = try await Self.object(db, account, container, name) else { return .notFound }
            guard old.timestamp < timestamp else { return .newer }
            try await db.raw("DELETE FROM object_objects WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)").run()
            try await Self.count(db, account, container, objects: -1, bytes: -old.countedSize)
            try await Self.stampSyncDelete(db, account, container, name, timestamp: timestamp)
            return .deleted(old)
        }
    }
}
