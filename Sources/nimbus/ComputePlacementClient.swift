import Compute
import Foundation
import NimbusCore
import Placement

/// The compute service's `PlacementClient` over the placement service in this process: the same
/// state, rules and generation checks `/placement` uses (what Nova's scheduler report client
/// does over HTTP). Compute nodes are root providers with no children, so a candidate is one
/// provider that holds every resource of the request.
struct ComputePlacementClient: PlacementClient {
    let placement: PlacementService

    func candidates(_ resources: [String: Int], limit: Int) async throws -> [PlacementCandidate] {
        try placement.candidates({ s in
            var query = CandidateQuery()
            var group = CandidateQuery.Group(suffix: "")
            for (name, amount) in resources.sorted(by: { $0.key.bytesPrecede($1.key) }) {
                // A class Placement does not know: nothing can hold it.
                guard let rc = s.resourceClass(name) else { query.matchesNothing = true; continue }
                group.resources.append((rc, Int64(amount)))
            }
            query.groups = [group]
            query.limit = limit
            return query
        }, render: { _, result, s in
            result.requests.compactMap { r -> PlacementCandidate? in
                // Only whole-provider answers: a request spread over a tree or a sharing provider
                // is not something a compute node can claim alone.
                guard r.parts.allSatisfy({ $0.provider == r.anchor }) else { return nil }
                let p = s[r.anchor]
                var free = [String: Int]()
                for (rc, inventory) in p.inventories {
                    free[s.className(rc)] = Int(clamping: inventory.capacity - p.used(rc))
                }
                return PlacementCandidate(provider: p.uuid, name: p.name, free: free)
            }
        })
    }

    func claim(consumer: String, provider: String, resources: [String: Int], project: String, user: String) async throws -> Bool {
        let request = ConsumerAllocationRequest(
            consumerUUID: consumer, projectID: project, userID: user, consumerGeneration: .none, consumerType: "INSTANCE",
            allocations: [(provider, resources.sorted(by: { $0.key.bytesPrecede($1.key) }).map { ($0.key, Int64($0.value)) })])
        do {
            try await placement.write({ s in try s.replaceAllocations([request], checkConsumerGeneration: false) }, then: { _ in () })
            return true
        } catch let e as NimbusError where e.kind == .conflict {
            // Capacity gone (another claim won) or a generation moved: try the next candidate.
            return false
        }
    }

    func release(consumer: String) async throws {
        try await placement.write({ s in
            guard s.consumer(consumer) != nil else { return WriteSet() }
            return try s.deleteAllocations(consumer)
        }, then: { _ in () })
    }

    func report(provider: String, name: String, inventory: [String: NodeInventory]) async throws {
        let records = inventory.sorted(by: { $0.key.bytesPrecede($1.key) }).map { (name, v) in
            (name, Placement.Inventory(total: Int64(v.total), reserved: Int64(v.reserved), allocationRatio: v.allocationRatio))
        }
        try await placement.write({ s in
            guard s.provider(uuid: provider) == nil else { return WriteSet() }
            return try s.createProvider(uuid: provider, name: name, parentUUID: nil)
        }, then: { _ in () })
        try await placement.write({ s in
            guard let p = s.provider(uuid: provider) else { throw NimbusError.notFound("resource provider \(provider) vanished") }
            let current = s.inventoryRecords(p).sorted { $0.0.bytesPrecede($1.0) }
            if current.map(\.0) == records.map(\.0), zip(current, records).allSatisfy({ $0.1 == $1.1 }) { return WriteSet() }
            return try s.setInventories(p, records, generation: nil, reservedMayEqualTotal: true)
        }, then: { _ in () })
    }
}
