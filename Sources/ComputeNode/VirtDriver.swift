import Foundation
import NimbusCore

/// What a hypervisor driver does for a compute node: the contract between the controller's compute
/// service (through a node agent) and the host. The real driver is `QEMUDriver`; `FakeDriver` keeps
/// instances in memory (scale tests: one process can host a thousand fake nodes).
///
/// Every call is idempotent and converges: asking for the state an instance is already in does
/// nothing, so a restarted agent can repeat any call. Calls on one instance are serialized by the
/// driver; calls on different instances run in parallel. A transition the state machine does not
/// allow (`PowerState.after(_:)`) throws a `.conflict` `NimbusError`; an unknown instance a
/// `.notFound` one; an image that fails inspection a `.badRequest` one (Nova's ImageUnacceptable);
/// a host tool that fails a `CommandError` with its argv, exit status, stdout and stderr.
public protocol VirtDriver: Sendable {
    /// `QEMU` or `fake`, as Nova's `hypervisor_type`.
    var hypervisorType: String { get }

    /// What this host offers (Placement inventory and `os-hypervisors`).
    func hostResources() async throws -> HostResources

    /// Creates and starts the instance: its disks (a copy-on-write overlay of the cached base image,
    /// ephemeral and swap disks), its config drive when asked, and the guest. Returns when the guest
    /// is started (not when it has booted). On an instance that exists already, starts it if it is
    /// not running (a repeated build), and never changes its disks. `image` is nil for a
    /// volume-backed instance (`spec.bootVolume`): its root disk is that volume's export.
    func spawn(_ spec: InstanceSpec, image: (any ImageSource)?) async throws

    /// Stops the guest and removes everything of the instance on this host. No-op if unknown.
    func destroy(_ id: InstanceID) async throws

    /// Clean shutdown (ACPI power button), forced after `timeout` (zero: at once).
    func powerOff(_ id: InstanceID, timeout: Duration) async throws
    /// Starts a stopped guest with the same disks; a suspended one is resumed.
    func powerOn(_ id: InstanceID) async throws
    /// Soft (as Nova's libvirt driver): ACPI shutdown, then start again; a hard reboot when the
    /// guest is not running or does not stop in time. Hard: reset at once (started if not running).
    func reboot(_ id: InstanceID, hard: Bool) async throws
    func pause(_ id: InstanceID) async throws
    func unpause(_ id: InstanceID) async throws
    /// Saves the guest's memory to disk and stops its process; `resume` restores it.
    func suspend(_ id: InstanceID) async throws
    func resume(_ id: InstanceID) async throws

    /// The power state of one instance (`.notFound` when the host has no such instance).
    func powerState(_ id: InstanceID) async throws -> PowerState
    /// The power state of every instance on this host, running or not: what a restarted agent
    /// re-adopts and the periodic power-state sync compares. A guest whose process died (`kill
    /// -9`) reads `.shutdown` (Nova: SHUTOFF); a live process that does not answer its monitor
    /// `.noState`. While an action runs the state can read as an intermediate one (a suspend
    /// reads `.shutdown` between QEMU's exit and its saved memory being committed), so the
    /// caller does not sync instances that have a task in flight, as Nova does not.
    func instances() async throws -> [InstanceID: PowerState]

    /// The last `lines` lines (all that is kept when nil) of the guest's serial console, at most
    /// the driver's output limit (QEMU: 100 KiB, as Nova's libvirt driver).
    func consoleLog(_ id: InstanceID, lines: Int?) async throws -> String

