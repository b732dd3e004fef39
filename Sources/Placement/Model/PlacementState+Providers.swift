import Foundation
import NimbusCore

/// Validation of provider, inventory, trait and aggregate writes: each returns the `WriteSet`
/// to commit, or Placement's error for the request. Pure: nothing changes until the set is
/// committed and applied.
extension PlacementState {
    public func providerOrNotFound(_ uuid: String, _ message: String? = nil) throws(NimbusError) -> Int {
        guard let p = provider(uuid: uuid) else {
            throw .notFound(message ?? "No resource provider with uuid \(uuid) found")
        }
        return p
    }

    public func createProvider(uuid: String, name: String, parentUUID: String?) throws(NimbusError) -> WriteSet {
        if provider(uuid: uuid) != nil {
            throw .placement(.conflict, "Conflicting resource provider uuid: \(uuid) already exists.", code: PlacementErrorCode.duplicateName)
        }
        if provider(named: name) != nil {
            throw .placement(.conflict, "Conflicting resource provider name: \(name) already exists.", code: PlacementErrorCode.duplicateName)
        }
        var root = uuid
        if let parentUUID {
            let fail = { (why: String) in NimbusError.badRequest("Unable to create resource provider \"\(name)\", \(uuid): Object action create failed because: \(why)") }
            if parentUUID.sameBytes(as: uuid) {
                throw fail("parent provider UUID cannot be same as UUID. Please set parent provider UUID to None if there is no parent.")
            }
            guard let parent = provider(uuid: parentUUID) else { throw fail("parent provider UUID does not exist.") }
            root = self[self[parent].root].uuid
        }
        var w = WriteSet()
        w.newProviders = [.init(uuid: uuid, name: name, parentUUID: parentUUID, rootUUID: root)]
        return w
    }

    /// `parent`: nil leaves the parent alone; `.some(nil)` asks for no parent.
    public func updateProvider(_ p: Int, name: String, parent: String??, allowReparenting: Bool) throws(NimbusError) -> WriteSet {
        let r = self[p]
        if let other = provider(named: name), other != p {
            throw .placement(.conflict, "Conflicting resource provider \(name) already exists.", code: PlacementErrorCode.duplicateName)
        }
        let fail = { (why: String) in NimbusError.badRequest("Unable to save resource provider \(r.uuid): Object action update failed because: \(why)") }
        var row = WriteSet.ProviderRow(uuid: r.uuid, name: name, parentUUID: r.parent.map { self[$0].uuid }, rootUUID: self[r.root].uuid)
        var subtreeRoot: String?
        if case .some(let wanted) = parent {
            if let wanted {
                guard let np = provider(uuid: wanted) else { throw fail("parent provider UUID does not exist.") }
                if let current = r.parent, current != np, !allowReparenting { throw fail("re-parenting a provider is not currently allowed.") }
                if r.parent != np {
                    if subtree(of: p).contains(np) { throw fail("creating loop in the provider tree is not allowed.") }
                    row.parentUUID = wanted
                    row.rootUUID = self[self[np].root].uuid
                    subtreeRoot = row.rootUUID
                }
            } else if r.parent != nil {
                if !allowReparenting { throw fail("un-parenting a provider is not currently allowed.") }
                row.parentUUID = nil
                row.rootUUID = r.uuid
                subtreeRoot = r.uuid
            }
        }
        var w = WriteSet()
        w.updatedProviders = [row]
        if let subtreeRoot {
            for d in subtree(of: p).dropFirst() {
                let dr = self[d]
                w.updatedProviders.append(.init(uuid: dr.uuid, name: dr.name, parentUUID: dr.parent.map { self[$0].uuid }, rootUUID: subtreeRoot))
            }
        }
        return w
    }

    public func deleteProvider(_ p: Int) throws(NimbusError) -> WriteSet {
        let r = self[p]
        if !r.children.isEmpty {
            throw .placement(.conflict, "Unable to delete parent resource provider \(r.uuid): It has child resource providers.",
                             code: PlacementErrorCode.cannotDeleteParent)
        }
        if !consumers(of: p).isEmpty {
            throw .placement(.conflict, "Unable to delete resource provider \(r.uuid): Resource provider has allocations.",
                             code: PlacementErrorCode.providerInUse)
        }
        var w = WriteSet()
        w.deletedProviders = [r.uuid]
        return w
    }

    func checkGeneration(_ p: Int, _ given: Int64?, _ message: String? = nil) throws(NimbusError) {
        if let given, given != self[p].generation { throw message.map { .concurrentUpdate($0) } ?? .providerGenerationConflict }
    }

    static let generationChanged = "Resource provider's generation already changed. Please update the generation and try again."

