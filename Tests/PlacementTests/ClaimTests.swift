import Foundation
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing
@testable import Placement

/// Capacity math, generations and concurrent claims (SQLite and PostgreSQL).
@Suite struct ClaimTests {
    static func conflictMessage(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch let e as NimbusError { return "\(e.status) \(e.message)" } catch { return "\(error)" }
        return nil
    }

    @Test(arguments: Engines.available)
    func capacityHonoursReservedRatioAndUnits(_ engine: String) async throws {
        let f = try await PlacementFixture.make(engine)
        try await f.provider("cn", inventory: ["VCPU": .of(8, reserved: 2, ratio: 2.0, max: 6, step: 2), "MEMORY_MB": .of(1024, min: 128)])
        // (8 - 2) * 2 = 12 VCPU; max_unit 6; step 2; MEMORY_MB at least 128.
        #expect(await Self.conflictMessage { try await f.claim("a", ["cn": ["VCPU": 7]]) }?.contains("violate inventory constraints") == true)
        #expect(await Self.conflictMessage { try await f.claim("a", ["cn": ["VCPU": 3]]) }?.contains("violate inventory constraints") == true)
        #expect(await Self.conflictMessage { try await f.claim("a", ["cn": ["MEMORY_MB": 64]]) }?.contains("violate inventory constraints") == true)
        try await f.claim("a", ["cn": ["VCPU": 6]])
        try await f.claim("b", ["cn": ["VCPU": 6]])
        #expect(await Self.conflictMessage { try await f.claim("c", ["cn": ["VCPU": 2]]) }?.contains("exceed the capacity") == true)
        #expect(f.service.read { s in s[s.provider(uuid: PlacementFixture.uuid("cn"))!].used(s.resourceClass("VCPU")!) } == 12)
        #expect(await Self.conflictMessage { try await f.claim("c", ["cn": ["DISK_GB": 1]]) }?.contains("Inventory for 'DISK_GB'") == true)
        // The candidates view agrees: nothing fits any more.
        #expect(try f.candidates("resources=VCPU:2").requests.isEmpty)
        #expect(try f.candidates("resources=MEMORY_MB:128").requests.count == 1)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func overCapacityProvidersMayOnlyGetBetter(_ engine: String) async throws {
        let f = try await PlacementFixture.make(engine)
        let cn = try await f.provider("cn", inventory: ["VCPU": .of(8)])
        try await f.claim("a", ["cn": ["VCPU": 8]])
        // Shrink the inventory under the allocation (allowed), then shrink the claim: allowed,
        // since it reduces the overage; growing it is refused.
        try await f.service.write({ s in
            let p = s.provider(uuid: cn)!
            return try s.setInventories(p, [("VCPU", .of(4))], generation: s[p].generation, reservedMayEqualTotal: true)
        }) { _ in () }
        try await f.claim("a", ["cn": ["VCPU": 6]], generation: .some(1))
        #expect(await Self.conflictMessage { try await f.claim("a", ["cn": ["VCPU": 7]], generation: .some(2)) } != nil)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func generationsAreCheckedAndBumped(_ engine: String) async throws {
        let f = try await PlacementFixture.make(engine)
        let cn = try await f.provider("cn", inventory: ["VCPU": .of(8)])
        let generation = f.service.read { s in s[s.provider(uuid: cn)!].generation }
        #expect(generation == 1)
        let stale = await Self.conflictMessage {
            try await f.service.write({ s in try s.setInventories(s.provider(uuid: cn)!, [("VCPU", .of(9))], generation: 0, reservedMayEqualTotal: true) }) { _ in () }
        }
        #expect(stale == "409 resource provider generation conflict")
        try await f.claim("a", ["cn": ["VCPU": 1]])
        #expect(f.service.read { s in s[s.provider(uuid: cn)!].generation } == 2)
        #expect(f.service.read { s in s.consumer(PlacementFixture.uuid("a"))!.generation } == 1)
        // Consumer generations: a new consumer must say null, an existing one its generation.
        #expect(await Self.conflictMessage { try await f.claim("a", ["cn": ["VCPU": 2]], generation: .some(nil)) }?
            .contains("consumer generation conflict - expected 1 but got None") == true)
        #expect(await Self.conflictMessage { try await f.claim("b", ["cn": ["VCPU": 2]], generation: .some(3)) }?
            .contains("expected null but got 3") == true)
        try await f.claim("a", ["cn": ["VCPU": 2]], generation: .some(1))
        #expect(f.service.read { s in s.consumer(PlacementFixture.uuid("a"))!.generation } == 2)
        // Removing the allocations removes the consumer.
        try await f.claim("a", [:], generation: .some(2))
        #expect(f.service.read { s in s.consumer(PlacementFixture.uuid("a")) } == nil)
        await f.cleanup()
    }

    /// 40 concurrent claims of 1 VCPU on a provider with 16: exactly 16 succeed, on both engines.
    @Test(arguments: Engines.available)
    func concurrentClaimsNeverOvercommit(_ engine: String) async throws {
        let f = try await PlacementFixture.make(engine)
        let cn = try await f.provider("cn", inventory: ["VCPU": .of(16)])
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<40 { group.addTask { (try? await f.claim("c\(i)", ["cn": ["VCPU": 1]])) != nil } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 16)
        #expect(f.service.read { s in s[s.provider(uuid: cn)!].used(s.resourceClass("VCPU")!) } == 16)
        // The database agrees with memory.
        let reloaded = try await PlacementStore(database: f.database).load()
        #expect(reloaded[reloaded.provider(uuid: cn)!].used(reloaded.resourceClass("VCPU")!) == 16)
        #expect(reloaded.consumers.count == 16)
        await f.cleanup()
    }

    /// A second service on the same database (another controller) sees the first one's writes,
    /// and a claim made on a stale view is refused by the generation check, not overcommitted.
    @Test(arguments: Engines.available)
    func twoControllersCannotBothWinOneProvider(_ engine: String) async throws {
        let f = try await PlacementFixture.make(engine)
        let cn = try await f.provider("cn", inventory: ["VCPU": .of(1)])
        let other = try await PlacementService(database: f.database, settings: PlacementSettings(), logger: .init(label: "b"))
        let stale = other.read { $0 }
        try await f.claim("a", ["cn": ["VCPU": 1]])
        let request = ConsumerAllocationRequest(consumerUUID: PlacementFixture.uuid("b"), projectID: "p", userID: "u", consumerGeneration: .some(nil),
                                                consumerType: nil, allocations: [(cn, [("VCPU", 1)])])
        let w = try stale.replaceAllocations([request], checkConsumerGeneration: true)
        await #expect(throws: NimbusError.self) { _ = try await PlacementStore(database: f.database).commit(w) }
        // The other controller refreshes before writing and refuses on capacity.
        let refused = await Self.conflictMessage { try await other.write({ s in try s.replaceAllocations([request], checkConsumerGeneration: true) }) { _ in () } }
        #expect(refused?.contains("exceed the capacity") == true)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func reloadEqualsMemory(_ engine: String) async throws {
        let f = try await PlacementFixture.make(engine)
        try await CandidateSearchTests.sharedStorage(f)
        try await f.claim("a", ["cn1": ["VCPU": 4, "MEMORY_MB": 1024], "ss": ["DISK_GB": 10]])
        try await f.service.write({ s in try s.createClass("CUSTOM_MAGIC") }) { _ in () }
        let fresh = try await PlacementService(database: f.database, settings: PlacementSettings(), logger: .init(label: "b"))
        for q in ["resources=VCPU:1,MEMORY_MB:1024,DISK_GB:100", "resources=SRIOV_NET_VF:4", "resources=VCPU:1&root_required=HW_CPU_X86_SSE"] {
            let a = try f.candidates(q)
            let parser = try CandidateQueryParser(QueryString(q), v: .maximum)
            let b = try fresh.candidates({ try parser.resolve($0) }) { _, r, s in
                (r.requests.map { $0.parts.map { "\(s[$0.provider].name):\(s.className($0.rc))=\($0.amount)" }.sorted().joined(separator: ",") }.sorted(),
                 r.summaries.map { s[$0].name }.sorted())
            }
            #expect(a.requests == b.0 && a.summaries == b.1, "\(q)")
        }
        #expect(fresh.read { $0.resourceClass("CUSTOM_MAGIC") } != nil)
        #expect(fresh.read { s in s.consumer(PlacementFixture.uuid("a"))!.allocations.count } == 3)
        await f.cleanup()
    }
}
