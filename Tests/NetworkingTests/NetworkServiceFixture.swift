import Logging
import Networking
import NimbusStore
import NimbusTestSupport

/// A network service on a fresh, migrated store of each engine in `engines`.
func withNetworkService(engines: [String] = Engines.available, _ body: (NetworkService, Database) async throws -> Void) async throws {
    for engine in engines {
        let (db, close) = try await Engines.open(engine)
        do {
            try await Migrator(database: db).migrate(NetworkMigrations.all)
            try await body(try await NetworkService(store: NetworkStore(database: db), logger: Logger(label: "test")), db)
        } catch {
            await close()
            throw error
        }
        await close()
    }
}
