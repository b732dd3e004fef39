import Foundation
import Logging
import NimbusCore
import NimbusStore
import Testing
@testable import Identity

@Suite struct ChangeFeedTests {
    /// Two services on one database stand for two controllers: a revocation or a disabled user on
    /// one must reach the other's in-memory caches through the shared counter.
    @Test func writesOnOneControllerReachTheOther() async throws {
        let a = try await IdentityFixture.make()
        let logger = Logger(label: "test")
        let dbB = try await Database.open(url: nil, dataDirectory: a.directory, logger: logger)
        let b = try await IdentityService(database: dbB, settings: IdentitySettings(passwordHashRounds: 1000),
                                          sealer: try TokenSealer.loadOrCreate(path: a.directory + "/keys"), logger: logger)
        let watcher = Task { await b.watchSharedChanges(every: .milliseconds(50)) }

        let first = try await a.password("demo", "demo-pw", project: "demo")
        let second = try await a.password("admin", "admin-pw", project: "admin")
        #expect(try await b.validate(token: first.token).user.name == "demo")
        #expect(try await b.validate(token: second.token).user.name == "admin")

        try await a.service.revokeToken(first.token)
        var disable = UserInput()
        disable.enabled = false
        var admin = try #require(try await a.service.user(named: "admin", domainID: "default"))
        admin = try await a.service.updateUser(admin.id, disable)

        var revokedSeen = false
        var disabledSeen = false
        for _ in 0..<40 where !(revokedSeen && disabledSeen) {
            try await Task.sleep(for: .milliseconds(50))
            if (try? await b.validate(token: first.token)) == nil { revokedSeen = true }
            if (try? await b.validate(token: second.token)) == nil { disabledSeen = true }
        }
        #expect(revokedSeen && disabledSeen)
        watcher.cancel()
        await watcher.value
        await dbB.close()
        await a.close()
    }
}
