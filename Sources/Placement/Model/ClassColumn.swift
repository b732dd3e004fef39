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
