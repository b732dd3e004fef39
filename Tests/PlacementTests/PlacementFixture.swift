import Foundation
import Logging
import NimbusCore
import NimbusStore
import NimbusTestSupport
@testable import Placement

/// A placement service on a fresh database of one engine, with helpers that build providers
/// through the service (so every write also goes through the store).
struct PlacementFixture {
    let service: PlacementService
    let database: Database
    let cleanup: @Sendable () async -> Void

    static func make(_ engine: String, settings: PlacementSettings = PlacementSettings()) async throws -> PlacementFixture {
        let (db, cleanup) = try await Engines.open(engine)
        try await Migrator(database: db).migrate(PlacementMigrations.all)
        let service = try await PlacementService(database: db, settings: settings, logger: Logger(label: "test"))
        return PlacementFixture(service: service, database: db, cleanup: cleanup)
    }

    /// A deterministic UUID from a short name ("cn1" → 636e3100-…).
    static func uuid(_ name: String) -> String {
        var bytes = Array(name.utf8.prefix(16))
        bytes += Array(repeating: 0, count: 16 - bytes.count)
        let hex = Hex.encode(bytes)
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    @discardableResult
    func provider(_ name: String, parent: String? = nil, inventory: [String: Inventory] = [:], traits: [String] = [],
                  aggregates: [String] = []) async throws -> String {
        let uuid = Self.uuid(name)
        try await service.write({ s in try s.createProvider(uuid: uuid, name: name, parentUUID: parent.map(Self.uuid)) }) { _ in () }
        if !inventory.isEmpty {
            try await service.write({ s in
                let p = s.provider(uuid: uuid)!
                return try s.setInventories(p, inventory.map { ($0.key, $0.value) }, generation: s[p].generation, reservedMayEqualTotal: true)
            }) { _ in () }
        }
        if !traits.isEmpty {
            try await service.write({ s in
                var w = WriteSet()
                w.newTraits = traits.filter { s.trait($0) == nil }
                return w
            }) { _ in () }
            try await service.write({ s in let p = s.provider(uuid: uuid)!; return try s.setTraits(p, traits, generation: s[p].generation) }) { _ in () }
        }
        if !aggregates.isEmpty {
            try await service.write({ s in let p = s.provider(uuid: uuid)!; return try s.setAggregates(p, aggregates.map(Self.uuid), generation: nil) }) { _ in () }
        }
        return uuid
    }

    func claim(_ consumer: String, _ allocations: [String: [String: Int64]], generation: Int64?? = .some(nil)) async throws {
        let request = ConsumerAllocationRequest(consumerUUID: Self.uuid(consumer), projectID: "p", userID: "u", consumerGeneration: generation,
                                                consumerType: "INSTANCE",
                                                allocations: allocations.map { (Self.uuid($0.key), $0.value.map { ($0.key, $0.value) }) })
        try await service.write({ s in try s.replaceAllocations([request], checkConsumerGeneration: true) }) { _ in () }
    }

    /// A candidates query as a query string, answered as sets of "provider:CLASS=amount" per
    /// request (sorted) and the summarised provider names.
    func candidates(_ query: String, version: Microversion = .maximum) throws -> (requests: [String], summaries: [String]) {
        let parser = try CandidateQueryParser(QueryString(query), v: version)
        return try service.candidates({ s in try parser.resolve(s) }) { _, result, s in
            let requests = result.requests.map { r in
                r.parts.map { "\(s[$0.provider].name):\(s.className($0.rc))=\($0.amount)" }.sorted().joined(separator: ",")
            }.sorted()
            return (requests, result.summaries.map { s[$0].name }.sorted())
        }
    }
}

extension Inventory {
    static func of(_ total: Int64, reserved: Int64 = 0, ratio: Double = 1.0, min: Int64 = 1, max: Int64 = Int64(Int32.max), step: Int64 = 1) -> Inventory {
        Inventory(total: total, reserved: reserved, minUnit: min, maxUnit: max, stepSize: step, allocationRatio: ratio)
    }
}
