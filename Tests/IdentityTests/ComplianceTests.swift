import Foundation
import NimbusCore
import Testing
@testable import Identity

@Suite struct ComplianceTests {
    func makeUser(_ s: IdentityService, _ name: String, _ password: String) async throws -> User {
        var u = UserInput()
        u.name = name
        u.password = .some(password)
        return try await s.createUser(u, defaultDomainID: "default")
    }

    @Test func lockoutAfterFailedAttemptsThenUnlock() async throws {
        var sc = SecurityCompliance()
        sc.lockoutFailureAttempts = 2
        sc.lockoutDuration = 1
        let f = try await IdentityFixture.make(security: sc)
        _ = try await makeUser(f.service, "locky", "right")
        for _ in 0..<2 { await #expect(throws: NimbusError.self) { try await f.password("locky", "wrong") } }
        // Locked: even the right password fails.
        await #expect(throws: NimbusError.self) { try await f.password("locky", "right") }
        try await Task.sleep(for: .milliseconds(1200))
        _ = try await f.password("locky", "right")
        await f.close()
    }

    /// `POST /v3/users/{id}/password` needs no token, so it is an authentication like any other:
    /// wrong original passwords count towards the lockout and a locked account cannot change it.
    @Test func selfServicePasswordChangeCountsFailuresAndHonoursTheLockout() async throws {
        var sc = SecurityCompliance()
        sc.lockoutFailureAttempts = 2
        sc.lockoutDuration = 60
        let f = try await IdentityFixture.make(security: sc)
        let user = try await makeUser(f.service, "guessed", "right")
        for guess in ["wrong1", "wrong2"] {
            await #expect(throws: NimbusError.self) { try await f.service.changePassword(userID: user.id, original: guess, new: "mine") }
        }
        // Locked now: the right original password is refused, and so is a login.
        do {
            try await f.service.changePassword(userID: user.id, original: "right", new: "mine")
            Issue.record("a locked account changed its password")
        } catch let e as NimbusError {
            #expect(e.status == 401 && e.message.contains("locked"))
        }
        await #expect(throws: NimbusError.self) { try await f.password("guessed", "right") }
        // Failures from logins count for the password change too, and success clears them.
        let other = try await makeUser(f.service, "other", "pw")
        await #expect(throws: NimbusError.self) { try await f.password("other", "nope") }
        try await f.service.changePassword(userID: other.id, original: "pw", new: "pw2")
        await #expect(throws: NimbusError.self) { try await f.password("other", "nope") }
        _ = try await f.password("other", "pw2")
        await f.close()
    }

    @Test func selfServiceChangesCannotReuseRecentPasswords() async throws {
        var sc = SecurityCompliance()
        sc.uniqueLastPasswordCount = 2
        let f = try await IdentityFixture.make(security: sc)
        let user = try await makeUser(f.service, "hist", "p0")
        try await f.service.changePassword(userID: user.id, original: "p0", new: "p1")
        await #expect(throws: NimbusError.self) { try await f.service.changePassword(userID: user.id, original: "p1", new: "p1") }
        await #expect(throws: NimbusError.self) { try await f.service.changePassword(userID: user.id, original: "p1", new: "p0") }
        try await f.service.changePassword(userID: user.id, original: "p1", new: "p2")
        try await f.service.changePassword(userID: user.id, original: "p2", new: "p0")
        // An admin reset is not held to the history.
        var reset = UserInput()
        reset.password = .some("p0")
        _ = try await f.service.updateUser(user.id, reset)
        await f.close()
    }

    /// `password_regex` is applied with Python's `re.match`: anchored at the start, not the end.
    @Test func strengthRegexMatchesAtTheStart() async throws {
        var sc = SecurityCompliance()
        sc.passwordRegex = "[a-z]"
        let f = try await IdentityFixture.make(security: sc)
        await #expect(throws: NimbusError.self) { try await makeUser(f.service, "late-letter", "-123abc") }
        _ = try await makeUser(f.service, "early-letter", "abc-123")
        await f.close()
    }

    @Test func strengthRegexAndFirstUseChange() async throws {
        var sc = SecurityCompliance()
        sc.passwordRegex = "^.{6,}$"
        sc.passwordRegexDescription = "at least 6 characters"
        sc.changePasswordUponFirstUse = true
        let f = try await IdentityFixture.make(security: sc)
        await #expect(throws: NimbusError.self) { try await makeUser(f.service, "short", "abc") }
        let user = try await makeUser(f.service, "firstuse", "long enough")
        // The admin-set password is already expired: the user must change it first.
        await #expect(throws: NimbusError.self) { try await f.password("firstuse", "long enough") }
        try await f.service.changePassword(userID: user.id, original: "long enough", new: "my own secret")
        _ = try await f.password("firstuse", "my own secret")
        await f.close()
    }
}
