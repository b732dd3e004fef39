import Foundation
import Logging
import NimbusCore
import Testing
@testable import ComputeNode

/// The project's test guest (scripts/build-test-image.sh), built once per test process.
enum TestGuest {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    /// What the guest prints when it is up (tests/test_guest_image.py's BANNER).
    static let banner = "=== nimbus-test ready: hostname="
    static let bootTimeout: Duration = .seconds(180)

    /// Real QEMU tests run when the tools are installed (scripts/install-deps.sh installs them),
    /// unless NIMBUS_SKIP_QEMU_TESTS=1.
    static let enabled = ProcessInfo.processInfo.environment["NIMBUS_SKIP_QEMU_TESTS"] != "1"
        && ["qemu-system-x86_64", "qemu-img", "genisoimage"].allSatisfy(onPath)

    /// The qcow2 image's path (the build takes ~5 s, then it is cached).
    static let qcow2: Result<String, any Error> = {
        do {
            let r = try ProcessCommandRunner.runBlocking(["bash", repo + "/scripts/build-test-image.sh"], timeout: .seconds(900)).check()
            guard let path = r.stdoutText.split(separator: "\n").map(String.init).first(where: { $0.hasSuffix(".qcow2") }) else {
                return .failure(CommandError(r, reason: "printed no .qcow2 path"))
            }
            return .success(path)
        } catch { return .failure(error) }
    }()

    static func image() throws -> BytesImageSource {
        try fileImageSource(try qcow2.get(), id: "nimbus-test", format: "qcow2")
    }
}

