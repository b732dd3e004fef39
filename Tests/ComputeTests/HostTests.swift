import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Compute

/// Services and hypervisors from `compute_services`: ids, states, usage sums.
@Suite struct HostTests {
    @Test(arguments: Engines.available)
    func servicesHaveStableNumbersAndControllerEntries(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        try await f.host("h1")
        let first = try await f.service.services()
        #expect(first.map(\.binary) == ["nova-scheduler", "nova-conductor", "nova-compute"])
        #expect(first.map(\.number) == [1, 2, 3])
        #expect(first[0].zone == "internal" && first[0].isUp && first[2].zone == "nova" && first[2].isUp)
        try await f.host("h2")
        let second = try await f.service.services()
        #expect(second.map(\.number) == [1, 2, 3, 4] && second[3].host == "h2")
        #expect(second[0].id == ComputeService.controllerServiceID(binary: "nova-scheduler", host: ComputeService.controllerHost))
        #expect(Format.uuid.accepts(second[0].id) && second[0].id != second[1].id)
        // deleting a service never gives its number to another
        try await f.service.deleteComputeService(second[2])
        try await f.host("h3")
        #expect(try await f.service.services().map(\.number) == [1, 2, 4, 5])
        #expect(try await f.service.service(id: "4", numeric: true)?.host == "h2")
        #expect(try await f.service.service(id: second[3].id, numeric: false)?.number == 4)
        // forced down is down; disabled keeps its reason
        let s = try await f.service.updateComputeService(second[3].id) { $0.forcedDown = true; $0.disabled = true; $0.disabledReason = "why" }
        #expect(!s.isUp && s.disabled && s.disabledReason == "why")
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func hypervisorUsageSumsItsInstances(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        try await f.host("h1", vcpus: 8, memoryMB: 8192, diskGB: 100)
        try await f.instance("a", host: "h1")                    // m1.nano: 1 vCPU, 128 MB, 1 GB
        try await f.instance("b", host: "h1", flavor: "2")       // m1.small: 1 vCPU, 2048 MB, 20 GB
        var busy = try await f.instance("c", host: "h1")
        busy = try #require(try await f.service.instances.modify(busy.id) { $0.taskState = .rebooting })
        let gone = try await f.instance("d", host: "h1")
        _ = try await f.service.instances.modify(gone.id) { $0.deleted = true }
        let n = try #require(try await f.service.hypervisors().first)
        #expect(n.vcpus == 8 && n.vcpusUsed == 3 && n.memoryMBUsed == 512 + 128 + 2048 + 128 && n.localGBUsed == 22)
        #expect(n.freeRAMMB == 8192 - n.memoryMBUsed && n.freeDiskGB == 78 && n.runningVMs == 3 && n.currentWorkload == 1)
        await f.cleanup()
    }

    @Test func likeMatchesAsSQL() {
        #expect(ComputeAPI.like("compute-01.example", "ute-0"))
        #expect(ComputeAPI.like("compute-01", "COMPUTE"))
        #expect(ComputeAPI.like("compute-01", "c_mpute"))
        #expect(!ComputeAPI.like("compute-01", "compute-02"))
        #expect(!ComputeAPI.like("ab", "abc"))
        #expect(ComputeAPI.like("x", ""))
    }

    @Test func integerIDsAreReadAsPythonsInt() {
        #expect(ComputeAPI.integerID("12") == 12)
        #expect(ComputeAPI.integerID(" 7 ") == 7)
        #expect(ComputeAPI.integerID("-3") == -3)
        #expect(ComputeAPI.integerID("99999999999999999999999") == Int.max)
        #expect(ComputeAPI.integerID("1a") == nil && ComputeAPI.integerID("") == nil && ComputeAPI.integerID("١٢") == nil)
    }
}
