import Foundation
import Logging
import SQLKit
import Testing
@testable import NimbusStore
import NimbusTestSupport

let sampleMigrations = [
    Migration(service: "sample", version: 1, name: "widgets") { _ in
        ["CREATE TABLE sample_widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL)"]
    },
    Migration(service: "sample", version: 2, name: "widget colour") { _ in
        ["ALTER TABLE sample_widgets ADD COLUMN colour TEXT"]
    },
]

@Suite struct DatabaseTests {
    @Test(arguments: Engines.available)
    func migratesOnceAndRecordsVersions(_ engine: String) async throws {
        let (db, cleanup) = try await Engines.open(engine)
        let migrator = Migrator(database: db)
        #expect(try await migrator.migrate(sampleMigrations).count == 2)
        #expect(try await migrator.migrate(sampleMigrations).isEmpty)
        let status = try await migrator.status(sampleMigrations)
        #expect(status.allSatisfy { $0.appliedAt != nil })
        let schema = try await db.describeSchema()
        #expect(schema["sample_widgets"] == ["colour", "id", "name", "size"])
        await cleanup()
    }

    @Test(arguments: Engines.available)
    func groupTransactionsCommitTogetherAndFailAlone(_ engine: String) async throws {
        let (db, cleanup) = try await Engines.open(engine)
        try await Migrator(database: db).migrate(sampleMigrations)
        struct Boom: Error {}
        // 50 concurrent writers, every fifth of which inserts and then throws: the others' rows
        // all commit, the failing ones leave nothing, and each caller gets its own outcome.
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<50 {
                group.addTask {
                    do {
                        let n = try await db.groupTransaction { sql -> Int in
                            try await sql.raw("INSERT INTO sample_widgets (id, name, size) VALUES (\(bind: "w\(i)"), 'x', \(bind: i))").run()
                            if i % 5 == 0 { throw Boom() }
                            return i
                        }
                        return (n, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            var out = [Int: Bool]()
            for await (i, ok) in group { out[i] = ok }
            return out
        }
        #expect(outcomes.count == 50)
        #expect(outcomes.allSatisfy { $0.value == ($0.key % 5 != 0) })
        let sizes = try await db.sql.raw("SELECT size FROM sample_widgets").all().map { try $0.decode(column: "size", as: Int.self) }
        #expect(Set(sizes) == Set((0..<50).filter { $0 % 5 != 0 }))
        // A duplicate key fails only its own body.
        await #expect(throws: (any Error).self) {
            try await db.groupTransaction { sql in
                try await sql.raw("INSERT INTO sample_widgets (id, name, size) VALUES ('w1', 'dup', 0)").run()
            }
        }
        #expect(try await db.sql.raw("SELECT COUNT(*) AS n FROM sample_widgets").first()?.decode(column: "n", as: Int.self) == 40)
        await cleanup()
    }

    @Test(arguments: Engines.available)
    func transactionRollsBackOnError(_ engine: String) async throws {
        let (db, cleanup) = try await Engines.open(engine)
        try await Migrator(database: db).migrate(sampleMigrations)
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await db.transaction { sql in
                try await sql.raw("INSERT INTO sample_widgets (id, name, size) VALUES ('a', 'x', 1)").run()
                throw Boom()
            }
        }
        try await db.transaction { sql in
            try await sql.raw("INSERT INTO sample_widgets (id, name, size) VALUES ('b', 'y', 2)").run()
        }
        let ids = try await db.sql.raw("SELECT id FROM sample_widgets ORDER BY id").all().map { try $0.decode(column: "id", as: String.self) }
        #expect(ids == ["b"])
        await cleanup()
    }

    @Test(arguments: Engines.available)
    func concurrentTransactionsAllCommit(_ engine: String) async throws {
        let (db, cleanup) = try await Engines.open(engine)
        try await Migrator(database: db).migrate(sampleMigrations)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    try await db.transaction { sql in
                        try await sql.raw("INSERT INTO sample_widgets (id, name, size) VALUES (\(bind: "w\(i)"), 'n', \(bind: i))").run()
                    }
                }
            }
            try await group.waitForAll()
        }
        let count = try await db.sql.raw("SELECT COUNT(*) AS n FROM sample_widgets").first()?.decode(column: "n", as: Int.self)
        #expect(count == 40)
        await cleanup()
    }
}
