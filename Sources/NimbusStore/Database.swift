import Foundation
import Logging
import NIOCore
import NIOPosix
import NimbusCore
@preconcurrency import PostgresKit
import SQLKit
import SQLiteKit

public enum DatabaseEngine: String, Sendable {
    case sqlite
    case postgres
}

/// The one store API over two engines. Reads go through `sql`; every write goes through
/// `transaction`, which commits durably before returning (SQLite: WAL with synchronous=FULL;
/// PostgreSQL: its default synchronous_commit=on).
public final class Database: Sendable {
    public let engine: DatabaseEngine
    /// For reads and single statements.
    public let sql: any SQLDatabase
    private let backend: Backend

    enum Backend: Sendable {
        case sqlite(SQLiteStore)
        case postgres(EventLoopGroupConnectionPool<PostgresConnectionSource>)
    }

    private init(engine: DatabaseEngine, sql: any SQLDatabase, backend: Backend) {
        self.engine = engine
        self.sql = sql
        self.backend = backend
    }

    /// Opens `url` (`postgresql://…`, `sqlite:///path` or a plain file path); `nil` means the
    /// SQLite file `nimbus.sqlite` in `dataDirectory`.
    public static func open(url: String?, dataDirectory: String, logger: Logger) async throws -> Database {
        let url = url ?? ""
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try await openPostgres(url: url, logger: logger)
        }
        var path = url
        if path.hasPrefix("sqlite://") { path = String(path.dropFirst("sqlite://".count)) }
        if path.isEmpty { path = dataDirectory + "/nimbus.sqlite" }
        let store = try await SQLiteStore.open(path: path, logger: logger)
        return Database(engine: .sqlite, sql: store.readDatabase, backend: .sqlite(store))
    }

    private static func openPostgres(url: String, logger: Logger) async throws -> Database {
        let normalised = url.hasPrefix("postgresql://") ? "postgres://" + url.dropFirst("postgresql://".count) : url
        var config = try SQLPostgresConfiguration(url: normalised)
        config.searchPath = nil
        let source = PostgresConnectionSource(sqlConfiguration: config)
        let pool = EventLoopGroupConnectionPool(
            source: source, maxConnectionsPerEventLoop: 4, requestTimeout: .seconds(10),
            logger: logger, on: MultiThreadedEventLoopGroup.singleton)
        let sql = pool.database(logger: logger).sql()
        do {
            try await sql.raw("SELECT 1").run()
        } catch {
            try? await pool.shutdownAsync()
            throw NimbusError(.serviceUnavailable, "cannot connect to PostgreSQL", detail: String(reflecting: error))
        }
        return Database(engine: .postgres, sql: sql, backend: .postgres(pool))
    }

    /// Runs `body` in one transaction: all of it commits, durably, or none of it does.
    public func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        switch backend {
        case .sqlite(let store):
            return try await store.transaction(body)
        case .postgres:
            return try await sql.withSession { session in
                try await session.raw("BEGIN").run()
                do {
                    let result = try await body(session)
                    try await session.raw("COMMIT").run()
                    return result
                } catch {
                    try? await session.raw("ROLLBACK").run()
                    throw error
                }
            }
        }
    }

    /// `transaction` for small, frequent writes: on SQLite, writes that arrive while another
    /// is committing are committed together (one WAL fsync for the batch, each body in its own
    /// savepoint, so one failing body does not affect the others). Same guarantees as
    /// `transaction`: nothing returns before its changes are durable. On PostgreSQL, which takes
    /// concurrent commits itself, it is `transaction`.
    public func groupTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        switch backend {
        case .sqlite(let store): return try await store.groupTransaction(body)
        case .postgres: return try await transaction(body)
        }
    }

    public func close() async {
        switch backend {
        case .sqlite(let store): await store.close()
        case .postgres(let pool): try? await pool.shutdownAsync()
        }
    }
}
