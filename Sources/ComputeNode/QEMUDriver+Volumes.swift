import Foundation
import NimbusCore

/// Volume hot-plug over QMP: `blockdev-add` of a raw node over the storage node's NBD export and
/// `device_add` of a virtio-blk disk (serial: the volume id); `device_del`, waiting until the
/// guest released the disk, and `blockdev-del`. The record holds the guest's volumes, so a
/// restart starts it with them.
extension QEMUDriver {
    public func volumes(_ id: InstanceID) async throws -> [GuestVolume] {
        try InstanceRecord.load(try existing(id).record).spec.volumes ?? []
    }

    public func setVolumes(_ id: InstanceID, _ volumes: [GuestVolume]) async throws {
        try await converge(id, volumes, in: \.volumes, key: \.attachmentID, what: "volumes",
                           plug: { try await self.plug($0, $1) }, unplug: { try await self.unplug($0, $1) })
        try await resize(id, volumes)
    }

    /// Grows the guest's disks of volumes extended while attached. A stopped guest only has
    /// its record changed: its next start connects afresh and sees the new size.
    func resize(_ id: InstanceID, _ wanted: [GuestVolume]) async throws {
        try await locks.withLock(id) {
            let paths = try existing(id)
            var record = try InstanceRecord.load(paths.record)
            let changed = GuestVolume.resized(have: record.spec.volumes ?? [], wanted: wanted)
            if changed.isEmpty { return }
            // A suspended guest is not running (its memory is on disk): like a stopped one, only
            // its record changes, as libvirt's driver skips the resize of a guest not running.
            let state = await actualState(paths)
            let running = (state == .running || state == .paused) && GuestProcess(paths: paths, runner: runner).pid() != nil
            let qmp = QMPClient(socketPath: paths.qmp, timeout: .seconds(10))
            for v in changed {
                if running { try await grow(v, qmp) }
                if let k = record.spec.volumes?.firstIndex(where: { $0.attachmentID == v.attachmentID }) {
                    record.spec.volumes?[k].sizeBytes = v.sizeBytes
                    try record.save(paths.record)
                }
                logger.info("volume \(v.volumeID) of \(id) is \(v.sizeBytes ?? 0) bytes now")
            }
        }
    }

    /// An NBD client cannot grow its node, so the raw node the disk reads is moved onto a new
    /// connection to the export (which the storage node grew), and `block_resize` of the raw
    /// node to that size tells the guest (a virtio config change). The old connection goes.
    func grow(_ v: GuestVolume, _ qmp: QMPClient) async throws {
        guard let want = v.sizeBytes else { return }
        func sizes() async throws -> [String: UInt64] {
            let nodes = try await qmp.execute("query-named-block-nodes", ["flat": true]).arrayValue ?? []
            var out = [String: UInt64]()
            for n in nodes {
                if let name = n["node-name"]?.stringValue { out[name] = n["image"]?["virtual-size"]?.intValue.map { UInt64(max(0, $0)) } ?? 0 }
            }
            return out
        }
        let before = try await sizes()
        // Not plugged (yet): the plug connects afresh and sees the size.
        guard let current = before[v.nodeName], current < want else { return }
        // The connection in use is `-a` or `-b` after a grow (the one given at plug time has no
        // name and goes by itself once nothing uses it); the new one is the other.
        let a = v.nodeName + "-a", b = v.nodeName + "-b"
        let (fresh, old) = before[a] != nil ? (b, a) : (a, before[b] != nil ? b : nil)
        if before[fresh] != nil { _ = try? await qmp.execute("blockdev-del", ["node-name": .string(fresh)]) }
        try await qmp.execute("blockdev-add", QEMUSystem.nbdNode(v, name: fresh))
        let served = try await sizes()[fresh] ?? 0
        guard served >= want else {
            _ = try? await qmp.execute("blockdev-del", ["node-name": .string(fresh)])
            throw NimbusError.conflict("the storage node serves \(v.volumeID) with \(served) bytes, not \(want) yet")
        }
        var raw = QEMUSystem.volumeNode(v)
        raw["file"] = .string(fresh)
        try await qmp.execute("blockdev-reopen", ["options": [.object(raw)]])
        try await qmp.execute("block_resize", ["node-name": .string(v.nodeName), "size": .int(Int64(served))])
        if let old { _ = try? await qmp.execute("blockdev-del", ["node-name": .string(old)]) }
    }

    func blockNodes(_ qmp: QMPClient) async throws -> Set<String> {
        let nodes = try await qmp.execute("query-named-block-nodes", ["flat": true])
        return Set((nodes.arrayValue ?? []).compactMap { $0["node-name"]?.stringValue })
    }

    func plug(_ v: GuestVolume, _ qmp: QMPClient) async throws {
        // Plugged by an attempt that failed after the device came (the limits again: idempotent).
        if try await peripherals(qmp).contains(v.deviceID) { return try await throttle(v, qmp) }
        if !(try await blockNodes(qmp).contains(v.nodeName)) {
            try await qmp.execute("blockdev-add", QEMUSystem.volumeNode(v))
        }
        do {
            try await qmp.execute("device_add", ["driver": "virtio-blk-pci", "drive": .string(v.nodeName), "id": .string(v.deviceID),
                                                 "serial": .string(v.serial)])
        } catch {
            _ = try? await qmp.execute("blockdev-del", ["node-name": .string(v.nodeName)])
            throw error
        }
        try await throttle(v, qmp)
    }

    /// Applies the volume's I/O limits to its disk (nothing when it has none).
    func throttle(_ v: GuestVolume, _ qmp: QMPClient) async throws {
        guard let args = QEMUSystem.throttleArguments(v) else { return }
        try await qmp.execute("block_set_io_throttle", args)
    }

    /// Asks the guest to release the disk (ACPI eject) and waits until it did, then closes the
    /// NBD connection. A guest that does not let go in time keeps it: the agent tries again.
    func unplug(_ v: GuestVolume, _ qmp: QMPClient) async throws {
        if try await peripherals(qmp).contains(v.deviceID) {
            do {
                try await qmp.execute("device_del", ["id": .string(v.deviceID)])
            } catch let e as QMPError where e.kind == .command && e.message.contains("already in the process of unplug") {}
            let deadline = ContinuousClock.now + .seconds(20)
            while try await peripherals(qmp).contains(v.deviceID) {
                guard ContinuousClock.now < deadline else { throw NimbusError.conflict("the guest has not released \(v.deviceID) yet") }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        if try await blockNodes(qmp).contains(v.nodeName) {
            try await qmp.execute("blockdev-del", ["node-name": .string(v.nodeName)])
        }
    }
}
