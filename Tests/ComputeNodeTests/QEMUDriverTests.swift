import Foundation
import Logging
import NimbusCore
import Testing
@testable import ComputeNode

/// The driver with the recording runner: no QEMU runs; what it would run is checked.
@Suite struct QEMUDriverTests {
    static let version = "QEMU emulator version 7.2.22 (Debian)"

    /// qemu-system fails to start (as when the binary is missing); everything else succeeds.
    static func runner() -> RecordingCommandRunner {
        RecordingCommandRunner { argv in
            if argv == ["qemu-system-x86_64", "--version"] { return CommandResult(argv: argv, stdout: Array((version + "\n").utf8)) }
            if argv.first == "qemu-system-x86_64" {
                throw CommandError(argv: argv, status: -1, stderr: "", reason: "failed: cannot start qemu-system-x86_64: No such file or directory")
            }
            return CommandResult(argv: argv)
        }
    }

    func driver(_ dir: TempDir, _ runner: RecordingCommandRunner, configure: (inout ComputeNodeConfig) -> Void = { _ in }) throws -> QEMUDriver {
        var c = ComputeNodeConfig(dataDir: dir.path)
        c.accelerator = .tcg
        configure(&c)
        return try QEMUDriver(config: c, runner: runner, logger: Logger(label: "test"))
    }

