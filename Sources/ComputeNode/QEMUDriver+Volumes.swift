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
    }

    func blockNodes(_ qmp: QMPClient) async throws -> Set<String> {
        let nodes = try await qmp.execute("query-named-block-nodes", ["flat": true])
        return Set((nodes.arrayValue ?? []).compactMap { $0["node-name"]?.stringValue })
    }

    func plug(_ v: GuestVolume, _ qmp: QMPClient) async throws {
        if try await peripherals(qmp).contains(v.deviceID) { return }
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
