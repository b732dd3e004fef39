import Foundation
import NimbusCore

/// A validated change, described by the final state of what it touches: the store writes it in
/// one transaction (with compare-and-set on every generation it names) and the in-memory state
/// applies the same description after the commit. Names, not indexes, so that both sides agree.
public struct WriteSet: Sendable {
    public struct ProviderRow: Sendable {
        public var uuid: String
        public var name: String
        public var parentUUID: String?
        public var rootUUID: String
    }

    public struct Bump: Sendable {
        public var uuid: String
        /// The generation read before the change; the row must still have it.
        public var expected: Int64
    }

    public struct ConsumerRow: Sendable {
        public var uuid: String
        public var projectID: String
        public var userID: String
        public var consumerType: String?
        /// nil: the consumer must not exist yet (it is inserted with generation 0 + bump).
        public var expected: Int64?
        /// Whether its generation moves (a write of its allocations) or only its attributes.
        public var bumps = true
    }

    public struct AllocationRow: Sendable, Equatable {
        public var providerUUID: String
        public var resourceClass: String
        public var used: Int64
    }

    public var time = Date()
    public var newProviders: [ProviderRow] = []
    public var updatedProviders: [ProviderRow] = []
    public var deletedProviders: [String] = []
    public var bumps: [Bump] = []
    public var inventories: [(provider: String, records: [(String, Inventory)])] = []
    public var traits: [(provider: String, names: [String])] = []
    public var aggregates: [(provider: String, uuids: [String])] = []
    public var consumers: [ConsumerRow] = []
    public var deletedConsumers: [(uuid: String, expected: Int64)] = []
    public var allocations: [(consumer: String, rows: [AllocationRow])] = []
    public var newClasses: [String] = []
    public var renamedClasses: [(from: String, to: String)] = []
    public var deletedClasses: [String] = []
    public var newTraits: [String] = []
    public var deletedTraits: [String] = []

    public init() {}

    public var isEmpty: Bool {
        newProviders.isEmpty && updatedProviders.isEmpty && deletedProviders.isEmpty && bumps.isEmpty && inventories.isEmpty
            && traits.isEmpty && aggregates.isEmpty && consumers.isEmpty && deletedConsumers.isEmpty && allocations.isEmpty
            && newClasses.isEmpty && renamedClasses.isEmpty && deletedClasses.isEmpty && newTraits.isEmpty && deletedTraits.isEmpty
    }

    /// Adds a generation bump of `provider` unless one is already there.
    mutating func bump(_ uuid: String, expected: Int64) {
        if !bumps.contains(where: { $0.uuid.sameBytes(as: uuid) }) { bumps.append(Bump(uuid: uuid, expected: expected)) }
    }
}

extension PlacementState {
    /// Applies a committed write set.
    public mutating func apply(_ w: WriteSet, version: Int64) {
        for name in w.newClasses { addClass(name, created: w.time) }
        for (from, to) in w.renamedClasses {
            guard let i = resourceClass(from) else { continue }
            classByName[Name(from)] = nil
            classByName[Name(to)] = i
            classNames[i] = to
            classTimes[i] = (classTimes[i]?.created ?? w.time, w.time)
        }
        for name in w.newTraits { addTrait(name, created: w.time) }
        for row in w.newProviders { addProvider(row, generation: 0, time: w.time) }
        for row in w.updatedProviders { updateProvider(row, time: w.time) }
        for b in w.bumps { if let p = provider(uuid: b.uuid) { providers[p].generation = b.expected + 1; providers[p].updatedAt = w.time } }
        for (uuid, records) in w.inventories { if let p = provider(uuid: uuid) { setInventories(p, records) } }
        for (uuid, names) in w.traits { if let p = provider(uuid: uuid) { setTraits(p, names.compactMap { trait($0) }) } }
        for (uuid, aggs) in w.aggregates { if let p = provider(uuid: uuid) { setAggregates(p, aggs) } }
        for (uuid, rows) in w.allocations { setAllocations(consumer: uuid, rows, time: w.time) }
        for c in w.consumers { upsertConsumer(c, time: w.time) }
        for (uuid, _) in w.deletedConsumers { removeConsumer(uuid) }
        for uuid in w.deletedProviders { if let p = provider(uuid: uuid) { removeProvider(p) } }
        for name in w.deletedTraits { removeTrait(name) }
        for name in w.deletedClasses { removeClass(name) }
        self.version = version
    }

    mutating func addClass(_ name: String, created: Date) {
        guard resourceClass(name) == nil else { return }
        classByName[Name(name)] = classNames.count
        classTimes[classNames.count] = (created, nil)
        classNames.append(name)
    }

    mutating func removeClass(_ name: String) {
        guard let i = resourceClass(name) else { return }
        classByName[Name(name)] = nil
        classNames[i] = nil
        classTimes[i] = nil
        columns[i] = nil
    }

    mutating func addTrait(_ name: String, created: Date) {
        guard trait(name) == nil else { return }
        traitByName[Name(name)] = traitNames.count
        traitCreated[traitNames.count] = created
        traitNames.append(name)
    }

    mutating func removeTrait(_ name: String) {
        guard let i = trait(name) else { return }
        traitByName[Name(name)] = nil
        traitNames[i] = nil
        traitCreated[i] = nil
        providersByTrait[i] = nil
    }

    mutating func aggregateIndex(_ uuid: String) -> Int {
        if let i = aggregate(uuid) { return i }
        aggregateByUUID[Name(uuid)] = aggregateUUIDs.count
        aggregateUUIDs.append(uuid)
        return aggregateUUIDs.count - 1
    }

