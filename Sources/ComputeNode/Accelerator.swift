import Foundation
import Logging
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// Which accelerator the operator asks for (`[compute_node] accelerator`).
public enum Accelerator: String, Sendable, CaseIterable {
    /// KVM only when the probe boot succeeds (verdict cached), else TCG.
    case auto
    case kvm
    case tcg
}

/// The accelerator and CPU model guests get.
public struct ResolvedAccelerator: Sendable, Equatable, Codable {
    public var accel: String
    public var cpu: String
    /// Why this one (for logs and `os-hypervisors` diagnostics).
    public var reason: String

    static func kvm(cpu: String?, reason: String) -> ResolvedAccelerator { .init(accel: "kvm", cpu: cpu ?? "host", reason: reason) }
    static func tcg(cpu: String?, reason: String) -> ResolvedAccelerator { .init(accel: "tcg", cpu: cpu ?? "max", reason: reason) }
}

/// Decides the accelerator once per driver. KVM is trusted only after a probe boot of a real
/// kernel under KVM reaches the end of its boot (see `QEMUSystem.probeArguments`) within
/// `probeTimeout`: on this kind of machine `/dev/kvm` opens and a 512-byte boot sector even runs,
/// but real kernels hang or abort. The verdict is stored in `accelerator.json`, keyed by the QEMU
/// version, the host kernel release (KVM is a host kernel module) and the CPU model, so the probe
/// runs again only when one of them changes.
actor AcceleratorSelector {
    struct Verdict: Codable, Equatable {
        var qemu: String
        var hostKernel: String
        var cpu: String
        var kvmWorks: Bool
        var detail: String
    }

    let wanted: Accelerator
    let cpuModel: String?
    let probeKernel: String?
    let probeTimeout: Duration
    let layout: NodeLayout
    let qemu: QEMUSystem
    let logger: Logger
    /// The decision, made once: concurrent first callers share one probe.
    private var decision: Task<ResolvedAccelerator, any Error>?

    init(wanted: Accelerator, cpuModel: String?, probeKernel: String?, probeTimeout: Duration, layout: NodeLayout,
         qemu: QEMUSystem, logger: Logger) {
        self.wanted = wanted; self.cpuModel = cpuModel; self.probeKernel = probeKernel; self.probeTimeout = probeTimeout
        self.layout = layout; self.qemu = qemu; self.logger = logger
    }

    func choice() async throws -> ResolvedAccelerator {
        if let decision { return try await decision.value }
        let task = Task { () async throws -> ResolvedAccelerator in
            let r = try await decide()
            logger.info("compute node accelerator: \(r.accel), cpu \(r.cpu) (\(r.reason))")
            return r
        }
        decision = task
        do { return try await task.value } catch {
            decision = nil   // a failure (say, qemu --version) is not a verdict: try again next time
            throw error
        }
    }

    private func decide() async throws -> ResolvedAccelerator {
        switch wanted {
        case .tcg: return .tcg(cpu: cpuModel, reason: "configured")
        case .kvm: return .kvm(cpu: cpuModel, reason: "configured")
        case .auto: break
        }
        guard access("/dev/kvm", R_OK | W_OK) == 0 else { return .tcg(cpu: cpuModel, reason: "no usable /dev/kvm") }
        guard let kernel = probeKernel ?? Self.hostKernel() else {
            return .tcg(cpu: cpuModel, reason: "no kernel to probe KVM with (set probe_kernel)")
        }
        let key = Verdict(qemu: try await qemu.version().text, hostKernel: Self.hostKernelRelease(),
                          cpu: ResolvedAccelerator.kvm(cpu: cpuModel, reason: "").cpu, kvmWorks: false, detail: "")
        if let cached = try? JSONDecoder().decode(Verdict.self, from: Data(contentsOf: URL(fileURLWithPath: layout.acceleratorVerdict))),
           cached.qemu == key.qemu, cached.hostKernel == key.hostKernel, cached.cpu == key.cpu {
            return cached.kvmWorks ? .kvm(cpu: cpuModel, reason: "probe passed (cached): \(cached.detail)")
                : .tcg(cpu: cpuModel, reason: "KVM probe failed (cached): \(cached.detail)")
        }
        var verdict = key
        (verdict.kvmWorks, verdict.detail) = try await probe(kernel: kernel)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileIO.makeDirectory(layout.root)
        try FileIO.writeAtomically(layout.acceleratorVerdict, Array(try encoder.encode(verdict)), mode: 0o644)
        return verdict.kvmWorks ? .kvm(cpu: cpuModel, reason: "probe passed: \(verdict.detail)")
            : .tcg(cpu: cpuModel, reason: "KVM probe failed: \(verdict.detail)")
    }

    /// Boots `kernel` under KVM; true when it panics on the missing root file system (the end of
    /// its boot) and QEMU exits, within the timeout.
    private func probe(kernel: String) async throws -> (Bool, String) {
        try FileIO.makeDirectory(layout.root)
        unlink(layout.acceleratorProbeLog)
        let argv = qemu.probeArguments(accelerator: .kvm(cpu: cpuModel, reason: ""), kernel: kernel,
                                       serialLog: layout.acceleratorProbeLog)
        let started = ContinuousClock.now
        let result = try await qemu.runner.run(argv, timeout: probeTimeout)
        let took = started.duration(to: .now)
        let console = (try? FileIO.read(layout.acceleratorProbeLog, count: 1 << 20)) ?? []
        let reachedEnd = String(decoding: console, as: UTF8.self).contains("Kernel panic")
        let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        let took1 = String(format: "%.1f s", seconds)
        if result.timedOut {
            return (false, "no boot within \(took1) (\(console.count) console bytes)")
        }
        if result.status == 0 && reachedEnd { return (true, "kernel booted in \(took1)") }
        return (false, "QEMU exited with status \(result.status) after \(took1): "
            + CommandError.clipped(result.stderrText, limit: 300))
    }

    /// The running kernel's image in /boot when readable, else any readable /boot/vmlinuz-*.
    static func hostKernel() -> String? {
        let running = "/boot/vmlinuz-" + hostKernelRelease()
        if access(running, R_OK) == 0 { return running }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []
        return names.filter { $0.hasBytePrefix("vmlinuz-") }.sortedByBytes().map { "/boot/" + $0 }
            .last { access($0, R_OK) == 0 }
    }

    static func hostKernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
