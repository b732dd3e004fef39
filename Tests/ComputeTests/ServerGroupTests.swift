import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Compute

/// Server groups, their members and quotas (the API the scheduler and server create use).
@Suite struct ServerGroupTests {
    @Test(arguments: Engines.available)
    func membersAreLiveInstancesAndQuotaBounded(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        let g = try await f.service.createServerGroup(ServerGroup(projectID: "p", userID: "u", name: "spread", policy: .antiAffinity, maxServerPerHost: 2))
        try await f.service.updateQuotas(project: "p", user: nil, [.serverGroupMembers: 2], force: false)
        let a = try await f.instance("a", project: "p", user: "u", host: "h1")
        let b = try await f.instance("b", project: "p", user: "u", host: "h1")
        let c = try await f.instance("c", project: "p", user: "u", host: "h2")
        try await f.service.addServerGroupMember(groupID: g.id, instanceID: a.id, project: "p", user: "u")
        try await f.service.addServerGroupMember(groupID: g.id, instanceID: b.id, project: "p", user: "u")
        await #expect(throws: NimbusError.self) { try await f.service.addServerGroupMember(groupID: g.id, instanceID: c.id, project: "p", user: "u") }
        var read = try #require(try await f.service.serverGroups.group(g.id))
        #expect(read.members == [a.id, b.id] && read.policy == .antiAffinity && read.maxServerPerHost == 2)
        #expect(try await f.service.serverGroups.hosts(of: g.id) == [Name("h1"): 2])
        #expect(try await f.service.serverGroups.group(ofInstance: b.id)?.id == g.id)
        // a deleted member is no member: it frees the quota
        _ = try await f.service.instances.modify(a.id) { $0.deleted = true }
        read = try #require(try await f.service.serverGroups.group(g.id))
        #expect(read.members == [b.id])
        try await f.service.addServerGroupMember(groupID: g.id, instanceID: c.id, project: "p", user: "u")
        #expect(try await f.service.serverGroups.hosts(of: g.id) == [Name("h1"): 1, Name("h2"): 1])
        // the raw repository call adds without a quota check, and is idempotent
        #expect(try await f.service.serverGroups.addMember(groupID: g.id, instanceID: c.id))
        #expect(try await !f.service.serverGroups.addMember(groupID: "no-such-group", instanceID: c.id))
        await #expect(throws: NimbusError.self) { try await f.service.addServerGroupMember(groupID: "no-such-group", instanceID: c.id, project: "p", user: "u") }
        #expect(try await f.service.serverGroups.delete(g.id))
        #expect(try await f.service.serverGroups.group(ofInstance: c.id) == nil)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func serverGroupQuotaCountsProjectAndUser(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        try await f.service.updateQuotas(project: "p", user: nil, [.serverGroups: 2], force: false)
        try await f.service.updateQuotas(project: "p", user: "u1", [.serverGroups: 1], force: false)
        _ = try await f.service.createServerGroup(ServerGroup(projectID: "p", userID: "u1", name: "a", policy: .affinity))
        do {
            _ = try await f.service.createServerGroup(ServerGroup(projectID: "p", userID: "u1", name: "b", policy: .affinity))
            Issue.record("the user's limit of 1 was not enforced")
        } catch let e as NimbusError { #expect(e.status == 403 && e.message == "Quota exceeded, too many server groups.") }
        _ = try await f.service.createServerGroup(ServerGroup(projectID: "p", userID: "u2", name: "b", policy: .affinity))
        await #expect(throws: NimbusError.self) { _ = try await f.service.createServerGroup(ServerGroup(projectID: "p", userID: "u3", name: "c", policy: .affinity)) }
        #expect(try await f.service.serverGroups.list(project: "p").map(\.name) == ["a", "b"])
        #expect(try await f.service.serverGroups.list(project: nil).count == 2)
        await f.cleanup()
    }
}
