import ComputeNode
import Foundation
import NIOCore
import NimbusCore

/// The controller's side of the agent API (`NodeControl`): what a node is told, and how its
/// reports become Nova's states. Every report is applied as one read-modify-write of the
/// instance; a report about a task that is no longer pending changes nothing.
public struct ComputeNodeControl: NodeControl {
    let service: ComputeService
    /// The cluster's compute key, for reading a `nimbus compute` node's outgoing disks.
    let key: String

    public init(service: ComputeService, key: String = "") { self.service = service; self.key = key }

    /// Nova's initial allocation ratios and reserved host memory (`nova/conf/compute.py`).
    static let cpuAllocationRatio = 4.0
    static let reservedHostMemoryMB = 512

    public func register(_ node: NodeInfo) async throws -> String {
        let doc: JSONValue = ["hypervisor_type": .string(node.hypervisorType), "hypervisor_version": .int(Int64(node.hypervisorVersion)),
                              "vcpus": .int(Int64(node.vcpus)), "memory_mb": .int(Int64(node.memoryMB)), "local_gb": .int(Int64(node.diskGB)),
                              "cpu_model": .string(node.cpuModel), "agent_endpoint": JSONValue(node.endpoint),
                              "console_endpoint": JSONValue(node.consoleEndpoint)]
        let host = try await service.hosts.register(host: node.host, hypervisor: doc)
        if let url = node.endpoint { service.nodes.addRemote(host: node.host, url: url, consoleURL: node.consoleEndpoint) }
        try await service.placement.report(provider: host.id, name: node.host, inventory: [
            "VCPU": NodeInventory(total: node.vcpus, allocationRatio: Self.cpuAllocationRatio),
            "MEMORY_MB": NodeInventory(total: node.memoryMB, reserved: min(Self.reservedHostMemoryMB, node.memoryMB / 2)),
            "DISK_GB": NodeInventory(total: node.diskGB),
        ])
        service.wakeups.yield()
        return host.id
    }

    public func desired(host: String) async throws -> [DesiredInstance] {
        try await service.hosts.seen(host)
        var out = [DesiredInstance]()
        for i in try await service.instances.assigned(to: host) {
            // The host's network agent wires the ports bound to it (level-triggered, idempotent),
            // also while the volumes are prepared: the taps are ready before the guest starts.
            try await service.network?.bind(instance: i.id, project: i.projectID, host: host)
            // An instance whose volumes are still being made or connected is not the node's yet.
            if i.taskState == .blockDeviceMapping { continue }
            // An unshelve whose volumes are not connected to this host yet (also after a restart).
            if i.taskState == .unshelving, i.vmState == .shelvedOffloaded, i.volumes.contains(where: { $0.state == .reserved }) {
                Task { await service.connectReserved(i.id, host: host) }
                continue
            }
            // A volume-backed rebuild whose volumes' part a restarted controller has not finished.
            if i.taskState == .rebuildBlockDeviceMapping, i.taskArguments[ComputeService.volumeRebuild] == "true" {
                service.startVolumeRebuild(i.id, host: host)
            }
            var args = i.taskArguments
            if args[MoveTask.move] == "true", i.taskState == .resizeFinish || i.taskState == .resizeMigrated,
               let source = args[ComputeService.sourceHost], let base = try await service.sourceBase(of: source) {
                args[MoveTask.sourceBase] = base
            }
            out.append(DesiredInstance(spec: try service.spec(i), vmState: i.vmState.rawValue, task: i.taskState?.rawValue, taskArguments: args))
        }
        // Servers deleted while this host was down: their guests go now.
        for i in try await service.instances.deletedWhileDown(host: host) {
            out.append(DesiredInstance(spec: try service.spec(i), vmState: i.vmState.rawValue, task: TaskState.deleting.rawValue))
        }
        return out + (try await service.moveEntries(host: host))
    }

    public func migrationSource(base: String?, instance: InstanceID, migration: String) throws -> any MigrationSource {
        // The node inside the controller reads a `nimbus compute` source's disks from its API.
        guard let base else { throw NimbusError(.internal, "instance \(instance) would move from this node to itself") }
        return RemoteMigrationSource(base: base, key: key, instance: instance, migration: migration)
    }