    /// Throws (`.conflict`) unless the guest's console of that kind can be opened now: the
    /// guest runs or is paused.
    func checkConsole(_ id: InstanceID, _ kind: ConsoleKind) async throws
    /// Opens the guest's interactive console and runs `body` with it; closes it when `body`
    /// returns. QEMU serves one client per console at a time.
    func withConsole(_ id: InstanceID, _ kind: ConsoleKind, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws

    /// A point-in-time copy of the root disk as a standalone image (no backing file), written to
    /// a file the caller uploads and then removes. A running or paused guest keeps running (QEMU
    /// copies the disk itself); a stopped or suspended one is read from its files.
    func snapshot(_ id: InstanceID) async throws -> SnapshotImage

    /// The guest's network interfaces as the driver has them (its record's, in order).
    func interfaces(_ id: InstanceID) async throws -> [GuestNIC]
    /// Makes the guest's interfaces `nics` (by port): hot-plugs the new ones into a running or
    /// paused guest and unplugs the gone ones; a stopped guest gets them at its next start. A
    /// suspended guest is left alone (its saved state holds its devices): `.conflict`.
    func setInterfaces(_ id: InstanceID, _ nics: [GuestNIC]) async throws

    /// The guest's attached volumes as the driver has them (by attachment).
    func volumes(_ id: InstanceID) async throws -> [GuestVolume]
    /// Makes the guest's volumes `volumes` (by attachment), as `setInterfaces` does for NICs:
    /// hot-plugged into a running or paused guest, given to a stopped one at its next start.
    func setVolumes(_ id: InstanceID, _ volumes: [GuestVolume]) async throws

    /// Rebuild: the root disk replaced by a new overlay of `image` (the spec's image), the config
    /// drive rewritten from `spec`, ephemeral disks kept when `preserveEphemeral` (else blank
    /// again), and the guest started unless `powerOn` is false. Repeating it after it finished
    /// (the record already names `spec`) only sets the power state.
    func rebuild(_ spec: InstanceSpec, image: any ImageSource, preserveEphemeral: Bool, powerOn: Bool) async throws
    /// Resize on this host to `spec`'s vCPUs, memory and disk sizes (disks only grow). The
    /// previous disks and record are kept until `confirmResize` (dropped) or `revertResize`
    /// (put back). Repeating it after it finished only sets the power state.
    func resize(_ spec: InstanceSpec, powerOn: Bool) async throws
    func confirmResize(_ id: InstanceID) async throws
    func revertResize(_ id: InstanceID, powerOn: Bool) async throws
    /// Rescue: the guest stopped and started again from a fresh overlay of `image` as its boot
    /// disk, with its own root disk attached second (as Nova's libvirt driver does). Repeating
    /// it while rescued does nothing.
    /// Boots the guest from `image`; with `device`, a stable-device rescue (Nova 2.87): the
    /// guest's own disks (a root volume too) stay attached where they are.
    func rescue(_ id: InstanceID, image: any ImageSource, device: RescueDevice?) async throws
    /// The rescue disk dropped and the guest started from its own disks again.
    func unrescue(_ id: InstanceID) async throws

    /// Nova's instance diagnostics (`get_instance_diagnostics`) of a guest whose QEMU runs.
    func diagnostics(_ id: InstanceID) async throws -> GuestDiagnostics
    /// Nova's `trigger_crash_dump`: a non-maskable interrupt, answered by the guest kernel's
    /// crash handler (kdump, or a panic). `.conflict` when the guest does not run.
    func injectNMI(_ id: InstanceID) async throws

    // MARK: moves between hosts (cold migration, resize elsewhere, live migration)

    /// The source of a cold move: the guest stopped and its disks kept, offered to the
    /// destination for `migration` (`outgoingDisks`) until the move is confirmed (`destroy`) or
    /// reverted (`revertMigrateOut`). Repeating it does nothing.
    func migrateOut(_ id: InstanceID, migration: String) async throws
    /// The disks an instance moving out for `migration` offers; `.notFound` for any other.
    func outgoingDisks(_ id: InstanceID, migration: String) async throws -> [MigrationDisk]
    /// The file of one of them (the agent API streams it).
    func outgoingDiskPath(_ id: InstanceID, migration: String, disk: String) async throws -> String
    /// The destination of a cold move: the instance built from the source's disks (copied from
    /// `source`) over the same base image, grown to `spec`'s sizes, started if `powerOn`. An
    /// instance already moved in only gets its power state set.
    func migrateIn(_ spec: InstanceSpec, image: any ImageSource, from source: any MigrationSource, powerOn: Bool) async throws
    /// A reverted move, at the source: the kept disks used again, the guest started if `powerOn`.
    func revertMigrateOut(_ id: InstanceID, powerOn: Bool) async throws

    /// Live migration, destination: the instance's disks created empty over the same base
    /// image and a guest started waiting for the stream on `address`; returns the URI the
    /// source streams to. Repeating it while it waits returns the same URI.
    func prepareIncoming(_ spec: InstanceSpec, image: any ImageSource, address: String) async throws -> String
    /// Live migration, source: memory, device state and disk writes streamed to `uri` while
    /// the guest runs; returns when the destination has it all, and the source's copy is gone.
    /// Repeating it after it succeeded does nothing.
    func liveMigrate(_ id: InstanceID, to uri: String) async throws
    /// Live migration, destination, after the source finished: the guest runs (`run`) or stays paused.
    func finishIncoming(_ id: InstanceID, run: Bool) async throws
    /// Live migration, source, while it streams: `forceComplete` pauses the guest so the
    /// stream converges (libvirt's way; the destination runs it again); `abort` cancels the
    /// stream, so `liveMigrate` fails and the guest stays here. Nothing when no stream runs.
    func controlMigration(_ id: InstanceID, _ action: MigrationControl) async throws
}

public enum MigrationControl: String, Sendable, Codable { case forceComplete = "force_complete", abort }

/// What a driver measures of a running guest (Nova's `Diagnostics` object).
public struct GuestDiagnostics: Sendable, Codable, Equatable {
    public struct Disk: Sendable, Codable, Equatable {
        /// The guest's device name (`vda`, `vdb`, …, `hdc` for the config drive), as libvirt names them.
        public var name: String
        public var readBytes: Int64
        public var readRequests: Int64
        public var writeBytes: Int64
        public var writeRequests: Int64
        public var errors: Int64
        public init(name: String, readBytes: Int64, readRequests: Int64, writeBytes: Int64, writeRequests: Int64, errors: Int64) {
            self.name = name; self.readBytes = readBytes; self.readRequests = readRequests; self.writeBytes = writeBytes
            self.writeRequests = writeRequests; self.errors = errors
        }
    }
    public var state: PowerState
    /// `qemu`, `kvm` or `fake` (Nova's `hypervisor`).
    public var hypervisor: String
    public var uptimeSeconds: Int
    public var configDrive: Bool
    /// CPU time of each vCPU, in nanoseconds.
    public var cpuTimes: [Int64]
    public var memoryMaxMB: Int
    public var memoryUsedMB: Int?
    public var disks: [Disk]
    public var nics: Int

