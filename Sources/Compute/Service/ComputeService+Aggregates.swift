import Foundation
import NimbusCore

/// Host aggregates with Nova's `AggregateAPI` rules: a host is in at most one availability
/// zone, a zone does not change under instances, an aggregate with hosts cannot be deleted.
extension ComputeService {
    /// Errors of `InvalidAggregateAction*`, worded as Nova words them.
    enum AggregateAction {
        case add, update, updateMetadata, delete
        func error(_ id: Int, _ reason: String, status: NimbusError.Kind) -> NimbusError {
            let what = switch self {
            case .add: "Cannot add host to aggregate"
            case .update: "Cannot update aggregate"
            case .updateMetadata: "Cannot update metadata of aggregate"
            case .delete: "Cannot remove host from aggregate"
            }
            return NimbusError(status, "\(what) \(id). Reason: \(reason).")
        }
    }

    static func aggregateError(_ e: AggregateRepository.Failure, id: Int, name: String) -> NimbusError {
        switch e {
        case .nameTaken: .conflict("Aggregate \(name) already exists.")
        case .notFound: .notFound("Aggregate \(id) could not be found.")
        }
    }

    public func createAggregate(name: String, zone: String?) async throws -> Aggregate {
        var metadata = [Name: String]()
        if let zone { metadata[Name(Aggregate.zoneKey)] = zone }
        do { return try await aggregates.create(name: name, metadata: metadata) } catch let e as AggregateRepository.Failure {
            throw Self.aggregateError(e, id: 0, name: name)
        }
    }

    public func aggregate(_ id: Int) async throws -> Aggregate {
        guard let a = try await aggregates.get(id) else { throw NimbusError.notFound("Aggregate \(id) could not be found.") }
        return a
    }

    /// Hosts (of `hosts`) that run instances: a zone must not change under them.
    func hostsWithInstances(_ hosts: [String]) async throws -> [String: Int] {
        var out = [String: Int]()
        for h in hosts {
            let n = try await instances.assigned(to: h).count
            if n > 0 { out[h] = n }
        }
        return out
    }

    /// `is_safe_to_update_az`: the new zone must be named, must not put a host in two zones,
    /// and (when it changes) must not move instances.
    static func checkZoneChange(_ newZone: String?, of a: Aggregate, hosts: [String], all: [Aggregate], busy: Bool,
                                action: AggregateAction, status: NimbusError.Kind) throws {
        guard let newZone else { throw action.error(a.id, "Aggregate \(a.name) does not support empty named availability zone", status: status) }
        guard !newZone.isEmpty else { throw action.error(a.id, "Aggregate \(a.name) does not support empty named availability zone", status: status) }
        let conflicting = all.filter { other in
            other.id != a.id && other.hosts.contains { hosts.containsBytes($0) } && other.availabilityZone.map { !$0.sameBytes(as: newZone) } == true
        }.compactMap(\.availabilityZone)
        if !conflicting.isEmpty {
            throw action.error(a.id, "One or more hosts already in availability zone(s) \(JSONValue(conflicting).pythonRepr)", status: status)
        }
        if busy, a.availabilityZone.map({ !$0.sameBytes(as: newZone) }) ?? true {
            throw action.error(a.id, "One or more hosts contain instances in this zone", status: status)
        }
    }

    /// `PUT /os-aggregates/{id}`: a new name and/or zone (`zone` .some(nil) is a null zone).
    public func updateAggregate(_ id: Int, name: String?, zone: String??) async throws -> Aggregate {
        let current = try await aggregate(id)
        let busy = !(try await hostsWithInstances(current.hosts)).isEmpty
        do {
            return try await aggregates.modify(id) { a, all in
                if let name { a.name = name }
                if let zone {
                    try Self.checkZoneChange(zone, of: a, hosts: a.hosts, all: all, busy: busy, action: .update, status: .badRequest)
                    a.metadata[Name(Aggregate.zoneKey)] = zone
                }
                a.updatedAt = Date()
            }
        } catch let e as AggregateRepository.Failure { throw Self.aggregateError(e, id: id, name: name ?? current.name) }
    }

