import Foundation
import NIOCore
import NimbusCore

/// The agent API between the controller and a compute node: the node registers, reads the
/// instances it should run and how (desired state), and reports what it did. In-process in
/// `nimbus up`; over HTTP for `nimbus compute`. Every report is a fact about the node; the
/// controller turns facts into Nova's states.
public protocol NodeControl: Sendable {
    /// Registers (or re-registers) the node; returns its resource provider uuid.
    func register(_ node: NodeInfo) async throws -> String
    /// The instances placed on `host` and what each should be.
    func desired(host: String) async throws -> [DesiredInstance]
    /// What the node did or found.
    func report(host: String, _ reports: [InstanceReport]) async throws
    /// The base image of an instance, as the node fetches it.
    func image(_ id: String) async throws -> any ImageSource
    /// Uploads the data of the image a task asked for (a snapshot of `instance` on `host`); the
    /// controller refuses an image that is not that instance's pending one.
    func uploadImage(_ imageID: String, instance: InstanceID, host: String, diskFormat: String, size: Int64,
                     bytes: any AsyncSequence<ByteBuffer, any Error> & Sendable) async throws
    /// Where a node moving an instance in (cold migration, resize to another host) copies its
    /// disks from: the source node's API at `base` (`<endpoint>/compute-node/v1`), or, when
    /// `base` is nil, the node inside the controller.
    func migrationSource(base: String?, instance: InstanceID, migration: String) throws -> any MigrationSource
}

/// The disks a source node offers for one move: read by the destination node, straight from
/// the source (the controller does not relay them, except for the node that runs inside it).
public protocol MigrationSource: Sendable {
    func disks() async throws -> [MigrationDisk]
    /// Writes the disk's bytes to `path` (created, fsynced); throws if they are not all there.
    func download(_ disk: String, to path: String) async throws
}

/// One disk file an outgoing instance offers (`disk`, `disk.eph0`), and its size in bytes.
public struct MigrationDisk: Sendable, Codable, Equatable {
    public var name: String
    public var size: Int64
    public init(name: String, size: Int64) { self.name = name; self.size = size }
}

/// How the controller reaches a compute node for what is not desired state: a poke after a
/// change (so it does not wait for its next pass), and on-demand reads such as the console.
public protocol NodeEndpoint: Sendable {
    func poke() async
    func consoleLog(_ instance: String, lines: Int?) async throws -> String
    func diagnostics(_ instance: String) async throws -> GuestDiagnostics
    func injectNMI(_ instance: String) async throws
    func controlMigration(_ instance: String, _ action: MigrationControl) async throws
    /// Throws unless the instance's interactive console of that kind can be opened now.
    func checkConsole(_ instance: String, _ kind: ConsoleKind) async throws
    /// Runs `body` with the instance's interactive console open: the console proxy's way to a
    /// guest's VNC server or serial port (over a websocket to a `nimbus compute` node).
    func withConsole(_ instance: String, _ kind: ConsoleKind, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws
}

public struct NodeInfo: Sendable, Codable, Equatable {
    public var host: String
    /// Where the controller reaches the node's own API (`nimbus compute --listen`); nil for the
    /// node running inside the controller.
    public var endpoint: String?
    /// Where the controller's console proxy opens this node's console streams (a websocket
    /// listener apart from the node's API); nil for the node inside the controller.
    public var consoleEndpoint: String?
    public var hypervisorType: String
    public var hypervisorVersion: Int
    public var vcpus: Int
    public var memoryMB: Int
    public var diskGB: Int
    public var cpuModel: String
    public init(host: String, endpoint: String? = nil, consoleEndpoint: String? = nil, hypervisorType: String, hypervisorVersion: Int, vcpus: Int, memoryMB: Int, diskGB: Int,
                cpuModel: String) {
        self.host = host; self.endpoint = endpoint; self.consoleEndpoint = consoleEndpoint; self.hypervisorType = hypervisorType; self.hypervisorVersion = hypervisorVersion
        self.vcpus = vcpus; self.memoryMB = memoryMB; self.diskGB = diskGB; self.cpuModel = cpuModel
    }
}

/// One instance placed on this node: what it is, and the operation Nova's task state asks for.
/// The node acts on tasks (spawning, powering-off, rebooting, deleting …) until the controller
/// clears them after the node's report, so a restarted agent repeats what was not reported; with
/// no task it only observes and reports the power state (Nova's power-state sync).
public struct DesiredInstance: Sendable, Codable, Equatable {
    public var spec: InstanceSpec
    /// Nova's `vm_state` (`active`, `stopped`, `building` …).
    public var vmState: String
    /// Nova's `task_state`, nil when no operation is pending.
    public var task: String?
    /// What the task needs beyond the spec (`image_id` of a snapshot, …).
    public var taskArguments: [String: String]
    /// Nil for an instance placed on this node. For a move, the end this node is while the
    /// instance is placed on the other: `source` (clean up after a confirmed move or an
    /// evacuation; task `migration_cleanup`) or `dest` (prepare or roll back a live migration).
    public var role: Role?