/// Boots the test guest under TCG through `QEMUDriver`. Serialized: at most two guests at a time
/// (only the re-adoption test has two driver objects, on one guest). Every test destroys what it
/// made and checks that no QEMU of its data dir is left.
@Suite(.serialized, .enabled(if: TestGuest.enabled)) struct RealQEMUTests {
    let logger = Logger(label: "compute-node-test")

    func driver(_ dir: TempDir, configure: (inout ComputeNodeConfig) -> Void = { _ in }) throws -> QEMUDriver {
        var c = ComputeNodeConfig(dataDir: dir.path)
        c.accelerator = .tcg
        c.softRebootTimeout = .seconds(60)
        configure(&c)
        return try QEMUDriver(config: c, runner: ProcessCommandRunner(), logger: logger)
    }

    func guestSpec(_ id: String, hostname: String, memoryMB: Int = 128) throws -> InstanceSpec {
        try spec(id, hostname: hostname, memoryMB: memoryMB, rootGB: 1, ephemeralGB: 1, swapMB: 64, imageID: "nimbus-test",
                 configDrive: ConfigDrive(metaData: #"{"uuid": "\#(id)", "hostname": "\#(hostname)", "name": "\#(hostname)"}"#,
                                          userData: Data("#!/bin/sh\necho USERDATA-$((6*7))\n".utf8)))
    }

    /// Polls the console until `text` appears `count` times; the time it took.
    @discardableResult
    func waitForConsole(_ d: QEMUDriver, _ id: InstanceID, _ text: String, count: Int = 1,
                        timeout: Duration = TestGuest.bootTimeout) async throws -> Duration {
        let started = ContinuousClock.now
        while true {
            let log = try await d.consoleLog(id, lines: nil)
            if log.components(separatedBy: text).count - 1 >= count { return started.duration(to: .now) }
            if started.duration(to: .now) > timeout {
                Issue.record("no \(count)× \(text) on the console within \(timeout):\n\(log.suffix(3000))")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The pids of QEMU processes whose command line mentions `dir`.
    func qemuProcesses(_ dir: TempDir) -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap(Int32.init).filter { pid in
            guard let cmd = try? FileIO.read("/proc/\(pid)/cmdline", count: 64 << 10) else { return false }
            let text = String(decoding: cmd, as: UTF8.self)
            return text.hasPrefix("qemu-system") && text.contains(dir.path + "/")
        }
    }

    /// QEMU zombies that are children of this process (an exited guest nobody reaped).
    func zombieChildren() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap(Int32.init).filter { pid in
            guard let stat = try? FileIO.read("/proc/\(pid)/stat", count: 512) else { return false }
            let text = String(decoding: stat, as: UTF8.self)
            guard text.contains("(qemu-system-x86)"), let close = text.lastIndex(of: ")") else { return false }
            let fields = text[text.index(after: close)...].split(separator: " ")
            return fields.count > 2 && fields[0] == "Z" && Int32(fields[1]) == getpid()
        }
    }

    /// Runs `body` with a driver on a fresh data dir, then destroys every instance, checks that
    /// no QEMU of the dir is left and no exited one was left unreaped, and removes the dir.
    func withDriver(configure: (inout ComputeNodeConfig) -> Void = { _ in },
                    _ body: (QEMUDriver, TempDir) async throws -> Void) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let d = try driver(dir, configure: configure)
        var failure: (any Error)?
        do { try await body(d, dir) } catch { failure = error }
        for id in (try? await d.instances().keys) ?? [:].keys { try? await d.destroy(id) }
        let left = qemuProcesses(dir)
        #expect(left.isEmpty, "QEMU processes left behind")
        for pid in left { kill(pid, SIGKILL) }
        #expect(zombieChildren().isEmpty, "every exited QEMU was reaped")
        if let failure { throw failure }
    }

    @Test func bootPowerActionsAndDestroy() async throws { try await withDriver { d, dir in
        let s = try guestSpec("6c2bd1c5-4c8c-4a4b-9a64-6b0a7a3c2f10", hostname: "cn-test-1")

        let t0 = ContinuousClock.now
        try await d.spawn(s, image: try TestGuest.image())
        let spawnTime = t0.duration(to: .now)
        let bannerTime = try await waitForConsole(d, s.id, TestGuest.banner + "cn-test-1 ")
        print("spawn returned after \(spawnTime), banner \(bannerTime) later (TCG)")
        let console = try await d.consoleLog(s.id, lines: nil)
        #expect(console.contains("metadata source: config drive"))
        #expect(console.contains("USERDATA-42"))
        #expect(try await d.instances() == [s.id: .running])
        let last2 = try await d.consoleLog(s.id, lines: 2)
        #expect(last2.utf8.filter { $0 == 0x0A }.count <= 2 && last2.utf8.count < console.utf8.count, "\(last2)")

        try await d.pause(s.id)
        #expect(try await d.powerState(s.id) == .paused)
        try await d.unpause(s.id)
        #expect(try await d.powerState(s.id) == .running)

        try await d.powerOff(s.id, timeout: .seconds(60))   // ACPI: the guest powers itself off
        #expect(try await d.powerState(s.id) == .shutdown)
        #expect(try await d.consoleLog(s.id, lines: nil).contains("reboot: Power down"))
        #expect(qemuProcesses(dir).isEmpty)
        await #expect(throws: NimbusError.self) { try await d.pause(s.id) }

        try await d.powerOn(s.id)
        #expect(try await d.powerState(s.id) == .running)
        try await waitForConsole(d, s.id, TestGuest.banner + "cn-test-1 ", count: 2)

        try await d.reboot(s.id, hard: false)   // soft, as Nova's libvirt: ACPI shutdown, then start
        #expect(try await d.consoleLog(s.id, lines: nil).components(separatedBy: "reboot: Power down").count == 3)
        try await waitForConsole(d, s.id, "Linux version", count: 3)
        let pid = try #require(qemuProcesses(dir).first)

        try await d.reboot(s.id, hard: true)   // system_reset: same process, a new boot
        try await waitForConsole(d, s.id, "Linux version", count: 4)
        #expect(qemuProcesses(dir) == [pid])

        try await d.destroy(s.id)
        #expect(qemuProcesses(dir).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/compute/instances/\(s.id)"))
        #expect(try await d.instances().isEmpty)
        await #expect(throws: NimbusError.self) { try await d.consoleLog(s.id, lines: nil) }
    } }

    /// A new driver object (Nimbus restarted) finds the running guest, controls it, and sees a
    /// QEMU killed with SIGKILL as shut down. Concurrent calls on one instance stay consistent.
    @Test func readoptionConcurrencyAndKill9() async throws { try await withDriver { first, dir in
        let s = try spec("readopt-1", hostname: "cn-test-2", memoryMB: 96, imageID: "nimbus-test")
        let canary = open(dir.path + "/canary", O_WRONLY | O_CREAT, 0o600)   // not close-on-exec
        defer { close(canary) }
        // Two guests from one base image, started at once: one download, two processes.
        let other = try spec("readopt-2", hostname: "cn-test-2b", memoryMB: 96, imageID: "nimbus-test")
        let image = try TestGuest.image()
        async let a: Void = first.spawn(s, image: image)
        async let b: Void = first.spawn(other, image: image)
        _ = try await (a, b)
        #expect(image.downloads == 1 && qemuProcesses(dir).count == 2)
        try await first.destroy(other.id)
        let pid = try #require(qemuProcesses(dir).first)
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
           let rss = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS") }) {
            print("QEMU of a 96 MiB TCG guest just after start: \(rss)")
        }
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
        }
        #expect(!fds.contains(dir.path + "/canary"), "QEMU inherited a descriptor of Nimbus")
        #expect(getsid(pid) == pid, "QEMU leads a session of its own")

        let second = try driver(dir)   // what a restarted Nimbus builds
        #expect(try await second.instances() == [s.id: .running])
        try await second.pause(s.id)
        #expect(try await first.powerState(s.id) == .paused)
        try await second.unpause(s.id)
        #expect(qemuProcesses(dir) == [pid])

        // Concurrent actions on one instance: serialized, every one legal at its turn or a conflict.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<12 {
                group.addTask {
                    switch i % 4 {
                    case 0: try? await second.pause(s.id)
                    case 1: try? await first.unpause(s.id)
                    case 2: _ = try await second.powerState(s.id)
                    default: try await second.spawn(s, image: try TestGuest.image())   // repeated build: no-op
                    }
                }
            }
            try await group.waitForAll()
        }
        try await second.unpause(s.id)
        #expect(try await second.powerState(s.id) == .running)
        #expect(qemuProcesses(dir) == [pid], "still one QEMU, the same")

        // A paused guest cannot see the power button: power off does not wait for it.
        try await second.pause(s.id)
        let t0 = ContinuousClock.now
        try await second.powerOff(s.id, timeout: .seconds(60))
        #expect(t0.duration(to: .now) < .seconds(10))
        #expect(try await first.powerState(s.id) == .shutdown && qemuProcesses(dir).isEmpty)
        try await first.powerOn(s.id)
        let pid2 = try #require(qemuProcesses(dir).first)

        kill(pid2, SIGKILL)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await second.instances() == [s.id: .shutdown])
        #expect(try await first.powerState(s.id) == .shutdown)
        #expect(qemuProcesses(dir).isEmpty, "the killed QEMU is reaped, not left a zombie")
        try await second.powerOn(s.id)
        #expect(try await first.powerState(s.id) == .running)
        try await second.destroy(s.id)
        #expect(qemuProcesses(dir).isEmpty)
    } }

    /// The last flood counter on the console (the guest's user-data prints `flood <n> …` lines).
    func lastFlood(_ d: QEMUDriver, _ id: InstanceID) async throws -> Int {
        let tail = try await d.consoleLog(id, lines: 20)
        return tail.split(separator: "\n").compactMap { line -> Int? in
            let f = line.split(separator: " ")
            return f.count >= 3 && f[0] == "flood" && f.last == "end" ? Int(f[1]) : nil
        }.last ?? 0
    }

    func waitForFlood(_ d: QEMUDriver, _ id: InstanceID, above n: Int) async throws -> Int {
        let started = ContinuousClock.now
        while true {
            let last = try await lastFlood(d, id)
            if last > n { return last }
            if started.duration(to: .now) > TestGuest.bootTimeout {
                Issue.record("no flood line above \(n):\n\(try await d.consoleLog(id, lines: 30))")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// A guest flooding its serial console stays within the log's cap (plus what it writes
    /// between two trims). Suspend writes the memory to a file and ends QEMU; resume restores it:
    /// the guest's counter goes on where it was (no reboot), and it answers the power button.
    @Test func consoleFloodSuspendAndResume() async throws {
        let cap = 256 << 10
        try await withDriver(configure: { $0.consoleLogMaxBytes = cap; $0.consoleTrimInterval = .seconds(1) }) { d, dir in
        var s = try guestSpec("suspend-1", hostname: "cn-test-3")
        s.configDrive?.userData = Data("""
            #!/bin/sh
            (i=0; while :; do i=$((i+1)); echo "flood $i 0123456789012345678901234567890123456789 end"; done > /dev/ttyS0) </dev/null >/dev/null 2>&1 &

            """.utf8)
        try await d.spawn(s, image: try TestGuest.image())
        _ = try await waitForFlood(d, s.id, above: 1000)
        let log = dir.path + "/compute/instances/\(s.id)/console.log"
        var largest: UInt64 = 0
        for _ in 0..<20 {
            largest = max(largest, FileIO.size(log) ?? 0)
            try await Task.sleep(for: .milliseconds(200))
        }
        print("console flood: largest log \(largest) bytes with a cap of \(cap)")
        #expect(largest < UInt64(cap) + (4 << 20))

        let t0 = ContinuousClock.now
        try await d.suspend(s.id)
        print("suspend took \(t0.duration(to: .now))")
        let before = try await lastFlood(d, s.id)
        #expect(try await d.powerState(s.id) == .suspended)
        #expect(qemuProcesses(dir).isEmpty)
        let state = dir.path + "/compute/instances/\(s.id)/memory.state"
        #expect((FileIO.size(state) ?? 0) > 1 << 20)
        try await d.suspend(s.id)   // idempotent
        await #expect(throws: NimbusError.self) { try await d.pause(s.id) }

        let t1 = ContinuousClock.now
        try await d.resume(s.id)
        print("resume took \(t1.duration(to: .now))")
        #expect(try await d.powerState(s.id) == .running)
        #expect(!FileManager.default.fileExists(atPath: state))
        let after = try await waitForFlood(d, s.id, above: before)
        #expect(after > before, "the counter went on from \(before)")

        try await d.powerOff(s.id, timeout: .seconds(60))
        #expect(try await d.consoleLog(s.id, lines: 5).contains("reboot: Power down"), "the restored guest ran")
        try await d.destroy(s.id)
        #expect(qemuProcesses(dir).isEmpty)
        }
    }

    /// QEMU refusing to start: the error carries argv, status and QEMU's message; nothing is left.
    @Test func qemuFailingToStart() async throws { try await withDriver(configure: { $0.cpuModel = "no-such-cpu" }) { d, dir in
        let s = try guestSpec("fails-1", hostname: "x")
        do {
            try await d.spawn(s, image: try TestGuest.image())
            Issue.record("spawn succeeded")
        } catch let e as CommandError {
            #expect(e.argv.first == "qemu-system-x86_64" && e.argv.contains("no-such-cpu"))
            #expect(e.status == 1 && e.stderr.contains("no-such-cpu"), "\(e)")
        }
        #expect(try await d.instances().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/compute/instances/\(s.id)"))
        #expect(qemuProcesses(dir).isEmpty)
    } }

    /// The KVM probe on this host: a verdict, cached by QEMU version and host kernel. (On the
    /// machines this project runs on, KVM opens but real kernels hang: the verdict is TCG.)
    @Test(.enabled(if: access("/dev/kvm", R_OK | W_OK) == 0)) func kvmProbe() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let d = try driver(dir) { $0.accelerator = .auto; $0.probeTimeout = .seconds(6) }
        let t0 = ContinuousClock.now
        let choice = try await d.resolvedAccelerator()
        print("probe: \(choice.accel) (\(choice.reason)) in \(t0.duration(to: .now))")
        let verdict = try String(contentsOfFile: dir.path + "/compute/accelerator.json", encoding: .utf8)
        #expect(verdict.contains(AcceleratorSelector.hostKernelRelease()))
        #expect(choice.accel == (verdict.contains(#""kvmWorks" : true"#) ? "kvm" : "tcg"))
        let again = try driver(dir) { $0.accelerator = .auto }
        let t1 = ContinuousClock.now
        #expect(try await again.resolvedAccelerator().accel == choice.accel)
        #expect(t1.duration(to: .now) < .seconds(3), "the cached verdict, no second probe")
        #expect(qemuProcesses(dir).isEmpty)
    }

    /// With a CPU model KVM accepts here (qemu64), the probe kernel hangs as real guests do on
    /// these machines: the probe's timeout catches it (a boot-sector probe would have passed).
    @Test(.enabled(if: access("/dev/kvm", R_OK | W_OK) == 0)) func kvmProbeCatchesAHang() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let d = try driver(dir) { $0.accelerator = .auto; $0.cpuModel = "qemu64"; $0.probeTimeout = .seconds(5) }
        let choice = try await d.resolvedAccelerator()
        print("probe with -cpu qemu64: \(choice.accel) (\(choice.reason))")
        #expect(choice.accel == "kvm" ? choice.reason.contains("kernel booted") : choice.reason.contains("KVM probe failed"))
        #expect(qemuProcesses(dir).isEmpty)
    }

    /// Defence in depth: even a base image whose header names a backing file (one the inspector
    /// would refuse) makes the guest's QEMU open no other file, because the command line gives
    /// the whole chain and `backing: null`.
    @Test func commandLineNeverFollowsAHeaderReference() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let runner = ProcessCommandRunner()
        let secret = dir.path + "/secret.raw"
        try await runner.run(["qemu-img", "create", "-q", "-f", "raw", secret, "1M"], timeout: .seconds(30)).check()
        let base = dir.path + "/base.qcow2"
        try await runner.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "raw", "-b", secret, base, "1M"],
                             timeout: .seconds(30)).check()
        #expect(throws: NimbusError.self) { try ImageInspector.inspect(path: base, claimedFormat: "qcow2", maxVirtualSize: 1 << 40) }
        let paths = NodeLayout(dataDir: dir.path).instance(try InstanceID("probe-1"))
        try FileIO.makeDirectory(dir.path + "/compute")
        try FileIO.makeDirectory(dir.path + "/compute/instances")
        try FileIO.makeDirectory(paths.dir)
        try await runner.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", base, paths.rootDisk, "1M"],
                             timeout: .seconds(30)).check()
        let argv = QEMUSystem(binary: "qemu-system-x86_64", runner: runner).guestArguments(.init(
            id: try InstanceID("probe-1"), vcpus: 1, memoryMB: 32, accelerator: .tcg(cpu: nil, reason: ""), paths: paths,
            disks: [.init(node: "root", path: paths.rootDisk, format: .qcow2, backing: (base, .qcow2), bus: .virtio)],
            incoming: true))
        let pid = try runner.startDetached(argv, logPath: paths.qemuLog)
        defer {
            kill(pid, SIGKILL)
            for _ in 0..<100 where runner.reapDetached(pid) == nil { usleep(20_000) }
        }
        var opened: [String] = []
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(50))
            opened = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
            }
            if opened.contains(base) { break }
        }
        #expect(opened.contains(base) && opened.contains(paths.rootDisk), "\(opened)")
        #expect(!opened.contains(secret), "QEMU opened the file a header named")
    }
}