    public init(state: PowerState, hypervisor: String, uptimeSeconds: Int, configDrive: Bool, cpuTimes: [Int64], memoryMaxMB: Int,
                memoryUsedMB: Int?, disks: [Disk], nics: Int) {
        self.state = state; self.hypervisor = hypervisor; self.uptimeSeconds = uptimeSeconds; self.configDrive = configDrive
        self.cpuTimes = cpuTimes; self.memoryMaxMB = memoryMaxMB; self.memoryUsedMB = memoryUsedMB; self.disks = disks; self.nics = nics
    }
}

/// A snapshot's file and what it is.
public struct SnapshotImage: Sendable, Equatable {
    public var path: String
    /// Glance's `disk_format` of the file (`qcow2`, or `raw` from the fake driver).
    public var diskFormat: String
    public var virtualSize: UInt64
    public init(path: String, diskFormat: String, virtualSize: UInt64) {
        self.path = path; self.diskFormat = diskFormat; self.virtualSize = virtualSize
    }
}

public struct HostResources: Sendable, Equatable, Codable {
    public var vcpus: Int
    public var memoryMB: Int
    public var diskGB: Int
    /// `model name` of /proc/cpuinfo (or the fake's).
    public var cpuModel: String
    /// Nova's integer form: major * 1,000,000 + minor * 1,000 + micro (QEMU 7.2.22 → 7002022).
    public var hypervisorVersion: Int

