import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

extension QEMUDriver {
    static let gib: UInt64 = 1 << 30

    /// The root disk's virtual size: the flavor's, or the image's when the flavor says 0.
    static func rootDiskBytes(_ spec: InstanceSpec, image: InspectedImage) throws(NimbusError) -> UInt64 {
        guard spec.rootGB > 0 else { return image.virtualSize }
        let flavor = UInt64(spec.rootGB) * gib
        guard image.virtualSize <= flavor else {
            throw .badRequest("Flavor's disk is too small for requested image. Flavor disk is \(flavor) bytes, image is \(image.virtualSize) bytes.")
        }
        return flavor
    }

    /// Creates the instance's disks; `keepExisting` leaves disks that exist (rebuild, resize).
    func createDisks(_ r: InstanceRecord, _ paths: InstancePaths, keepExisting: Bool = false) async throws {
        func wanted(_ path: String) -> Bool { !(keepExisting && FileIO.exists(path)) }
        if !r.volumeBacked, wanted(paths.rootDisk) {
            try await img.createOverlay(path: paths.rootDisk, base: r.basePath, baseFormat: r.baseFormat, sizeBytes: r.rootDiskBytes)
        }
        if r.hasEphemeral, wanted(paths.ephemeralDisk) {
            try await img.createBlank(path: paths.ephemeralDisk, sizeBytes: UInt64(r.spec.ephemeralGB) * Self.gib)
        }
        if r.hasSwap, wanted(paths.swapDisk) { try await img.createBlank(path: paths.swapDisk, sizeBytes: UInt64(r.spec.swapMB) << 20) }
        if let drive = r.spec.configDrive {
            try FileIO.removeTree(paths.configDriveTree)
            try ConfigDriveLayout.write(try ConfigDriveLayout.files(drive), under: paths.configDriveTree)
            defer { try? FileIO.removeTree(paths.configDriveTree) }
            try await iso.build(output: paths.configDrive, tree: paths.configDriveTree)
        }
    }

    func disks(_ r: InstanceRecord, _ paths: InstancePaths) -> [QEMUSystem.Disk] {
        var d = [QEMUSystem.Disk]()
        if let rescue = r.rescue, rescue.bus == nil {
            // The legacy rescue: the rescue disk boots; the guest's own root disk is the second disk.
            d.append(.init(node: "rescue", path: paths.rescueDisk, format: .qcow2, backing: (rescue.basePath, rescue.baseFormat),
                           bus: .virtio, bootIndex: 0))
            d.append(.init(node: "root", path: paths.rootDisk, format: .qcow2, backing: (r.basePath, r.baseFormat), bus: .virtio))
        } else if !r.volumeBacked {   // a volume root is one of the spec's volumes
            // A stable-device rescue leaves the root disk where it was; the rescue disk boots.
            d.append(.init(node: "root", path: paths.rootDisk, format: .qcow2, backing: (r.basePath, r.baseFormat), bus: .virtio,
                           bootIndex: r.rescue == nil ? 0 : nil))
        }
        if r.hasEphemeral { d.append(.init(node: "ephemeral0", path: paths.ephemeralDisk, format: .qcow2, bus: .virtio)) }
        if r.hasSwap { d.append(.init(node: "swap", path: paths.swapDisk, format: .qcow2, bus: .virtio)) }
        if r.hasConfigDrive { d.append(.init(node: "config", path: paths.configDrive, format: .raw, readOnly: true, bus: .ideCD)) }
        if let rescue = r.rescue, let device = rescue.bus {
            let cd = device.kind == .cdrom
            let bus: QEMUSystem.Disk.Bus = switch device.bus {
            case .virtio: .virtio
            case .ide: .rescueIDE(cdrom: cd)
            case .scsi: .rescueSCSI(cdrom: cd)
            case .sata: .rescueSATA(cdrom: cd)
            case .usb: .rescueUSB
            }
            d.append(.init(node: "rescue", path: paths.rescueDisk, format: .qcow2, backing: (rescue.basePath, rescue.baseFormat), bus: bus, bootIndex: 0))
        }
        return d
    }

    /// The guest's volumes as QEMU gets them: while a stable-device rescue boots from its own
    /// disk, a root volume stays the first disk but boots second.
    func launchVolumes(_ r: InstanceRecord) -> [GuestVolume] {
        let volumes = r.spec.volumes ?? []
        guard r.rescue != nil else { return volumes }
        return volumes.map { v in
            var v = v
            if v.bootIndex == 0 { v.bootIndex = 1 }
            return v
        }
    }

    func launchArguments(_ r: InstanceRecord, _ paths: InstancePaths, incoming: Bool) async throws -> [String] {
        let accel = try await accelerator.choice()
        return qemu.guestArguments(.init(id: r.spec.id, vcpus: r.spec.vcpus, memoryMB: r.spec.memoryMB, accelerator: accel,
                                         paths: paths, disks: disks(r, paths), incoming: incoming, nics: r.spec.nics ?? [],
                                         volumes: launchVolumes(r)))
    }

