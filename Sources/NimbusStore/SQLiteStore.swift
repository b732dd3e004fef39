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

    // MARK: group commit

    /// Writes waiting for the writer connection; whoever gets it next runs them all.
    private let queue = Mutex<[any GroupedWork]>([])
    static let maxGroup = 128

    /// Like `transaction`, but commits together with the other group transactions waiting at
    /// the same time: one BEGIN … COMMIT (one fsync of the WAL) for the whole batch, each body
    /// inside its own SAVEPOINT, so a body that throws rolls back only its own statements. The
    /// bodies run one after another, each seeing the ones before it, exactly as if they had been
    /// separate transactions in that order; none returns before the batch has committed.
    func groupTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let work = Grouped(body)
        queue.withLock { $0.append(work) }
        await writeLock.withLock {
            while true {
                // Drain what is queued, unless an earlier holder of the lock already ran `work`.
                let batch = queue.withLock { q -> [any GroupedWork] in
                    guard q.contains(where: { $0 === work }) else { return [] }
                    let n = min(q.count, Self.maxGroup)
                    defer { q.removeFirst(n) }
                    return Array(q.prefix(n))
                }
                if batch.isEmpty { break }
                await runBatch(batch)
            }
        }
        return try work.result()
    }

    private func runBatch(_ batch: [any GroupedWork]) async {
        let db = writer.sql(queryLogLevel: nil)
        do {
            try await db.raw("BEGIN IMMEDIATE").run()
        } catch {
            for w in batch { w.fail(error) }
            return
        }
        for w in batch {
            do {
                try await db.raw("SAVEPOINT grouped").run()
                if await w.run(db) {
                    try await db.raw("RELEASE grouped").run()
                } else {
                    try await db.raw("ROLLBACK TO grouped").run()
                    try await db.raw("RELEASE grouped").run()
                }
            } catch {
                // The savepoint machinery itself failed: give up on the whole batch.
                try? await db.raw("ROLLBACK").run()
                for w in batch { w.fail(error) }
                return
            }
        }
        do {
            try await db.raw("COMMIT").run()
        } catch {
            try? await db.raw("ROLLBACK").run()
            for w in batch { w.fail(error) }
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

/// One body waiting for a group commit, and its result once the batch is done.
protocol GroupedWork: AnyObject, Sendable {
    /// Runs the body; false when it threw (its error is kept).
    func run(_ db: any SQLDatabase) async -> Bool
    /// The batch did not commit: the result becomes `error`.
    func fail(_ error: any Error)
}

final class Grouped<R: Sendable>: GroupedWork {
    let body: @Sendable (any SQLDatabase) async throws -> R
    private let outcome = Mutex<Result<R, any Error>?>(nil)

    init(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) { self.body = body }

    func run(_ db: any SQLDatabase) async -> Bool {
        do {
            let r = try await body(db)
            outcome.withLock { $0 = .success(r) }
            return true
        } catch {
            outcome.withLock { $0 = .failure(error) }
            return false
        }
    }

    func fail(_ error: any Error) { outcome.withLock { $0 = .failure(error) } }

    func result() throws -> R {
        guard let r = outcome.withLock({ $0 }) else { throw CancellationError() }
        return try r.get()
    }
}
