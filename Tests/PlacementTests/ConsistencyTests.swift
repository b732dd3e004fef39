import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Placement

/// Random writes through the service: the in-memory indexes stay consistent, and a state
/// loaded fresh from the database equals the one kept in memory.
@Suite struct ConsistencyTests {
    struct Rng {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
    }

    @Test(arguments: Engines.available)
    func randomWritesKeepMemoryAndDatabaseEqual(_ engine: String) async throws {
        let f = try await PlacementFixture.make(engine)
        var rng = Rng(state: 42)
        let classes = ["VCPU", "MEMORY_MB", "DISK_GB"]
        for i in 0..<12 {
            try await f.provider("p\(i)", parent: i >= 6 ? "p\(i - 6)" : nil,
                                 inventory: ["VCPU": .of(16), "MEMORY_MB": .of(4096)], aggregates: i % 2 == 0 ? ["even"] : [])
        }
        for step in 0..<150 {
            let p = "p\(rng.next(12))"
            switch rng.next(4) {
            case 0, 1:
                try? await f.claim("c\(rng.next(20))", [p: [classes[rng.next(2)]: Int64(1 + rng.next(4))]], generation: nil)
            case 2:
                let uuid = PlacementFixture.uuid(p)
                try? await f.service.write({ s in
                    let i = s.provider(uuid: uuid)!
                    var records = s.inventoryRecords(i).filter { _ in rng.next(3) > 0 }
                    records.append((classes[rng.next(3)], .of(Int64(8 + rng.next(64)))))
                    return try s.setInventories(i, records, generation: s[i].generation, reservedMayEqualTotal: true)
                }) { _ in () }
            default:
                let c = PlacementFixture.uuid("c\(rng.next(20))")
                try? await f.service.write({ s in try s.deleteAllocations(c) }) { _ in () }
            }
            #expect(f.service.read { $0.indexesAreConsistent() }, "step \(step)")
        }
        let fresh = try await PlacementStore(database: f.database).load()
        #expect(fresh.indexesAreConsistent())
        let memory = f.service.read { $0 }
        for p in memory.providerIndexes {
            let q = try #require(fresh.provider(uuid: memory[p].uuid))
            #expect(fresh[q].generation == memory[p].generation)
            #expect(fresh.inventoryRecords(q).sorted { $0.0 < $1.0 }.map(\.1) == memory.inventoryRecords(p).sorted { $0.0 < $1.0 }.map(\.1))
            #expect(fresh[q].usage.count == memory[p].usage.count)
        }
        #expect(Set(fresh.consumers.keys) == Set(memory.consumers.keys))
        await f.cleanup()
    }

    @Test func microversionNegotiation() {
        #expect(Microversion.negotiate(header: nil) == .version(Microversion(1, 0)))
        #expect(Microversion.negotiate(header: "placement 1.17") == .version(Microversion(1, 17)))
        #expect(Microversion.negotiate(header: "compute 2.1, placement latest") == .version(.maximum))
        #expect(Microversion.negotiate(header: "placement 1.40") == .unacceptable("1.40"))
        #expect(Microversion.negotiate(header: "placement 0.5") == .unacceptable("0.5"))
        #expect(Microversion.negotiate(header: "placement pony.horse") == .invalid("pony.horse"))
        #expect(Microversion.negotiate(header: "placement 1.2.3") == .invalid("1.2.3"))
        #expect(Microversion.negotiate(header: "placement 1.\u{0661}") == .invalid("1.\u{0661}"))
        #expect(Microversion.negotiate(header: "compute 2.90") == .version(Microversion(1, 0)))
    }

    @Test func schemaMessagesAreJsonschemas() throws {
        let s = PlacementSchemas.putInventories
        func problem(_ text: String) throws -> String? { s.firstError(try JSONValue.parse(string: text)) }
        #expect(try problem("{}") == "'resource_provider_generation' is a required property")
        #expect(try problem(#"{"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 0}}}"#) == "0 is less than the minimum of 1")
        #expect(try problem(#"{"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 1, "x": 1}}}"#)
            == "Additional properties are not allowed ('x' was unexpected)")
        #expect(try problem(#"{"resource_provider_generation": "1", "inventories": {}}"#) == "'1' is not of type 'integer'")
        #expect(try problem(#"{"resource_provider_generation": 1e30, "inventories": {}}"#) != nil)
        #expect(try problem(#"{"resource_provider_generation": 1.0, "inventories": {}}"#) == nil)
        #expect(PlacementSchemas.resourceClass.firstError(["name": "CUSTOM_\u{212A}"]) == "'CUSTOM_\u{212A}' does not match '^CUSTOM_[A-Z0-9_]+$'")
    }

    @Test func everyActionHasARule() {
        for action in PlacementPolicyDefaults.actions + ["placement:usages", "placement:reshaper:reshape"] {
            #expect(PlacementPolicyDefaults.rules[action] != nil, "\(action)")
        }
    }
}
