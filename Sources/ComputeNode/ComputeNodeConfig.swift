import Foundation
import Logging
import NimbusCore

/// A compute node's driver settings (`[compute_node]` in nimbus.conf), and the one place that
/// turns them into a `VirtDriver`.
public struct ComputeNodeConfig: Sendable {
    public enum DriverKind: String, Sendable, CaseIterable { case qemu, fake }

    public var driver: DriverKind = .qemu
    /// The node's data directory (absolute); the driver keeps its files in `<dataDir>/compute/`.
    public var dataDir: String
    public var accelerator: Accelerator = .auto
    /// `-cpu` for guests; nil: `host` under KVM, `max` under TCG.
    public var cpuModel: String?
    /// Kernel the KVM probe boots; nil: the running kernel's /boot/vmlinuz-*.
    public var probeKernel: String?
    public var probeTimeout: Duration = .seconds(10)
    /// Overrides of what the host reports to Placement (nil: measured).
    public var vcpus: Int?
    public var memoryMB: Int?
    public var diskGB: Int?
    /// The serial console log is trimmed back once larger than this, checked every
    /// `consoleTrimInterval` (and at every console read): a soft cap.
    public var consoleLogMaxBytes = 1 << 20
    public var consoleTrimInterval: Duration = .seconds(5)
    /// At most this much of the console's end is returned by `consoleLog` (Nova's libvirt: 100 KiB).
    public var consoleOutputMaxBytes = 100 << 10
    /// Images whose virtual size is above this are refused whatever the flavor (2 TiB).
    public var maxImageVirtualSize: UInt64 = 2 << 40
    /// How long a soft reboot waits for the guest's ACPI shutdown before resetting it (Nova's
    /// `[libvirt] wait_soft_reboot_seconds`).
    public var softRebootTimeout: Duration = .seconds(120)
    /// How long a started QEMU has to answer on its monitor socket.
    public var startTimeout: Duration = .seconds(30)
    public var qemuSystemBinary = "qemu-system-x86_64"
    public var qemuImgBinary = "qemu-img"
    public var genisoimageBinary = "genisoimage"
    /// The numeric address live migrations into this node stream to (Nova's
    /// `[libvirt] live_migration_inbound_addr`); nil: the address of the node's own API.
    public var liveMigrationInboundAddress: String?
    /// The network namespace that is the host's network stack (`[network] host_namespace`):
    /// guests start in it, so their taps are made there. nil: the process's own.
    public var networkNamespace: String?
    /// What the fake driver reports.
    public var fakeResources = FakeDriver.defaultResources
    /// Operations the fake driver fails every time (`fake_failing_operations`).
    public var fakeFailing: Set<FakeDriver.Operation> = []

    public init(dataDir: String) { self.dataDir = dataDir }

    public static let section = "compute_node"

    public static let options: [ConfigOption] = [
        ConfigOption(section, "driver", default: "qemu", "Virt driver: qemu (real guests) or fake (in memory, for scale tests)"),
        ConfigOption(section, "accelerator", default: "auto", "auto (KVM when a probe boot succeeds, else TCG), kvm or tcg"),
        ConfigOption(section, "cpu_model", default: "", "QEMU -cpu for guests; empty: host under KVM, max under TCG"),
        ConfigOption(section, "probe_kernel", default: "", "Kernel image the KVM probe boots; empty: the running kernel's in /boot"),
        ConfigOption(section, "probe_timeout_s", default: "10", "Seconds the KVM probe boot may take"),
        ConfigOption(section, "vcpus", default: "", "vCPUs reported to Placement; empty: the host's online CPUs"),
        ConfigOption(section, "memory_mb", default: "", "Memory (MiB) reported to Placement; empty: the host's MemTotal"),
        ConfigOption(section, "disk_gb", default: "", "Disk (GiB) reported to Placement; empty: the data dir's file system size"),
        ConfigOption(section, "console_log_max_bytes", default: "1048576", "Serial console log size before it is trimmed"),
        ConfigOption(section, "soft_reboot_timeout_s", default: "120", "Seconds a soft reboot waits for the ACPI shutdown"),
        ConfigOption(section, "qemu_system", default: "qemu-system-x86_64", "The qemu-system binary"),
        ConfigOption(section, "qemu_img", default: "qemu-img", "The qemu-img binary"),
        ConfigOption(section, "genisoimage", default: "genisoimage", "The genisoimage binary (config drives)"),
        ConfigOption(section, "fake_failing_operations", default: "",
                     "Fake driver only: comma-separated operations that always fail (plugInterface, spawn, ...), to test failure handling"),
        ConfigOption(section, "live_migration_inbound_addr", default: "",
                     "Numeric address live migrations into this node stream to (unencrypted, as libvirt's default); empty: the node API's address"),
    ]