    func instanceDirs(_ dir: TempDir) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/compute/instances")) ?? []
    }

    @Test func failedStartLeavesNothingAndSaysWhy() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let runner = Self.runner()
        let d = try driver(dir, runner)
        let image = BytesImageSource(format: "raw", data: [UInt8](repeating: 1, count: 1 << 20))
        let s = try spec(rootGB: 1, ephemeralGB: 2, swapMB: 256, configDrive: ConfigDrive(metaData: "{}"))
        do {
            try await d.spawn(s, image: image)
            Issue.record("spawn succeeded")
        } catch let e as CommandError {
            #expect(e.description.contains("No such file or directory") && e.argv.first == "qemu-system-x86_64")
        }
        let inst = dir.path + "/compute/instances/\(s.id)"
        let base = dir.path + "/compute/_base/" + BaseImageCache.key(image)
        #expect(runner.calls.map(\.argv).map { Array($0.prefix(2)) } == [["qemu-img", "create"], ["qemu-img", "create"],
                                                                         ["qemu-img", "create"], ["genisoimage", "-o"],
                                                                         ["qemu-system-x86_64", "-name"]])
        #expect(runner.argvs(of: "qemu-img") == [
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, inst + "/disk", "\(1 << 30)"],
            ["qemu-img", "create", "-q", "-f", "qcow2", inst + "/disk.eph0", "\(2 << 30)"],
            ["qemu-img", "create", "-q", "-f", "qcow2", inst + "/disk.swap", "\(256 << 20)"],
        ])
        #expect(instanceDirs(dir).isEmpty)
        #expect(try await d.instances().isEmpty)
        #expect(FileManager.default.fileExists(atPath: base), "the verified base stays cached")
    }

    /// Hostile images are refused before any tool runs or any instance file exists.
    @Test func hostileImagesNeverReachATool() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let runner = Self.runner()
        let d = try driver(dir, runner)
        let shadow = Array("/etc/shadow".utf8)
        let cases: [(BytesImageSource, InstanceSpec, String)] = [
            (BytesImageSource(format: "qcow2", data: QCOW2Builder(backingOffset: 512, backingSize: 11, trailer: shadow).bytes()),
             try spec(), "backing file"),
            (BytesImageSource(format: "qcow2", data: [UInt8](repeating: 0, count: 1 << 20)), try spec(), "data is raw"),
            (BytesImageSource(format: "raw", data: QCOW2Builder().bytes()), try spec(), "data is qcow2"),
            (BytesImageSource(format: "qcow2", data: QCOW2Builder(size: 1 << 62).bytes()), try spec(), "above the limit"),
            (BytesImageSource(format: "qcow2", data: QCOW2Builder(size: 5 << 30).bytes()), try spec(rootGB: 1), "Flavor's disk is too small"),
            (BytesImageSource(format: "qcow2", data: QCOW2Builder(incompatible: 4).bytes()), try spec(), "external data file"),
            (BytesImageSource(format: "vmdk", data: Array("KDMV".utf8) + [UInt8](repeating: 0, count: 1024)), try spec(), "not supported"),
        ]
        for (image, s, reason) in cases {
            do {
                try await d.spawn(s, image: image)
                Issue.record("accepted: \(reason)")
            } catch let e as NimbusError {
                #expect(e.kind == .badRequest && e.message.contains(reason), "\(e.message)")
            }
        }
        #expect(runner.calls.isEmpty)
        #expect(instanceDirs(dir).isEmpty)
    }

    @Test func unknownInstancesAndStrayDirectories() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let d = try driver(dir, Self.runner())
        let id = try InstanceID("nope")
        for call in [{ try await d.powerOn(id) }, { try await d.pause(id) }, { _ = try await d.powerState(id) },
                     { _ = try await d.consoleLog(id, lines: 10) }, { try await d.suspend(id) }] as [() async throws -> Void] {
            await #expect(throws: NimbusError.self) { try await call() }
        }
        try await d.destroy(id)   // unknown: nothing to do
        // entries that are not instance directories are ignored
        try FileIO.makeDirectory(dir.path + "/compute/instances/.hidden")
        try FileIO.makeDirectory(dir.path + "/compute/instances/half-built")   // no instance.json
        #expect(try await d.instances().isEmpty)
    }

    @Test func hostResourcesAndOverrides() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let measured = try await driver(dir, Self.runner()).hostResources()
        #expect(measured.vcpus == ProcessInfo.processInfo.activeProcessorCount && measured.memoryMB > 0 && measured.diskGB > 0)
        #expect(measured.hypervisorVersion == 7_002_022 && !measured.cpuModel.isEmpty)
        let set = try await driver(dir, Self.runner()) { $0.vcpus = 8; $0.memoryMB = 4096; $0.diskGB = 100 }.hostResources()
        #expect(set.vcpus == 8 && set.memoryMB == 4096 && set.diskGB == 100)
    }

    /// A data dir too long for unix socket addresses keeps its sockets under a short directory
    /// named by a hash of the node root (stable across restarts); a relative dir is refused.
    @Test func longDataDirsKeepSocketsInAShortDirectory() throws {
        let runner = Self.runner()
        let long = "/" + String(repeating: "d", count: 60)
        _ = try QEMUDriver(config: .init(dataDir: long), runner: runner, logger: Logger(label: "t"))
        let id = try InstanceID("00000000-0000-0000-0000-000000000000")
        let paths = NodeLayout(dataDir: long).instance(id)
        #expect(paths.socketDir != nil && paths.qmp.utf8.count <= NodeLayout.maxSocketPathBytes)
        #expect(paths.dir.hasPrefix(long + "/compute/instances/"))
        #expect(NodeLayout(dataDir: long).socketRoot == NodeLayout(dataDir: long).socketRoot)
        #expect(NodeLayout(dataDir: "/short").socketRoot == nil)
        #expect(throws: NimbusError.self) { try QEMUDriver(config: .init(dataDir: "relative/dir"), runner: runner, logger: Logger(label: "t")) }
    }

    @Test func longIdsOnALongDataDirAreRefused() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let d = try driver(dir, Self.runner())
        let s = try spec(String(repeating: "a", count: 64))
        await #expect(throws: NimbusError.self) { try await d.spawn(s, image: BytesImageSource(format: "raw", data: [1])) }
    }

    /// `auto` with a KVM probe faked: passes when the kernel reaches its panic, fails on a
    /// timeout; the verdict is cached so a second driver does not probe.
    @Test(.enabled(if: access("/dev/kvm", R_OK | W_OK) == 0)) func acceleratorProbeVerdicts() async throws {
        for works in [true, false] {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let runner = RecordingCommandRunner { argv in
                if argv.contains("--version") { return CommandResult(argv: argv, stdout: Array((Self.version + "\n").utf8)) }
                guard argv.contains("-kernel") else { return CommandResult(argv: argv) }
                if !works { return CommandResult(argv: argv, status: 137, timedOut: true) }
                let log = argv[argv.firstIndex(of: "-chardev")! + 1].split(separator: "=").last!
                try FileIO.writeAtomically(String(log), Array("[ 0.9] Kernel panic - not syncing: VFS: Unable to mount root fs\n".utf8), mode: 0o644)
                return CommandResult(argv: argv)
            }
            let config = { (c: inout ComputeNodeConfig) in c.accelerator = .auto; c.probeKernel = "/boot/vmlinuz-test" }
            let first = try driver(dir, runner, configure: config)
            async let one = first.resolvedAccelerator()
            async let two = first.resolvedAccelerator()   // concurrent first callers: one probe
            let (choice, same) = try await (one, two)
            #expect(choice == same)
            #expect(choice.accel == (works ? "kvm" : "tcg") && choice.cpu == (works ? "host" : "max"), "\(choice.reason)")
            let probes = runner.calls.filter { $0.argv.contains("-kernel") }
            #expect(probes.count == 1 && probes[0].argv.contains("/boot/vmlinuz-test") && probes[0].argv.contains("kvm"))
            let again = try await driver(dir, runner, configure: config).resolvedAccelerator()
            #expect(again.accel == choice.accel && again.reason.contains("cached"))
            #expect(runner.calls.filter { $0.argv.contains("-kernel") }.count == 1)
        }
    }

    @Test func configurationAndFactory() throws {
        let conf = try Configuration(options: ComputeNodeConfig.options, environment: [:], overrides: [
            "compute_node": ["driver": "fake", "accelerator": "tcg", "vcpus": "12", "cpu_model": "Haswell", "soft_reboot_timeout_s": "30"],
        ])
        let c = try ComputeNodeConfig(configuration: conf, dataDir: "/srv/n")
        #expect(c.driver == .fake && c.accelerator == .tcg && c.vcpus == 12 && c.memoryMB == nil && c.cpuModel == "Haswell")
        #expect(c.softRebootTimeout == .seconds(30) && c.qemuSystemBinary == "qemu-system-x86_64")
        #expect(try VirtDriverFactory.make(c, logger: Logger(label: "t")).hypervisorType == "fake")
        for (key, bad) in [("accelerator", "xen"), ("driver", "libvirt"), ("vcpus", "-1"), ("vcpus", "many")] {
            let conf = try Configuration(options: ComputeNodeConfig.options, environment: [:], overrides: ["compute_node": [key: bad]])
            #expect(throws: NimbusError.self) { try ComputeNodeConfig(configuration: conf, dataDir: "/srv/n") }
        }
        let dir = try TempDir()
        defer { dir.cleanup() }
        var q = ComputeNodeConfig(dataDir: dir.path)
        q.driver = .qemu
        #expect(try VirtDriverFactory.make(q, logger: Logger(label: "t")).hypervisorType == "QEMU")
    }
}

@Suite struct KeyedLockTests {
    @Test func serializesOneKeyNotOthersAndForgetsIdleKeys() async throws {
        let locks = KeyedLock<String>()
        let log = LogBox()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask {
                    await locks.withLock(i % 2 == 0 ? "a" : "b") {
                        log.enter(i % 2 == 0 ? "a" : "b")
                        try? await Task.sleep(for: .milliseconds(5))
                        log.leave(i % 2 == 0 ? "a" : "b")
                    }
                }
            }
        }
        #expect(log.maxInside["a"] == 1 && log.maxInside["b"] == 1)
        #expect(locks.count == 0)
    }
}

final class LogBox: @unchecked Sendable {
    private let lock = NSLock()
    private var inside: [String: Int] = [:]
    private(set) var maxInside: [String: Int] = [:]
    func enter(_ k: String) { lock.withLock { inside[k, default: 0] += 1; maxInside[k] = max(maxInside[k] ?? 0, inside[k]!) } }
    func leave(_ k: String) { lock.withLock { inside[k, default: 0] -= 1 } }
}
