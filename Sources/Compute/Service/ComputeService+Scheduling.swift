import ComputeNode
import Foundation
import NimbusCore

/// The conductor and scheduler: instances waiting in `scheduling` get a host — Placement's
/// allocation candidates, filtered by the compute service's own view (enabled, up, zone), claimed
/// atomically in Placement (a lost race moves on to the next candidate) — then `spawning` on it.
/// No candidate left: ERROR with Nova's NoValidHost fault.
extension ComputeService {
    /// Runs until cancelled: a pass on every wake-up and every `period`.
    public func runConductor(period: Duration = .seconds(5)) async {
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: period)
                wakeups.yield()
            }
        }
        defer { ticker.cancel() }
        for await _ in wakeStream {
            if Task.isCancelled { break }
            do { try await schedulePending() } catch { logger.error("scheduling pass failed: \(error)") }
            do {
                // Volumes still being made: look again soon rather than at the next tick.
                let preparing = volumes != nil ? try await prepareBlockDevices() : false
                let releasing = volumes != nil ? await drainVolumeCleanups() : false
                if preparing || releasing {
                    let wake = wakeups
                    Task { try? await Task.sleep(for: .milliseconds(250)); wake.yield() }
                }
            } catch { logger.error("block device pass failed: \(error)") }
            do { try await offloadExpiredShelves() } catch { logger.error("shelve offload pass failed: \(error)") }
        }
    }

    /// Every instance still to be placed, oldest first.
    func schedulePending() async throws {
        let pending = try await instances.unplaced()
        guard !pending.isEmpty else { return }
        let usable = Dictionary(try await hosts.list().filter { !$0.disabled && $0.isUp() }.map { (Name($0.id), $0) }, uniquingKeysWith: { a, _ in a })
        for i in pending { try await schedule(i, usable: usable) }
    }

    /// Placement's resource amounts for a flavor (`nova/scheduler/utils.py` `resources_from_flavor`).
    /// A volume-backed instance's root disk is not on the host: its `root_gb` is not claimed.
    static func resources(_ f: Flavor, volumeBacked: Bool = false) -> [String: Int] {
        var r = ["VCPU": f.vcpus, "MEMORY_MB": f.memoryMB]
        let disk = (volumeBacked ? 0 : f.rootGB) + f.ephemeralGB + (f.swapMB + 1023) / 1024
        if disk > 0 { r["DISK_GB"] = disk }
        return r
    }

    func schedule(_ i: Instance, usable: [Name: ComputeHost]) async throws {
        let resources = Self.resources(i.flavor, volumeBacked: i.isVolumeBacked)
        let unshelving = i.vmState == .shelvedOffloaded
        let action = unshelving ? "unshelve" : "create"
        let conductorEvent = unshelving ? "schedule_instances" : "conductor_schedule_and_build_instances"
        try await actions.event(i.id, action: action, name: conductorEvent, host: nil)
        let candidates = try await placement.candidates(resources, limit: settings.schedulerCandidates)
        let filters = try await HostFilters(for: i, service: self)
        let passing = candidates.compactMap { c -> (PlacementCandidate, ComputeHost)? in
            guard let host = usable[Name(c.provider)], filters.admit(host, instance: i) else { return nil }
            return (c, host)
        }
        let groupCounts = passing.map { filters.groupMembers[Name($0.1.host)] ?? 0 }
        for (c, host) in Self.weigh(passing.map(\.0), group: filters.group?.policy, members: groupCounts).map({ idx in passing[idx] }) {
            guard try await placement.claim(consumer: i.id, provider: c.provider, resources: resources, project: i.projectID, user: i.userID) else { continue }
            let placed = try? await instances.modify(i.id) { cur in
                guard cur.host == nil, !cur.deleted, cur.vmState == .building || (cur.vmState == .shelvedOffloaded && cur.taskState == .unshelving) else {
                    throw Superseded()
                }
                cur.host = host.host
                cur.node = host.host
                cur.availabilityZone = cur.availabilityZone ?? host.zone
                // Volumes still to be made or connected first (the conductor's block device pass).
                if cur.vmState == .building { cur.taskState = cur.volumes.allSatisfy(\.isConnected) ? .spawning : .blockDeviceMapping }
            }
            if placed == nil {
                // Deleted (or placed by another conductor) meanwhile: give the claim back.
                try await placement.release(consumer: i.id)
                return
            }
            try await actions.event(i.id, action: action, name: conductorEvent, host: nil, result: "Success")
            // An instance with volumes to prepare gets them in the conductor's block device pass,
            // which follows this scheduling pass in the same wake-up.
            if placed?.taskState != .blockDeviceMapping && !unshelving {
                try await actions.event(i.id, action: "create", name: "compute__do_build_and_run_instance", host: host.host)
            }
            if unshelving { await connectReserved(i.id, host: host.host) }
            nodes.poke()
            return
        }
        if unshelving {
            // Nova: the server stays offloaded, the action's event failed.
            _ = try? await instances.modify(i.id) { cur in
                guard cur.taskState == .unshelving, cur.host == nil else { throw Superseded() }
                cur.taskState = nil
                cur.taskArguments = [:]
                cur.fault = Instance.Fault(code: 500, message: "No valid host was found. ", details: "There are not enough hosts available.")
            }
            try await actions.event(i.id, action: action, name: conductorEvent, host: nil, result: "Error",
                                    traceback: "There are not enough hosts available.", finishAction: true)
            return
        }
        try await fail(i.id, code: 500, message: "No valid host was found. ", details: "There are not enough hosts available.",
                       event: "conductor_schedule_and_build_instances")
    }

    /// Nova's default weighers (RAM, CPU, disk; multiplier 1.0 each): each measure normalised
    /// to 0…1 across the candidates (all equal: 0), summed; the most free wins, which spreads
    /// instances. Ties keep Placement's order. Returns indexes into `candidates`.
    /// With a soft-(anti-)affinity group, Nova's `ServerGroupSoftAffinityWeigher` (members on
    /// the host) or `ServerGroupSoftAntiAffinityWeigher` (minus them) joins, normalised alike.
    static func weigh(_ candidates: [PlacementCandidate], group: ServerGroup.Policy? = nil, members: [Int] = []) -> [Int] {
        var weights = [Double](repeating: 0, count: candidates.count)
        var measures = ["MEMORY_MB", "VCPU", "DISK_GB"].map { rc in candidates.map { Double($0.free[rc] ?? 0) } }
        if group == .softAffinity { measures.append(members.map(Double.init)) }
        if group == .softAntiAffinity { measures.append(members.map { -Double($0) }) }
        for values in measures where values.count == candidates.count {
            guard let lo = values.min(), let hi = values.max(), hi > lo else { continue }
            for (k, v) in values.enumerated() { weights[k] += (v - lo) / (hi - lo) }
        }
        return candidates.indices.sorted { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : $0 < $1 }
    }

    /// ERROR with a fault, the action's event failed, and no allocation left behind.
    func fail(_ id: String, code: Int, message: String, details: String?, event: String) async throws {
        _ = try? await instances.modify(id) { cur in
            cur.vmState = .error
            cur.taskState = nil
            cur.fault = Instance.Fault(code: code, message: message, details: details)
        }
        try await placement.release(consumer: id)
        try await actions.event(id, action: "create", name: event, host: nil, result: "Error", traceback: details, finishAction: true)
    }

    struct Superseded: Error {}
}