    public func report(host: String, _ reports: [InstanceReport]) async throws {
        try await service.hosts.seen(host)
        for r in reports { try await service.apply(r, from: host) }
    }

    public func image(_ id: String) async throws -> any ImageSource {
        try await service.images.source(id)
    }

    public func uploadImage(_ imageID: String, instance: InstanceID, host: String, diskFormat: String, size: Int64,
                            bytes: any AsyncSequence<ByteBuffer, any Error> & Sendable) async throws {
        // Only the image the instance's pending snapshot names, from the node the instance is on.
        guard let i = try await service.instances.get(instance.rawValue), !i.deleted, i.host?.sameBytes(as: host) == true,
              i.taskArguments["image_id"]?.sameBytes(as: imageID) == true, i.taskState?.isSnapshot == true else {
            throw NimbusError.conflict("image \(imageID) is not a pending snapshot of instance \(instance) on \(host)")
        }
        guard ["qcow2", "raw"].contains(diskFormat) else { throw NimbusError.badRequest("disk format \(diskFormat) is not one a node writes") }
        try await service.images.uploadSnapshot(imageID, diskFormat: diskFormat, size: size, bytes: bytes)
    }
}

extension ComputeService {
    /// What the metadata service serves a live instance (the config drive's documents, made
    /// whether or not the instance has a drive); nil when there is no such instance.
    public func metadataDocuments(instance id: String) async throws -> (instance: Instance, drive: ConfigDrive)? {
        guard let i = try await instances.get(id), !i.deleted else { return nil }
        let drive = ConfigDrive(metaData: InstanceMetadata.metaData(i).serializedString(), userData: i.userData.flatMap { Data(base64Encoded: $0) },
                                networkData: network?.networkData(instance: i.id, project: i.projectID), vendorData: nil, vendorData2: nil)
        return (i, drive)
    }

    /// The agent API's description of an instance.
    func spec(_ i: Instance) throws -> InstanceSpec {
        var drive: ConfigDrive?
        if i.configDrive || settings.forceConfigDrive {
            drive = ConfigDrive(metaData: InstanceMetadata.metaData(i).serializedString(), userData: i.userData.flatMap { Data(base64Encoded: $0) },
                                networkData: network?.networkData(instance: i.id, project: i.projectID), vendorData: nil, vendorData2: nil)
        }
        return InstanceSpec(id: try InstanceID(i.id), name: i.name, hostname: i.hostname, projectID: i.projectID, userID: i.userID, vcpus: i.flavor.vcpus,
                            memoryMB: i.flavor.memoryMB, rootGB: i.flavor.rootGB, ephemeralGB: i.flavor.ephemeralGB, swapMB: i.flavor.swapMB,
                            imageID: i.isVolumeBacked ? "" : i.taskState == .unshelving ? (i.taskArguments["image_id"] ?? i.imageID ?? "") : (i.imageID ?? ""),
                            configDrive: drive, nics: network?.nics(instance: i.id, project: i.projectID, order: i.createdPorts),
                            volumes: i.volumes.filter(\.isConnected).map {
                                GuestVolume(volumeID: $0.volumeID, attachmentID: $0.attachmentID, socketPath: $0.socketPath, export: $0.export,
                                            readOnly: $0.readOnly, bootIndex: $0.bootIndex, sizeBytes: $0.sizeBytes.map { UInt64(max(0, $0)) },
                                            throttle: $0.qos.isEmpty ? nil : $0.qos)
                            })
    }