    /// Starts the guest's QEMU and returns once its monitor answers. The base image is inspected
    /// again first (every use, not only the download).
    @discardableResult
    func launch(_ r: InstanceRecord, _ paths: InstancePaths, incoming: Bool = false) async throws -> Int32 {
        if !r.volumeBacked {
            _ = try ImageInspector.inspect(path: r.basePath, claimedFormat: r.baseFormat.rawValue, maxVirtualSize: config.maxImageVirtualSize)
        } else if r.spec.bootVolume == nil {
            throw NimbusError.badRequest("instance \(r.spec.id) has no root disk: neither an image nor a boot volume")
        }
        // In the host's network namespace when it has one (its taps are there); `ip netns exec`
        // execs QEMU, so the pid is QEMU's.
        let argv = (config.networkNamespace.map { ["ip", "netns", "exec", $0] } ?? []) + (try await launchArguments(r, paths, incoming: incoming))
        ConsoleLog(path: paths.console, maxBytes: config.consoleLogMaxBytes).trim()
        if let sockets = paths.socketDir {   // under /run: gone after a host reboot
            try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        unlink(paths.qmp)
        unlink(paths.statusQMP)
        let started = ContinuousClock.now
        var pid: Int32 = 0
        for attempt in 1... {
            let logStart = FileIO.size(paths.qemuLog) ?? 0
            pid = try runner.startDetached(argv, logPath: paths.qemuLog)
            do {
                try await waitUntilStarted(pid, argv: argv, paths: paths, logStart: logStart)
                break
            } catch let e as CommandError where attempt < Self.tapBusyAttempts && Self.tapBusy(e) {
                // The network agent's `ip tuntap add` holds the tap for an instant while it
                // makes it (QEMU's TUNSETIFF on the same name is EBUSY then): again shortly.
                logger.info("the tap of \(r.spec.id) was busy (attempt \(attempt)); starting QEMU again")
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        // Volumes given on the command line get their I/O limits as soon as the monitor answers.
        let limited = (r.spec.volumes ?? []).filter { QEMUSystem.throttleArguments($0) != nil }
        if !limited.isEmpty {
            let qmp = QMPClient(socketPath: paths.qmp, timeout: .seconds(10))
            for v in limited { try await throttle(v, qmp) }
        }
        logger.info("started QEMU \(pid) for \(r.spec.id) in \(started.duration(to: .now))")
        return pid
    }

    static let tapBusyAttempts = 3

    /// QEMU could not take its tap because another process had it open that instant.
    static func tapBusy(_ e: CommandError) -> Bool {
        e.stderr.containsBytes("/dev/net/tun") && e.stderr.containsBytes("Device or resource busy")
    }

    private func waitUntilStarted(_ pid: Int32, argv: [String], paths: InstancePaths, logStart: UInt64) async throws {
        let deadline = ContinuousClock.now + config.startTimeout
        func failure(_ status: Int32, _ reason: String) -> CommandError {
            let size = FileIO.size(paths.qemuLog) ?? logStart
            let log = (try? FileIO.read(paths.qemuLog, offset: logStart, count: Int(min(size - min(size, logStart), 64 << 10)))) ?? []
            return CommandError(argv: argv, status: status, stderr: String(decoding: log, as: UTF8.self), reason: reason)
        }
        while true {
            if let status = runner.reapDetached(pid) { throw failure(status, "exited with status \(status) while starting") }
            let path = paths.statusQMP
            let up = (try? await Blocking.run { _ = try QMPSession(socketPath: path, timeout: .seconds(2)); return true }) ?? false
            if up { return }
            if ContinuousClock.now >= deadline {
                _ = Glibc.kill(pid, SIGKILL)
                _ = await GuestProcess(paths: paths, runner: runner).waitForExit(pid, timeout: .seconds(5))
                _ = runner.reapDetached(pid)
                throw failure(-1, "did not answer on its monitor within \(config.startTimeout)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static let acpiRetryInterval: Duration = .seconds(10)

    /// Stops the guest's QEMU if it runs: the ACPI power button first when `acpiTimeout` is not
    /// zero, then QMP `quit`, then SIGKILL. Returns once the process is gone.
    func stopGuest(_ paths: InstancePaths, acpiTimeout: Duration) async throws {
        let process = GuestProcess(paths: paths, runner: runner)
        guard let pid = process.pid() else { return }
        let control = QMPClient(socketPath: paths.qmp, timeout: .seconds(5))
        if acpiTimeout > .zero {
            // The power button again every 10 s, as Nova's libvirt driver retries the shutdown:
            // a guest still booting may not have its ACPI handler yet and ignores the first press.
            let deadline = ContinuousClock.now + acpiTimeout
            while ContinuousClock.now < deadline {
                guard (try? await control.execute("system_powerdown")) != nil else { break }
                let wait = min(Self.acpiRetryInterval, deadline - ContinuousClock.now)
                if await process.waitForExit(pid, timeout: wait) { return }
            }
            logger.info("guest of \(paths.dir) did not power off within \(acpiTimeout); stopping QEMU")
        }
        if (try? await control.execute("quit")) != nil, await process.waitForExit(pid, timeout: .seconds(5)) { return }
        try await process.kill(pid)
    }
}
