import Foundation
import NimbusCore

/// One inventory record of a provider.
public struct Inventory: Sendable, Equatable {
    public var total: Int64
    public var reserved: Int64 = 0
    public var minUnit: Int64 = 1
    public var maxUnit: Int64 = Int64(Int32.max)
    public var stepSize: Int64 = 1
    public var allocationRatio: Double = 1.0

    public init(total: Int64, reserved: Int64 = 0, minUnit: Int64 = 1, maxUnit: Int64 = Int64(Int32.max), stepSize: Int64 = 1,
                allocationRatio: Double = 1.0) {
        self.total = total; self.reserved = reserved; self.minUnit = minUnit; self.maxUnit = maxUnit
        self.stepSize = stepSize; self.allocationRatio = allocationRatio
    }

    /// `int((total - reserved) * allocation_ratio)`: what provider summaries show.
    public var capacity: Int64 {
        let c = Double(total - reserved) * allocationRatio
        return c.isFinite && abs(c) < 9.2e18 ? Int64(c) : (c > 0 ? Int64.max : 0)
    }

    /// `(total - reserved) * allocation_ratio` as Placement compares it (a float).
    var capacityExact: Double { Double(total - reserved) * allocationRatio }

    /// Placement's capacity clause for one request: the amount fits next to `used` and respects
    /// min_unit, max_unit and step_size.
    func admits(_ amount: Int64, used: Int64) -> Bool {
        Double(used) + Double(amount) <= capacityExact && amount >= minUnit && amount <= maxUnit && stepSize > 0 && amount % stepSize == 0
    }
}

/// A provider in memory: its identity, tree position, inventories, usage, traits and aggregates
/// (resource classes, traits and aggregates as indexes into `PlacementState`'s tables).
public struct ProviderRecord: Sendable {
    public var uuid: String
    public var name: String
    public var generation: Int64
    public var parent: Int?
    public var root: Int
    public var children: [Int] = []
    public var inventories: [Int: Inventory] = [:]
    public var usage: [Int: Int64] = [:]
    public var traits: Set<Int> = []
    public var aggregates: Set<Int> = []
    public var createdAt: Date
    public var updatedAt: Date
    /// False once deleted: slots are never reused, so provider order stays creation order.
    public var alive = true

    public func used(_ rc: Int) -> Int64 { usage[rc] ?? 0 }
}

/// One consumer's allocations.
public struct Consumer: Sendable {
    public struct Allocation: Sendable, Equatable {
        public var provider: Int
        public var resourceClass: Int
        public var used: Int64
    }

    public var uuid: String
    public var projectID: String
    public var userID: String
    public var consumerType: String?
    public var generation: Int64
    public var allocations: [Allocation]
    public var createdAt: Date
    public var updatedAt: Date
}

/// Everything Placement knows, in memory, indexed for the candidate search: kept equal to the
/// committed database by applying each committed `WriteSet` (or reloading when another
/// controller wrote). Resource classes, traits and aggregates are small integers here.
public struct PlacementState: Sendable {
    public internal(set) var providers: [ProviderRecord] = []
    public internal(set) var providerByUUID: [Name: Int] = [:]
    var providerByName: [Name: Int] = [:]
    /// Resource class names by index; standard classes first, in os-resource-classes order.
    public internal(set) var classNames: [String?] = []
    var classByName: [Name: Int] = [:]
    var classTimes: [Int: (created: Date, updated: Date?)] = [:]
    public let standardClassCount: Int
    public internal(set) var traitNames: [String?] = []
    var traitByName: [Name: Int] = [:]
    var traitCreated: [Int: Date] = [:]
    public let standardTraitCount: Int
    var aggregateUUIDs: [String] = []
    var aggregateByUUID: [Name: Int] = [:]
    var providersByTrait: [Int: Set<Int>] = [:]
    var providersByAggregate: [Int: Set<Int>] = [:]
    var columns: [Int: ClassColumn] = [:]
    public internal(set) var consumers: [Name: Consumer] = [:]
    var consumersByProvider: [Int: Set<Name>] = [:]
    var nestedCount = 0
    /// The database's change counter this state reflects.
    public internal(set) var version: Int64 = 0
    public let loadedAt = Date()

