import Foundation
import Logging
import NimbusStore
import SQLKit

/// Every store test runs on SQLite and, when NIMBUS_TEST_POSTGRES_URL is set (as `make test` does),
/// on PostgreSQL too.
public enum Engines {
    public static var available: [String] {
        var out = ["sqlite"]
        if ProcessInfo.processInfo.environment["NIMBUS_TEST_POSTGRES_URL"] != nil { out.append("postgres") }
        return out
    }

    /// A fresh, empty database: a temp SQLite file, or a new schema in the test PostgreSQL database.
    public static func open(_ engine: String) async throws -> (Database, @Sendable () async -> Void) {
        let logger = Logger(label: "test")
        if engine == "postgres", let url = ProcessInfo.processInfo.environment["NIMBUS_TEST_POSTGRES_URL"] {
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            // Every database opened is closed, also when a statement fails (a pool that is never
            // shut down traps in AsyncKit's deinit and takes the whole test process with it).
            let admin = try await Database.open(url: url, dataDirectory: "", logger: logger)
            do {
                try await admin.sql.raw("CREATE DATABASE \(unsafeRaw: name)").run()
            } catch {
                await admin.close()
                throw error
            }
            await admin.close()
            let base = url[..<url.lastIndex(of: "/")!]
            let db = try await Database.open(url: base + "/" + name, dataDirectory: "", logger: logger)
            return (db, {
                await db.close()
                if let a = try? await Database.open(url: url, dataDirectory: "", logger: logger) {
                    try? await a.sql.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name)").run()
                    await a.close()
                }
            })
        }
        let dir = NSTemporaryDirectory() + "nimbus-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = try await Database.open(url: nil, dataDirectory: dir, logger: logger)
        return (db, {
            await db.close()
            try? FileManager.default.removeItem(atPath: dir)
        })
    }
}