    public enum Role: String, Sendable, Codable { case source, dest }

    public init(spec: InstanceSpec, vmState: String, task: String?, taskArguments: [String: String] = [:], role: Role? = nil) {
        self.spec = spec; self.vmState = vmState; self.task = task; self.taskArguments = taskArguments; self.role = role
    }
}

/// The tasks and task arguments of moves between nodes, shared by the controller and agents.
public enum MoveTask {
    /// What a move's source end does once the instance runs elsewhere for good (not a Nova task state).
    public static let cleanup = "migration_cleanup"
    /// `taskArguments` keys: the migration's uuid; "true" for a resize or migration to another
    /// host; the step of a live migration or revert (`Phase`); where the source's disks are
    /// (`base` of `migrationSource`); the URI a live migration streams to.
    public static let migration = "migration"
    public static let move = "move"
    public static let phase = "phase"
    public static let sourceBase = "source_base"
    public static let uri = "uri"
    public static let evacuate = "evacuate"
    /// Set while the controller is still choosing the destination: no node acts yet.
    public static let scheduling = "scheduling"

    public enum Phase: String, Sendable {
        /// live: the destination starts a QEMU waiting for the stream
        case prepare
        /// live: the source streams memory and disks
        case migrate
        /// live: the destination runs the guest (the source is gone)
        case finish
        /// live: the source failed; the destination removes its waiting guest
        case rollback
        /// revert of a move: the destination removes its copy, then the source starts its own again
        case dest, source
    }
}

/// A fact a node reports about one instance.
public struct InstanceReport: Sendable, Codable, Equatable {
    public enum Event: String, Sendable, Codable {
        /// The guest was built and started.
        case spawned
        /// Building failed (`message` says why); the controller may reschedule.
        case spawnFailed
        /// The power state observed (periodic sync).
        case powerState
        /// The pending task (`task`) was done.
        case taskDone
        /// The pending task (`task`) failed (`message`).
        case taskFailed
        /// Everything of the instance is gone from the node.
        case destroyed
        /// A live migration's destination waits for the stream at `detail` (a QEMU URI).
        case migrationPrepared
        /// The guest's attached volumes changed: `detail` is the JSON array of the attachment
        /// ids plugged in now (the controller completes or finishes their attach and detach).
        case volumes
        /// Volumes extended while attached have their new size in the guest: `detail` is a JSON
        /// object of attachment id to size in bytes (the controller finishes `extend_volume`).
        case volumesResized
        /// A hot-plug pass over the guest's interfaces ended: `detail` is the JSON array of the
        /// port ids plugged in now, `message` the failure if the pass failed (an interface
        /// attach waits for this, and is undone on a failure).
        case interfaces
    }

    public var id: InstanceID
    public var event: Event
    public var powerState: PowerState
    public var task: String?
    public var message: String?
    /// The move a report of a `source` or `dest` role is about.
    public var migration: String?
    public var detail: String?

    public init(id: InstanceID, event: Event, powerState: PowerState, task: String? = nil, message: String? = nil,
                migration: String? = nil, detail: String? = nil) {
        self.id = id; self.event = event; self.powerState = powerState; self.task = task; self.message = message
        self.migration = migration; self.detail = detail
    }
}