    public init() {
        for name in StandardVocabulary.resourceClasses { classByName[Name(name)] = classNames.count; classNames.append(name) }
        standardClassCount = classNames.count
        for name in StandardVocabulary.traits { traitByName[Name(name)] = traitNames.count; traitNames.append(name) }
        standardTraitCount = traitNames.count
    }

    public var hasTrees: Bool { nestedCount > 0 }

    public func provider(uuid: String) -> Int? { providerByUUID[Name(uuid)] }
    public func provider(named name: String) -> Int? { providerByName[Name(name)] }
    public func resourceClass(_ name: String) -> Int? { classByName[Name(name)] }
    public func trait(_ name: String) -> Int? { traitByName[Name(name)] }
    public func aggregate(_ uuid: String) -> Int? { aggregateByUUID[Name(uuid)] }
    public func aggregateUUID(_ index: Int) -> String { aggregateUUIDs[index] }
    public func className(_ index: Int) -> String { classNames[index] ?? "" }
    public func traitName(_ index: Int) -> String { traitNames[index] ?? "" }
    public func isStandardClass(_ index: Int) -> Bool { index < standardClassCount }
    public func isStandardTrait(_ index: Int) -> Bool { index < standardTraitCount }
    public func classCreated(_ index: Int) -> (created: Date, updated: Date?)? { classTimes[index] }
    public func traitCreatedAt(_ index: Int) -> Date? { traitCreated[index] }

    /// The provider in slot `index`, borrowed (no copy of its collections on the hot paths).
    public subscript(_ index: Int) -> ProviderRecord {
        _read { yield providers[index] }
    }

    /// Providers in creation order (their slots); the order lists and candidates come in.
    public var providerIndexes: [Int] { providers.indices.filter { providers[$0].alive } }

    public func providers(inTrait t: Int) -> Set<Int> { providersByTrait[t] ?? [] }
    public func providers(inAggregate a: Int) -> Set<Int> { providersByAggregate[a] ?? [] }
    public func providers(withClass rc: Int) -> [Int] { columns[rc]?.providers ?? [] }
    func column(_ rc: Int) -> ClassColumn? { columns[rc] }
    public func consumers(of provider: Int) -> Set<Name> { consumersByProvider[provider] ?? [] }

    /// Trait names of a provider, sorted by bytes.
    public func traitNames(of p: Int) -> [String] { self[p].traits.map { traitName($0) }.sortedByBytes() }

    /// Aggregate UUIDs of a provider, sorted.
    public func aggregateUUIDs(of p: Int) -> [String] { self[p].aggregates.map { aggregateUUIDs[$0] }.sortedByBytes() }

    /// The provider and its ancestors up to the root.
    public func ancestors(of p: Int) -> [Int] {
        var out = [p]
        var cur = p
        while let parent = self[cur].parent, out.count <= providers.count {
            out.append(parent)
            cur = parent
        }
        return out
    }

    /// The provider and every provider below it.
    public func subtree(of p: Int) -> [Int] {
        var out = [p]
        var i = 0
        while i < out.count {
            out.append(contentsOf: self[out[i]].children)
            i += 1
        }
        return out
    }

    /// Providers sharing at least one aggregate with `p`, `p` included (Placement's anchors
    /// of a sharing provider are these providers' roots).
    func aggregatePeers(of p: Int) -> Set<Int> {
        var out: Set<Int> = [p]
        for a in self[p].aggregates { out.formUnion(providersByAggregate[a] ?? []) }
        return out
    }

    /// The providers carrying MISC_SHARES_VIA_AGGREGATE.
    var sharingProviders: Set<Int> {
        guard let t = trait("MISC_SHARES_VIA_AGGREGATE") else { return [] }
        return providersByTrait[t] ?? []
    }
}
