import Testing
@testable import Compute

/// The scheduler's weighers: RAM, CPU and disk spread; soft (anti-)affinity weighed alike.
@Suite struct WeigherTests {
    static func candidate(_ name: String, ram: Int) -> PlacementCandidate {
        PlacementCandidate(provider: name, name: name, free: ["MEMORY_MB": ram, "VCPU": 8, "DISK_GB": 10])
    }

    @Test func moreFreeMemoryWinsAndTiesKeepPlacementsOrder() {
        let c = [Self.candidate("a", ram: 100), Self.candidate("b", ram: 300), Self.candidate("c", ram: 300)]
        #expect(ComputeService.weigh(c) == [1, 2, 0])
    }

    @Test func softPoliciesMoveTheBalance() {
        let even = [Self.candidate("a", ram: 200), Self.candidate("b", ram: 200)]
        // members: a has 2, b has none
        #expect(ComputeService.weigh(even, group: .softAntiAffinity, members: [2, 0]) == [1, 0])
        #expect(ComputeService.weigh(even, group: .softAffinity, members: [2, 0]) == [0, 1])
        // the hard policies are filters, not weights
        #expect(ComputeService.weigh(even, group: .affinity, members: [2, 0]) == [0, 1])
        // one weigher against one: a tie keeps Placement's order
        let uneven = [Self.candidate("a", ram: 300), Self.candidate("b", ram: 100)]
        #expect(ComputeService.weigh(uneven, group: .softAntiAffinity, members: [1, 0]) == [0, 1])
    }
}