    /// Nova's states after a node's fact.
    func apply(_ r: InstanceReport, from host: String) async throws {
        // A suspended guest's memory is on disk and no QEMU runs: Nova's libvirt driver sees a
        // shut-off domain and reports SHUTDOWN (4), not SUSPENDED (7).
        let power = r.powerState == .suspended ? PowerState.shutdown.rawValue : r.powerState.rawValue
        switch r.event {
        case .spawned:
            // The guest started with its volumes on its command line: their attachments are
            // complete before the server is ACTIVE (Nova attaches them before it spawns).
            if let i = try await instances.get(r.id.rawValue), i.vmState == .building, i.taskState == .spawning,
               i.volumes.contains(where: { $0.state == .attaching }) {
                try await completeAttachments(i, plugged: Set(i.volumes.filter { $0.state == .attaching }.map(\.attachmentID)))
            }
            let done = try await instances.modify(r.id.rawValue) { i in
                guard i.vmState == .building, i.taskState == .spawning, i.host?.sameBytes(as: host) == true else { throw Superseded() }
                i.vmState = .active
                i.taskState = nil
                i.powerState = power
                i.launchedAt = Date()
            }
            if done != nil {
                try await actions.event(r.id.rawValue, action: "create", name: "compute__do_build_and_run_instance", host: host, result: "Success", finishAction: true)
            }
        case .spawnFailed:
            try await buildFailed(r.id.rawValue, host: host, message: r.message ?? "unknown error")
        case .powerState:
            _ = try? await instances.modify(r.id.rawValue) { i in
                guard i.taskState == nil, !i.deleted, i.powerState != power else { throw Superseded() }
                i.powerState = power
                // Nova's power-state sync: a guest that went away while ACTIVE is STOPPED now.
                if i.vmState == .active, r.powerState == .shutdown || r.powerState == .crashed || r.powerState == .noState {
                    i.vmState = .stopped
                }
            }
        case .migrationPrepared:
            try await migrationPrepared(r, host: host)
        case .volumes:
            try await volumesReported(r, from: host)
        case .volumesResized:
            try await volumesResized(r, from: host)
        case .interfaces:
            let plugged = (try? JSONValue.parse(Array((r.detail ?? "[]").utf8)))?.arrayValue?.compactMap(\.stringValue) ?? []
            interfacePlugs.record(r.id.rawValue, plugged: plugged, failure: r.message)
        case .taskDone, .taskFailed:
            if r.task == MoveTask.cleanup { return try await migrationCleanedUp(r, host: host) }
            guard let task = r.task.flatMap(TaskState.init) else { return }
            guard let before = try await instances.get(r.id.rawValue), before.taskState == task else { return }
            if Self.isMove(before), task != .resizeConfirming { return try await applyMove(r, task: task, before: before, host: host) }
            let done = r.event == .taskDone
            if Self.volumeRebuildHandsOver(task, before, done: done) {
                let handed = try? await instances.modify(r.id.rawValue) { i in
                    guard i.taskState == task else { throw Superseded() }
                    i.taskState = .rebuildBlockDeviceMapping
                    i.powerState = power
                }
                if handed != nil { startVolumeRebuild(r.id.rawValue, host: host) }
                return
            }
            // Nova gives up an offloaded server's volume connections before it shows
            // SHELVED_OFFLOADED: a client that sees that state may unshelve or delete it at once.
            if task == .shelvingOffloading, done { await terminateConnections(r.id.rawValue, while: Self.offloadingNow) }
            let updated = try? await instances.modify(r.id.rawValue) { i in
                guard i.taskState == task else { throw Superseded() }
                Self.finish(task, &i, done: done, powerState: power, message: r.message)
            }
            guard let updated else { return }
            try await afterTask(task, done: done, before: before, after: updated, host: host)
            if let name = Self.eventName(task) {
                try await actions.event(r.id.rawValue, name: name, host: host, result: done ? "Success" : "Error", traceback: r.message,
                                        finishAction: true)
            }
        case .destroyed:
            if let i = try await instances.get(r.id.rawValue), i.deleted {
                // a guest of a server deleted while its host was down is gone now
                _ = try? await instances.modify(i.id) { i in
                    guard i.deleted, i.taskState == .deleting, i.host?.sameBytes(as: host) == true else { throw Superseded() }
                    i.taskState = nil
                }
                return
            }
            try await finishDelete(r.id.rawValue, host: host)
        }
    }

    static let rebuildTasks: Set<TaskState> = [.rebuilding, .rebuildBlockDeviceMapping, .rebuildSpawning]
    static let shelveTasks: Set<TaskState> = [.shelving, .shelvingImagePendingUpload, .shelvingImageUploading]
    static let resizeTasks: Set<TaskState> = [.resizePrep, .resizeMigrating, .resizeMigrated, .resizeFinish]

