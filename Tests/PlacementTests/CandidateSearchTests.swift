import Foundation
import NimbusTestSupport
import Testing
@testable import Placement

/// Allocation candidates against Placement's own functional fixture (SharedStorageFixture in
/// placement/tests/functional/fixtures/gabbits.py) and the expectations of
/// gabbits/allocation-candidates.yaml (counts, and the exact requests where the gabbit names them).
@Suite struct CandidateSearchTests {
    struct Case: Sendable, CustomStringConvertible {
        let version: Int
        let query: String
        let requests: Int
        let summaries: Int?
        let exact: [String]?
        init(_ version: Int, _ query: String, _ requests: Int, _ summaries: Int? = nil, exact: [String]? = nil) {
            self.version = version; self.query = query; self.requests = requests; self.summaries = summaries; self.exact = exact
        }
        var description: String { "1.\(version) \(query)" }
    }

    static let cn1 = PlacementFixture.uuid("cn1"), cn2 = PlacementFixture.uuid("cn2"), ss = PlacementFixture.uuid("ss")
    static let pf11 = PlacementFixture.uuid("pf1_1"), pf12 = PlacementFixture.uuid("pf1_2"), agg = PlacementFixture.uuid("agg")
    static let full = "resources=VCPU:1,MEMORY_MB:1024,DISK_GB:100"

    static let cases: [Case] = [
        Case(10, full, 5, 4, exact: [
            "cn1:MEMORY_MB=1024,cn1:VCPU=1,ss2:DISK_GB=100", "cn1:MEMORY_MB=1024,cn1:VCPU=1,ss:DISK_GB=100",
            "cn2:DISK_GB=100,cn2:MEMORY_MB=1024,cn2:VCPU=1", "cn2:MEMORY_MB=1024,cn2:VCPU=1,ss2:DISK_GB=100",
            "cn2:MEMORY_MB=1024,cn2:VCPU=1,ss:DISK_GB=100"]),
        Case(16, full + "&limit=1", 1),
        Case(16, full + "&limit=10&limit=1", 5),
        Case(17, full + "&required=HW_CPU_X86_SSE", 2, 3),
        Case(22, full + "&required=!HW_CPU_X86_SSE", 3),
        Case(17, full + "&required=HW_CPU_X86_SSE,HW_CPU_X86_SSE2", 2, 3),
        Case(17, full + "&required=HW_CPU_X86_SSE3", 0, 0),
        Case(26, "resources=VCPU:1", 2, 2),
        Case(29, "resources=VCPU:1", 2, 10),
        Case(28, "resources=SRIOV_NET_VF:4", 4, 4),
        Case(29, "resources=SRIOV_NET_VF:4", 4, 10),
        Case(28, "resources=VCPU:1,SRIOV_NET_VF:4", 0, 0),
        Case(29, "resources=VCPU:1,SRIOV_NET_VF:4", 4, 10),
        Case(29, "resources=VCPU:1,SRIOV_NET_VF:4&limit=1", 1, 5),
        Case(28, "resources=DISK_GB:10,SRIOV_NET_VF:4", 8, 6),
        Case(31, "resources=VCPU:1,SRIOV_NET_VF:4&in_tree=\(cn1)", 2, 5,
             exact: ["cn1:VCPU=1,pf1_1:SRIOV_NET_VF=4", "cn1:VCPU=1,pf1_2:SRIOV_NET_VF=4"]),
        Case(31, "resources=VCPU:1,SRIOV_NET_VF:4&in_tree=\(pf12)", 2, 5),
        Case(31, "resources=VCPU:1,DISK_GB:10&in_tree=\(cn1)", 0),
        Case(31, "resources=VCPU:1,DISK_GB:10&in_tree=\(cn2)", 1, exact: ["cn2:DISK_GB=10,cn2:VCPU=1"]),
        Case(31, "resources=VCPU:1,DISK_GB:10&in_tree=\(ss)", 0),
        Case(31, "resources1=VCPU:1&in_tree1=\(cn1)", 1, exact: ["cn1:VCPU=1"]),
        Case(31, "resources1=VCPU:1&in_tree1=\(pf11)", 1, exact: ["cn1:VCPU=1"]),
        Case(31, "resources1=SRIOV_NET_VF:4&in_tree1=\(cn1)", 2),
        Case(31, "resources1=SRIOV_NET_VF:4&in_tree1=\(pf11)", 2),
        Case(31, "resources=VCPU:1&resources1=DISK_GB:10&in_tree1=\(cn1)", 0),
        Case(31, "resources=VCPU:1&resources1=DISK_GB:10&in_tree1=\(cn2)", 1, exact: ["cn2:DISK_GB=10,cn2:VCPU=1"]),
        Case(31, "resources=VCPU:1&resources1=DISK_GB:10&in_tree1=\(ss)", 2,
             exact: ["cn1:VCPU=1,ss:DISK_GB=10", "cn2:VCPU=1,ss:DISK_GB=10"]),
        Case(31, "resources=VCPU:1&in_tree=\(cn1)&resources1=DISK_GB:10", 2,
             exact: ["cn1:VCPU=1,ss2:DISK_GB=10", "cn1:VCPU=1,ss:DISK_GB=10"]),
        Case(31, "resources=VCPU:1&in_tree=\(cn2)&resources1=DISK_GB:10", 3),
        Case(31, "resources1=VCPU:1&in_tree1=\(cn1)&resources2=DISK_GB:10&in_tree2=\(ss)&group_policy=none", 1,
             exact: ["cn1:VCPU=1,ss:DISK_GB=10"]),
        // granular groups, group_policy, same_subtree, root_required, member_of, any-traits
        Case(29, "resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1&group_policy=isolate", 4),
        Case(29, "resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1&group_policy=none", 8),
        Case(36, "resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1&group_policy=none&same_subtree=1,2", 4),
        Case(36, "resources1=SRIOV_NET_VF:1&required2=HW_CPU_X86_SSE&group_policy=none&same_subtree=1,2", 2),
        Case(35, "resources=VCPU:1&root_required=HW_CPU_X86_SSE", 1, exact: ["cn1:VCPU=1"]),
        Case(35, "resources=VCPU:1&root_required=!HW_CPU_X86_SSE", 1, exact: ["cn2:VCPU=1"]),
        Case(21, "resources=VCPU:1&member_of=\(agg)", 2),
        Case(32, "resources=VCPU:1&member_of=!\(agg)", 0),
        Case(21, "resources=VCPU:1&member_of=\(PlacementFixture.uuid("nowhere"))", 0, 0),
        Case(39, "resources=VCPU:1&required=in:HW_CPU_X86_SSE,HW_CPU_X86_SSE3", 1, exact: ["cn1:VCPU=1"]),
        Case(39, "resources=VCPU:1&required=in:HW_CPU_X86_SSE3,HW_CPU_X86_AVX", 0),
        Case(29, "resources=VCPU:1000", 0, 0),
        Case(29, "resources=VCPU:384", 2),
        Case(29, "resources=VCPU:385", 0),
    ]

