import Foundation
import Logging
import NIOCore
import NIOPosix
import NimbusCore
import SQLKit
import SQLiteKit
import Synchronization

/// SQLite allows one writer at a time, so writes share one connection behind an async lock and
/// reads spread over a few reader connections (WAL lets them run while a write is in progress).
final class SQLiteStore: Sendable {
    let readers: [SQLiteConnection]
    let writer: SQLiteConnection
    let writeLock = AsyncLock()
    let logger: Logger
    let next = Atomic<Int>(0)

    var readDatabase: any SQLDatabase { ReaderPool(store: self) }

    private init(readers: [SQLiteConnection], writer: SQLiteConnection, logger: Logger) {
        self.readers = readers
        self.writer = writer
        self.logger = logger
    }

    static func open(path: String, logger: Logger, readerCount: Int = 3) async throws -> SQLiteStore {
        let writer = try await connect(path: path, logger: logger)
        try await writer.query("PRAGMA journal_mode = WAL").get()
        var readers = [SQLiteConnection]()
        for _ in 0..<readerCount { readers.append(try await connect(path: path, logger: logger)) }
        return SQLiteStore(readers: readers, writer: writer, logger: logger)
    }

    private static func connect(path: String, logger: Logger) async throws -> SQLiteConnection {
        let conn = try await SQLiteConnection.open(storage: .file(path: path), threadPool: .singleton, logger: logger,
                                                   on: MultiThreadedEventLoopGroup.singleton.any())
        for pragma in ["PRAGMA foreign_keys = ON", "PRAGMA synchronous = FULL", "PRAGMA busy_timeout = 10000"] {
            _ = try await conn.query(pragma).get()
        }
        return conn
    }

    func reader() -> SQLiteConnection {
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return readers[abs(i) % readers.count]
    }

    func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await writeLock.withLock {
            let db = writer.sql(queryLogLevel: nil)
            try await db.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    func close() async {
        await writeLock.withLock {
            for c in readers { try? await c.close().get() }
            try? await writer.close().get()
        }
    }
}

/// An `SQLDatabase` that sends each statement to the next reader connection.
struct ReaderPool: SQLDatabase {
    let store: SQLiteStore
    var logger: Logger { store.logger }
    var eventLoop: any EventLoop { store.readers[0].eventLoop }
    var dialect: any SQLDialect { store.readers[0].sql().dialect }
    var version: (any SQLDatabaseReportedVersion)? { nil }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        store.reader().sql(queryLogLevel: nil).execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await store.reader().sql(queryLogLevel: nil).execute(sql: query, onRow)
    }
}
