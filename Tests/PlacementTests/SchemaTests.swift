import Foundation
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing
@testable import Placement

@Suite struct SchemaTests {
    /// Migrating from empty gives exactly the committed schema, on both engines.
    @Test(arguments: Engines.available)
    func migrationsFromEmptyGiveTheCommittedSchema(_ engine: String) async throws {
        let (db, cleanup) = try await Engines.open(engine)
        try await Migrator(database: db).migrate(PlacementMigrations.all)
        let actual = try await db.describeSchema().filter { $0.key.hasPrefix("placement_") }
        await cleanup()
        let url = try #require(Bundle.module.url(forResource: "placement-schema", withExtension: "json"))
        let expected = try JSONValue.parse(Array(try Data(contentsOf: url)))
        let expectedTables = Dictionary(uniqueKeysWithValues: try #require(expected.objectValue).map { ($0.key, ($0.value.arrayValue ?? []).compactMap(\.stringValue)) })
        #expect(actual == expectedTables)
    }
}
