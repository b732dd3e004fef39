import Foundation
import NimbusCore
import Testing
@testable import Identity

@Suite struct IdentityServiceTests {
    @Test func bootstrapIsIdempotentAndAdminAuthenticates() async throws {
        let f = try await IdentityFixture.make()
        try await IdentityBootstrap(service: f.service).run(adminPassword: "admin-pw", demoPassword: "demo-pw", region: "RegionOne", catalog: [])
        let ctx = try await f.password("admin", "admin-pw", project: "admin")
        #expect(ctx.roleNames.contains("admin") && ctx.roleNames.contains("member") && ctx.roleNames.contains("reader"))
        #expect(try await f.service.listDomains(name: nil, enabled: nil).count == 1)
        await #expect(throws: NimbusError.self) { try await f.password("admin", "wrong", project: "admin") }
        await f.close()
    }

    @Test func validationReflectsRevocationAndDisabling() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let ctx = try await f.password("demo", "demo-pw", project: "demo")
        #expect(try await s.validate(token: ctx.token).user.name == "demo")
        try await s.revokeToken(ctx.token)
        await #expect(throws: NimbusError.self) { try await s.validate(token: ctx.token) }

        let second = try await f.password("demo", "demo-pw", project: "demo")
        var disable = UserInput()
        disable.enabled = false
        _ = try await s.updateUser(second.user.id, disable)
        await #expect(throws: NimbusError.self) { try await s.validate(token: second.token) }
        await f.close()
    }

    @Test func removingTheLastRoleInvalidatesProjectTokens() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let ctx = try await f.password("demo", "demo-pw", project: "demo")
        let member = try #require(try await s.role(named: "member", domainID: nil))
        try await s.removeGrant(Grant(actorType: .user, actorID: ctx.user.id, targetType: .project, targetID: ctx.projectID!, roleID: member.id, inherited: false))
        await #expect(throws: NimbusError.self) { try await s.validate(token: ctx.token) }
        await f.close()
    }

    @Test func effectiveRolesFollowGroupsInheritanceAndImplication() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        var u = UserInput()
        u.name = "carol"; u.password = .some("pw")
        let carol = try await s.createUser(u, defaultDomainID: "default")
        var p = ProjectInput()
        p.name = "parent"
        let parent = try await s.createProject(p, defaultDomainID: "default")
        p.name = "child"; p.parentID = parent.id
        let child = try await s.createProject(p, defaultDomainID: "default")
        let group = try await s.createGroup(name: "g", domainID: "default", description: nil, extra: [:])
        try await s.addUser(carol.id, toGroup: group.id)
        let member = try #require(try await s.role(named: "member", domainID: nil))
        try await s.addGrant(Grant(actorType: .group, actorID: group.id, targetType: .project, targetID: parent.id, roleID: member.id, inherited: true))
        let roles = try await s.effectiveRoles(userID: carol.id, scope: .project(child.id)).map(\.name)
        #expect(roles == ["member", "reader"])
        #expect(try await s.effectiveRoles(userID: carol.id, scope: .project(parent.id)).isEmpty)
        var f2 = AssignmentFilter()
        f2.userID = carol.id
        f2.effective = true
        let listed = try await s.listAssignments(f2)
        #expect(Set(listed.map(\.grant.targetID)) == [child.id])
        #expect(listed.contains { $0.viaGroup == group.id })
        await f.close()
    }

    @Test func implicationCyclesAreRefused() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let reader = try #require(try await s.role(named: "reader", domainID: nil))
        let admin = try #require(try await s.role(named: "admin", domainID: nil))
        await #expect(throws: NimbusError.self) { try await s.createImplication(prior: reader.id, implied: admin.id) }
        await f.close()
    }

    @Test func duplicateNamesConflict() async throws {
        let f = try await IdentityFixture.make()
        var p = ProjectInput()
        p.name = "dup"
        _ = try await f.service.createProject(p, defaultDomainID: "default")
        do {
            _ = try await f.service.createProject(p, defaultDomainID: "default")
            Issue.record("expected a conflict")
        } catch let e as NimbusError {
            #expect(e.status == 409)
        }
        var d = ProjectInput()
        d.name = "Default"
        d.isDomain = true
        await #expect(throws: NimbusError.self) { try await f.service.createProject(d, defaultDomainID: "default") }
        await f.close()
    }

    @Test func applicationCredentialAuthenticatesWithItsRolesOnly() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        var input = AppCredentialInput(name: "ci")
        input.roles = [(nil, "reader")]
        let cred = try await s.createAppCredential(input, caller: admin)
        let ctx = try await s.issueToken(methods: ["application_credential"], method: .applicationCredential(
            id: cred.id, name: nil, userID: nil, userName: nil, userDomainID: nil, userDomainName: nil, secret: cred.secret!), scope: .none)
        #expect(ctx.roleNames == ["reader"])
        #expect(ctx.projectID == admin.projectID)
        try await s.deleteAppCredential(userID: admin.user.id, id: cred.id)
        await #expect(throws: NimbusError.self) { try await s.validate(token: ctx.token) }
        await f.close()
    }

    @Test func trustScopedTokensCarryDelegatedRolesAndDieWithTheTrust() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        let demo = try #require(try await s.user(named: "demo", domainID: "default"))
        var input = TrustInput(trustorID: admin.user.id, trusteeID: demo.id, projectID: admin.projectID, impersonation: true)
        input.roles = [(nil, "member")]
        input.remainingUses = 1
        let trust = try await s.createTrust(input)
        let demoToken = try await f.password("demo", "demo-pw")
        let scoped = try await s.issueToken(methods: ["token"], method: .token(demoToken.token), scope: .trust(trust.id))
        #expect(scoped.user.id == admin.user.id)
        #expect(scoped.projectID == admin.projectID)
        #expect(Set(scoped.roleNames) == ["member", "reader"])
        #expect(scoped.trust?.trusteeID == demo.id)
        // One use only.
        await #expect(throws: NimbusError.self) { try await s.issueToken(methods: ["token"], method: .token(demoToken.token), scope: .trust(trust.id)) }
        try await s.deleteTrust(trust.id)
        await #expect(throws: NimbusError.self) { try await s.validate(token: scoped.token) }
        // Only roles the trustor holds can be delegated.
        var bad = TrustInput(trustorID: demo.id, trusteeID: admin.user.id, projectID: admin.projectID, impersonation: false)
        bad.roles = [(nil, "admin")]
        await #expect(throws: NimbusError.self) { try await s.createTrust(bad) }
        await f.close()
    }

    @Test func limitsNeedARegisteredLimitAndOneOwner() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let svc = try #require(try await s.listServices(type: "identity", name: nil).first)
        let project = try #require(try await s.project(named: "demo", domainID: "default"))
        let orphan = ProjectLimit(id: "", projectID: project.id, domainID: nil, serviceID: svc.id, regionID: nil, resourceName: "widgets",
                                  resourceLimit: 5, description: nil)
        await #expect(throws: NimbusError.self) { try await s.createLimits([orphan]) }
        let reg = try await s.createRegisteredLimits([RegisteredLimit(id: "", serviceID: svc.id, regionID: nil, resourceName: "widgets",
                                                                      defaultLimit: 10, description: nil)])
        await #expect(throws: NimbusError.self) {
            try await s.createRegisteredLimits([RegisteredLimit(id: "", serviceID: svc.id, regionID: nil, resourceName: "widgets", defaultLimit: 1, description: nil)])
        }
        let made = try await s.createLimits([orphan])
        #expect(made.first?.resourceLimit == 5)
        var both = orphan
        both.domainID = "default"
        await #expect(throws: NimbusError.self) { try await s.createLimits([both]) }
        await #expect(throws: NimbusError.self) { try await s.deleteRegisteredLimit(reg[0].id) }
        try await s.deleteLimit(made[0].id)
        try await s.deleteRegisteredLimit(reg[0].id)
        await f.close()
    }

    @Test func delegatedTokensCannotDelegateFurther() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        let demo = try #require(try await s.user(named: "demo", domainID: "default"))
        var input = TrustInput(trustorID: admin.user.id, trusteeID: demo.id, projectID: admin.projectID, impersonation: true)
        input.roles = [(nil, "reader")]
        let trust = try await s.createTrust(input, caller: admin)
        let demoToken = try await f.password("demo", "demo-pw")
        let trustToken = try await s.issueToken(methods: ["token"], method: .token(demoToken.token), scope: .trust(trust.id))
        var escalate = TrustInput(trustorID: admin.user.id, trusteeID: demo.id, projectID: admin.projectID, impersonation: true)
        escalate.roles = [(nil, "admin")]
        await #expect(throws: NimbusError.self) { try await s.createTrust(escalate, caller: trustToken) }
        // A restricted application credential can neither create trusts nor manage credentials.
        var credInput = AppCredentialInput(name: "restricted")
        credInput.roles = [(nil, "member")]
        let cred = try await s.createAppCredential(credInput, caller: admin)
        let credToken = try await s.issueToken(methods: ["application_credential"], method: .applicationCredential(
            id: cred.id, name: nil, userID: nil, userName: nil, userDomainID: nil, userDomainName: nil, secret: cred.secret!), scope: .none)
        var viaCred = TrustInput(trustorID: admin.user.id, trusteeID: demo.id, projectID: admin.projectID, impersonation: false)
        viaCred.roles = [(nil, "member")]
        await #expect(throws: NimbusError.self) { try await s.createTrust(viaCred, caller: credToken) }
        await #expect(throws: NimbusError.self) { try await s.deleteAppCredential(userID: admin.user.id, id: cred.id, caller: credToken) }
        // Deleting the trustee ends the trust and its tokens.
        try await s.deleteUser(demo.id)
        await #expect(throws: NimbusError.self) { try await s.validate(token: trustToken.token) }
        await #expect(throws: NimbusError.self) { try await s.trust(trust.id) }
        await f.close()
    }

    @Test func concurrentRequestsCannotOverspendOrDuplicate() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        let demo = try #require(try await s.user(named: "demo", domainID: "default"))
        var input = TrustInput(trustorID: admin.user.id, trusteeID: demo.id, projectID: admin.projectID, impersonation: false)
        input.roles = [(nil, "reader")]
        input.remainingUses = 2
        let trust = try await s.createTrust(input, caller: admin)
        let demoToken = try await f.password("demo", "demo-pw")
        let issued = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask { (try? await s.issueToken(methods: ["token"], method: .token(demoToken.token), scope: .trust(trust.id))) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(issued == 2)
        let created = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var d = ProjectInput()
                    d.name = "racing"
                    d.isDomain = true
                    return (try? await s.createProject(d, defaultDomainID: "default")) != nil
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(created == 1)
        await f.close()
    }
}