    /// SharedStorageFixture: cn1 and cn2 (cn2 with local disk), two sharing storage providers,
    /// all in one aggregate; each compute node has two NUMA children with one PF each.
    static func sharedStorage(_ f: PlacementFixture) async throws {
        let compute = ["VCPU": Inventory.of(24, ratio: 16), "MEMORY_MB": Inventory.of(128 * 1024, ratio: 1.5)]
        try await f.provider("cn1", inventory: compute, traits: ["HW_CPU_X86_SSE", "HW_CPU_X86_SSE2"], aggregates: ["agg"])
        try await f.provider("cn2", inventory: compute.merging(["DISK_GB": .of(2000, reserved: 100)]) { a, _ in a }, aggregates: ["agg"])
        for s in ["ss", "ss2"] {
            try await f.provider(s, inventory: ["DISK_GB": .of(2000, reserved: 100)], traits: ["MISC_SHARES_VIA_AGGREGATE"], aggregates: ["agg"])
        }
        for (cn, n) in [("cn1", 1), ("cn2", 2)] {
            for k in 1...2 {
                try await f.provider("numa\(n)_\(k)", parent: cn)
                try await f.provider("pf\(n)_\(k)", parent: "numa\(n)_\(k)", inventory: ["SRIOV_NET_VF": .of(8)])
            }
        }
    }

    @Test(arguments: Engines.available)
    func sharedStorageFixtureAnswersAsPlacement(_ engine: String) async throws {
        let f = try await PlacementFixture.make(engine)
        defer { Task { await f.cleanup() } }
        try await Self.sharedStorage(f)
        for c in Self.cases {
            let (requests, summaries) = try f.candidates(c.query, version: Microversion(1, c.version))
            #expect(requests.count == c.requests, "\(c): \(requests)")
            if let s = c.summaries { #expect(summaries.count == s, "\(c): \(summaries)") }
            if let exact = c.exact { #expect(requests == exact.sorted(), "\(c)") }
        }
        await f.cleanup()
    }

    @Test func unknownNamesAreBadRequests() async throws {
        let f = try await PlacementFixture.make("sqlite")
        try await Self.sharedStorage(f)
        #expect(throws: (any Error).self) { try f.candidates("resources=MCPU:99") }
        #expect(throws: (any Error).self) { try f.candidates("resources=VCPU:1&required=CUSTOM_NOPE", version: Microversion(1, 17)) }
        #expect(throws: (any Error).self) { try f.candidates("resources1=VCPU:1&resources2=VCPU:1") }
        #expect(throws: (any Error).self) { try f.candidates("resources=VCPU:1&limit=0") }
        await f.cleanup()
    }

    @Test func theWorkBoundStopsHugeProducts() async throws {
        var settings = PlacementSettings()
        settings.maxCombinations = 1_000
        let f = try await PlacementFixture.make("sqlite", settings: settings)
        try await f.provider("root")
        for i in 0..<40 { try await f.provider("c\(i)", parent: "root", inventory: ["SRIOV_NET_VF": .of(8), "VGPU": .of(8), "FPGA": .of(8)]) }
        let clock = ContinuousClock()
        let start = clock.now
        let (requests, _) = try f.candidates("resources=SRIOV_NET_VF:1,VGPU:1,FPGA:1")
        #expect(requests.count < 1_000)
        #expect(clock.now - start < .seconds(2))
        await f.cleanup()
    }

    @Test func deepTreesAreChargedToTheWorkBound() async throws {
        var settings = PlacementSettings()
        settings.maxCombinations = 50_000
        let f = try await PlacementFixture.make("sqlite", settings: settings)
        var parent: String?
        for i in 0..<150 {
            try await f.provider("d\(i)", parent: parent, inventory: ["SRIOV_NET_VF": .of(8)])
            parent = "d\(i)"
        }
        let clock = ContinuousClock()
        let start = clock.now
        let (requests, _) = try f.candidates("resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1&group_policy=none&same_subtree=1,2")
        #expect(!requests.isEmpty)
        #expect(clock.now - start < .seconds(2))
        await f.cleanup()
    }
}