    /// `set_metadata`: null values remove keys; an `availability_zone` key is checked as a zone change.
    public func setAggregateMetadata(_ id: Int, _ metadata: [Name: String?]) async throws -> Aggregate {
        let current = try await aggregate(id)
        let busy = !(try await hostsWithInstances(current.hosts)).isEmpty
        do {
            return try await aggregates.modify(id) { a, all in
                if let zone = metadata[Name(Aggregate.zoneKey)] {
                    try Self.checkZoneChange(zone, of: a, hosts: a.hosts, all: all, busy: busy, action: .updateMetadata, status: .badRequest)
                }
                for (k, v) in metadata {
                    if let v { a.metadata[k] = v } else { a.metadata.removeValue(forKey: k) }
                }
                a.updatedAt = Date()
            }
        } catch let e as AggregateRepository.Failure { throw Self.aggregateError(e, id: id, name: current.name) }
    }

    /// `add_host`: the host must be a compute service; it may not end up in two zones nor
    /// change zone under its instances.
    public func addAggregateHost(_ id: Int, host: String) async throws -> Aggregate {
        guard try await hosts.list().contains(where: { $0.host.sameBytes(as: host) }) else {
            throw NimbusError.notFound("Compute host \(host) could not be found.")
        }
        let running = try await instances.assigned(to: host).count
        do {
            return try await aggregates.modify(id) { a, all in
                if let zone = a.availabilityZone {
                    try Self.checkZoneChange(zone, of: a, hosts: [host], all: all, busy: false, action: .add, status: .conflict)
                    let old = all.first { $0.hosts.containsBytes(host) && $0.availabilityZone != nil }?.availabilityZone
                    if running > 0, old.map({ !$0.sameBytes(as: zone) }) ?? true {
                        throw AggregateAction.add.error(a.id, Self.zoneMoveMessage(old, zone, running, removing: false), status: .conflict)
                    }
                }
                guard !a.hosts.containsBytes(host) else { throw NimbusError.conflict("Aggregate \(id) already has host \(host).") }
                a.hosts = (a.hosts + [host]).sortedByBytes()
            }
        } catch let e as AggregateRepository.Failure { throw Self.aggregateError(e, id: id, name: "") }
    }

    /// `remove_host`: refused (409) when the host's zone would change under its instances.
    public func removeAggregateHost(_ id: Int, host: String) async throws -> Aggregate {
        let notFound = NimbusError.notFound("Cannot remove host \(host) in aggregate \(id)")
        guard try await hosts.list().contains(where: { $0.host.sameBytes(as: host) }) else { throw notFound }
        let running = try await instances.assigned(to: host).count
        do {
            return try await aggregates.modify(id) { a, all in
                if running > 0, let zone = a.availabilityZone {
                    let next = all.first { $0.id != a.id && $0.hosts.containsBytes(host) && $0.availabilityZone != nil }?.availabilityZone
                    if next.map({ !$0.sameBytes(as: zone) }) ?? true {
                        throw AggregateAction.delete.error(a.id, Self.zoneMoveMessage(zone, next, running, removing: true), status: .conflict)
                    }
                }
                guard a.hosts.containsBytes(host) else { throw notFound }
                a.hosts.removeAll { $0.sameBytes(as: host) }
            }
        } catch AggregateRepository.Failure.notFound { throw notFound }
    }

    static func zoneMoveMessage(_ from: String?, _ to: String?, _ count: Int, removing: Bool) -> String {
        "The host cannot be \(removing ? "removed from" : "added to") the aggregate as the availability zone of the host would change from '\(from ?? "None")' to '\(to ?? "None")' but the host already has \(count) instance(s). Changing the AZ of an existing instance is not supported by this action. Move the instances away from this host then try again. If you need to move the instances between AZs then you can use shelve_offload and unshelve to achieve this."
    }

    public func deleteAggregate(_ id: Int) async throws {
        do {
            try await aggregates.delete(id) { a in
                if !a.hosts.isEmpty { throw AggregateAction.delete.error(a.id, "Host aggregate is not empty", status: .badRequest) }
            }
        } catch let e as AggregateRepository.Failure { throw Self.aggregateError(e, id: id, name: "") }
    }
}
