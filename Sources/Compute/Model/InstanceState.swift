/// Nova's instance states (`nova/compute/vm_states.py`, `task_states.py`): `vmState` is the stable
/// state, `taskState` the operation in progress (nil when none). The API's `status` derives from
/// both (`nova/api/openstack/common.py` `_STATE_MAP`).
public enum VMState: String, Sendable, Codable, CaseIterable {
    case active, building, paused, suspended, stopped, rescued, resized, deleted, error
    case softDeleted = "soft-delete"
    case shelved
    case shelvedOffloaded = "shelved_offloaded"
}

public enum TaskState: String, Sendable, Codable, CaseIterable {
    case scheduling, networking
    case blockDeviceMapping = "block_device_mapping"
    case spawning
    case imageSnapshot = "image_snapshot"
    case imageSnapshotPending = "image_snapshot_pending"
    case imagePendingUpload = "image_pending_upload"
    case imageUploading = "image_uploading"
    case imageBackup = "image_backup"
    case updatingPassword = "updating_password"
    case resizePrep = "resize_prep"
    case resizeMigrating = "resize_migrating"
    case resizeMigrated = "resize_migrated"
    case resizeFinish = "resize_finish"
    case resizeReverting = "resize_reverting"
    case resizeConfirming = "resize_confirming"
    case rebooting
    case rebootPending = "reboot_pending"
    case rebootStarted = "reboot_started"
    case rebootingHard = "rebooting_hard"
    case rebootPendingHard = "reboot_pending_hard"
    case rebootStartedHard = "reboot_started_hard"
    case pausing, unpausing, suspending, resuming
    case poweringOff = "powering-off"
    case poweringOn = "powering-on"
    case rescuing, unrescuing
    case rebuilding
    case rebuildBlockDeviceMapping = "rebuild_block_device_mapping"
    case rebuildSpawning = "rebuild_spawning"
    case migrating, deleting
    case softDeleting = "soft-deleting"
    case restoring, shelving
    case shelvingImagePendingUpload = "shelving_image_pending_upload"
    case shelvingImageUploading = "shelving_image_uploading"
    case shelvingOffloading = "shelving_offloading"
    case unshelving
}

extension VMState {
    /// The API `status` for this state and task (`_STATE_MAP`).
    public func status(task: TaskState?) -> String {
        let rebuild: Set<TaskState> = [.rebuilding, .rebuildBlockDeviceMapping, .rebuildSpawning]
        let resize: Set<TaskState> = [.resizePrep, .resizeMigrating, .resizeMigrated, .resizeFinish]
        switch self {
        case .active:
            guard let task else { return "ACTIVE" }
            switch task {
            case .rebooting, .rebootPending, .rebootStarted: return "REBOOT"
            case .rebootingHard, .rebootPendingHard, .rebootStartedHard: return "HARD_REBOOT"
            case .updatingPassword: return "PASSWORD"
            case .migrating: return "MIGRATING"
            default:
                if rebuild.contains(task) { return "REBUILD" }
                if resize.contains(task) { return "RESIZE" }
                return "ACTIVE"
            }
        case .building: return "BUILD"
        case .stopped:
            if let task, resize.contains(task) { return "RESIZE" }
            if let task, rebuild.contains(task) { return "REBUILD" }
            return "SHUTOFF"
        case .resized: return task == .resizeReverting ? "REVERT_RESIZE" : "VERIFY_RESIZE"
        case .paused: return task == .migrating ? "MIGRATING" : "PAUSED"
        case .suspended: return "SUSPENDED"
        case .rescued: return "RESCUE"
        case .error:
            if let task, rebuild.contains(task) { return "REBUILD" }
            return "ERROR"
        case .deleted: return "DELETED"
        case .softDeleted: return "SOFT_DELETED"
        case .shelved: return "SHELVED"
        case .shelvedOffloaded: return "SHELVED_OFFLOADED"
        }
    }

    /// The vm_states a `status=` filter names (`common.task_and_vm_state_from_status`): every
    /// state whose default or task mapping gives that status.
    public static func matching(status: String) -> [(VMState, [TaskState?])] {
        var out = [(VMState, [TaskState?])]()
        for vm in VMState.allCases {
            let tasks = ([nil] + TaskState.allCases.map { Optional($0) }).filter { vm.status(task: $0).sameBytes(as: status.uppercased()) }
            if !tasks.isEmpty { out.append((vm, tasks)) }
        }
        return out
    }
}

import NimbusCore

extension TaskState {
    /// The task states of createImage (Nova moves through all four; a node reports the first).
    public var isSnapshot: Bool {
        switch self {
        case .imageSnapshot, .imageSnapshotPending, .imagePendingUpload, .imageUploading, .imageBackup: true
        case .shelving, .shelvingImagePendingUpload, .shelvingImageUploading: true
        default: false
        }
    }
}