    /// The instance after its node reported the task done or failed (Nova's compute manager).
    static func finish(_ task: TaskState, _ i: inout Instance, done: Bool, powerState: Int, message: String?) {
        let args = i.taskArguments
        let powerOn = args["power_on"] != "false"
        i.taskState = nil
        i.taskArguments = [:]
        i.powerState = powerState
        if done {
            if resizeTasks.contains(task) {
                i.vmState = .resized
                i.taskArguments = ["power_on": args["power_on"] ?? "true"]   // what confirm and revert restore
            } else if task == .resizeConfirming {
                i.vmState = powerOn ? .active : .stopped
                i.oldFlavor = nil
                i.migrationID = nil
            } else if task == .resizeReverting || rebuildTasks.contains(task) {
                i.vmState = powerOn ? .active : .stopped
            } else if shelveTasks.contains(task) {
                i.vmState = .shelved
                i.shelved = ["shelved_at": Timestamps.micros(Date()), "shelved_image_id": args["image_id"] ?? "", "shelved_host": i.host ?? ""]
                if args["offload"] == "true" { i.taskState = .shelvingOffloading }
            } else if task == .shelvingOffloading {
                i.vmState = .shelvedOffloaded
                i.host = nil
                i.node = nil
                i.powerState = PowerState.noState.rawValue
            } else if task == .unshelving {
                i.vmState = .active
                i.shelved = [:]
                if i.launchedAt == nil { i.launchedAt = Date() }
            } else if let next = vmState(after: task) {
                i.vmState = next
            }
            return
        }
        i.fault = Instance.Fault(code: 500, message: message ?? "\(task.rawValue) failed")
        if rebuildTasks.contains(task) {
            i.vmState = .error
        } else if resizeTasks.contains(task) {
            // The resize is undone: the old flavor, the state before it.
            if let old = i.oldFlavor { i.flavor = old }
            i.oldFlavor = nil
            i.migrationID = nil
            i.vmState = VMState(rawValue: args["prior_vm_state"] ?? "") ?? .active
        } else if task == .resizeConfirming || task == .resizeReverting {
            i.vmState = .error
        } else if shelveTasks.contains(task) {
            i.vmState = VMState(rawValue: args["prior_vm_state"] ?? "") ?? .active   // the guest was not shelved
        } else if task == .unshelving {
            // Nova: a failed spawn leaves the server offloaded (and its host's claim dropped).
            i.vmState = .shelvedOffloaded
            i.host = nil
            i.node = nil
        }
    }

    /// What a finished task leaves to do outside the instance row: a failed snapshot's image
    /// deleted; a confirmed resize's migration allocation dropped; a failed resize's claims undone.
    func afterTask(_ task: TaskState, done: Bool, before: Instance, after: Instance, host: String) async throws {
        if task == .shelvingOffloading, done {
            try await placement.release(consumer: before.id)
        }
        if shelveTasksNeedingPoke(task, after) { nodes.poke() }
        if task == .unshelving, done, after.volumes.contains(where: { $0.state == .attaching }) {
            // Volumes attached while it was offloaded were connected when it was placed and the
            // guest started with them: attached before the server is ACTIVE, as under Nova.
            try await completeAttachments(after, plugged: Set(after.volumes.filter { $0.state == .attaching }.map(\.attachmentID)))
        }
        if Self.rebuildTasks.contains(task), done, after.volumes.contains(where: { $0.state == .attaching }) {
            // A re-imaged root volume was connected again before the guest was built around it.
            try await completeAttachments(after, plugged: Set(after.volumes.filter { $0.state == .attaching }.map(\.attachmentID)))
        }
        if task == .unshelving, done, let image = before.taskArguments["image_id"], !image.isEmpty {
            try? await images.deleteImage(image)   // Nova deletes the shelved image once the server is back
        }
        if task == .unshelving, !done, before.vmState == .shelvedOffloaded {
            // Nova's failed unshelve: the claim and the volumes' connections to that host go.
            try await placement.release(consumer: before.id)
            await terminateConnections(after.id, while: Self.offloadedAndIdle)
        }
        if task.isSnapshot, !done, let imageID = before.taskArguments["image_id"] {
            try? await images.deleteImage(imageID)   // Nova deletes the image of a snapshot that failed
        }
        if task == .imageBackup, done, let type = before.taskArguments["backup_type"], let rotation = Int(before.taskArguments["rotation"] ?? ""),
           let owner = before.taskArguments["owner"] {
            // Nova's _rotate_backups: the oldest beyond `rotation` go (with 0, every one, this one
            // too), among the backups of the project that asked (which may delete them).
            // This backup counts as the newest even when another has the same created_at second
            // (Glance's timestamps have second resolution, and its tie-break is the id).
            var listed = try await images.backups(instance: before.id, backupType: type, owner: owner)
            if let current = before.taskArguments["image_id"], let at = listed.firstIndex(of: current) {
                listed.insert(listed.remove(at: at), at: 0)
            }
            for old in listed.dropFirst(max(0, rotation)) {
                try? await images.deleteImage(old)
            }
        }
        if task == .resizeConfirming, done, let migration = before.migrationID {
            try await placement.release(consumer: migration)
            try await migrations.update(uuid: migration, status: "confirmed")
        }
        if task == .resizeConfirming, !done, let migration = before.migrationID {
            try await migrations.update(uuid: migration, status: "error")
        }
        if Self.resizeTasks.contains(task), let migration = before.migrationID {
            try await migrations.update(uuid: migration, status: done ? "finished" : "error")
        }
        if task == .resizeReverting, let migration = before.taskArguments["migration"] {
            try await migrations.update(uuid: migration, status: done ? "reverted" : "error")
        }
        if Self.resizeTasks.contains(task), !done, let migration = before.migrationID, let old = before.oldFlavor,
           let provider = try await provider(of: host) {
            _ = try await placement.replace([ConsumerClaim(consumer: before.id, provider: provider, resources: Self.resources(old, volumeBacked: before.isVolumeBacked)),
                                             ConsumerClaim(consumer: migration, provider: nil, resources: [:])],
                                            project: before.projectID, user: before.userID)
        }
    }