    mutating func addProvider(_ row: WriteSet.ProviderRow, generation: Int64, time: Date, created: Date? = nil) {
        let parent = row.parentUUID.flatMap { provider(uuid: $0) }
        let slot = providers.count
        let root = row.rootUUID.sameBytes(as: row.uuid) ? slot : (provider(uuid: row.rootUUID) ?? slot)
        providers.append(ProviderRecord(uuid: row.uuid, name: row.name, generation: generation, parent: parent, root: root,
                                         createdAt: created ?? time, updatedAt: time))
        providerByUUID[Name(row.uuid)] = slot
        providerByName[Name(row.name)] = slot
        if let parent {
            providers[parent].children.append(slot)
            nestedCount += 1
        }
    }

    mutating func updateProvider(_ row: WriteSet.ProviderRow, time: Date) {
        guard let p = provider(uuid: row.uuid) else { return }
        let old = self[p]
        if !old.name.sameBytes(as: row.name) {
            providerByName[Name(old.name)] = nil
            providerByName[Name(row.name)] = p
            providers[p].name = row.name
        }
        let newParent = row.parentUUID.flatMap { provider(uuid: $0) }
        if newParent != old.parent {
            if let op = old.parent { providers[op].children.removeAll { $0 == p }; nestedCount -= 1 }
            if let np = newParent { providers[np].children.append(p); nestedCount += 1 }
            providers[p].parent = newParent
        }
        providers[p].root = provider(uuid: row.rootUUID) ?? p
        providers[p].updatedAt = time
    }

    mutating func removeProvider(_ p: Int) {
        let r = self[p]
        for rc in r.inventories.keys { columns[rc]?.remove(p) }
        for t in r.traits { providersByTrait[t]?.remove(p) }
        for a in r.aggregates { providersByAggregate[a]?.remove(p) }
        if let parent = r.parent, providers[parent].alive { providers[parent].children.removeAll { $0 == p }; nestedCount -= 1 }
        providerByUUID[Name(r.uuid)] = nil
        if providerByName[Name(r.name)] == p { providerByName[Name(r.name)] = nil }
        consumersByProvider[p] = nil
        providers[p] = ProviderRecord(uuid: r.uuid, name: r.name, generation: r.generation, parent: nil, root: p,
                                      createdAt: r.createdAt, updatedAt: r.updatedAt, alive: false)
    }

    mutating func setInventories(_ p: Int, _ records: [(String, Inventory)]) {
        for rc in self[p].inventories.keys { columns[rc]?.remove(p) }
        var inv = [Int: Inventory]()
        for (name, record) in records {
            guard let rc = resourceClass(name) else { continue }
            inv[rc] = record
            columns[rc, default: ClassColumn()].set(p, record, used: self[p].used(rc))
        }
        providers[p].inventories = inv
    }

    mutating func setTraits(_ p: Int, _ traits: [Int]) {
        for t in self[p].traits { providersByTrait[t]?.remove(p) }
        providers[p].traits = Set(traits)
        for t in traits { providersByTrait[t, default: []].insert(p) }
    }

    mutating func setAggregates(_ p: Int, _ uuids: [String]) {
        for a in self[p].aggregates { providersByAggregate[a]?.remove(p) }
        var set = Set<Int>()
        for u in uuids {
            let a = aggregateIndex(u)
            set.insert(a)
            providersByAggregate[a, default: []].insert(p)
        }
        providers[p].aggregates = set
    }

    /// Replaces a consumer's allocations (creating the consumer record when new, its
    /// attributes come with `upsertConsumer`), keeping provider usage in step.
    mutating func setAllocations(consumer uuid: String, _ rows: [WriteSet.AllocationRow], time: Date) {
        let key = Name(uuid)
        if let old = consumers[key] {
            for a in old.allocations where providers[a.provider].alive {
                providers[a.provider].usage[a.resourceClass, default: 0] -= a.used
                if providers[a.provider].usage[a.resourceClass] == 0 { providers[a.provider].usage[a.resourceClass] = nil }
                columns[a.resourceClass]?.setUsed(a.provider, providers[a.provider].used(a.resourceClass))
                consumersByProvider[a.provider]?.remove(key)
            }
        }
        var allocations = [Consumer.Allocation]()
        for row in rows {
            guard let p = provider(uuid: row.providerUUID), let rc = resourceClass(row.resourceClass) else { continue }
            allocations.append(.init(provider: p, resourceClass: rc, used: row.used))
            providers[p].usage[rc, default: 0] += row.used
            columns[rc]?.setUsed(p, providers[p].used(rc))
            consumersByProvider[p, default: []].insert(key)
        }
        if consumers[key] == nil {
            consumers[key] = Consumer(uuid: uuid, projectID: "", userID: "", consumerType: nil, generation: 0, allocations: [],
                                      createdAt: time, updatedAt: time)
        }
        consumers[key]!.allocations = allocations
        consumers[key]!.updatedAt = time
        if allocations.isEmpty { consumers[key] = nil }
    }

    mutating func upsertConsumer(_ c: WriteSet.ConsumerRow, time: Date) {
        let key = Name(c.uuid)
        guard consumers[key] != nil else { return }  // a consumer without allocations is not kept
        consumers[key]!.projectID = c.projectID
        consumers[key]!.userID = c.userID
        consumers[key]!.consumerType = c.consumerType
        consumers[key]!.generation = c.bumps ? (c.expected.map { $0 + 1 } ?? 1) : (c.expected ?? 0)
        consumers[key]!.updatedAt = time
    }

    mutating func removeConsumer(_ uuid: String) { setAllocations(consumer: uuid, [], time: Date()) }
}
