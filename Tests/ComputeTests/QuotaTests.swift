import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Compute

/// Quota resolution (user > project > default class > configuration), usage counting and
/// Nova's settable ranges, on SQLite and PostgreSQL.
@Suite struct QuotaTests {
    static func message(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch let e as NimbusError { return "\(e.status) \(e.message)" } catch { return "\(error)" }
        return nil
    }

    @Test(arguments: Engines.available)
    func effectiveQuotasResolveInNovasOrder(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        var q = try await f.service.effectiveQuotas(project: "p", user: nil)
        #expect(q.instances == 10 && q.cores == 20 && q.ramMB == 51200 && q.keyPairs == 100 && q.metadataItems == 128)
        #expect(q.serverGroups == 10 && q.serverGroupMembers == 10)
        try await f.service.quotaOverrides.setClass("default", [.cores: 40, .serverGroups: 3])
        try await f.service.quotaOverrides.setClass("gold", [.cores: 99])       // no project uses a class but `default`
        try await f.service.updateQuotas(project: "p", user: nil, [.instances: 7], force: false)
        try await f.service.updateQuotas(project: "p", user: "u", [.instances: 2, .ram: 1024], force: false)
        q = try await f.service.effectiveQuotas(project: "p", user: nil)
        #expect(q.instances == 7 && q.cores == 40 && q.serverGroups == 3 && q.ramMB == 51200)
        q = try await f.service.effectiveQuotas(project: "p", user: "u")
        #expect(q.instances == 2 && q.ramMB == 1024 && q.cores == 40)
        q = try await f.service.effectiveQuotas(project: "p", user: "someone-else")
        #expect(q.instances == 7)
        #expect(try await f.service.classQuotas("gold")[.cores] == 99)
        #expect(try await f.service.classQuotas("gold")[.instances] == 10)
        // delete of the user's limits only, then of the project's (and its users')
        try await f.service.quotaOverrides.delete(project: "p", user: "u")
        #expect(try await f.service.effectiveQuotas(project: "p", user: "u").instances == 7)
        try await f.service.updateQuotas(project: "p", user: "u", [.instances: 2], force: false)
        try await f.service.quotaOverrides.delete(project: "p", user: nil)
        #expect(try await f.service.effectiveQuotas(project: "p", user: "u").instances == 10)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func usageIsCountedFromLiveRows(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        try await f.instance("a", project: "p", user: "u1")
        try await f.instance("b", project: "p", user: "u2", flavor: "1")
        let gone = try await f.instance("c", project: "p", user: "u1")
        _ = try await f.service.instances.modify(gone.id) { $0.deleted = true }
        _ = try await f.service.createServerGroup(ServerGroup(projectID: "p", userID: "u1", name: "g", policy: .affinity))
        let project = try await f.service.quotaUsage(project: "p", user: nil)
        #expect(project[.instances] == 2 && project[.cores] == 2 && project[.ram] == 128 + 512 && project[.serverGroups] == 1)
        #expect(project[.keyPairs] == 0 && project[.serverGroupMembers] == 0)
        let user = try await f.service.quotaUsage(project: "p", user: "u2")
        #expect(user[.instances] == 1 && user[.ram] == 512 && user[.serverGroups] == 0)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func settableRangesAreNovas(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        try await f.instance("a", project: "p", user: "u1")
        try await f.instance("b", project: "p", user: "u1")
        #expect(await Self.message { try await f.service.updateQuotas(project: "p", user: nil, [.instances: 1], force: false) }
            == "400 Quota limit 1 for instances must be greater than or equal to already used and reserved 2.")
        // forced, and -1 (unlimited) is above any usage
        try await f.service.updateQuotas(project: "p", user: nil, [.instances: 1], force: true)
        try await f.service.updateQuotas(project: "p", user: nil, [.instances: -1], force: false)
        try await f.service.updateQuotas(project: "p", user: nil, [.instances: 10], force: false)
        // a user may get at most what the project has not given to other users
        try await f.service.updateQuotas(project: "p", user: "u2", [.instances: 6], force: false)
        #expect(await Self.message { try await f.service.updateQuotas(project: "p", user: "u3", [.instances: 5], force: false) }
            == "400 Quota limit 5 for instances must be less than or equal to 4.")
        // u2 may be raised to its own 6 plus the 4 left
        try await f.service.updateQuotas(project: "p", user: "u2", [.instances: 10], force: false)
        // a user's limit may not fall below the user's own usage
        #expect(await Self.message { try await f.service.updateQuotas(project: "p", user: "u1", [.instances: 1], force: false) }
            == "400 Quota limit 1 for instances must be greater than or equal to already used and reserved 2.")
        // and the project's not below what its users were given
        #expect(await Self.message { try await f.service.updateQuotas(project: "p", user: nil, [.instances: 9], force: false) }
            == "400 Quota limit 9 for instances must be greater than or equal to already used and reserved 10.")
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func quotaViewsFollowTheMicroversion(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        let limits = try await f.service.defaultQuotas()
        let old = ComputeAPI.quotaSetView("p", limits, NovaVersion(minor: 1)).objectValue!
        #expect(old.count == 15 && old["fixed_ips"] == -1 && old["injected_files"] == 5)
        let v236 = ComputeAPI.quotaSetView("p", limits, NovaVersion(minor: 36)).objectValue!
        #expect(v236.count == 11 && v236["floating_ips"] == nil && v236["injected_file_path_bytes"] == 255)
        let v257 = ComputeAPI.quotaSetView(nil, limits, NovaVersion(minor: 57)).objectValue!
        #expect(v257.keys.sortedByBytes() == ["cores", "instances", "key_pairs", "metadata_items", "ram", "server_group_members", "server_groups"])
        let detail = ComputeAPI.quotaSetView("p", limits, NovaVersion(minor: 96), usage: [.cores: 3]).objectValue!
        #expect(detail["cores"] == ["in_use": 3, "limit": 20, "reserved": 0])
        let classes = ComputeAPI.quotaClassView("default", limits, NovaVersion(minor: 49)).objectValue!
        #expect(classes["server_groups"] == nil && classes["security_groups"] == -1)
        let abs = ComputeAPI.absoluteLimits(limits, [.instances: 2], NovaVersion(minor: 1))
        #expect(abs["maxImageMeta"] == 128 && abs["totalInstancesUsed"] == 2 && abs["totalFloatingIpsUsed"] == 0)
        let abs57 = ComputeAPI.absoluteLimits(limits, [:], NovaVersion(minor: 57))
        #expect(abs57["maxImageMeta"] == nil && abs57["maxPersonality"] == nil && abs57["maxSecurityGroups"] == nil && abs57["maxServerMeta"] == 128)
        await f.cleanup()
    }
}
