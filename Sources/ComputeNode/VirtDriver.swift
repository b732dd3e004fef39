import Foundation
import NimbusCore

/// What a hypervisor driver does for a compute node. The real one is `QEMUDriver`; `FakeDriver`
/// keeps instances in memory (scale tests: one process can host a thousand fake nodes). The agent
/// (`ComputeAgent`) calls these; every call is idempotent, so a restarted agent can repeat them.
public protocol VirtDriver: Sendable {
    /// `qemu` or `fake` (Nova's `hypervisor_type` is `QEMU` or `fake`).
    var hypervisorType: String { get }
    var hypervisorVersion: Int { get }

    /// What this host offers (reported as Placement inventory and `os-hypervisors`).
    func hostResources() async throws -> HostResources

    /// Creates and starts the instance: its disks (a copy-on-write overlay of the cached base
    /// image, ephemeral and swap disks), its config drive when asked, and the guest. Succeeds
    /// when the guest is started (not when it has booted).
    func spawn(_ spec: InstanceSpec, image: any ImageSource) async throws

    /// Stops the guest and removes everything of the instance on this host. No-op if unknown.
    func destroy(_ id: String) async throws

    /// Clean shutdown (ACPI power button), forced after `timeout`.
    func powerOff(_ id: String, timeout: Duration) async throws
    func powerOn(_ id: String) async throws
    /// Soft: ACPI reboot request (the guest decides); hard: reset at once.
    func reboot(_ id: String, hard: Bool) async throws
    func pause(_ id: String) async throws
    func unpause(_ id: String) async throws
    /// Saves the guest's memory to disk and stops it; `resume` restores it.
    func suspend(_ id: String) async throws
    func resume(_ id: String) async throws

    /// The power state of every instance the driver knows on this host, running or not: what a
    /// restarted agent re-adopts and the periodic power-state sync compares.
    func instances() async throws -> [String: PowerState]

    /// The last `lines` lines (all when nil) of the guest's serial console log.
    func consoleLog(_ id: String, lines: Int?) async throws -> String
}

/// Where an instance's base image comes from: the image service, streamed, with what it says the
/// bytes are. The driver verifies the checksum and inspects the format before any use.
public protocol ImageSource: Sendable {
    var id: String { get }
    /// Glance's `disk_format` (`qcow2`, `raw`, …) as recorded; the inspector must agree.
    var diskFormat: String { get }
    var size: Int64 { get }
    /// MD5 (`checksum`) and SHA-512 (`os_hash_value`) as the image service recorded them.
    var md5: String? { get }
    var sha512: String? { get }
    func bytes() async throws -> any AsyncSequence<[UInt8], any Error>
}

public struct HostResources: Sendable, Equatable {
    public var vcpus: Int
    public var memoryMB: Int
    public var diskGB: Int
    public var cpuModel: String
    public init(vcpus: Int, memoryMB: Int, diskGB: Int, cpuModel: String) {
        self.vcpus = vcpus; self.memoryMB = memoryMB; self.diskGB = diskGB; self.cpuModel = cpuModel
    }
}

/// Nova's power states (`nova/compute/power_state.py`), with their wire values.
public enum PowerState: Int, Sendable, Codable {
    case noState = 0
    case running = 1
    case paused = 3
    case shutdown = 4
    case crashed = 6
    case suspended = 7
}

/// Everything a compute node needs to build one instance (the agent API's instance document).
public struct InstanceSpec: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var hostname: String
    public var projectID: String
    public var userID: String
    public var vcpus: Int
    public var memoryMB: Int
    public var rootGB: Int
    public var ephemeralGB: Int
    public var swapMB: Int
    public var imageID: String
    /// Files of the config drive (`openstack/latest/meta_data.json`, `user_data`, …) when one is
    /// wanted; nil otherwise.
    public var configDrive: [String: String]?

    public init(id: String, name: String, hostname: String, projectID: String, userID: String, vcpus: Int, memoryMB: Int,
                rootGB: Int, ephemeralGB: Int, swapMB: Int, imageID: String, configDrive: [String: String]?) {
        self.id = id; self.name = name; self.hostname = hostname; self.projectID = projectID; self.userID = userID
        self.vcpus = vcpus; self.memoryMB = memoryMB; self.rootGB = rootGB; self.ephemeralGB = ephemeralGB; self.swapMB = swapMB
        self.imageID = imageID; self.configDrive = configDrive
    }
}
