import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// Finds and watches an instance's QEMU process by its pidfile. A pid is believed only when
/// `/proc/<pid>/cmdline` is a `qemu-system-*` whose argv holds `-pidfile <this instance's
/// pidfile>`: a stale pidfile whose pid now belongs to another process (after `kill -9` and a
/// reboot, say) is never signalled or adopted.
struct GuestProcess: Sendable {
    let paths: InstancePaths
    let runner: any CommandRunner

    /// The pid of the instance's running QEMU, if there is one.
    func pid() -> Int32? {
        guard let bytes = try? FileIO.read(paths.pidfile, count: 32),
              let pid = Int32(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
              pid > 1
        else { return nil }
        return isOurs(pid) ? pid : nil
    }

    /// Whether `pid` is this instance's QEMU and has not exited. Reaps it when it is our child
    /// and has exited (it would otherwise stay a zombie).
    func isOurs(_ pid: Int32) -> Bool {
        guard let stat = try? FileIO.read("/proc/\(pid)/stat", count: 512) else {
            _ = runner.reapDetached(pid)
            return false
        }
        // "pid (comm) S …": the state follows the last ')'. An exited child is a zombie until
        // reaped; reaping it here is what keeps it from staying one.
        if let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count,
           [UInt8(ascii: "Z"), UInt8(ascii: "X")].contains(stat[close + 2]) {
            _ = runner.reapDetached(pid)
            return false
        }
        guard let cmdline = try? FileIO.read("/proc/\(pid)/cmdline", count: 256 << 10) else { return false }
        let args = cmdline.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard let program = args.first, (program.splitBytes("/").last ?? "").hasBytePrefix("qemu-system") else { return false }
        for i in args.indices.dropLast() where args[i].sameBytes(as: "-pidfile") && args[i + 1].sameBytes(as: paths.pidfile) {
            return true
        }
        return false
    }

    /// Waits until `pid` is gone (polling), at most `timeout`. True when it is gone.
    func waitForExit(_ pid: Int32, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isOurs(pid) {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        // A QEMU whose main thread has exited shows as a zombie before its other threads are
        // gone, and cannot be reaped until they are: give our own child a moment to become
        // reapable (one that is not our child, after a restart, is its new parent's to reap).
        for _ in 0..<50 where FileIO.exists("/proc/\(pid)") {
            if runner.reapDetached(pid) != nil { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// SIGKILL, then waits for the process to be gone.
    func kill(_ pid: Int32) async throws {
        guard isOurs(pid) else { return }
        _ = Glibc.kill(pid, SIGKILL)
        guard await waitForExit(pid, timeout: .seconds(10)) else {
            throw NimbusError(.internal, "QEMU process \(pid) of \(paths.dir) did not exit after SIGKILL")
        }
    }
}
