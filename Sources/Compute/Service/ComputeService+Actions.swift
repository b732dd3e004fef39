import ComputeNode
import Foundation
import NimbusCore

/// Server actions as `nova/compute/api.py` checks them: the vm_states and task_states each is
/// allowed in (409 otherwise), the lock, then a task state the compute node acts on.
public enum ServerAction: Sendable {
    case start, stop, pause, unpause, suspend, resume
    case reboot(hard: Bool)

    var name: String {
        switch self {
        case .start: "start"
        case .stop: "stop"
        case .pause: "pause"
        case .unpause: "unpause"
        case .suspend: "suspend"
        case .resume: "resume"
        case .reboot: "reboot"
        }
    }

    /// `check_instance_state(vm_state=…, task_state=…)`: nil task list means "no task".
    var allowed: (vm: Set<VMState>, task: Set<TaskState?>) {
        switch self {
        case .start: ([.stopped], [nil])
        case .stop: ([.active, .error], [nil])
        case .pause: ([.active], [nil])
        case .unpause: ([.paused], [nil])
        case .suspend: ([.active], [nil])
        case .resume: ([.suspended], [nil])
        case .reboot(hard: false): ([.active], [nil, .rebooting, .rebootPending, .rebootStarted])
        case .reboot(hard: true): ([.active, .stopped, .paused, .suspended, .error],
                                   [nil, .rebooting, .rebootPending, .rebootStarted, .rebootingHard, .rebootPendingHard, .rebootStartedHard])
        }
    }

    var task: TaskState {
        switch self {
        case .start: .poweringOn
        case .stop: .poweringOff
        case .pause: .pausing
        case .unpause: .unpausing
        case .suspend: .suspending
        case .resume: .resuming
        case .reboot(let hard): hard ? .rebootingHard : .rebooting
        }
    }
}

extension ComputeService {
    /// Starts `action` on the server: state checks, the task state, the instance action record,
    /// and a poke to its compute node. Answers when the task is recorded (Nova's cast).
    public func perform(_ action: ServerAction, on id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool,
                        requestID: String) async throws -> Instance {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        let updated = try await instances.modify(current.id) { i in
            try Self.checkLock(i, caller: caller, override: lockOverride)
            let (vms, tasks) = action.allowed
            guard vms.contains(i.vmState) else { throw Self.invalidState(i, "vm_state", i.vmState.rawValue, action.name) }
            guard tasks.contains(i.taskState) else { throw Self.invalidState(i, "task_state", i.taskState?.rawValue ?? "None", action.name) }
            guard i.host != nil else { throw Self.invalidState(i, "vm_state", i.vmState.rawValue, action.name) }
            i.taskState = action.task
        }
        guard let updated else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        try await actions.start(updated, action: action.name, requestID: requestID, caller: caller)
        nodes.poke()
        return updated
    }

    /// `InstanceInvalidState` (409).
    static func invalidState(_ i: Instance, _ attr: String, _ state: String, _ method: String) -> NimbusError {
        .conflict("Cannot '\(method)' instance \(i.id) while it is in \(attr) \(state)")
    }

    /// Nova's `check_instance_lock`: a locked server refuses changes, except to admins allowed to override.
    static func checkLock(_ i: Instance, caller: AuthContext, override: Bool) throws {
        if i.locked && !override { throw NimbusError.conflict("Instance \(i.id) is locked") }
    }

    /// Deletes a server: at once when it never reached a host, else through its compute node.
    public func deleteServer(_ id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        let updated = try await instances.modify(current.id) { i in
            try Self.checkLock(i, caller: caller, override: lockOverride)
            if i.host != nil { i.taskState = .deleting }
        }
        guard let updated else { return }
        try await actions.start(updated, action: "delete", requestID: requestID, caller: caller)
        if updated.host == nil {
            try await finishDelete(updated.id, host: nil)
        } else if let host = updated.host, updated.migrationID == nil, updated.taskArguments[MoveTask.migration] == nil,
                  try await hosts.get(host: host)?.isUp() == false {
            // Nova's local delete: the host is down, so the server is deleted now (its resources
            // freed); the host destroys the guest when it is back. Not during a move, whose other
            // end still acts.
            logger.warning("deleting \(updated.id) locally: its host \(host) is down")
            try await finishDelete(updated.id, host: host, local: true)
        } else {
            nodes.poke()
        }
    }