    public init(vcpus: Int, memoryMB: Int, diskGB: Int, cpuModel: String, hypervisorVersion: Int) {
        self.vcpus = vcpus; self.memoryMB = memoryMB; self.diskGB = diskGB; self.cpuModel = cpuModel
        self.hypervisorVersion = hypervisorVersion
    }
}

/// Nova's power states (`nova/compute/power_state.py`), with their wire values.
public enum PowerState: Int, Sendable, Codable, CaseIterable {
    case noState = 0
    case running = 1
    case paused = 3
    case shutdown = 4
    case crashed = 6
    case suspended = 7
}

/// Everything a compute node needs to build one instance (the agent API's instance document).
/// One network interface of a guest: a port of the network service, plugged as a tap device
/// that the host's network agent attaches to the port's network.
public struct GuestNIC: Sendable, Codable, Equatable {
    public var portID: String
    public var networkID: String
    public var mac: String
    public var mtu: Int
    /// The tap device (`tap` + the port id's first 11 characters, as Neutron names it).
    public var device: String
    public init(portID: String, networkID: String, mac: String, mtu: Int) {
        self.portID = portID; self.networkID = networkID; self.mac = mac; self.mtu = mtu
        self.device = GuestNIC.device(forPort: portID)
    }
    public static func device(forPort id: String) -> String { "tap" + String(id.unicodeScalars.prefix(11)) }
    /// QEMU's ids of the NIC's backend and device (ids take letters, digits, `-`, `.` and `_`).
    var netdevID: String { "net-" + Self.qemuID(portID) }
    var deviceID: String { "nic-" + Self.qemuID(portID) }
    static func qemuID(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.prefix(64).map { c in
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_")) ? c : "_"
        }))
    }
}

/// A volume attached to a guest: an NBD export of the storage node (a unix socket on the same
/// host) that QEMU connects to itself; the device serial is the volume id, as Nova sets it.
public struct GuestVolume: Sendable, Codable, Equatable {
    public var volumeID: String
    public var attachmentID: String
    public var socketPath: String
    public var export: String
    public var readOnly: Bool
    /// The boot order of a volume given at boot: 0 is a volume-backed instance's root disk;
    /// nil for volumes that are not boot devices (and every hot-plugged one).
    public var bootIndex: Int?
    /// The volume's size in bytes once it was extended while attached (Nova's `volume-extended`
    /// event): the guest's disk grows to it. Nil: the size the export had when it was plugged.
    public var sizeBytes: UInt64?
    /// The disk's I/O limits by Nova's names (`total_bytes_sec`, `read_iops_sec`, …: the
    /// volume type's front-end QoS specs); nil: none.
    public var throttle: [String: Int64]?
    public init(volumeID: String, attachmentID: String, socketPath: String, export: String, readOnly: Bool, bootIndex: Int? = nil,
                sizeBytes: UInt64? = nil, throttle: [String: Int64]? = nil) {
        self.volumeID = volumeID; self.attachmentID = attachmentID; self.socketPath = socketPath; self.export = export; self.readOnly = readOnly
        self.bootIndex = bootIndex; self.sizeBytes = sizeBytes; self.throttle = throttle
    }
    /// Volumes in `wanted` whose size differs from the one `have` holds (by attachment).
    public static func resized(have: [GuestVolume], wanted: [GuestVolume]) -> [GuestVolume] {
        wanted.filter { w in w.sizeBytes != nil && have.contains { $0.attachmentID == w.attachmentID && $0.sizeBytes != w.sizeBytes } }
    }
    /// QEMU's block node and device ids of the volume (by attachment: a re-attach is another).
    var nodeName: String { "vol-" + String(GuestNIC.qemuID(attachmentID).prefix(24)) }
    var deviceID: String { "vdev-" + String(GuestNIC.qemuID(attachmentID).prefix(24)) }
    /// virtio-blk serials hold 20 bytes: the volume id's first 20 characters (Nova's).
    var serial: String { String(GuestNIC.qemuID(volumeID).prefix(20)) }
}

public struct InstanceSpec: Sendable, Codable, Equatable {
    public var id: InstanceID
    public var name: String
    public var hostname: String
    public var projectID: String
    public var userID: String
    public var vcpus: Int
    public var memoryMB: Int
    /// Root disk size; 0 means the image's virtual size (as Nova's `root_gb` 0).
    public var rootGB: Int
    public var ephemeralGB: Int
    public var swapMB: Int
    public var imageID: String
    /// The config drive's content when one is wanted; nil otherwise.
    public var configDrive: ConfigDrive?
    /// The network interfaces, in order (nil in records written before networks existed).
    public var nics: [GuestNIC]?
    /// The attached volumes, in attach order (nil in records written before volumes existed).
    public var volumes: [GuestVolume]?
    /// The root disk is a volume (boot index 0) rather than an overlay of `imageID`.
    public var bootVolume: GuestVolume? { volumes?.first { $0.bootIndex == 0 } }

