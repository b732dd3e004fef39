import NimbusCore

/// The inventories of one resource class, one entry per provider that has it, stored
/// contiguously with the provider's usage of the class: the candidate search scans a column
/// from start to end instead of chasing each provider's dictionaries (at 10,000 providers the
/// difference is most of the search's time).
struct ClassColumn: Sendable {
    private(set) var providers: [Int] = []
    private(set) var records: [Inventory] = []
    private(set) var used: [Int64] = []
    private var position: [Int: Int] = [:]

    var count: Int { providers.count }
    var isEmpty: Bool { providers.isEmpty }

    mutating func set(_ p: Int, _ record: Inventory, used u: Int64) {
        if let i = position[p] {
            records[i] = record
            used[i] = u
        } else {
            position[p] = providers.count
            providers.append(p)
            records.append(record)
            used.append(u)
        }
    }

    mutating func remove(_ p: Int) {
        guard let i = position.removeValue(forKey: p) else { return }
        let last = providers.count - 1
        if i != last {
            providers[i] = providers[last]
            records[i] = records[last]
            used[i] = used[last]
            position[providers[i]] = i
        }
        providers.removeLast()
        records.removeLast()
        used.removeLast()
    }

    mutating func setUsed(_ p: Int, _ u: Int64) {
        if let i = position[p] { used[i] = u }
    }
}

extension PlacementState {
    /// Whether every index agrees with the providers' own records (tests call this after
    /// random writes): class columns, trait and aggregate members, consumers per provider.
    public func indexesAreConsistent() -> Bool {
        var entries = 0
        for p in providerIndexes {
            let r = self[p]
            for (rc, inv) in r.inventories {
                guard let c = columns[rc], let i = c.providers.firstIndex(of: p), c.records[i] == inv, c.used[i] == r.used(rc) else { return false }
                entries += 1
            }
            for t in r.traits where !(providersByTrait[t]?.contains(p) ?? false) { return false }
            for a in r.aggregates where !(providersByAggregate[a]?.contains(p) ?? false) { return false }
        }
        if columns.values.reduce(0, { $0 + $1.count }) != entries { return false }
        var usage = [Int: [Int: Int64]]()
        for c in consumers.values {
            for a in c.allocations {
                usage[a.provider, default: [:]][a.resourceClass, default: 0] += a.used
                if !(consumersByProvider[a.provider]?.contains(Name(c.uuid)) ?? false) { return false }
            }
        }
        for p in providerIndexes where (usage[p] ?? [:]) != self[p].usage { return false }
        return true
    }
}
