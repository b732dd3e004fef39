import Foundation
import Logging
import NimbusCore
import NimbusStore
@testable import Identity

/// A fresh identity service on a temp SQLite (or PostgreSQL) store, bootstrapped like `nimbus up`.
struct IdentityFixture {
    let service: IdentityService
    let database: Database
    let directory: String

    static func make(tokenLifetime: TimeInterval = 3600, security: SecurityCompliance = SecurityCompliance()) async throws -> IdentityFixture {
        let dir = NSTemporaryDirectory() + "nimbus-identity-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let logger = Logger(label: "test")
        let db = try await Database.open(url: nil, dataDirectory: dir, logger: logger)
        try await Migrator(database: db).migrate(IdentityMigrations.all)
        let sealer = try TokenSealer.loadOrCreate(path: dir + "/keys")
        var settings = IdentitySettings(tokenLifetime: tokenLifetime, passwordHashRounds: 1000)
        settings.security = security
        do {
            let service = try await IdentityService(database: db, settings: settings, sealer: sealer, logger: logger)
            try await IdentityBootstrap(service: service).run(adminPassword: "admin-pw", demoPassword: "demo-pw", region: "RegionOne",
                                                                  catalog: [CatalogEntry(type: "identity", name: "keystone", url: "http://x/identity")])
            return IdentityFixture(service: service, database: db, directory: dir)
        } catch {
            await db.close()
            throw error
        }
    }

    func close() async {
        await database.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func password(_ user: String, _ password: String, project: String? = nil) async throws -> AuthContext {
        try await service.issueToken(
            methods: ["password"], method: .password(userID: nil, name: user, domainID: "default", domainName: nil, password: password),
            scope: project.map { .project(id: nil, name: $0, domainID: "default", domainName: nil) } ?? .none)
    }
}
