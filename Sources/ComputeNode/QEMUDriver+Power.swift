import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

extension QEMUDriver {
    public func powerOff(_ id: InstanceID, timeout: Duration) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            let state = await actualState(paths)
            guard try state.after(.powerOff) != nil else { return }
            if state == .suspended {   // powered off: the saved memory is discarded
                unlink(paths.memoryState)
                return
            }
            // A paused guest cannot see the power button.
            try await stopGuest(paths, acpiTimeout: state == .running ? timeout : .zero)
        }
    }

    public func powerOn(_ id: InstanceID) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            let state = await actualState(paths)
            guard try state.after(.powerOn) != nil else { return }
            if state == .suspended { return try await resumeLocked(paths) }
            try await stopGuest(paths, acpiTimeout: .zero)   // a crashed or unanswering QEMU
            try await launch(try InstanceRecord.load(paths.record), paths)
        }
    }

    public func reboot(_ id: InstanceID, hard: Bool) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            let state = await actualState(paths)
            _ = try state.after(hard ? .hardReboot : .softReboot)
            if !hard && state == .running {
                if try await softReboot(paths) { return }
            }
            try await hardReboot(paths, state: state)
        }
    }

    /// Nova's libvirt soft reboot: ACPI shutdown, wait for the guest to stop, start it again.
    /// False (nothing done but the power button) when it does not stop in time.
    private func softReboot(_ paths: InstancePaths) async throws -> Bool {
        let process = GuestProcess(paths: paths, runner: runner)
        guard let pid = process.pid() else { return false }
        try await QMPClient(socketPath: paths.qmp).execute("system_powerdown")
        guard await process.waitForExit(pid, timeout: config.softRebootTimeout) else {
            logger.info("soft reboot of \(paths.dir): no shutdown within \(config.softRebootTimeout), resetting")
            return false
        }
        try await launch(try InstanceRecord.load(paths.record), paths)
        return true
    }

    /// A reset of the running QEMU (`system_reset`, then `cont` if it was paused); a fresh start
    /// when there is no answering QEMU. A saved memory state is discarded.
    private func hardReboot(_ paths: InstancePaths, state: PowerState) async throws {
        if [.running, .paused, .crashed].contains(state), GuestProcess(paths: paths, runner: runner).pid() != nil {
            let reset = try? await QMPClient(socketPath: paths.qmp).session { s in
                try s.execute("system_reset")
                if state != .running { try s.execute("cont") }
                return true
            }
            if reset == true { return }
        }
        unlink(paths.memoryState)
        try await stopGuest(paths, acpiTimeout: .zero)
        try await launch(try InstanceRecord.load(paths.record), paths)
    }

    public func pause(_ id: InstanceID) async throws {
        try await monitorAction(id, .pause, command: "stop")
    }

    public func unpause(_ id: InstanceID) async throws {
        try await monitorAction(id, .unpause, command: "cont")
    }

    private func monitorAction(_ id: InstanceID, _ action: PowerAction, command: String) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            guard try await actualState(paths).after(action) != nil else { return }
            try await QMPClient(socketPath: paths.qmp).execute(command)
        }
    }
}
