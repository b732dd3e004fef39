import Foundation
import NimbusCore

/// One consumer's allocations as a request states them.
public struct ConsumerAllocationRequest: Sendable {
    public var consumerUUID: String
    public var projectID: String
    public var userID: String
    /// `.some(nil)`: the client says the consumer is new (JSON null); nil: no generation given.
    public var consumerGeneration: Int64??
    public var consumerType: String?
    /// Provider UUID → resource class → amount. Empty: remove the consumer's allocations.
    public var allocations: [(provider: String, resources: [(String, Int64)])]

    public init(consumerUUID: String, projectID: String, userID: String, consumerGeneration: Int64??, consumerType: String?,
                allocations: [(provider: String, resources: [(String, Int64)])]) {
        self.consumerUUID = consumerUUID; self.projectID = projectID; self.userID = userID
        self.consumerGeneration = consumerGeneration; self.consumerType = consumerType; self.allocations = allocations
    }
}

extension PlacementState {
    public func consumer(_ uuid: String) -> Consumer? { consumers[Name(uuid)] }

    /// Placement's `ensure_consumer` and `replace_all` for several consumers at once: consumer
    /// generations (1.28+), providers and classes that exist, inventory constraints and capacity
    /// (reserved, allocation ratio; an over-capacity provider may only get better), every
    /// provider written to bumped. `inventoryOverrides` are the reshaper's new inventories.
    public func replaceAllocations(_ requests: [ConsumerAllocationRequest], checkConsumerGeneration: Bool,
                                   inventoryOverrides: [Int: [Int: Inventory]] = [:]) throws(NimbusError) -> WriteSet {
        var w = WriteSet()
        var previous = [Int: [Int: Int64]]()        // (provider, class) → what the consumers held before
        for r in requests {
            let existing = consumer(r.consumerUUID)
            if checkConsumerGeneration {
                let given = r.consumerGeneration ?? nil
                if let existing {
                    if existing.generation != given {
                        throw .concurrentUpdate("consumer generation conflict - expected \(existing.generation) but got \(given.map(String.init) ?? "None")")
                    }
                } else if let given {
                    throw .concurrentUpdate("consumer generation conflict - expected null but got \(given)")
                }
            }
            for a in existing?.allocations ?? [] { previous[a.provider, default: [:]][a.resourceClass, default: 0] += a.used }
        }
        var needed = [Int: [Int: Int64]]()
        for r in requests {
            var rows = [WriteSet.AllocationRow]()
            for (puuid, resources) in r.allocations {
                guard let p = provider(uuid: puuid) else {
                    throw .badRequest("Allocation for resource provider '\(puuid)' that does not exist.")
                }
                for (name, amount) in resources {
                    guard let rc = resourceClass(name) else {
                        throw .badRequest("Unable to allocate inventory for consumer \(r.consumerUUID): No such resource class \(name).")
                    }
                    rows.append(.init(providerUUID: puuid, resourceClass: name, used: amount))
                    needed[p, default: [:]][rc, default: 0] += amount
                    try checkAllocation(p, rc, amount, needed: needed[p]![rc]!, previous: previous[p]?[rc] ?? 0,
                                        inventory: inventoryOverrides[p].map { $0[rc] } ?? self[p].inventories[rc])
                    w.bump(puuid, expected: self[p].generation)
                }
            }
            let existing = consumer(r.consumerUUID)
            w.allocations.append((r.consumerUUID, rows))
            w.consumers.append(.init(uuid: r.consumerUUID, projectID: r.projectID, userID: r.userID,
                                     consumerType: r.consumerType ?? existing?.consumerType, expected: existing?.generation))
        }
        return w
    }