/// Nova's filters on what the compute service knows beyond Placement (Placement has already
/// checked capacity): compute enabled and up (done by the caller), hosts a build failed on,
/// availability zone, the admin's requested host, `same_host` / `different_host` hints, and the
/// server group's affinity or anti-affinity.
struct HostFilters {
    var sameHosts: Set<Name>?
    var differentHosts: Set<Name> = []
    /// The instance's server group and its live members per host (the instance itself is not
    /// placed yet, so it is not counted).
    var group: ServerGroup?
    var groupMembers: [Name: Int] = [:]

    init(for i: Instance, service: ComputeService) async throws {
        if let id = i.groupID, let g = try await service.serverGroups.group(id) {
            group = g
            groupMembers = try await service.serverGroups.hosts(of: id)
        }
        if !i.sameHost.isEmpty {
            sameHosts = Set(try await service.instances.hosts(of: i.sameHost).map(Name.init))
        }
        if !i.differentHost.isEmpty {
            differentHosts = Set(try await service.instances.hosts(of: i.differentHost).map(Name.init))
        }
    }

    func admit(_ host: ComputeHost, instance i: Instance) -> Bool {
        let name = Name(host.host)
        if i.failedHosts.containsBytes(host.host) { return false }
        if let zone = i.availabilityZone, !zone.sameBytes(as: host.zone) { return false }
        if let requested = i.requestedHost, !requested.sameBytes(as: host.host) { return false }
        if let same = sameHosts, !same.contains(name) { return false }
        if differentHosts.contains(name) { return false }
        switch group?.policy {
        case .affinity:
            // ServerGroupAffinityFilter: once a member runs somewhere, only there.
            if !groupMembers.isEmpty, groupMembers[name] == nil { return false }
        case .antiAffinity:
            // ServerGroupAntiAffinityFilter: fewer than max_server_per_host members (1 by default).
            if (groupMembers[name] ?? 0) >= (group?.maxServerPerHost ?? 1) { return false }
        default: break
        }
        return true
    }
}

extension InstanceRepository {
    /// The hosts of the given instances (those placed and not deleted).
    func hosts(of ids: [String]) async throws -> [String] {
        var out = [String]()
        for id in ids {
            if let i = try await get(id), !i.deleted, let h = i.host { out.append(h) }
        }
        return out
    }

    /// Instances waiting for a host.
    func unplaced() async throws -> [Instance] {
        try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE deleted = \(bind: false) AND host IS NULL
            AND (vm_state = 'building' OR (vm_state = 'shelved_offloaded' AND task_state = 'unshelving'))
            ORDER BY created_at
            """).all().map(Self.decode)
    }
}