    /// A finished shelve that goes on to offloading needs the node again.
    func shelveTasksNeedingPoke(_ task: TaskState, _ after: Instance) -> Bool {
        Self.shelveTasks.contains(task) && after.taskState == .shelvingOffloading
    }

    static func vmState(after task: TaskState) -> VMState? {
        switch task {
        case .poweringOff: .stopped
        case .poweringOn, .rebooting, .rebootPending, .rebootStarted, .rebootingHard, .rebootPendingHard, .rebootStartedHard,
             .unpausing, .resuming: .active
        case .pausing: .paused
        case .suspending: .suspended
        case .rescuing: .rescued
        case .unrescuing: .active
        default: nil   // createImage and others leave vm_state as it was
        }
    }

    /// The compute manager's event names (`compute_<method>`).
    static func eventName(_ task: TaskState) -> String? {
        switch task {
        case .poweringOff: "compute_stop_instance"
        case .poweringOn: "compute_start_instance"
        case .rebooting, .rebootPending, .rebootStarted, .rebootingHard, .rebootPendingHard, .rebootStartedHard: "compute_reboot_instance"
        case .pausing: "compute_pause_instance"
        case .unpausing: "compute_unpause_instance"
        case .suspending: "compute_suspend_instance"
        case .resuming: "compute_resume_instance"
        case .imageSnapshot, .imageSnapshotPending, .imagePendingUpload, .imageUploading: "compute_snapshot_instance"
        case .imageBackup: "compute_backup_instance"
        case .rebuilding, .rebuildBlockDeviceMapping, .rebuildSpawning: "compute_rebuild_instance"
        case .resizePrep, .resizeMigrating, .resizeMigrated, .resizeFinish: "compute_finish_resize"
        case .shelving, .shelvingImagePendingUpload, .shelvingImageUploading: "compute_shelve_instance"
        case .shelvingOffloading: "compute_shelve_offload_instance"
        case .unshelving: "compute_unshelve_instance"
        case .rescuing: "compute_rescue_instance"
        case .unrescuing: "compute_unrescue_instance"
        case .resizeConfirming: "compute_confirm_resize"
        case .resizeReverting: "compute_finish_revert_resize"
        default: nil
        }
    }

