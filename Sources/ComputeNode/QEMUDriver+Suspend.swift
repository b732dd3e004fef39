import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// Suspend as Nova's libvirt driver does it (a managed save): the guest's memory and device
/// state go to `memory.state` through QEMU's own migration stream, and the process exits; resume
/// starts QEMU with the same disks, waiting (`-incoming defer`), and feeds the file back.
///
/// The file is handed to QEMU as a descriptor over the monitor socket (`getfd` + `fd:` URIs),
/// so QEMU needs no path and no shell (`exec:` would run one; `-sandbox spawn=deny` forbids it).
extension QEMUDriver {
    /// Longest a save or restore may take (memory is written at disk speed).
    static let migrationTimeout: Duration = .seconds(600)
    /// No bandwidth cap for a local save (QEMU's default is 32 MiB/s).
    static let migrationBandwidth: Int64 = 1 << 40

    public func suspend(_ id: InstanceID) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            let state = await actualState(paths)
            guard try state.after(.suspend) != nil else { return }
            let process = GuestProcess(paths: paths, runner: runner)
            guard let pid = process.pid() else { throw NimbusError(.conflict, "Instance \(id) has no running guest to suspend") }
            let fd = open(paths.memoryStatePartial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw FileIO.Failure(what: "cannot create", path: paths.memoryStatePartial, code: errno) }
            defer { close(fd) }
            do {
                try await QMPClient(socketPath: paths.qmp).session { s in
                    try s.execute("stop")
                    try s.execute("migrate-set-parameters", ["max-bandwidth": .int(Self.migrationBandwidth)])
                    try s.execute("getfd", ["fdname": "suspend"], passing: fd)
                    try s.execute("migrate", ["uri": "fd:suspend"])
                    try Self.waitForMigration(s)
                    try s.execute("quit")
                }
                guard await process.waitForExit(pid, timeout: .seconds(10)) else { try await process.kill(pid); return }
                try await Blocking.run {
                    guard fsync(fd) == 0 else { throw FileIO.Failure(what: "cannot fsync", path: paths.memoryStatePartial, code: errno) }
                }
                guard rename(paths.memoryStatePartial, paths.memoryState) == 0 else {
                    throw FileIO.Failure(what: "cannot rename to", path: paths.memoryState, code: errno)
                }
                FileIO.syncDirectory(of: paths.memoryState)
            } catch {
                unlink(paths.memoryStatePartial)
                if process.pid() != nil, state == .running { _ = try? await QMPClient(socketPath: paths.qmp).execute("cont") }
                throw error
            }
        }
    }

    public func resume(_ id: InstanceID) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            guard try await actualState(paths).after(.resume) != nil else { return }
            try await resumeLocked(paths)
        }
    }

    /// Starts QEMU waiting for the saved state, restores it, runs the guest, drops the file.
    /// On failure QEMU is stopped and the saved state kept, so a retry can restore it.
    func resumeLocked(_ paths: InstancePaths) async throws {
        let record = try InstanceRecord.load(paths.record)
        let fd = open(paths.memoryState, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIO.Failure(what: "cannot open", path: paths.memoryState, code: errno) }
        defer { close(fd) }
        try await launch(record, paths, incoming: true)
        do {
            try await QMPClient(socketPath: paths.qmp).session { s in
                try s.execute("getfd", ["fdname": "resume"], passing: fd)
                try s.execute("migrate-incoming", ["uri": "fd:resume"])
                try Self.waitForMigration(s)
                try Self.waitWhileIncoming(s)
                try s.execute("cont")
            }
        } catch {
            try? await stopGuest(paths, acpiTimeout: .zero)
            throw error
        }
        unlink(paths.memoryState)
    }

    /// Polls `query-migrate` until the migration completed; throws if it failed or took too long.
    static func waitForMigration(_ s: QMPSession, check: () throws -> Void = {}) throws {
        let deadline = ContinuousClock.now + migrationTimeout
        while true {
            try check()
            let status = try s.execute("query-migrate")["status"]?.stringValue ?? ""
            switch status {
            case "completed": return
            case "failed", "cancelled", "cancelling":
                throw NimbusError(.internal, "QEMU migration \(status)", detail: s.socketPath)
            default:
                guard ContinuousClock.now < deadline else { throw NimbusError(.internal, "QEMU migration did not finish in time") }
                usleep(20_000)
            }
        }
    }

    /// After an incoming migration QEMU leaves `inmigrate` a moment after `query-migrate` says so.
    static func waitWhileIncoming(_ s: QMPSession) throws {
        for _ in 0..<500 {
            if try s.execute("query-status")["status"]?.stringValue != "inmigrate" { return }
            usleep(10_000)
        }
        throw NimbusError(.internal, "QEMU stayed in inmigrate after the restore")
    }
}