    /// The address a live migration streams to: the configured one, else `listenHost` (the
    /// loopback address when that is a wildcard).
    public func migrationAddress(listenHost: String) -> String {
        if let a = liveMigrationInboundAddress { return a }
        return listenHost == "0.0.0.0" || listenHost == "::" || listenHost.isEmpty ? "127.0.0.1" : listenHost
    }

    /// Reads `[compute_node]`; `dataDir` is the node's `--data-dir`.
    public init(configuration c: Configuration, dataDir: String) throws(NimbusError) {
        self.init(dataDir: dataDir)
        func value(_ key: String) -> String? {
            let v = c.string(Self.section, key).trimmingCharacters(in: .whitespaces)
            return v.isEmpty ? nil : v
        }
        func int(_ key: String) throws(NimbusError) -> Int? {
            guard let v = value(key) else { return nil }
            guard let i = Int(v), i >= 0 else { throw .badRequest("[\(Self.section)] \(key): not a number: \(v)") }
            return i
        }
        if let v = value("driver") {
            guard let d = DriverKind(rawValue: v) else { throw .badRequest("[\(Self.section)] driver: qemu or fake, not \(v)") }
            driver = d
        }
        if let v = value("accelerator") {
            guard let a = Accelerator(rawValue: v) else { throw .badRequest("[\(Self.section)] accelerator: auto, kvm or tcg, not \(v)") }
            accelerator = a
        }
        cpuModel = value("cpu_model")
        for name in (value("fake_failing_operations") ?? "").splitBytes(",") {
            let n = name.trimmingCharacters(in: .whitespaces)
            if n.isEmpty { continue }
            guard let op = FakeDriver.Operation(rawValue: n) else { throw .badRequest("[\(Self.section)] fake_failing_operations: no operation \(n)") }
            fakeFailing.insert(op)
        }
        probeKernel = value("probe_kernel")
        if let s = try int("probe_timeout_s") { probeTimeout = .seconds(s) }
        vcpus = try int("vcpus")
        memoryMB = try int("memory_mb")
        diskGB = try int("disk_gb")
        if let b = try int("console_log_max_bytes") { consoleLogMaxBytes = max(b, 64 << 10) }
        if let s = try int("soft_reboot_timeout_s") { softRebootTimeout = .seconds(s) }
        qemuSystemBinary = value("qemu_system") ?? qemuSystemBinary
        qemuImgBinary = value("qemu_img") ?? qemuImgBinary
        genisoimageBinary = value("genisoimage") ?? genisoimageBinary
        liveMigrationInboundAddress = value("live_migration_inbound_addr")
        let ns = c.string("network", "host_namespace").trimmingCharacters(in: .whitespaces)
        if !ns.isEmpty {
            guard ns.utf8.count <= 64, !ns.hasBytePrefix("."), ns.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F }) else {
                throw .badRequest("[network] host_namespace: not a namespace name: \(ns)")
            }
            networkNamespace = ns
        }
    }
}

/// Builds the configured driver: the composition root's one call.
public enum VirtDriverFactory {
    public static func make(_ config: ComputeNodeConfig, logger: Logger) throws -> any VirtDriver {
        switch config.driver {
        case .qemu: try QEMUDriver(config: config, runner: ProcessCommandRunner(), logger: logger)
        case .fake:
            // vcpus / memory_mb / disk_gb size the fake host too (scale tests with many servers).
            FakeDriver(resources: { var r = config.fakeResources
                r.vcpus = config.vcpus ?? r.vcpus; r.memoryMB = config.memoryMB ?? r.memoryMB; r.diskGB = config.diskGB ?? r.diskGB
                return r }(), alwaysFailing: config.fakeFailing)
        }
    }
}
