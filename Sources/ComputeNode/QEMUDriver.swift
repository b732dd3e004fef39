import Foundation
import Logging
import NimbusCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Real guests with `qemu-system-x86_64`. Each instance is a directory (`InstancePaths`) and at
/// most one QEMU process started detached (its own session, so it outlives Nimbus); everything
/// the driver knows about a guest is read back from that directory, the pidfile, `/proc` and the
/// guest's QMP monitor, so a new driver object (a restarted Nimbus) re-adopts running guests with
/// no other state. Operations on one instance are serialized by a per-instance lock.
public final class QEMUDriver: VirtDriver {
    public let hypervisorType = "QEMU"
    let config: ComputeNodeConfig
    let layout: NodeLayout
    let runner: any CommandRunner
    let qemu: QEMUSystem
    let img: QEMUImg
    let iso: GenISOImage
    let cache: BaseImageCache
    let accelerator: AcceleratorSelector
    let locks = KeyedLock<InstanceID>()
    let logger: Logger
    /// Trims every console log every `consoleTrimInterval` while this driver exists (a guest
    /// can write a few MB/s to its serial port).
    private let trimmer = Mutex<Task<Void, Never>?>(nil)
    private let qemuVersion = Mutex<Int?>(nil)
    /// force_complete or abort asked for an instance's live migration, read by `liveMigrate`
    /// at each of its steps (it may come before the stream starts).
    let migrationControls = Mutex<[InstanceID: MigrationControl]>([:])

