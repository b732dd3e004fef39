import ComputeNode
import Foundation
import NimbusCore

/// Moves between hosts: cold migration (and a resize that does not fit on its host), live
/// migration and evacuation, as `nova/compute/api.py` checks them and its conductor and
/// compute managers carry them out.
///
/// A move is a migration record plus the instance's task; each step has one acting node,
/// named by the instance's host or, while the instance is placed on the other end, by the
/// migration record (`MigrationRepository.acting`). The source's resources move to the
/// migration's Placement consumer and the destination's are claimed for the instance in one
/// write, so both hosts hold the instance until the move is confirmed, reverted or rolled back.
///
///     cold:   resize_prep (source stops, offers disks) → resize_finish (destination copies,
///             starts) → VERIFY_RESIZE → confirm: the source removes its copy (cleanup)
///                                     → revert: resize_reverting at the destination (removes),
///                                       then at the source (starts its copy again)
///     live:   migrating/prepare (destination waits) → migrate (source streams) → finish
///             (destination runs the guest); a failed stream → rollback (destination removes)
///     evacuate: rebuilding on the destination from the image; the source, once back, cleans up
extension ComputeService {
    static let sourceHost = "source_host"
    static let destHost = "dest_host"

    func provider(of host: String) async throws -> String? {
        try await hosts.get(host: host)?.id
    }

    /// Hosts a move of `i` (at `flavor`) may go to, best first: Placement's candidates, the
    /// scheduler's filters (without the instance's own host), Nova's weighers. `requested`: an
    /// admin's named host, which must exist and differ from the current one.
    func moveCandidates(_ i: Instance, flavor: Flavor, requested: String?, force: Bool, sameHostError: String) async throws -> [(provider: String, host: String)] {
        guard let current = i.host else { throw NimbusError.conflict("Instance \(i.id) has no host") }
        let all = try await hosts.list()
        if let requested {
            guard all.contains(where: { $0.host.sameBytes(as: requested) }) else {
                throw NimbusError.badRequest("Compute host \(requested) could not be found.")
            }
            if requested.sameBytes(as: current) { throw NimbusError.badRequest(sameHostError) }
        }
        // A forced host may be disabled (Nova skips the scheduler then), never down.
        let usable = Dictionary(all.filter { h in
            (!h.disabled || (force && requested.map { h.host.sameBytes(as: $0) } == true)) && h.isUp() && !h.host.sameBytes(as: current)
        }.map { (Name($0.id), $0) }, uniquingKeysWith: { a, _ in a })
        var probe = i
        probe.requestedHost = requested
        probe.failedHosts = []
        probe.flavor = flavor
        let candidates = try await placement.candidates(Self.resources(flavor), limit: settings.schedulerCandidates)
        // A forced host skips the scheduler's filters (Nova's `force`), never Placement's capacity.
        let filters = try await HostFilters(for: probe, service: self)
        let passing = candidates.compactMap { c -> (PlacementCandidate, ComputeHost)? in
            guard let host = usable[Name(c.provider)] else { return nil }
            if force, let requested { return host.host.sameBytes(as: requested) ? (c, host) : nil }
            return filters.admit(host, instance: probe) ? (c, host) : nil
        }
        let counts = passing.map { filters.groupMembers[Name($0.1.host)] ?? 0 }
        return Self.weigh(passing.map(\.0), group: filters.group?.policy, members: counts).map { (passing[$0].0.provider, passing[$0].1.host) }
    }

    /// Claims the first candidate that still fits: the instance's source allocation (at
    /// `oldFlavor`) moves to the migration's consumer, `flavor` is claimed on the destination.
    func claimMove(_ i: Instance, flavor: Flavor, oldFlavor: Flavor, migration: String, candidates: [(provider: String, host: String)]) async throws -> String? {
        guard let source = i.host, let sourceProvider = try await provider(of: source) else { return nil }
        for c in candidates {
            let claimed = try await placement.replace([
                ConsumerClaim(consumer: migration, provider: sourceProvider, resources: Self.resources(oldFlavor), consumerType: "MIGRATION"),
                ConsumerClaim(consumer: i.id, provider: c.provider, resources: Self.resources(flavor)),
            ], project: i.projectID, user: i.userID)
            if claimed { return c.host }
        }
        return nil
    }