    public init(id: InstanceID, name: String, hostname: String, projectID: String, userID: String, vcpus: Int,
                memoryMB: Int, rootGB: Int, ephemeralGB: Int, swapMB: Int, imageID: String, configDrive: ConfigDrive?, nics: [GuestNIC]? = nil,
                volumes: [GuestVolume]? = nil) {
        self.volumes = volumes
        self.id = id; self.name = name; self.hostname = hostname; self.projectID = projectID; self.userID = userID
        self.vcpus = vcpus; self.memoryMB = memoryMB; self.rootGB = rootGB; self.ephemeralGB = ephemeralGB
        self.swapMB = swapMB; self.imageID = imageID; self.configDrive = configDrive; self.nics = nics
    }
}

extension InstanceSpec {
    /// Refuses sizes no driver should try, and an image that is not the one the spec names.
    public func validate(image: (any ImageSource)?) throws(NimbusError) {
        guard (1...256).contains(vcpus) else { throw .badRequest("vcpus must be 1 to 256, not \(vcpus)") }
        guard (16...(4 << 20)).contains(memoryMB) else { throw .badRequest("memory must be 16 MiB to 4 TiB, not \(memoryMB) MiB") }
        guard (0...65536).contains(rootGB), (0...65536).contains(ephemeralGB), (0...(1 << 20)).contains(swapMB) else {
            throw .badRequest("disk sizes out of range")
        }
        guard let image else {
            guard imageID.isEmpty, bootVolume != nil else { throw .badRequest("instance \(id) has neither an image nor a boot volume") }
            return
        }
        guard imageID.sameBytes(as: image.id) else {
            throw .badRequest("instance \(id) wants image \(imageID) but was given image \(image.id)")
        }
    }
}

/// What Nova's metadata API serves, written by the driver to a config drive under every
/// `openstack/<version>/` directory Nova writes (`ConfigDriveLayout`).
public struct ConfigDrive: Sendable, Codable, Equatable {
    /// The text of `meta_data.json` (the controller renders it, as Nova's `InstanceMetadata` does).
    public var metaData: String
    /// `user_data`, as bytes (it need not be text); absent when the server has none.
    public var userData: Data?
    /// `network_data.json`; `{"links": [], "networks": [], "services": []}` when nil.
    public var networkData: String?
    /// `vendor_data.json` and `vendor_data2.json`; `{}` when nil, as Nova writes them.
    public var vendorData: String?
    public var vendorData2: String?

    public init(metaData: String, userData: Data? = nil, networkData: String? = nil, vendorData: String? = nil,
                vendorData2: String? = nil) {
        self.metaData = metaData; self.userData = userData; self.networkData = networkData
        self.vendorData = vendorData; self.vendorData2 = vendorData2
    }
}

/// Where a stable-device rescue puts the rescue disk: Nova's `hw_rescue_bus` and
/// `hw_rescue_device` image properties.
public struct RescueDevice: Codable, Sendable, Equatable {
    public enum Bus: String, Codable, Sendable, CaseIterable { case virtio, scsi, usb, ide, sata }
    public enum Kind: String, Codable, Sendable, CaseIterable { case disk, cdrom }
    public var bus: Bus
    public var kind: Kind
    public init(bus: Bus, kind: Kind) { self.bus = bus; self.kind = kind }

    /// The pairs QEMU's devices can make (a CD-ROM needs an IDE, SCSI or SATA bus).
    public static func supported(bus: String, device: String) -> RescueDevice? {
        guard let b = Bus(rawValue: bus), let k = Kind(rawValue: device) else { return nil }
        if k == .cdrom && (b == .virtio || b == .usb) { return nil }
        return RescueDevice(bus: b, kind: k)
    }
}
