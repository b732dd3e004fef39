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
        try await converge(id, nics, in: \.nics, key: \.portID, what: "interfaces",
                           plug: { try await self.plug($0, $1) }, unplug: { try await self.unplug($0, $1) })
    }

    /// Makes the guest's devices of one kind (NICs, volumes) the `wanted` ones, by `key`: into a
    /// running or paused guest they are hot-plugged and unplugged one by one (a device the guest
    /// holds on to does not keep the others out; the first error is thrown after the rest were
    /// tried), each change saved in the record at once; a stopped guest gets them at its next
    /// start; a suspended one keeps its devices until it resumes (`.conflict`).
    func converge<Item: Sendable>(_ id: InstanceID, _ wanted: [Item], in field: WritableKeyPath<InstanceSpec, [Item]?>, key: KeyPath<Item, String>,
                                  what: String, plug: (Item, QMPClient) async throws -> Void,
                                  unplug: (Item, QMPClient) async throws -> Void) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            var record = try InstanceRecord.load(paths.record)
            let have = record.spec[keyPath: field] ?? []
            let wantedKeys = Set(wanted.map { $0[keyPath: key] }), present = Set(have.map { $0[keyPath: key] })
            if wantedKeys == present { return }
            let state = await actualState(paths)
            if state == .suspended { throw NimbusError.conflict("a suspended guest keeps its devices until it resumes") }
            if state == .running || state == .paused, GuestProcess(paths: paths, runner: runner).pid() != nil {
                let qmp = QMPClient(socketPath: paths.qmp, timeout: .seconds(10))
                var failure: (any Error)?
                for item in have where !wantedKeys.contains(item[keyPath: key]) {
                    do {
                        try await unplug(item, qmp)
                        record.spec[keyPath: field] = (record.spec[keyPath: field] ?? []).filter { $0[keyPath: key] != item[keyPath: key] }
                        try record.save(paths.record)
                    } catch {
                        failure = failure ?? error
                    }
                }
                for item in wanted where !present.contains(item[keyPath: key]) {
                    do {
                        try await plug(item, qmp)
                        record.spec[keyPath: field] = (record.spec[keyPath: field] ?? []) + [item]
                        try record.save(paths.record)
                    } catch {
                        failure = failure ?? error
                    }
                }
                logger.info("\(what) of \(id) now \((record.spec[keyPath: field] ?? []).map { $0[keyPath: key] })")
                if let failure { throw failure }
                return
            }
            // Stopped: the next start has them.
            record.spec[keyPath: field] = have.filter { wantedKeys.contains($0[keyPath: key]) } + wanted.filter { !present.contains($0[keyPath: key]) }
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
