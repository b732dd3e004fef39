import Foundation
import Logging
import NIOCore
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing
@testable import ObjectStorage

@Suite struct StoragePolicyConfigTests {
    @Test func withoutSectionsThereIsPolicyZeroAsDefault() throws {
        let (p, replicas) = try StoragePolicies.parse(sections: ["object_storage": ["replicas": "3"]])
        #expect(p.all.map(\.index) == [0])
        #expect(p.defaultPolicy.name == "Policy-0")
        #expect(replicas.isEmpty)
        #expect(p.info == .array([["name": "Policy-0", "aliases": "Policy-0", "default": true]]))
    }

    @Test func sectionsAreReadAsSwiftConf() throws {
        let (p, replicas) = try StoragePolicies.parse(sections: [
            "storage-policy:0": ["name": "gold", "aliases": "yellow, orange", "default": "yes"],
            "storage-policy:1": ["name": "silver", "replicas": "2"],
            "storage-policy:2": ["name": "bronze", "deprecated": "true"],
        ])
        #expect(p.all.map(\.index) == [0, 1, 2])
        #expect(p.defaultPolicy.index == 0)
        #expect(replicas == [1: 2])
        #expect(p.named("SILVER")?.index == 1)
        #expect(p.named("Orange")?.index == 0)
        #expect(p.named("bronze")?.isDeprecated == true)
        // Names are ASCII: no Unicode case mapping can make another name match ("ß" → "SS").
        #expect(p.named("ſilver") == nil)
        // /info hides deprecated policies.
        #expect(p.info == .array([["name": "gold", "aliases": "gold, yellow, orange", "default": true], ["name": "silver", "aliases": "silver"]]))
    }

    @Test(arguments: [
        (["storage-policy:1": ["name": "a"]], "policy index 0"),
        (["storage-policy:0": ["name": "a"], "storage-policy:1": ["name": "A"]], "Duplicate name"),
        (["storage-policy:0": ["name": "a", "default": "y"], "storage-policy:1": ["name": "b", "default": "y"]], "Duplicate default"),
        (["storage-policy:0": ["name": "a"], "storage-policy:1": ["name": "b"]], "Unable to find default"),
        (["storage-policy:0": ["name": "a", "deprecated": "y", "default": "y"]], "Deprecated policy can not be default"),
        (["storage-policy:0": ["name": "a b"]], "Invalid name"),
        (["storage-policy:0": ["name": "gold"], "storage-policy:1": ["name": "policy-0", "default": "y"]], "reserved for policy index 0"),
        (["storage-policy:x": ["name": "a"]], "Malformed"),
        (["storage-policy:0": ["name": "a", "colour": "red"]], "Invalid option"),
        (["storage-policy:0": ["name": "a", "policy_type": "erasure_coding"]], "only policy_type replication"),
        (["storage-policy:0": ["name": "a", "replicas": "0"]], "replicas must be 1 to 6"),
    ] as [([String: [String: String]], String)])
    func badConfigurationsAreRefused(_ sections: [String: [String: String]], _ message: String) {
        #expect {
            _ = try StoragePolicies.parse(sections: sections)
        } throws: { error in
            (error as? StoragePolicies.Invalid)?.description.contains(message) == true
        }
    }
}

@Suite struct StoragePolicyServiceTests {
    /// Policy 0 on three replicas, policy 1 ("silver") on two, over the same three devices.
    static func make(_ engine: String) async throws -> (ObjectStorageService, [Int: [LocalDevice]], @Sendable () async -> Void) {
        let (db, close) = try await Engines.open(engine)
        _ = try await Migrator(database: db).migrate(ObjectMigrations.all)
        let dir = NSTemporaryDirectory() + "nimbus-policies-\(UUID().uuidString)"
        let (policies, _) = try StoragePolicies.parse(sections: ["storage-policy:0": ["name": "gold", "default": "yes"], "storage-policy:1": ["name": "silver"]])
        var rings = [Int: (Ring, [any ObjectDevice])]()
        var local = [Int: [LocalDevice]]()
        for (policy, replicas) in [(0, 3), (1, 2)] {
            var ring = Ring(partPower: 4, replicas: replicas)
            for i in 1...3 { try ring.addDevice(name: "d\(i)", zone: i, weight: 100, address: nil) }
            try ring.rebalance()
            let devices = try ring.devices.map { try LocalDevice(ring: $0, root: "\(dir)/\($0.name)", policy: policy, pool: Harness.pool) }
            rings[policy] = (ring, devices)
            local[policy] = devices
        }
        let service = ObjectStorageService(index: ObjectIndex(database: db), policies: policies, rings: rings, settings: ObjectStorageSettings(),
                                           logger: Logger(label: "test"))
        return (service, local, { await close(); try? FileManager.default.removeItem(atPath: dir) })
    }

    static func files(_ row: ObjectRow, _ devices: [LocalDevice]) -> [String] {
        devices.map { $0.path(row.part, row.hash, row.timestamp + ".data") }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    @Test(arguments: Engines.available)
    func objectsGoToTheirContainersPolicyAndItsReplicaCount(_ engine: String) async throws {
        let (service, devices, cleanup) = try await Self.make(engine)
        defer { Task { await cleanup() } }
        #expect(try await service.index.putContainer("AUTH_t", "g", timestamp: service.timestamp()) { _ in } == .created)
        #expect(try await service.index.putContainer("AUTH_t", "s", timestamp: service.timestamp(), policy: 1, requestedPolicy: 1) { _ in } == .created)
        // A container keeps the policy it was made with.
        #expect(try await service.index.putContainer("AUTH_t", "s", timestamp: service.timestamp(), policy: 0, requestedPolicy: 0) { _ in }
                == .policyConflict(existing: 1))
        #expect(try await service.index.putContainer("AUTH_t", "s", timestamp: service.timestamp(), policy: 0) { _ in } == .updated)
        func put(_ c: String) async throws -> ObjectRow {
            try await service.put(.init(account: "AUTH_t", container: c, name: "o", contentType: "text/plain", metadata: [:]),
                                  body: [ByteBuffer(string: "bytes of \(c)")].async)
        }
        let g = try await put("g"), s = try await put("s")
        #expect(g.policy == 0 && s.policy == 1)
        #expect(Self.files(g, devices[0]!).count == 3 && Self.files(g, devices[1]!).isEmpty)
        #expect(Self.files(s, devices[1]!).count == 2 && Self.files(s, devices[0]!).isEmpty)
        #expect(Self.files(s, devices[1]!).allSatisfy { $0.contains("/objects-1/") })
        let stats = try await service.index.accountPolicyStats("AUTH_t")
        #expect(stats[0]?.containers == 1 && stats[1]?.objects == 1 && stats[1]?.bytes == 10)

        // The replicator works per policy: a lost silver replica comes back in objects-1 only.
        let lost = Self.files(s, devices[1]!)[0]
        try FileManager.default.removeItem(atPath: lost)
        let r = await service.replicate()
        #expect(r.copied == 1 && r.failures == 0)
        #expect(FileManager.default.fileExists(atPath: lost))
        #expect(Self.files(s, devices[0]!).isEmpty)

        // Reads and deletes find the files through the row's policy.
        let stream = try await service.open(try #require(try await service.index.object("AUTH_t", "s", "o")))
        var text = ""
        while let b = try await stream.next() { text += String(buffer: b) }
        await stream.close()
        #expect(text == "bytes of s")
        _ = try await service.delete(account: "AUTH_t", container: "s", name: "o")
        try await Task.sleep(for: .milliseconds(200))
        #expect(Self.files(s, devices[1]!).isEmpty)
    }
}