    /// The scheduler's pick for a reserved move: the first candidate whose claim succeeds, else
    /// `noHost` (400, Nova's NoValidHost).
    func scheduleMove(_ reserved: Instance, flavor: Flavor, oldFlavor: Flavor, migration: String, requested: String?, force: Bool,
                      sameHostError: String, noHost: String = "No valid host was found. ") async throws -> String {
        let candidates = try await moveCandidates(reserved, flavor: flavor, requested: requested, force: force, sameHostError: sameHostError)
        guard let claimed = try await claimMove(reserved, flavor: flavor, oldFlavor: oldFlavor, migration: migration, candidates: candidates) else {
            throw NimbusError.badRequest(noHost)
        }
        return claimed
    }

    /// Puts a move's claims back: the instance on its source at `flavor`, no migration consumer.
    func undoMoveClaims(_ i: Instance, source: String, flavor: Flavor, migration: String) async throws {
        guard let sourceProvider = try await provider(of: source) else { return }
        _ = try await placement.replace([ConsumerClaim(consumer: i.id, provider: sourceProvider, resources: Self.resources(flavor)),
                                         ConsumerClaim(consumer: migration, provider: nil, resources: [:])],
                                        project: i.projectID, user: i.userID)
    }

    // MARK: reserving an instance for a move

    /// Takes the instance for a move before anything is claimed (Nova's API sets the task state
    /// with `expected_task_state=None` before the conductor schedules): a second request fails
    /// here with 409 and changes nothing. Nodes leave a reserved instance alone
    /// (`MoveTask.scheduling`) until `commitMove` or `releaseMove`.
    func reserveMove(_ current: Instance, task: TaskState, vm: Set<VMState>, method: String, migration: String,
                     arguments: [String: String]) async throws -> Instance {
        guard let reserved = try await instances.modify(current.id, { i in
            try Self.checkState(i, vm: vm, task: [nil], method: method)
            i.taskState = task
            i.taskArguments = arguments.merging([MoveTask.migration: migration, MoveTask.scheduling: "true"], uniquingKeysWith: { _, b in b })
        }) else { throw NimbusError.notFound("Instance \(current.id) could not be found.") }
        return reserved
    }

    /// The reservation given up (nothing was claimed, or the claims were undone).
    func releaseMove(_ id: String, migration: String) async {
        _ = try? await instances.modify(id) { i in
            guard i.taskArguments[MoveTask.migration] == migration, i.taskArguments[MoveTask.scheduling] == "true" else { throw Superseded() }
            i.taskState = nil
            i.taskArguments = [:]
        }
    }

    /// The move starts: `change` applied to the reserved instance; nil when a delete took it
    /// meanwhile (the caller undoes its claims).
    func commitMove(_ id: String, migration: String, _ change: @escaping @Sendable (inout Instance) -> Void) async throws -> Instance? {
        try? await instances.modify(id) { i in
            guard i.taskArguments[MoveTask.migration] == migration, i.taskArguments[MoveTask.scheduling] == "true", !i.deleted else {
                throw Superseded()
            }
            i.taskArguments[MoveTask.scheduling] = nil
            change(&i)
        }
    }

    /// Claims undone after a delete won the race with a move: the instance's own allocation goes
    /// too once it is deleted (its delete may have released it before the undo put it back).
    func abandonMove(_ current: Instance, source: String, migration: String) async throws {
        try await undoMoveClaims(current, source: source, flavor: current.flavor, migration: migration)
        if let now = try await instances.get(current.id), now.deleted { try await placement.release(consumer: current.id) }
    }

