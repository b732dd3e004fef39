import Foundation
import NimbusCore

/// Services, hypervisors and availability zones as Nova's `HostAPI` answers them, from the
/// `compute_services` rows, the aggregates (zones) and the instances on each host.
extension ComputeService {
    public var aggregates: AggregateRepository { AggregateRepository(database: database) }
    public var migrations: MigrationRepository { MigrationRepository(database: database) }

    /// Every service, ordered by integer id: the controller's scheduler and conductor, then
    /// each compute host's `nova-compute`.
    public func services() async throws -> [ServiceRecord] {
        let computes = try await hosts.list().filter { $0.host.isEmpty == false }
            .sorted { $0.createdAt != $1.createdAt ? $0.createdAt < $1.createdAt : $0.id.bytesPrecede($1.id) }
        let aggregates = try await aggregates.list()
        let host = Self.controllerHost
        let controllerIDs = Self.controllerBinaries.map { Self.controllerServiceID(binary: $0, host: host) }
        let numbers = try await hosts.numbers(for: controllerIDs + computes.map(\.id))
        let now = Date()
        var out = [ServiceRecord]()
        for (binary, id) in zip(Self.controllerBinaries, controllerIDs) {
            out.append(ServiceRecord(id: id, number: numbers[Name(id)] ?? 0, host: host, binary: binary, zone: Self.internalZone,
                                     disabled: false, disabledReason: nil, forcedDown: false, updatedAt: now, isUp: true, compute: nil))
        }
        for h in computes {
            out.append(ServiceRecord(id: h.id, number: numbers[Name(h.id)] ?? 0, host: h.host, binary: "nova-compute",
                                     zone: AggregateRepository.zone(of: h.host, in: aggregates), disabled: h.disabled,
                                     disabledReason: h.disabledReason, forcedDown: h.forcedDown, updatedAt: h.lastSeenAt ?? h.createdAt,
                                     isUp: h.isUp(now: now), compute: h))
        }
        return out.sorted { $0.number < $1.number }
    }

    /// The availability zones a server may be asked into: those of enabled compute services
    /// (Nova's `get_availability_zones(get_only_available=True)`), sorted by bytes.
    public func availableZones() async throws -> [String] {
        let aggregates = try await aggregates.list()
        return Set(try await hosts.list().filter { !$0.disabled }.map { Name(AggregateRepository.zone(of: $0.host, in: aggregates)) })
            .sorted().map(\.string)
    }

    /// The service with this uuid (2.53+) or integer id (before).
    public func service(id: String, numeric: Bool) async throws -> ServiceRecord? {
        let all = try await services()
        if numeric { return Int(id).flatMap { n in all.first { $0.number == n } } }
        return all.first { $0.id.sameBytes(as: id) }
    }

    /// Changes a compute service's admin state (`change` sees and edits the row).
    public func updateComputeService(_ id: String, _ change: @escaping @Sendable (inout ComputeHost) throws -> Void) async throws -> ServiceRecord {
        guard try await hosts.modify(id: id, change) != nil, let s = try await service(id: id, numeric: false) else {
            throw NimbusError.notFound("Service \(id) could not be found.")
        }
        return s
    }

    /// `DELETE /os-services/{id}` of a compute service: refused while instances or moves use
    /// the host; otherwise the host leaves its aggregates and its row goes.
    public func deleteComputeService(_ s: ServiceRecord) async throws {
        var live = InstanceRepository.Query()
        live.host = s.host
        if try await !instances.list(live).isEmpty {
            throw NimbusError.conflict("Unable to delete compute service that is hosting instances. Migrate or delete the instances first.")
        }
        if try await !migrations.inProgress(host: s.host).isEmpty {
            throw NimbusError.conflict("Unable to delete compute service that has in-progress migrations. Complete the migrations or delete the instances first.")
        }
        try await aggregates.removeHostEverywhere(s.host)
        guard try await hosts.delete(id: s.id) else { throw NimbusError.notFound("Service \(s.id) could not be found.") }
    }

    /// The time since boot and load of this machine, as `uptime` prints them, when `host` is a
    /// compute node running in this process (nil otherwise: a node apart, registered with its own
    /// `agent_endpoint`, is not asked).
    public func uptime(of host: ComputeHost) -> String? {
        guard host.hypervisor["agent_endpoint"]?.stringValue == nil, nodes.endpoint(host: host.host) != nil,
              let up = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8).splitBytes(" ").first.flatMap({ Double($0) }),
              let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8).splitBytes(" ").prefix(3) else { return nil }
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        f.timeZone = TimeZone.current
        let total = Int(up) / 60
        let (days, hours, minutes) = (total / 1440, total % 1440 / 60, total % 60)
        let dayText = days > 0 ? "\(days) day\(days == 1 ? "" : "s"), " : ""
        let loads = load.map { String(format: "%.2f", Double($0) ?? 0) }.joined(separator: ", ")
        return " \(f.string(from: Date())) up \(dayText)\(String(format: "%2d:%02d", hours, minutes)),  load average: \(loads)"
    }
}