    /// A build that failed on `host`: rescheduled elsewhere while attempts remain (Nova's
    /// alternates), else ERROR with the build's error as the fault.
    func buildFailed(_ id: String, host: String, message: String) async throws {
        try await placement.release(consumer: id)
        try await actions.event(id, action: "create", name: "compute__do_build_and_run_instance", host: host, result: "Error", traceback: message)
        let updated = try? await instances.modify(id) { i in
            guard i.vmState == .building, i.host?.sameBytes(as: host) == true else { throw Superseded() }
            i.buildAttempts += 1
            i.failedHosts.append(host)
            if i.buildAttempts >= self.settings.maxBuildAttempts {
                i.vmState = .error
                i.taskState = nil
                i.fault = Instance.Fault(code: 500, message: "Build of instance \(id) aborted: \(message)", details: message)
            } else {
                i.host = nil
                i.node = nil
                i.taskState = .scheduling
            }
        }
        if updated?.vmState == .error {
            try await actions.event(id, action: "create", name: "compute__do_build_and_run_instance", host: host, result: "Error", finishAction: true)
        }
        wakeups.yield()
    }

    /// The node removed everything: the instance is deleted and its allocation released.
    /// `local`: Nova's local delete of a server whose host is down: the row is deleted with its
    /// task left `deleting`, so the host destroys the guest when it is back (`desired`).
    func finishDelete(_ id: String, host: String?, local: Bool = false) async throws {
        // The volumes' release is recorded before the row is deleted (done once it is), so a
        // crash in between cannot lose it.
        if let before = try await instances.get(id), !before.deleted, !before.volumes.isEmpty {
            await recordRelease(before.volumes, project: before.projectID, undo: false, instance: id)
            // Nova detaches a server's volumes before the server is gone (`_shutdown_instance`),
            // so a client that sees the 404 finds them free; the recorded release does the rest.
            for v in before.volumes where !v.attachmentID.isEmpty { try? await volumes?.detach(attachmentID: v.attachmentID) }
        }
        let done = try? await instances.modify(id) { i in
            guard !i.deleted else { throw Superseded() }
            i.deleted = true
            i.vmState = .deleted
            i.taskState = local ? .deleting : nil
            i.powerState = PowerState.noState.rawValue
            i.deletedAt = Date()
            i.terminatedAt = Date()
        }
        try await placement.release(consumer: id)
        try? await consoleTokens.delete(instance: id)
        if let done, !done.volumes.isEmpty {
            // Again with the row as deleted: the conductor may have reserved a volume in between.
            await release(done.volumes, project: done.projectID, undo: false, instance: id)
        }
        if let done, let network {
            do { try await network.deallocate(instance: id, project: done.projectID, created: done.createdPorts) } catch {
                logger.error("could not release the ports of deleted instance \(id): \(error)")
            }
        }
        // A resize left unconfirmed is confirmed by the delete (Nova's _confirm_resize_on_deleting):
        // the old flavor's allocation under the migration goes too.
        if let image = done?.shelved["shelved_image_id"], !image.isEmpty {
            try? await images.deleteImage(image)   // Nova deletes a shelved server's image with it
        }
        // A snapshot or shelve that the delete interrupted (or an unshelve's image): its image goes
        // too, as Nova's "instance disappeared during snapshot" cleanup does.
        if let image = done?.taskArguments["image_id"], !image.isEmpty {
            try? await images.deleteImage(image)
        }
        if let done, let migration = done.taskArguments[MoveTask.migration], done.taskArguments[MoveTask.scheduling] == nil {
            if done.taskArguments[MoveTask.phase] != nil {
                // a live migration: the source's claim goes now; the destination, which finds the
                // record still preparing or running, removes its copy and ends the record
                try await placement.release(consumer: migration)
                if done.taskArguments[MoveTask.phase] == MoveTask.Phase.finish.rawValue { try await migrations.update(uuid: migration, status: "error") }
            } else if done.taskArguments[MoveTask.evacuate] == "true" {
                // an evacuation: the source removes its copy (and its claim goes) when it is back
                try await migrations.update(uuid: migration, status: "done")
            }
        }
        if let migration = done?.migrationID {
            if done?.taskArguments[MoveTask.move] == "true", let source = done?.taskArguments[ComputeService.sourceHost],
               done?.host.map({ !$0.sameBytes(as: source) }) ?? false {
                // Its source still has a copy: it removes it (and the allocation goes) as on confirm.
                try await migrations.update(uuid: migration, status: "confirming")
            } else {
                try await placement.release(consumer: migration)
                try await migrations.update(uuid: migration, status: "confirmed")
            }
        }
        if done != nil { try await actions.event(id, action: "delete", name: "compute_terminate_instance", host: host, result: "Success", finishAction: true) }
    }
}
