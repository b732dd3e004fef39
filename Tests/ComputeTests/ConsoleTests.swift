import ComputeNode
import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Compute

/// Console tokens: what `remote-consoles` stores and the proxy checks before an upgrade.
@Suite struct ConsoleTests {
    /// A node whose consoles are always there (the proxy side is tested end to end in pytest).
    struct OpenConsoles: NodeEndpoint {
        func poke() async {}
        func consoleLog(_ instance: String, lines: Int?) async throws -> String { "" }
        func diagnostics(_ instance: String) async throws -> GuestDiagnostics { throw NimbusError.notFound("no") }
        func injectNMI(_ instance: String) async throws {}
        func controlMigration(_ instance: String, _ action: MigrationControl) async throws {}
        func checkConsole(_ instance: String, _ kind: ConsoleKind) async throws {}
        func withConsole(_ instance: String, _ kind: ConsoleKind, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {}
    }

    @Test(arguments: Engines.available)
    func tokensGrantOneConsoleUntilTheyExpireOrTheServerMoves(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        f.service.nodes.add(host: "h1", OpenConsoles())
        let i = try await f.instance("a", host: "h1")
        let (token, kind) = try await f.service.authorizeConsole(i, protocol: "vnc", type: "novnc", method: "get_vnc_console")
        #expect(kind == .vnc && token.utf8.count == 64)
        let grant = try #require(try await f.service.consoleGrant(token: token))
        #expect(grant.instanceID == i.id && grant.host == "h1" && grant.consoleType == "novnc")
        #expect(try await f.service.consoleGrant(token: token + "x") == nil)
        #expect(try await f.service.consoleGrant(token: "") == nil)
        // stored as a hash only
        let rows = try await f.database.sql.raw("SELECT token_hash FROM compute_console_tokens").all()
        #expect(try rows.map { try $0.decode(column: "token_hash", as: String.self) } == [ConsoleAuthorization.hash(token)])
        // moved to another host: the token is void
        _ = try await f.service.instances.modify(i.id) { $0.host = "h2" }
        #expect(try await f.service.consoleGrant(token: token) == nil)
        // expired: void, and swept at the next insert
        try await f.service.consoleTokens.create(hash: ConsoleAuthorization.hash("old"),
                                                 ConsoleAuthorization(instanceID: i.id, consoleType: "serial", host: "h2",
                                                                      expiresAt: Date().addingTimeInterval(-1)), now: Date().addingTimeInterval(-2))
        #expect(try await f.service.consoleGrant(token: "old") == nil)
        _ = try await f.service.instances.modify(i.id) { $0.host = "h1" }
        _ = try await f.service.authorizeConsole(i, protocol: "serial", type: "serial", method: "get_serial_console")
        let left = try await f.database.sql.raw("SELECT COUNT(*) AS n FROM compute_console_tokens").first()?.decode(column: "n", as: Int.self)
        #expect(left == 2)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func refusalsAsNova(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        f.service.nodes.add(host: "h1", OpenConsoles())
        let i = try await f.instance("a", host: "h1")
        await #expect {
            _ = try await f.service.authorizeConsole(i, protocol: "spice", type: "spice-html5", method: "get_spice_console")
        } throws: { ($0 as? NimbusError)?.message == "Unavailable console type spice-html5." }
        await #expect {
            _ = try await f.service.authorizeConsole(i, protocol: "vnc", type: "xvpvnc", method: "get_vnc_console")
        } throws: { ($0 as? NimbusError)?.message == "Invalid console type xvpvnc" }
        let unplaced = try await f.instance("b", host: nil, vm: .building)
        await #expect {
            _ = try await f.service.authorizeConsole(unplaced, protocol: "vnc", type: "novnc", method: "get_vnc_console")
        } throws: { ($0 as? NimbusError)?.message == "Instance \(unplaced.id) is not ready" }
        var migrating = i
        migrating.taskState = .migrating
        await #expect {
            _ = try await f.service.authorizeConsole(migrating, protocol: "vnc", type: "novnc", method: "get_vnc_console")
        } throws: { ($0 as? NimbusError)?.message == "Cannot 'get_vnc_console' instance \(i.id) while it is in task_state migrating" }
        await f.cleanup()
    }

    @Test func novncURLCarriesTheWebsocketPathAndToken() {
        #expect(ComputeAPI.novncURL(base: "http://h:5000/compute-console/vnc_lite.html", token: "t1")
                == "http://h:5000/compute-console/vnc_lite.html?path=compute-console%2Fwebsockify%3Ftoken%3Dt1")
        // a proxy at the root, as Nova's novncproxy
        #expect(ComputeAPI.novncURL(base: "https://h:6080/vnc_lite.html", token: "t2") == "https://h:6080/vnc_lite.html?path=websockify%3Ftoken%3Dt2")
        #expect(ComputeAPI.novncURL(base: "http://h/a/vnc.html?autoconnect=1", token: "t3") == "http://h/a/vnc.html?autoconnect=1&path=a%2Fwebsockify%3Ftoken%3Dt3")
    }
}
