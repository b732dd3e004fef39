import Foundation
import NimbusCore

/// Interface hot-plug over QMP: `netdev_add` (a tap backend, opened by name in QEMU's network
/// namespace) and `device_add` (virtio-net on the guest's PCI bus, where ACPI hot-plug works on
/// the `pc` machine); `device_del`, waiting until the guest released the device, and
/// `netdev_del`. The record holds the guest's interfaces, so a restart starts it with them.
extension QEMUDriver {
    public func interfaces(_ id: InstanceID) async throws -> [GuestNIC] {
        try InstanceRecord.load(try existing(id).record).spec.nics ?? []
    }

    public func setInterfaces(_ id: InstanceID, _ nics: [GuestNIC]) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            var record = try InstanceRecord.load(paths.record)
            let have = record.spec.nics ?? []
            let wanted = Set(nics.map(\.portID)), present = Set(have.map(\.portID))
            if wanted == present { return }
            let state = await actualState(paths)
            if state == .suspended { throw NimbusError.conflict("a suspended guest keeps its devices until it resumes") }
            if state == .running || state == .paused, GuestProcess(paths: paths, runner: runner).pid() != nil {
                let qmp = QMPClient(socketPath: paths.qmp, timeout: .seconds(10))
                // Each NIC on its own: a guest that holds on to one does not keep the others out.
                var failure: (any Error)?
                for nic in have where !wanted.contains(nic.portID) {
                    do {
                        try await unplug(nic, qmp)
                        record.spec.nics = (record.spec.nics ?? []).filter { $0.portID != nic.portID }
                        try record.save(paths.record)
                    } catch {
                        failure = failure ?? error
                    }
                }
                for nic in nics where !present.contains(nic.portID) {
                    do {
                        try await plug(nic, qmp)
                        record.spec.nics = (record.spec.nics ?? []) + [nic]
                        try record.save(paths.record)
                    } catch {
                        failure = failure ?? error
                    }
                }
                logger.info("interfaces of \(id) now \(record.spec.nics?.map(\.portID) ?? [])")
                if let failure { throw failure }
                return
            }
            // Stopped: the next start has them.
            record.spec.nics = have.filter { wanted.contains($0.portID) } + nics.filter { !present.contains($0.portID) }
            try record.save(paths.record)
        }
    }

    /// The guest's devices by id (`/machine/peripheral`).
    func peripherals(_ qmp: QMPClient) async throws -> Set<String> {
        let list = try await qmp.execute("qom-list", ["path": "/machine/peripheral"])
        return Set((list.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
    }

    func plug(_ nic: GuestNIC, _ qmp: QMPClient) async throws {
        if try await peripherals(qmp).contains(nic.deviceID) { return }
        do {
            try await qmp.execute("netdev_add", ["type": "tap", "id": .string(nic.netdevID), "ifname": .string(nic.device),
                                                 "script": "no", "downscript": "no"])
        } catch let e as QMPError where e.kind == .command && e.message.contains("Duplicate") {
            // left by an attempt that failed after it (the backend is free for the device)
        }
        do {
            try await qmp.execute("device_add", ["driver": "virtio-net-pci", "netdev": .string(nic.netdevID), "id": .string(nic.deviceID),
                                                 "mac": .string(nic.mac), "host_mtu": .int(Int64(nic.mtu))])
        } catch {
            _ = try? await qmp.execute("netdev_del", ["id": .string(nic.netdevID)])
            throw error
        }
    }

    /// Asks the guest to release the device (ACPI eject) and waits until it did, then removes
    /// the backend. A guest that does not let go in time (paused, or no hot-plug support) keeps
    /// it: the error makes the agent try again.
    func unplug(_ nic: GuestNIC, _ qmp: QMPClient) async throws {
        if try await peripherals(qmp).contains(nic.deviceID) {
            do {
                try await qmp.execute("device_del", ["id": .string(nic.deviceID)])
            } catch let e as QMPError where e.kind == .command && e.message.contains("already in the process of unplug") {}
            let deadline = ContinuousClock.now + .seconds(20)
            while try await peripherals(qmp).contains(nic.deviceID) {
                guard ContinuousClock.now < deadline else {
                    throw NimbusError.conflict("the guest has not released \(nic.deviceID) yet")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        do {
            try await qmp.execute("netdev_del", ["id": .string(nic.netdevID)])
        } catch let e as QMPError where e.kind == .command && e.message.contains("not found") {}
    }
}