    public init(config: ComputeNodeConfig, runner: any CommandRunner, logger: Logger) throws {
        guard config.dataDir.hasBytePrefix("/") else {
            throw NimbusError(.internal, "compute data dir must be an absolute path, not \(config.dataDir)")
        }
        self.config = config
        self.runner = runner
        self.logger = logger
        layout = NodeLayout(dataDir: config.dataDir)
        try layout.checkSocketPaths()
        qemu = QEMUSystem(binary: config.qemuSystemBinary, runner: runner)
        img = QEMUImg(binary: config.qemuImgBinary, runner: runner)
        iso = GenISOImage(binary: config.genisoimageBinary, runner: runner)
        cache = BaseImageCache(dir: layout.baseDir, maxVirtualSize: config.maxImageVirtualSize, logger: logger)
        accelerator = AcceleratorSelector(wanted: config.accelerator, cpuModel: config.cpuModel, probeKernel: config.probeKernel,
                                          probeTimeout: config.probeTimeout, layout: layout, qemu: qemu, logger: logger)
        try FileIO.makeDirectory(config.dataDir)
        try FileIO.makeDirectory(layout.root)
        try FileIO.makeDirectory(layout.instancesDir)
        cache.sweep()
        sweepMigratedMarkers()
        let interval = config.consoleTrimInterval
        trimmer.withLock {
            $0 = Task.detached { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    self.trimConsoleLogs()
                }
            }
        }
    }

    deinit { trimmer.withLock { $0?.cancel() } }

    /// The accelerator guests get (probing KVM the first time, see `AcceleratorSelector`).
    public func resolvedAccelerator() async throws -> ResolvedAccelerator { try await accelerator.choice() }

    public func hostResources() async throws -> HostResources {
        let version: Int
        if let known = qemuVersion.withLock({ $0 }) { version = known } else {
            version = try await qemu.version().number
            qemuVersion.withLock { $0 = version }
        }
        return HostResources(vcpus: config.vcpus ?? HostFacts.onlineCPUs(), memoryMB: config.memoryMB ?? HostFacts.memoryMB(),
                             diskGB: config.diskGB ?? HostFacts.diskGB(layout.root), cpuModel: HostFacts.cpuModel(),
                             hypervisorVersion: version)
    }

    // MARK: - spawn and destroy

    public func spawn(_ spec: InstanceSpec, image: (any ImageSource)?) async throws {
        try spec.validate(image: image)
        let paths = layout.instance(spec.id)
        try paths.checkSocketPaths()
        try await locks.withLock(spec.id) {
            if FileIO.exists(paths.record) {   // a repeated build: make sure it runs, touch no disk
                let state = await actualState(paths)
                if state == .shutdown || state == .crashed { try await launch(try InstanceRecord.load(paths.record), paths) }
                return
            }
            try FileIO.removeTree(paths.dir)   // what a build that failed half-way left
            var record = InstanceRecord(volumeBacked: spec)
            if let image {
                let base = try await cache.fetch(image)
                record = InstanceRecord(spec: spec, base: base, rootDiskBytes: try Self.rootDiskBytes(spec, image: base.image))
            }
            try FileIO.makeDirectory(paths.dir)
            do {
                try await createDisks(record, paths)
                try record.save(paths.record)
                try await launch(record, paths)
            } catch {
                logger.warning("spawn of \(spec.id) failed, cleaning up: \(error)")
                try? await stopGuest(paths, acpiTimeout: .zero)
                try? FileIO.removeTree(paths.dir)
                throw error
            }
        }
    }

    public func destroy(_ id: InstanceID) async throws {
        let paths = layout.instance(id)
        try await locks.withLock(id) {
            guard FileIO.exists(paths.dir) else { return }
            try await stopGuest(paths, acpiTimeout: .zero)
            try FileIO.removeTree(paths.dir)
            if let sockets = paths.socketDir { try? FileIO.removeTree(sockets) }
        }
    }

    // MARK: - state

    public func powerState(_ id: InstanceID) async throws -> PowerState {
        await actualState(try existing(id))
    }

    public func instances() async throws -> [InstanceID: PowerState] {
        var out: [InstanceID: PowerState] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: layout.instancesDir) {
            guard let id = try? InstanceID(name) else { continue }
            let paths = layout.instance(id)
            guard FileIO.exists(paths.record) else { continue }   // being built or removed
            ConsoleLog(path: paths.console, maxBytes: config.consoleLogMaxBytes).trim()
            out[id] = await actualState(paths)
        }
        return out
    }

    public func consoleLog(_ id: InstanceID, lines: Int?) async throws -> String {
        let log = ConsoleLog(path: try existing(id).console, maxBytes: config.consoleLogMaxBytes)
        log.trim()
        return log.tail(lines: lines, maxReadBytes: config.consoleOutputMaxBytes)
    }

    public func checkConsole(_ id: InstanceID, _ kind: ConsoleKind) async throws {
        let state = await actualState(try existing(id))
        guard state == .running || state == .paused else { throw NimbusError.conflict("Instance \(id) is not running, so its console is not available.") }
    }

    public func withConsole(_ id: InstanceID, _ kind: ConsoleKind, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {
        let paths = try existing(id)
        try await UnixConsole.with(path: kind == .vnc ? paths.vnc : paths.serial, body)
    }

    /// Trims every instance's console log to its cap; the agent calls this periodically.
    public func trimConsoleLogs() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.instancesDir)) ?? [] {
            guard let id = try? InstanceID(name) else { continue }
            ConsoleLog(path: layout.instance(id).console, maxBytes: config.consoleLogMaxBytes).trim()
        }
    }

    /// The paths of an instance this host has, or `.notFound`.
    func existing(_ id: InstanceID) throws(NimbusError) -> InstancePaths {
        let paths = layout.instance(id)
        guard FileIO.exists(paths.record) else { throw .notFound("Instance \(id) could not be found on this host.") }
        return paths
    }

    /// What the guest is doing: QEMU's run state when its process lives, else suspended (a saved
    /// memory state exists) or shut down.
    func actualState(_ paths: InstancePaths) async -> PowerState {
        if GuestProcess(paths: paths, runner: runner).pid() != nil {
            guard let status = try? await QMPClient(socketPath: paths.statusQMP, timeout: .seconds(5)).execute("query-status") else {
                return .noState
            }
            return Self.powerState(qemuStatus: status["status"]?.stringValue ?? "")
        }
        return FileIO.exists(paths.memoryState) ? .suspended : .shutdown
    }

    /// QEMU's `RunState` as Nova's power state (libvirt maps them the same way).
    static func powerState(qemuStatus: String) -> PowerState {
        switch qemuStatus {
        case "running": .running
        case "paused", "suspended", "prelaunch", "inmigrate", "postmigrate", "finish-migrate", "save-vm", "restore-vm",
             "debug", "watchdog", "colo": .paused
        case "shutdown": .shutdown
        case "guest-panicked", "internal-error", "io-error": .crashed
        default: .noState
        }
    }
}