    // MARK: cold migration

    /// `migrate` (admin): the instance moved to another host, as a resize to the same flavor.
    public func migrate(_ id: String, host requested: String?, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.active, .stopped], task: [nil], method: "migrate")
        try Self.refuseVolumeBacked(current, "migrate")
        try await startColdMove(current, flavor: current.flavor, kind: .migration, requested: requested, action: "migrate", caller: caller,
                                requestID: requestID, noHost: "No valid host was found. No valid host found for cold migrate")
    }

    /// Reserves `current`, claims a destination and starts a cold move to `flavor` (a migration
    /// keeps its flavor; a resize that did not fit on its host changes it).
    func startColdMove(_ current: Instance, flavor: Flavor, kind: ComputeMigration.Kind, requested: String?, action: String,
                       caller: AuthContext, requestID: String, noHost: String) async throws {
        guard let source = current.host else { throw NimbusError.conflict("Instance \(current.id) has no host") }
        let migration = Identifiers.uuid()
        let reserved = try await reserveMove(current, task: .resizePrep, vm: [.active, .stopped], method: action, migration: migration,
                                             arguments: [Self.sourceHost: source])
        try await continueColdMove(current, reserved: reserved, migration: migration, flavor: flavor, kind: kind, requested: requested,
                                   action: action, caller: caller, requestID: requestID, noHost: noHost)
    }

    /// A reserved instance (`reserveMove` with `migration`) sent to another host.
    func continueColdMove(_ current: Instance, reserved: Instance, migration: String, flavor: Flavor, kind: ComputeMigration.Kind, requested: String?,
                          action: String, caller: AuthContext, requestID: String, noHost: String) async throws {
        guard let source = current.host else { throw NimbusError.conflict("Instance \(current.id) has no host") }
        let dest: String
        do {
            dest = try await scheduleMove(reserved, flavor: flavor, oldFlavor: current.flavor, migration: migration, requested: requested, force: false,
                                          sameHostError: "Cannot migrate to the same host", noHost: noHost)
        } catch {
            await releaseMove(current.id, migration: migration)
            throw error
        }
        let updated = try await commitMove(current.id, migration: migration) { i in
            i.taskArguments = ["power_on": Self.powerOnAfter(i), "prior_vm_state": i.vmState.rawValue, MoveTask.move: "true",
                               MoveTask.migration: migration, Self.sourceHost: source, Self.destHost: dest]
            i.oldFlavor = i.flavor
            i.flavor = flavor
            i.migrationID = migration
        }
        guard let updated else {
            try await abandonMove(current, source: source, migration: migration)
            throw NimbusError.conflict("Instance \(current.id) was deleted while it was being moved")
        }
        try await migrations.record(.move(migration, instance: current, kind: kind, status: "pre-migrating", source: source, dest: dest,
                                          newFlavor: flavor, caller: caller.user.id))
        try await actions.start(updated, action: action, requestID: requestID, caller: caller)
        nodes.poke()
    }

    // MARK: live migration

    /// `os-migrateLive` (admin): the running (or paused) guest moved with its memory. Nova
    /// refuses `block_migration: false` without shared storage; Nimbus has none, so every
    /// live migration copies the disks (as `auto` chooses). From 2.34 the conductor's checks
    /// (source up, shared storage, the target not the source, a host found) are reported by
    /// the migration record and the instance action, not the response.
    public func liveMigrate(_ id: String, host requested: String?, blockMigration: Bool?, force: Bool, async: Bool, caller: AuthContext,
                            isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.active, .paused], task: [nil], method: "os-migrateLive")
        try Self.refuseVolumeBacked(current, "os-migrateLive")
        guard let source = current.host else { throw NimbusError.conflict("Instance \(id) has no host") }
        if let requested, !(try await hosts.list().contains { $0.host.sameBytes(as: requested) }) {
            throw NimbusError.badRequest("Compute host \(requested) could not be found.")
        }
        let migration = Identifiers.uuid()
        var record = ComputeMigration.move(migration, instance: current, kind: .liveMigration, status: "accepted", source: source, dest: requested,
                                           newFlavor: current.flavor, caller: caller.user.id)
        let reserved = try await reserveMove(current, task: .migrating, vm: [.active, .paused], method: "os-migrateLive", migration: migration,
                                             arguments: [Self.sourceHost: source, "prior_vm_state": current.vmState.rawValue])
        let dest: String
        do {
            // the conductor's checks (nova/conductor/tasks/live_migrate.py)
            guard let sourceHost = try await hosts.get(host: source), sourceHost.isUp() else {
                throw NimbusError.badRequest("Compute service of \(source) is unavailable at this time.")
            }
            if blockMigration == false {
                throw NimbusError.badRequest("Migration pre-check error: Live migration can not be used without shared storage except a booted from volume VM which does not have a local disk.")
            }
            dest = try await scheduleMove(reserved, flavor: current.flavor, oldFlavor: current.flavor, migration: migration, requested: requested,
                                          force: force, sameHostError: "Unable to migrate instance (\(id)) to current host (\(source)).")
        } catch let e as NimbusError where e.kind == .badRequest {
            await releaseMove(current.id, migration: migration)
            guard async else { throw e }
            record.status = "error"
            try await migrations.record(record)
            try await actions.start(current, action: "live-migration", requestID: requestID, caller: caller)
            try await actions.event(current.id, action: "live-migration", name: "conductor_live_migrate_instance", host: nil, result: "Error",
                                    traceback: e.message, finishAction: true)
            return
        } catch {
            await releaseMove(current.id, migration: migration)
            throw error
        }
        let updated = try await commitMove(current.id, migration: migration) { i in
            i.taskArguments = ["prior_vm_state": i.vmState.rawValue, MoveTask.migration: migration, MoveTask.phase: MoveTask.Phase.prepare.rawValue,
                               Self.sourceHost: source, Self.destHost: dest]
            i.migrationID = nil
        }
        guard let updated else {
            try await abandonMove(current, source: source, migration: migration)
            throw NimbusError.conflict("Instance \(id) was deleted while it was being moved")
        }
        record.status = "preparing"
        record.destCompute = dest
        record.destNode = dest
        record.destHost = dest
        try await migrations.record(record)
        try await actions.start(updated, action: "live-migration", requestID: requestID, caller: caller)
        try await actions.event(current.id, action: "live-migration", name: "conductor_live_migrate_instance", host: nil, result: "Success")
        nodes.poke()
    }

    /// `force_complete` (2.22) and abort (`DELETE`, 2.24; queued and preparing from 2.65) of a
    /// server's live migration, by the migration's integer id.
    public func controlLiveMigration(_ i: Instance, migrationID: String, action: MigrationControl, abortBeforeRunning: Bool, caller: AuthContext,
                                     requestID: String) async throws {
        let method = action == .abort ? "abort live migration" : "force complete"
        if action == .forceComplete { try Self.checkState(i, vm: [.active], task: [.migrating], method: "live_migrate_force_complete") }
        guard i.taskState == .migrating else {
            throw Self.invalidState(i, "task_state", i.taskState?.rawValue ?? "None", action == .abort ? "live_migrate_abort" : "live_migrate_force_complete")
        }
        var f = MigrationRepository.Filter()
        f.instanceID = i.id
        let mine = try await migrations.list(f)
        if action == .forceComplete {
            guard let m = mine.first(where: { String($0.id) == migrationID }), m.status == "running" else {
                if let m = mine.first(where: { String($0.id) == migrationID }) {
                    throw NimbusError.badRequest("Migration \(migrationID) state of instance \(i.id) is \(m.status ?? "None"). Cannot \(method) while the migration is in this state.")
                }
                throw NimbusError.badRequest("Migration not found for instance \(i.id) with status running.")
            }
        }
        guard let m = mine.first(where: { String($0.id) == migrationID }), m.kind == .liveMigration else {
            throw NimbusError.notFound("Migration \(migrationID) not found for instance \(i.id).")
        }
        let allowed = action == .abort && abortBeforeRunning ? ["queued", "preparing", "running"] : ["running"]
        guard let status = m.status, allowed.contains(status), i.taskArguments[MoveTask.migration] == m.uuid else {
            throw NimbusError.badRequest("Migration \(migrationID) state of instance \(i.id) is \(m.status ?? "None"). Cannot \(method) while the migration is in this state.")
        }
        try await actions.start(i, action: action == .abort ? "live_migration_cancel" : "live_migration_force_complete", requestID: requestID,
                                caller: caller)
        if status != "running" {
            // Not streaming yet: the destination removes what it prepared, the guest stays.
            let rolledBack = try? await instances.modify(i.id) { cur in
                guard cur.taskState == .migrating, cur.taskArguments[MoveTask.migration] == m.uuid,
                      cur.taskArguments[MoveTask.phase] == MoveTask.Phase.prepare.rawValue else { throw Superseded() }
                cur.taskArguments[MoveTask.phase] = MoveTask.Phase.rollback.rawValue
                cur.taskArguments["failure"] = "aborted"
            }
            if rolledBack != nil {
                nodes.poke()
                return
            }
            // the destination was ready meanwhile: the source is told, as for a running one
        }
        guard let source = i.taskArguments[Self.sourceHost], let node = nodes.endpoint(host: source) else {
            throw NimbusError.conflict("Instance \(i.id) is not ready.")
        }
        try await node.controlMigration(i.id, action)
    }

    // MARK: evacuation

    /// `evacuate` (admin): an instance of a host that is down rebuilt on another from its image
    /// (no storage is shared, so its disks stay behind). From 2.95 it ends stopped.
    public func evacuate(_ id: String, host requested: String?, force: Bool, targetStopped: Bool, caller: AuthContext, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: true)
        try Self.checkState(current, vm: [.active, .stopped, .error], task: [nil], method: "evacuate")
        try Self.refuseVolumeBacked(current, "evacuate")
        guard let source = current.host else { throw NimbusError.conflict("Instance \(id) has no host") }
        guard let sourceHost = try await hosts.get(host: source) else {
            throw NimbusError.badRequest("Compute host \(source) could not be found.")
        }
        if sourceHost.isUp() { throw NimbusError.badRequest("Compute service of \(source) is still in use.") }
        let migration = Identifiers.uuid()
        let reserved = try await reserveMove(current, task: .rebuilding, vm: [.active, .stopped, .error], method: "evacuate", migration: migration,
                                             arguments: [Self.sourceHost: source, MoveTask.evacuate: "true"])
        let dest: String
        do {
            dest = try await scheduleMove(reserved, flavor: current.flavor, oldFlavor: current.flavor, migration: migration, requested: requested,
                                          force: force, sameHostError: "The target host can't be the same one.")
        } catch {
            await releaseMove(current.id, migration: migration)
            throw error
        }
        let updated = try await commitMove(current.id, migration: migration) { i in
            let powerOn = !targetStopped && i.vmState != .stopped
            i.taskArguments = ["power_on": powerOn ? "true" : "false", "prior_vm_state": i.vmState.rawValue, MoveTask.evacuate: "true",
                               MoveTask.migration: migration, Self.sourceHost: source, Self.destHost: dest]
            i.host = dest
            i.node = dest
            i.fault = nil
        }
        guard let updated else {
            try await abandonMove(current, source: source, migration: migration)
            throw NimbusError.conflict("Instance \(id) was deleted while it was being moved")
        }
        try await migrations.record(.move(migration, instance: current, kind: .evacuation, status: "pre-migrating", source: source, dest: dest,
                                          newFlavor: current.flavor, caller: caller.user.id))
        try await actions.start(updated, action: "evacuate", requestID: requestID, caller: caller)
        nodes.poke()
    }

    // MARK: the nodes' reports

    /// Whether a report about `before`'s task belongs to a move (handled by `applyMove`).
    static func isMove(_ i: Instance) -> Bool {
        i.taskArguments[MoveTask.move] == "true" || i.taskState == .migrating || i.taskArguments[MoveTask.evacuate] == "true"
    }

    /// A move's step reported done or failed by its acting node: the next step, or the end.
    func applyMove(_ r: InstanceReport, task: TaskState, before: Instance, host: String) async throws {
        let args = before.taskArguments
        let done = r.event == .taskDone
        let power = r.powerState == .suspended ? PowerState.shutdown.rawValue : r.powerState.rawValue
        guard let migration = args[MoveTask.migration], let source = args[Self.sourceHost], let dest = args[Self.destHost] else { return }
        let phase = args[MoveTask.phase].flatMap(MoveTask.Phase.init)
        func step(_ change: @escaping @Sendable (inout Instance) -> Void) async throws -> Instance? {
            try? await instances.modify(before.id) { i in
                guard i.taskState == task, i.taskArguments[MoveTask.migration] == migration, i.taskArguments[MoveTask.phase] == args[MoveTask.phase] else {
                    throw Superseded()
                }
                change(&i)
            }
        }
        let fault = Instance.Fault(code: 500, message: r.message ?? "\(task.rawValue) failed")
        let prior = VMState(rawValue: args["prior_vm_state"] ?? "") ?? .active
        switch task {
        case .resizePrep, .resizeMigrating:
            guard host.sameBytes(as: source) else { return }
            if done {
                guard try await step({ i in
                    i.host = dest; i.node = dest; i.taskState = .resizeFinish; i.powerState = power
                }) != nil else { return }
                try await migrations.update(uuid: migration, status: "post-migrating")
                nodes.poke()
            } else {
                guard try await step({ i in
                    if let old = i.oldFlavor { i.flavor = old }
                    i.oldFlavor = nil; i.migrationID = nil; i.taskState = nil; i.taskArguments = [:]; i.vmState = prior; i.powerState = power; i.fault = fault
                }) != nil else { return }
                try await undoMoveClaims(before, source: source, flavor: before.oldFlavor ?? before.flavor, migration: migration)
                try await migrations.update(uuid: migration, status: "error")
                try await actions.event(before.id, name: "compute_resize_instance", host: host, result: "Error", traceback: r.message, finishAction: true)
            }
        case .resizeFinish, .resizeMigrated:
            guard host.sameBytes(as: dest) else { return }
            if done {
                guard try await step({ i in i.vmState = .resized; i.taskState = nil; i.powerState = power }) != nil else { return }
                try await migrations.update(uuid: migration, status: "finished")
                try await actions.event(before.id, name: "compute_finish_resize", host: host, result: "Success", finishAction: true)
            } else {
                // The destination could not build it: the source starts its own copy again.
                guard try await step({ i in
                    if let old = i.oldFlavor { i.flavor = old }
                    i.oldFlavor = nil; i.migrationID = nil; i.host = source; i.node = source; i.fault = fault
                    i.taskState = .resizeReverting
                    i.taskArguments[MoveTask.phase] = MoveTask.Phase.source.rawValue
                    i.taskArguments["failed"] = "true"
                }) != nil else { return }
                try await undoMoveClaims(before, source: source, flavor: before.oldFlavor ?? before.flavor, migration: migration)
                try await migrations.update(uuid: migration, status: "error")
                try await actions.event(before.id, name: "compute_finish_resize", host: host, result: "Error", traceback: r.message)
                nodes.poke()
            }
        case .resizeReverting where phase == .dest:
            guard host.sameBytes(as: dest) else { return }
            if done {
                guard try await step({ i in
                    i.host = source; i.node = source; i.taskArguments[MoveTask.phase] = MoveTask.Phase.source.rawValue
                }) != nil else { return }
                nodes.poke()
            } else {
                guard try await step({ i in i.vmState = .error; i.taskState = nil; i.fault = fault }) != nil else { return }
                try await migrations.update(uuid: migration, status: "error")
                try await actions.event(before.id, name: "compute_revert_resize", host: host, result: "Error", traceback: r.message, finishAction: true)
            }
        case .resizeReverting:
            guard host.sameBytes(as: source) else { return }
            let failedMove = args["failed"] == "true"
            guard try await step({ i in
                i.taskState = nil; i.taskArguments = [:]; i.powerState = power
                if done { i.vmState = failedMove ? prior : (args["power_on"] == "false" ? .stopped : .active) } else { i.vmState = .error; i.fault = fault }
            }) != nil else { return }
            if !failedMove { try await migrations.update(uuid: migration, status: done ? "reverted" : "error") }
            try await actions.event(before.id, name: "compute_finish_revert_resize", host: host, result: done ? "Success" : "Error",
                                    traceback: r.message, finishAction: true)
        case .migrating where phase == .migrate:
            guard host.sameBytes(as: source) else { return }
            if done {
                guard try await step({ i in
                    i.host = dest; i.node = dest; i.taskArguments[MoveTask.phase] = MoveTask.Phase.finish.rawValue
                }) != nil else { return }
                try await migrations.update(uuid: migration, status: "post-migrating")
            } else {
                guard try await step({ i in
                    i.taskArguments[MoveTask.phase] = MoveTask.Phase.rollback.rawValue
                    i.taskArguments["failure"] = r.message ?? "the live migration failed"
                    i.powerState = power
                }) != nil else { return }
            }
            nodes.poke()
        case .migrating where phase == .finish:
            guard host.sameBytes(as: dest) else { return }
            guard try await step({ i in
                i.taskState = nil; i.taskArguments = [:]; i.powerState = power
                if done { i.vmState = prior } else { i.vmState = .error; i.fault = fault }
            }) != nil else { return }
            try await placement.release(consumer: migration)
            try await migrations.update(uuid: migration, status: done ? "completed" : "error")
            try await actions.event(before.id, action: "live-migration", name: "compute_live_migration", host: host, result: done ? "Success" : "Error",
                                    traceback: r.message, finishAction: true)
        case .migrating:
            // prepare failed, or the rollback after a failed stream is done: the guest stays on the source
            guard host.sameBytes(as: dest), phase == .rollback || (phase == .prepare && !done) else { return }
            let message = args["failure"] ?? r.message
            guard try await step({ i in i.taskState = nil; i.taskArguments = [:]; i.vmState = prior }) != nil else { return }
            try await undoMoveClaims(before, source: source, flavor: before.flavor, migration: migration)
            try await migrations.update(uuid: migration, status: "error")
            try await actions.event(before.id, action: "live-migration", name: "compute_live_migration", host: host, result: "Error",
                                    traceback: message, finishAction: true)
        case .rebuilding, .rebuildSpawning, .rebuildBlockDeviceMapping:
            guard host.sameBytes(as: dest) else { return }
            guard try await step({ i in
                i.taskState = nil; i.taskArguments = [:]; i.powerState = power
                if done { i.vmState = args["power_on"] == "false" ? .stopped : .active } else { i.vmState = .error; i.fault = fault }
            }) != nil else { return }
            // Done: the source's copy (and the migration's allocation there) goes when it is back.
            try await migrations.update(uuid: migration, status: done ? "done" : "failed")
            try await actions.event(before.id, action: "evacuate", name: "compute_rebuild_instance", host: host, result: done ? "Success" : "Error",
                                    traceback: r.message, finishAction: true)
        default:
            return
        }
    }

    /// A live migration's destination is waiting: the source may stream now.
    func migrationPrepared(_ r: InstanceReport, host: String) async throws {
        guard let migration = r.migration, let target = r.detail else { return }
        let updated = try? await instances.modify(r.id.rawValue) { i in
            guard i.taskState == .migrating, i.taskArguments[MoveTask.migration] == migration,
                  i.taskArguments[MoveTask.phase] == MoveTask.Phase.prepare.rawValue,
                  i.taskArguments[Self.destHost]?.sameBytes(as: host) == true else { throw Superseded() }
            i.taskArguments[MoveTask.phase] = MoveTask.Phase.migrate.rawValue
            i.taskArguments[MoveTask.uri] = target
        }
        guard updated != nil else { return }
        try await migrations.update(uuid: migration, status: "running")
        nodes.poke()
    }

    /// The source of a confirmed move or of an evacuation removed its copy.
    func migrationCleanedUp(_ r: InstanceReport, host: String) async throws {
        guard let uuid = r.migration, let m = try await migrations.get(uuid: uuid) else { return }
        let done = r.event == .taskDone
        if m.kind == .liveMigration, m.destCompute?.sameBytes(as: host) == true, m.status == "preparing" || m.status == "running" {
            // the destination of a live migration whose server was deleted removed its copy
            guard done else { return }
            try await placement.release(consumer: uuid)
            try await migrations.update(uuid: uuid, status: "error")
            return
        }
        guard m.sourceCompute?.sameBytes(as: host) == true else { return }
        guard done else {
            logger.error("compute node \(host) could not remove instance \(r.id) after migration \(uuid): \(r.message ?? "")")
            return
        }
        switch m.status {
        case "confirming":
            let updated = try? await instances.modify(r.id.rawValue) { i in
                guard i.taskState == .resizeConfirming, i.migrationID == uuid else { throw Superseded() }
                i.vmState = i.taskArguments["power_on"] == "false" ? .stopped : .active
                i.taskState = nil
                i.taskArguments = [:]
                i.oldFlavor = nil
                i.migrationID = nil
            }
            try await placement.release(consumer: uuid)
            try await migrations.update(uuid: uuid, status: "confirmed")
            if updated != nil {
                try await actions.event(r.id.rawValue, name: "compute_confirm_resize", host: host, result: "Success", finishAction: true)
            }
        case "done":
            try await placement.release(consumer: uuid)
            try await migrations.update(uuid: uuid, status: "completed")
        default:
            return
        }
    }

    /// What a node does while it is one end of a move the instance is not placed on.
    func moveEntries(host: String) async throws -> [DesiredInstance] {
        var out = [DesiredInstance]()
        for m in try await migrations.acting(host: host) {
            guard let instanceID = m.instanceID, let i = try await instances.get(instanceID) else { continue }
            if m.sourceCompute?.sameBytes(as: host) == true {
                guard i.host.map({ !$0.sameBytes(as: host) }) ?? true else { continue }
                out.append(DesiredInstance(spec: try spec(i), vmState: i.vmState.rawValue, task: MoveTask.cleanup,
                                           taskArguments: [MoveTask.migration: m.uuid], role: .source))
            } else if i.deleted {
                // deleted while a live migration was being prepared or streamed: what this
                // destination prepared or received goes
                out.append(DesiredInstance(spec: try spec(i), vmState: i.vmState.rawValue, task: MoveTask.cleanup,
                                           taskArguments: [MoveTask.migration: m.uuid], role: .dest))
            } else if i.taskState == .migrating, i.taskArguments[MoveTask.migration] == m.uuid {
                out.append(DesiredInstance(spec: try spec(i), vmState: i.vmState.rawValue, task: TaskState.migrating.rawValue,
                                           taskArguments: i.taskArguments, role: .dest))
            }
        }
        return out
    }

    /// Where a destination reads the source's disks: the source node's own API, or (nil) the
    /// node inside the controller.
    func sourceBase(of host: String) async throws -> String? {
        guard let h = try await hosts.get(host: host),
              let url = h.hypervisor["agent_endpoint"]?.stringValue else { return nil }
        return url + "/compute-node/v1"
    }
}