    /// lock / unlock (`os-lock-server`): no state checks, only who may unlock.
    public func setLock(_ id: String, locked: Bool, reason: String?, caller: AuthContext, isAdmin: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        let updated = try await instances.modify(current.id) { i in
            i.locked = locked
            i.lockedReason = locked ? reason : nil
            i.lockedBy = locked ? (isAdmin && !i.projectID.sameBytes(as: caller.projectID ?? "") ? "admin" : "owner") : nil
        }
        if let updated { try await actions.start(updated, action: locked ? "lock" : "unlock", requestID: requestID, caller: caller) }
    }

    /// The tail of the guest's serial console, read from its compute node.
    public func consoleOutput(_ i: Instance, lines: Int?) async throws -> String {
        guard let host = i.host, i.vmState != .building else {
            throw NimbusError.conflict("Instance \(i.id) is not ready")
        }
        guard let node = nodes.endpoint(host: host) else {
            throw NimbusError(.notImplemented, "Guest does not have a console available.")
        }
        return try await node.consoleLog(i.id, lines: lines)
    }

    /// Nova's diagnostics of a running guest, measured by its node (`get_instance_diagnostics`).
    public func diagnostics(_ i: Instance) async throws -> GuestDiagnostics {
        guard let host = i.host else { throw NimbusError.conflict("Instance \(i.id) is not ready.") }
        guard let node = nodes.endpoint(host: host) else { throw NimbusError(.notImplemented, "Unable to get diagnostics, functionality not implemented") }
        let d = try await node.diagnostics(i.id)
        guard d.state == .running else {
            throw NimbusError.conflict("Cannot 'get_diagnostics' instance \(i.id) while it is in power state \(Self.powerStateName(d.state))")
        }
        return d
    }

    /// `power_state.STATE_MAP`.
    static func powerStateName(_ p: PowerState) -> String {
        switch p {
        case .noState: "pending"
        case .running: "running"
        case .paused: "paused"
        case .shutdown: "shutdown"
        case .crashed: "crashed"
        case .suspended: "suspended"
        }
    }

    /// `trigger_crash_dump` (2.17): an NMI to the guest, recorded as an instance action.
    public func triggerCrashDump(_ id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let i = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(i, caller: caller, override: lockOverride)
        guard let host = i.host else { throw NimbusError.conflict("Instance \(i.id) is not ready.") }
        try Self.checkState(i, vm: [.active, .paused, .rescued, .resized, .error], task: [nil], method: "trigger_crash_dump")
        guard i.powerState == PowerState.running.rawValue || i.powerState == PowerState.paused.rawValue else {
            throw NimbusError.conflict("Instance \(i.id) is not running.")
        }
        guard let node = nodes.endpoint(host: host) else { throw NimbusError.conflict("Instance \(i.id) is not ready.") }
        try await actions.start(i, action: "trigger_crash_dump", requestID: requestID, caller: caller)
        do {
            try await node.injectNMI(i.id)
            try await actions.event(i.id, action: "trigger_crash_dump", name: "compute_trigger_crash_dump", host: host, result: "Success", finishAction: true)
        } catch {
            try await actions.event(i.id, action: "trigger_crash_dump", name: "compute_trigger_crash_dump", host: host, result: "Error",
                                    traceback: String(describing: error), finishAction: true)
            throw error
        }
    }

    /// Changes the user-settable attributes (`PUT /servers/{id}`).
    public func updateServer(_ id: String, caller: AuthContext, isAdmin: Bool, _ change: @escaping @Sendable (inout Instance) throws -> Void) async throws -> Instance {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        guard let updated = try await instances.modify(current.id, change) else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        return updated
    }

    // MARK: createImage

    /// Nova's non-inheritable image properties (compute/utils.py): never copied into a snapshot.
    static let nonInheritableImageProperties: Set<Name> = Set(["cinder_encryption_key_id", "cinder_encryption_key_deletion_policy", "img_signature",
                                                               "img_signature_hash_method", "img_signature_key_type",
                                                               "img_signature_certificate_uuid"].map(Name.init))

    /// createImage: a queued image in the image service, then the `image_snapshot` task the
    /// compute node does (snapshot, upload). No lock check, as Nova (a lock protects against
    /// change, a snapshot changes nothing). Returns the image id.
    public func createImage(_ id: String, name: String, metadata: [Name: String], caller: AuthContext, isAdmin: Bool,
                            requestID: String) async throws -> String {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkState(current, vm: [.active, .stopped, .paused, .suspended], task: [nil], method: "createImage")
        if current.isVolumeBacked { return try await snapshotVolumeBacked(current, name: name, metadata: metadata, caller: caller) }
        let imageID = try await queueSnapshot(of: current, name: name, metadata: metadata, caller: caller)
        try await startSnapshotTask(current, imageID: imageID, task: .imageSnapshot, arguments: ["image_id": imageID], action: "createImage",
                                    caller: caller, requestID: requestID)
        return imageID
    }

