import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Compute

/// `os-simple-tenant-usage`: hours within a window, the window query, Nova's time formats.
@Suite struct UsageTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func hoursAreThePartOfTheWindowTheInstanceRan() throws {
        var i = Instance(id: "i", projectID: "p", userID: "u", name: "n", flavor: Flavor.defaults[0])
        let start = Self.t0, stop = Self.t0.addingTimeInterval(10 * 3600)
        i.launchedAt = Self.t0.addingTimeInterval(-3600)
        #expect(ComputeService.hours(i, start: start, stop: stop) == 10)
        i.launchedAt = Self.t0.addingTimeInterval(3600)
        i.terminatedAt = Self.t0.addingTimeInterval(3 * 3600)
        #expect(ComputeService.hours(i, start: start, stop: stop) == 2)
        i.terminatedAt = Self.t0.addingTimeInterval(-1)
        #expect(ComputeService.hours(i, start: start, stop: stop) == 0)
        i.terminatedAt = nil
        i.launchedAt = nil
        #expect(ComputeService.hours(i, start: start, stop: stop) == 0)
    }

    @Test(arguments: Engines.available)
    func usageSumsPerProjectInProjectAndIDOrder(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        let launched = Date().addingTimeInterval(-7200)
        try await f.instance("a", project: "p1", launched: launched)
        try await f.instance("b", project: "p1", launched: launched, flavor: "2")
        try await f.instance("c", project: "p2", launched: launched)
        try await f.instance("never-launched", project: "p2", launched: nil)
        let ended = try await f.instance("ended", project: "p2", launched: launched)
        _ = try await f.service.instances.modify(ended.id) { $0.deleted = true; $0.terminatedAt = Date().addingTimeInterval(-1800) }
        let before = try await f.instance("ended-before", project: "p2", launched: launched)
        _ = try await f.service.instances.modify(before.id) { $0.deleted = true; $0.terminatedAt = launched.addingTimeInterval(60) }
        let start = Date().addingTimeInterval(-3600), stop = Date()
        let (usages, servers) = try #require(try await f.service.tenantUsage(start: start, stop: stop, project: nil, limit: 1000, marker: nil))
        #expect(usages.map(\.projectID) == ["p1", "p2"] && servers.count == 4)
        let p1 = usages[0]
        #expect(abs(p1.totalHours - 2) < 0.01 && abs(p1.totalMemoryMBUsage - (128 + 2048)) < 2 && abs(p1.totalLocalGBUsage - 21) < 0.1)
        // `ended` ran half an hour of the window; `ended-before` ended before it; `never-launched` never ran
        #expect(usages[1].servers.count == 2 && abs(usages[1].totalHours - 1.5) < 0.01)
        #expect(usages[1].servers.first { $0.instance.id == ended.id }?.state == "terminated")
        // paging by instance
        let (page1, s1) = try #require(try await f.service.tenantUsage(start: start, stop: stop, project: nil, limit: 2, marker: nil))
        #expect(page1.count == 1 && s1.count == 2)
        let (page2, s2) = try #require(try await f.service.tenantUsage(start: start, stop: stop, project: nil, limit: 2, marker: s1[1].instance.id))
        #expect(page2.map(\.projectID) == ["p2"] && s2.count == 2)
        #expect(try await f.service.tenantUsage(start: start, stop: stop, project: nil, limit: 2, marker: "nope") == nil)
        await f.cleanup()
    }

    @Test func usageTimesInNovasFormats() throws {
        let base = try ComputeAPI.parseUsageTime("2024-02-29T12:34:56")
        #expect(base.timeIntervalSince1970 == 1_709_210_096)
        #expect(try ComputeAPI.parseUsageTime("2024-02-29T12:34:56.5").timeIntervalSince(base) == 0.5)
        #expect(abs(try ComputeAPI.parseUsageTime("2024-02-29 12:34:56.000123").timeIntervalSince(base) - 0.000123) < 1e-6)
        for bad in ["2024-02-29", "2024-02-30T00:00:00", "2024-02-29 12:34:56", "2024-02-29T12:34:56Z", "2024-02-29T25:00:00", "x",
                    "2024-02-29T12:34:56.1234567", "２024-02-29T12:34:56"] {
            #expect(throws: NimbusError.self, "\(bad)") { _ = try ComputeAPI.parseUsageTime(bad) }
        }
    }
}
