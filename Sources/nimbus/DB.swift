import Compute
import ArgumentParser
import BlockStorage
import Foundation
import Identity
import Image
import Logging
import Networking
import NimbusStore
import ObjectStorage
import Placement

/// Every service's migrations, in one list the `db` commands and `up` apply.
enum AllMigrations {
    static let list: [Migration] = IdentityMigrations.all + ObjectMigrations.all + ImageMigrations.all + ComputeMigrations.all + PlacementMigrations.all + NetworkMigrations.all + VolumeMigrations.all
}

struct DB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "Database schema operations.", subcommands: [Migrate.self, Status.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            let config = try common.configuration()
            try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
            let db = try await Database.open(url: config.databaseURL, dataDirectory: config.dataDir, logger: Logger(label: "nimbus.db"))
            let applied = try await Migrator(database: db).migrate(AllMigrations.list)
            await db.close()
            print(applied.isEmpty ? "Schema is up to date." : applied.map { "applied \($0.service) \($0.version): \($0.name)" }.joined(separator: "\n"))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show which migrations are applied.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            let config = try common.configuration()
            let db = try await Database.open(url: config.databaseURL, dataDirectory: config.dataDir, logger: Logger(label: "nimbus.db"))
            let status = try await Migrator(database: db).status(AllMigrations.list)
            await db.close()
            print("engine: \(db.engine.rawValue)")
            for s in status { print("\(s.service) \(s.version) \(s.name): \(s.appliedAt.map { "applied \($0)" } ?? "PENDING")") }
        }
    }
}