    /// createBackup: a snapshot with `image_type` backup and `backup_type`, after which the
    /// instance's backups of that type beyond `rotation` are deleted, oldest first. No lock
    /// check (as Nova's). Returns the image id.
    public func createBackup(_ id: String, name: String, backupType: String, rotation: Int, metadata: [Name: String], caller: AuthContext,
                             isAdmin: Bool, requestID: String) async throws -> String {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkState(current, vm: [.active, .stopped, .paused, .suspended], task: [nil], method: "createBackup")
        if current.isVolumeBacked { throw NimbusError.badRequest("Backup is not supported for volume-backed instances") }
        var properties = metadata
        properties[Name("backup_type")] = backupType
        let imageID = try await queueSnapshot(of: current, name: name, metadata: properties, caller: caller, imageType: "backup")
        try await startSnapshotTask(current, imageID: imageID, task: .imageBackup,
                                    arguments: ["image_id": imageID, "backup_type": backupType, "rotation": String(rotation),
                                                "owner": caller.projectID ?? current.projectID],
                                    action: "createBackup", caller: caller, requestID: requestID)
        return imageID
    }

    /// The node's snapshot task for a queued image (createImage, createBackup); the image is
    /// deleted again when the instance cannot take the task.
    func startSnapshotTask(_ current: Instance, imageID: String, task: TaskState, arguments: [String: String], action: String,
                           caller: AuthContext, requestID: String) async throws {
        let updated: Instance?
        do {
            updated = try await instances.modify(current.id) { i in
                try Self.checkState(i, vm: [.active, .stopped, .paused, .suspended], task: [nil], method: action)
                i.taskState = task
                i.taskArguments = arguments
            }
        } catch {
            try? await images.deleteImage(imageID)
            throw error
        }
        guard let updated else {
            try? await images.deleteImage(imageID)
            throw NimbusError.notFound("Instance \(current.id) could not be found.")
        }
        try await actions.start(updated, action: action, requestID: requestID, caller: caller)
        nodes.poke()
    }

    /// A queued image with Nova's snapshot properties for `current` (createImage, createBackup, shelve).
    func queueSnapshot(of current: Instance, name: String, metadata: [Name: String], caller: AuthContext, imageType: String = "snapshot") async throws -> String {
        // Glance's own attributes are never properties of the new image (read-only or reserved there).
        let core: Set<Name> = ["min_disk", "min_ram", "disk_format", "container_format", "size", "checksum", "os_hash_algo", "os_hash_value",
                               "virtual_size", "id", "created_at", "updated_at", "status", "owner", "locations", "direct_url", "self", "file",
                               "schema", "visibility", "protected", "os_hidden", "tags", "name", "stores"]
        var properties = current.imageMeta.filter { k, _ in
            !core.contains(k) && !Self.nonInheritableImageProperties.contains(k) && !k.string.hasBytePrefix("os_glance")
        }
        properties[Name("instance_uuid")] = current.id
        properties[Name("user_id")] = caller.user.id
        properties[Name("image_type")] = imageType
        if let base = current.imageID { properties[Name("base_image_ref")] = base }
        if let owner = caller.projectID, !owner.sameBytes(as: current.projectID) { properties[Name("instance_owner")] = current.projectID }
        for (k, v) in metadata { properties[k] = v }
        let minDisk = Int(current.imageMeta[Name("min_disk")] ?? "") ?? current.flavor.rootGB
        let minRam = Int(current.imageMeta[Name("min_ram")] ?? "") ?? 0
        return try await images.createSnapshot(SnapshotRequest(name: name, ownerProject: caller.projectID ?? current.projectID,
                                                               instanceProject: current.projectID, properties: properties,
                                                               minDiskGB: minDisk, minRamMB: minRam))
    }

    /// `check_instance_state`: 409 InstanceInvalidState unless the instance is in one of `vm`
    /// and (`task`: nil entries mean "no task") one of `task`.
    static func checkState(_ i: Instance, vm: Set<VMState>, task: Set<TaskState?>, method: String) throws {
        guard vm.contains(i.vmState) else { throw invalidState(i, "vm_state", i.vmState.rawValue, method) }
        guard task.contains(i.taskState) else { throw invalidState(i, "task_state", i.taskState?.rawValue ?? "None", method) }
    }
}