    func checkAllocation(_ p: Int, _ rc: Int, _ amount: Int64, needed: Int64, previous: Int64, inventory: Inventory?) throws(NimbusError) {
        let uuid = self[p].uuid, name = className(rc)
        guard let inv = inventory else {
            throw .conflict("Unable to allocate inventory: Inventory for '\(name)' on resource provider '\(uuid)' invalid.")
        }
        if amount < inv.minUnit || amount > inv.maxUnit || inv.stepSize <= 0 || amount % inv.stepSize != 0 {
            throw .conflict("Unable to allocate inventory: Unable to create allocation for '\(name)' on resource provider '\(uuid)'. The requested amount would violate inventory constraints.")
        }
        let before = self[p].used(rc)
        let used = before - previous
        let capacity = inv.capacityExact
        if capacity < Double(used + amount) || capacity < Double(used + needed) {
            if previous > 0 && used + needed <= before { return }   // over capacity, but no worse than before
            throw .conflict("Unable to allocate inventory: Unable to create allocation for '\(name)' on resource provider '\(uuid)'. The requested amount would exceed the capacity.")
        }
    }

    /// DELETE /allocations/{consumer}: no generation check, providers' generations untouched.
    public func deleteAllocations(_ uuid: String) throws(NimbusError) -> WriteSet {
        guard let c = consumer(uuid) else { throw .notFound("No allocations for consumer '\(uuid)'") }
        var w = WriteSet()
        w.allocations = [(uuid, [])]
        w.deletedConsumers = [(uuid, c.generation)]
        return w
    }

    /// The reshaper: new inventories for some providers and new allocations for some consumers,
    /// checked together (an inventory may go away when its allocations move in the same call).
    public func reshape(inventories: [(provider: String, generation: Int64, records: [(String, Inventory)])],
                        allocations: [ConsumerAllocationRequest]) throws(NimbusError) -> WriteSet {
        var overrides = [Int: [Int: Inventory]]()
        var w = WriteSet()
        for (uuid, generation, records) in inventories {
            guard let p = provider(uuid: uuid) else {
                throw .placement(.badRequest, "Resource provider \(uuid) in inventories not found: No resource provider with uuid \(uuid) found",
                                 code: PlacementErrorCode.providerNotFound)
            }
            if generation != self[p].generation {
                throw .concurrentUpdate("resource provider generation conflict for provider \(uuid): actual: \(self[p].generation), given: \(generation)")
            }
            var map = [Int: Inventory]()
            for (name, inv) in records {
                guard let rc = resourceClass(name) else {
                    throw .badRequest("Unknown resource class in inventory for resource provider \(uuid): No such resource class \(name).")
                }
                if inv.reserved > inv.total {
                    throw .badRequest("Unable to update inventory for resource provider \(uuid): Invalid inventory for '\(name)' on resource provider '\(uuid)'. The reserved value is greater than total.")
                }
                map[rc] = inv
            }
            overrides[p] = map
            w.inventories.append((uuid, records))
            w.bump(uuid, expected: self[p].generation)
        }
        let a = try replaceAllocations(allocations, checkConsumerGeneration: true, inventoryOverrides: overrides)
        // What stays allocated after the change, per provider and class, must have inventory.
        var after = [Int: [Int: Int64]]()
        let touched = Set(allocations.map { Name($0.consumerUUID) })
        for (p, _) in overrides {
            for key in consumers(of: p) where !touched.contains(key) {
                for x in consumers[key]!.allocations where x.provider == p { after[p, default: [:]][x.resourceClass, default: 0] += x.used }
            }
        }
        for r in allocations {
            for (puuid, resources) in r.allocations {
                guard let p = provider(uuid: puuid), overrides[p] != nil else { continue }
                for (name, amount) in resources { if let rc = resourceClass(name) { after[p, default: [:]][rc, default: 0] += amount } }
            }
        }
        for (p, map) in overrides {
            let inUse = (after[p] ?? [:]).filter { $0.value > 0 && map[$0.key] == nil }.map(\.key).sorted().map { className($0) }
            if !inUse.isEmpty {
                throw .placement(.conflict, "update conflict: Inventory for '\(inUse.joined(separator: ", "))' on resource provider '\(self[p].uuid)' in use.",
                                 code: PlacementErrorCode.inventoryInUse)
            }
        }
        w.allocations = a.allocations
        w.consumers = a.consumers
        for b in a.bumps { w.bump(b.uuid, expected: b.expected) }
        return w
    }
}
