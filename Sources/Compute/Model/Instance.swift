import Foundation
import NimbusCore

/// A server as Nova keeps it (`nova/objects/instance.py`): who owns it, what it was built from,
/// where it runs and its states. `desired` is what the compute node converges to; actions change
/// it and the agent reports back (`vmState`, `taskState`, `powerState`).
public struct Instance: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var userID: String
    public var name: String
    public var hostname: String
    public var description: String?
    public var imageID: String?
    /// The flavor as it was at boot (Nova embeds a copy: later flavor changes do not move servers).
    public var flavor: Flavor
    public var keyName: String?
    public var keyData: String?
    public var userData: String?
    public var configDrive: Bool
    public var metadata: [Name: String]
    public var tags: [String]
    public var vmState: VMState
    public var taskState: TaskState?
    public var powerState: Int
    public var host: String?
    public var node: String?
    public var availabilityZone: String?
    public var locked: Bool
    public var lockedReason: String?
    /// `owner` or `admin`: who locked it (an owner cannot unlock an admin's lock).
    public var lockedBy: String?
    public var launchedAt: Date?
    public var terminatedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var deletedAt: Date?
    public var deleted: Bool
    public var reservationID: String
    public var launchIndex: Int
    public var accessIPv4: String?
    public var accessIPv6: String?
    public var progress: Int
    public var fault: Fault?
    /// What the compute node converges to.
    public var desired: Desired
    /// Builds tried so far, and the hosts they failed on (the scheduler avoids them).
    public var buildAttempts = 0
    /// The availability zone the request named (Nova's pinned AZ, 2.96).
    public var requestedZone: String?
    public var failedHosts: [String] = []
    /// The host an admin asked for (`availability_zone` `zone:host`, or `host` at 2.74+): the
    /// scheduler considers no other.
    public var requestedHost: String?
    /// Scheduler hints `same_host` / `different_host`: instance ids whose hosts to use or avoid.
    public var sameHost: [String] = []
    public var differentHost: [String] = []
    /// The server group (scheduler hint `group`) the instance was created in.
    public var groupID: String?
    /// What Nova keeps of the image in system metadata (`image_*`): its properties and
    /// min_disk/min_ram, for snapshots and the image filters.
    public var imageMeta: [Name: String] = [:]
    /// What the pending task needs beyond the instance (`image_id` of a snapshot, …).
    public var taskArguments: [String: String] = [:]
    /// During a resize until it is confirmed or reverted: the flavor before it, and the
    /// migration (its id is the Placement consumer holding the old flavor's resources).
    public var oldFlavor: Flavor?
    public var migrationID: String?
    /// Nova's `shelved_at`, `shelved_image_id`, `shelved_host` (system metadata) while shelved.
    public var shelved: [String: String] = [:]
    /// The ports the compute service created for the instance (deleted with it); ports the
    /// user gave are only released.
    public var createdPorts: [String] = []
    /// The device tags given for the instance's ports (port id → tag), at boot (2.32) or on
    /// interface attach (2.49); `os-interface` shows them from 2.70.
    public var interfaceTags: [String: String] = [:]
    /// The volumes attached or being attached or detached, in attach order.
    public var volumes: [AttachedVolume] = []

    /// The tags of the NICs a request names, by the port each one became: a given port keeps
    /// its tag, the others follow the order of the ports made for them.
    public static func tags(of nics: [RequestedNIC], created: [String]) -> [String: String] {
        var out = [String: String](), made = created.makeIterator()
        for nic in nics {
            let port = nic.portID ?? made.next()
            if let port, let tag = nic.tag { out[port] = tag }
        }
        return out
    }
    /// The (encrypted) password the guest posted to the metadata service (Nova's
    /// `password_0`…`password_3` system metadata); nil until it posts one or after a clear.
    public var password: String?

    /// A volume on the instance (Nova's block device mapping of a Cinder attachment).
    public struct AttachedVolume: Sendable, Equatable, Codable {
        public enum State: String, Sendable, Codable {
            /// Asked for at boot (`block_device_mapping_v2`): the volume is being made from its
            /// source; no attachment yet.
            case creating
            /// An attachment without a connection holds the volume (Cinder's `reserved`) until
            /// the instance has a host.
            case reserved
            /// Connected; the node is plugging it in (the attachment is completed once it did).
            case attaching
            case attached
            /// Taken out of the guest; the attachment is deleted once the node unplugged it.
            case detaching
        }
        public var volumeID: String
        public var attachmentID: String
        public var device: String
        public var tag: String?
        public var deleteOnTermination: Bool
        public var socketPath: String
        public var export: String
        public var readOnly: Bool
        public var state: State
        /// The boot order the request gave (`boot_index`); 0 is the root disk of a
        /// volume-backed instance, nil is not a boot device.
        public var bootIndex: Int?
        /// The volume's size in bytes after an extend while attached (Nova's `volume-extended`
        /// event); the node grows the guest's disk to it. Nil until the volume is extended.
        public var sizeBytes: Int64?
        /// The connection's front-end QoS limits (Nova's names), applied to the guest's disk.
        public var qos: [String: Int64] = [:]
        public init(volumeID: String, attachmentID: String, device: String, tag: String?, deleteOnTermination: Bool, socketPath: String,
                    export: String, readOnly: Bool, state: State, bootIndex: Int? = nil) {
            self.volumeID = volumeID; self.attachmentID = attachmentID; self.device = device; self.tag = tag
            self.deleteOnTermination = deleteOnTermination; self.socketPath = socketPath; self.export = export; self.readOnly = readOnly
            self.state = state; self.bootIndex = bootIndex
        }
        /// Connected to the instance's host (the node may plug it).
        public var isConnected: Bool { state == .attaching || state == .attached }
    }

    /// Booted from a volume (Nova's `compute_utils.is_volume_backed_instance`): the root disk is
    /// a volume on the storage node, not a local overlay of an image.
    public var isVolumeBacked: Bool { volumes.contains { $0.bootIndex == 0 } }

    public struct Fault: Sendable, Equatable, Codable {
        public var code: Int
        public var message: String
        public var details: String?
        public var created: Date
        public init(code: Int, message: String, details: String? = nil, created: Date = Date()) {
            self.code = code; self.message = message; self.details = details; self.created = created
        }
    }

    /// The state a compute node is asked to reach. Reboots are a counter: each request raises it
    /// and the node reboots when its last applied count is lower (level-triggered, repeatable).
    public struct Desired: Sendable, Equatable, Codable {
        public enum Power: String, Sendable, Codable { case running, stopped, paused, suspended, deleted }
        public var power: Power = .running
        public var rebootCount = 0
        public var hardReboot = false
        public init() {}
    }

    public init(id: String, projectID: String, userID: String, name: String, flavor: Flavor, now: Date = Date()) {
        self.id = id; self.projectID = projectID; self.userID = userID; self.name = name
        self.hostname = Instance.hostname(from: name)
        self.flavor = flavor; self.configDrive = false; self.metadata = [:]; self.tags = []
        self.vmState = .building; self.taskState = .scheduling; self.powerState = 0
        self.locked = false; self.createdAt = now; self.updatedAt = now; self.deleted = false
        self.reservationID = "r-" + String(Identifiers.hex32().prefix(8)); self.launchIndex = 0; self.progress = 0
        self.desired = Desired()
    }

    /// Nova's `utils.sanitize_hostname`: lower-cased, `[a-z0-9-]` kept, spaces and underscores as
    /// `-`, leading and trailing `.`/`-` trimmed, at most 63 characters; `Server-<id>` when empty.
    public static func hostname(from name: String, fallback: String = "server") -> String {
        var out = ""
        for s in name.unicodeScalars {
            switch s {
            case "a"..."z", "0"..."9", "-", ".": out.unicodeScalars.append(s)
            case "A"..."Z": out.unicodeScalars.append(Unicode.Scalar(s.value + 32)!)
            case " ", "_": out.append("-")
            default: continue
            }
        }
        while out.hasBytePrefix(".") || out.hasBytePrefix("-") { out.removeFirst() }
        out = String(out.prefix(63))
        while out.hasByteSuffix(".") || out.hasByteSuffix("-") { out.removeLast() }
        return out.isEmpty ? fallback : out
    }

    public var status: String { vmState.status(task: taskState) }
}
