import Foundation
import NimbusCore
import Testing
@testable import Identity

/// A token is revoked by an event on any user it stands for: its own user, and for trust-scoped
/// tokens both the trustor and the trustee (Keystone's revoke model).
@Suite struct RevocationTests {
    struct Setup {
        let f: IdentityFixture
        let admin: AuthContext
        let demo: User
        let trust: Trust
        func trustToken() async throws -> AuthContext {
            let demoToken = try await f.password("demo", "demo-pw")
            return try await f.service.issueToken(methods: ["token"], method: .token(demoToken.token), scope: .trust(trust.id))
        }
    }

    static func setup(impersonation: Bool) async throws -> Setup {
        let f = try await IdentityFixture.make()
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        let demo = try #require(try await f.service.user(named: "demo", domainID: "default"))
        var input = TrustInput(trustorID: admin.user.id, trusteeID: demo.id, projectID: admin.projectID, impersonation: impersonation)
        input.roles = [(nil, "member")]
        let trust = try await f.service.createTrust(input, caller: admin)
        return Setup(f: f, admin: admin, demo: demo, trust: trust)
    }

    @Test func trustorPasswordChangeRevokesNonImpersonatingTrustTokens() async throws {
        let s = try await Self.setup(impersonation: false)
        let token = try await s.trustToken()
        #expect(token.user.id == s.demo.id)
        #expect(try await s.f.service.validate(token: token.token).trust?.id == s.trust.id)
        var change = UserInput()
        change.password = .some("new-admin-pw")
        _ = try await s.f.service.updateUser(s.admin.user.id, change)
        await #expect(throws: NimbusError.self) { try await s.f.service.validate(token: token.token) }
        // A token issued after the change is good.
        let fresh = try await s.trustToken()
        #expect(try await s.f.service.validate(token: fresh.token).user.id == s.demo.id)
        await s.f.close()
    }

    @Test func trusteePasswordChangeRevokesImpersonatingTrustTokens() async throws {
        let s = try await Self.setup(impersonation: true)
        let token = try await s.trustToken()
        #expect(token.user.id == s.admin.user.id)
        #expect(try await s.f.service.validate(token: token.token).user.id == s.admin.user.id)
        try await s.f.service.changePassword(userID: s.demo.id, original: "demo-pw", new: "new-demo-pw")
        await #expect(throws: NimbusError.self) { try await s.f.service.validate(token: token.token) }
        await s.f.close()
    }

    @Test func trustorPasswordChangeRevokesImpersonatingAndTrusteeChangeNonImpersonating() async throws {
        let imp = try await Self.setup(impersonation: true)
        let t1 = try await imp.trustToken()
        try await imp.f.service.changePassword(userID: imp.admin.user.id, original: "admin-pw", new: "new-admin-pw")
        await #expect(throws: NimbusError.self) { try await imp.f.service.validate(token: t1.token) }
        await imp.f.close()

        let plain = try await Self.setup(impersonation: false)
        let t2 = try await plain.trustToken()
        try await plain.f.service.changePassword(userID: plain.demo.id, original: "demo-pw", new: "new-demo-pw")
        await #expect(throws: NimbusError.self) { try await plain.f.service.validate(token: t2.token) }
        await plain.f.close()
    }

    @Test func unrelatedUsersDoNotRevokeTrustTokens() async throws {
        let s = try await Self.setup(impersonation: false)
        let token = try await s.trustToken()
        var u = UserInput()
        u.name = "bystander"
        u.password = .some("pw")
        let other = try await s.f.service.createUser(u, defaultDomainID: "default")
        var change = UserInput()
        change.password = .some("pw2")
        _ = try await s.f.service.updateUser(other.id, change)
        #expect(try await s.f.service.validate(token: token.token).trust?.id == s.trust.id)
        await s.f.close()
    }
}