    /// Replaces all inventories. `reservedMayEqualTotal` is 1.26's relaxation.
    public func setInventories(_ p: Int, _ records: [(String, Inventory)], generation: Int64?, reservedMayEqualTotal: Bool,
                               message: (String) -> String = { "update conflict: \($0)" }) throws(NimbusError) -> WriteSet {
        try checkGeneration(p, generation)
        let r = self[p]
        var seen = Set<Int>()
        for (name, inv) in records {
            guard let rc = resourceClass(name) else {
                throw .badRequest("Unknown resource class in inventory for resource provider \(r.uuid): No such resource class \(name).")
            }
            seen.insert(rc)
            if inv.reserved > inv.total || (!reservedMayEqualTotal && inv.reserved == inv.total && inv.total > 0) {
                let tail = reservedMayEqualTotal ? "The reserved value is greater than total." : "The reserved value is greater than or equal to total."
                throw .badRequest("Unable to update inventory for resource provider \(r.uuid): Invalid inventory for '\(name)' on resource provider '\(r.uuid)'. \(tail)")
            }
        }
        let removedInUse = r.inventories.keys.filter { !seen.contains($0) && r.used($0) > 0 }.sorted().map { className($0) }
        if !removedInUse.isEmpty {
            throw .placement(.conflict, message("Inventory for '\(removedInUse.joined(separator: ", "))' on resource provider '\(r.uuid)' in use."),
                             code: PlacementErrorCode.inventoryInUse)
        }
        var w = WriteSet()
        w.inventories = [(r.uuid, records)]
        w.bump(r.uuid, expected: r.generation)
        return w
    }

    /// The provider's inventories as (class name, record) pairs.
    public func inventoryRecords(_ p: Int) -> [(String, Inventory)] {
        self[p].inventories.map { (className($0.key), $0.value) }
    }

    public func setTraits(_ p: Int, _ names: [String], generation: Int64?) throws(NimbusError) -> WriteSet {
        try checkGeneration(p, generation, Self.generationChanged)
        let missing = names.filter { trait($0) == nil }
        if !missing.isEmpty { throw .badRequest("No such trait \(missing.joined(separator: ", "))") }
        var w = WriteSet()
        let r = self[p]
        w.traits = [(r.uuid, Array(Set(names.map(Name.init))).map(\.string))]
        w.bump(r.uuid, expected: r.generation)
        return w
    }

    public func setAggregates(_ p: Int, _ uuids: [String], generation: Int64?) throws(NimbusError) -> WriteSet {
        try checkGeneration(p, generation, Self.generationChanged)
        let r = self[p]
        var w = WriteSet()
        w.aggregates = [(r.uuid, Array(Set(uuids.map(Name.init))).map(\.string))]
        if generation != nil { w.bump(r.uuid, expected: r.generation) }
        return w
    }

    // MARK: resource classes and traits

    public func createClass(_ name: String) throws(NimbusError) -> WriteSet {
        if resourceClass(name) != nil {
            throw .conflict("Conflicting resource class already exists: \(name)")
        }
        var w = WriteSet()
        w.newClasses = [name]
        return w
    }

    public func renameClass(_ from: String, to: String) throws(NimbusError) -> WriteSet {
        guard let rc = resourceClass(from) else { throw .notFound("No such resource class \(from).") }
        if isStandardClass(rc) { throw .badRequest("Cannot update standard resource class \(from)") }
        if resourceClass(to) != nil {
            throw .placement(.conflict, "Resource class already exists: \(to)", code: PlacementErrorCode.duplicateName)
        }
        var w = WriteSet()
        w.renamedClasses = [(from, to)]
        return w
    }

    public func deleteClass(_ name: String) throws(NimbusError) -> WriteSet {
        guard let rc = resourceClass(name) else { throw .notFound("No such resource class \(name).") }
        if isStandardClass(rc) { throw .badRequest("Error in delete resource class: Cannot delete standard resource class \(name).") }
        if !(columns[rc]?.isEmpty ?? true) {
            throw .conflict("Error in delete resource class: Cannot delete resource class \(name). Class is in use in inventory.")
        }
        var w = WriteSet()
        w.deletedClasses = [name]
        return w
    }

    public func deleteTrait(_ name: String) throws(NimbusError) -> WriteSet {
        guard let t = trait(name) else { throw .notFound("No such trait(s): \(name).") }
        if isStandardTrait(t) { throw .badRequest("Cannot delete standard trait \(name).") }
        if !(providersByTrait[t] ?? []).isEmpty { throw .conflict("The trait \(name) is in use by a resource provider.") }
        var w = WriteSet()
        w.deletedTraits = [name]
        return w
    }
}
