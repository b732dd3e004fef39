import ComputeNode
import Foundation
import NimbusCore

/// Rebuild of a volume-backed server, as Nova's `_rebuild_default_impl` does it with
/// `_rebuild_volume_backed_instance`: the node stops and destroys the guest (`rebuilding`);
/// the controller swaps the root volume's attachment for a reserved one, has Cinder re-image it
/// (2.93, `os-reimage` with `reimage_reserved`) and connects it to the host again
/// (`rebuild_block_device_mapping`); the node builds the guest anew around its volumes
/// (`rebuild_spawning`). Before 2.93 the volume is kept as it is (only the same image).
extension ComputeService {
    /// Task arguments: the rebuild goes round the volumes; the image the root volume gets.
    static let volumeRebuild = ComputeAgent.volumeRebuild
    static let reimageWith = "reimage_image"

    /// Nova's API checks (`compute/api.py` rebuild): without 2.93 the image must be the one the
    /// root volume holds (ImageUnacceptable); every volume must be `in-use` (check_attached).
    /// Returns whether the root volume is re-imaged.
    func checkVolumeRebuild(_ i: Instance, image: ImageInfo, reimage: Bool, caller: AuthContext) async throws -> Bool {
        guard let volumes else { throw NimbusError.conflict("The block storage service is not available.") }
        guard let root = i.volumes.first(where: { $0.bootIndex == 0 }) else {
            throw NimbusError(.internal, "Unable to find root block device mapping for volume-backed instance.")
        }
        let rootVolume = try await volumes.volume(root.volumeID, caller: caller)
        let original = rootVolume?.imageMetadata["image_id"]
        if !reimage, original?.sameBytes(as: image.id) != true {
            throw NimbusError.badRequest("Image \(image.id) is unacceptable: Unable to rebuild with a different image for a volume-backed server.")
        }
        // Nova's _validate_flavor_image_nostatus with the root BDM: the image must fit the root
        // volume (checked here, before the guest is torn down, not by Cinder's re-image later).
        if reimage, let size = rootVolume?.sizeGB, size > 0 {
            let volumeBytes = Int64(size) << 30
            if let bytes = image.size, bytes > volumeBytes {
                throw NimbusError.badRequest("Volume is smaller than the minimum size specified in image metadata. Volume size is \(volumeBytes) bytes, minimum size is \(bytes) bytes.")
            }
            if Int64(image.minDiskGB) << 30 > volumeBytes {
                throw NimbusError.badRequest("Volume is smaller than the minimum size specified in image metadata. Volume size is \(volumeBytes) bytes, minimum size is \(Int64(image.minDiskGB) << 30) bytes.")
            }
        }
        for v in i.volumes {
            let status = try await volumes.status(volumeID: v.volumeID) ?? "deleted"
            guard status == "in-use" else {
                throw NimbusError.badRequest("Invalid volume: volume '\(v.volumeID)' status must be 'in-use'. Currently in '\(status)' status")
            }
        }
        return reimage
    }

    /// Whether the node's part of a rebuild is done and the controller's is next.
    static func volumeRebuildHandsOver(_ task: TaskState, _ i: Instance, done: Bool) -> Bool {
        done && task == .rebuilding && i.taskArguments[volumeRebuild] == "true"
    }

    /// The node destroyed the guest: the volumes' part, then the node builds it again.
    func startVolumeRebuild(_ id: String, host: String) {
        guard volumeRebuilds.withLock({ $0.insert(id).inserted }) else { return }
        Task {
            defer { _ = volumeRebuilds.withLock { $0.remove(id) } }
            await rebuildVolumes(id, host: host)
        }
    }

    /// Each step is recorded on the instance (the root attachment reserved, then attaching), so
    /// a controller restarted half-way goes on from where it was (`desired` starts it again).
    func rebuildVolumes(_ id: String, host: String) async {
        do {
            guard let volumes, let i = try await instances.get(id), i.taskState == .rebuildBlockDeviceMapping else { return }
            if let imageID = i.taskArguments[Self.reimageWith], var root = i.volumes.first(where: { $0.bootIndex == 0 }) {
                if root.state == .attached {
                    // Nova's _detach_root_volume: a new attachment without a connector, the old one deleted.
                    let reserved = try await reservation(replacing: root, instance: id)
                    let old = root.attachmentID
                    let swapped = try? await instances.modify(id) { m in
                        guard m.taskState == .rebuildBlockDeviceMapping,
                              let k = m.volumes.firstIndex(where: { $0.attachmentID == old && $0.state == .attached }) else { throw Superseded() }
                        m.volumes[k].attachmentID = reserved
                        m.volumes[k].socketPath = ""
                        m.volumes[k].export = ""
                        m.volumes[k].state = .reserved
                    }
                    guard swapped != nil else {
                        try? await volumes.detach(attachmentID: reserved)
                        return
                    }
                    try await volumes.detach(attachmentID: old)
                    root.attachmentID = reserved
                    root.state = .reserved
                }
                if root.state == .reserved {
                    // The old connection of a swap that a restart interrupted goes now.
                    try await dropStrayAttachments(of: root, instance: id, keeping: nil)
                    try await volumes.reimage(volumeID: root.volumeID, imageID: imageID)
                    let device = root.device.isEmpty ? Self.nextDevice(i) : root.device
                    let c = try await volumes.connect(attachmentID: root.attachmentID, host: host, mountpoint: device)
                    let attachment = root.attachmentID
                    _ = try await instances.modify(id) { m in
                        guard m.taskState == .rebuildBlockDeviceMapping,
                              let k = m.volumes.firstIndex(where: { $0.attachmentID == attachment && $0.state == .reserved }) else { throw Superseded() }
                        if m.volumes[k].device.isEmpty { m.volumes[k].device = device }
                        m.volumes[k].connect(c)
                    }
                }
            }
            _ = try await instances.modify(id) { m in
                guard m.taskState == .rebuildBlockDeviceMapping else { throw Superseded() }
                m.taskState = .rebuildSpawning
            }
            nodes.poke()
        } catch is Superseded {
            return
        } catch {
            logger.error("rebuild of the volumes of \(id) failed: \(error)")
            let failed = try? await instances.modify(id) { m in
                guard m.taskState == .rebuildBlockDeviceMapping else { throw Superseded() }
                Self.finish(.rebuildBlockDeviceMapping, &m, done: false, powerState: PowerState.noState.rawValue, message: String(describing: error))
            }
            if failed != nil {
                try? await actions.event(id, name: "compute_rebuild_instance", host: host, result: "Error", traceback: String(describing: error),
                                         finishAction: true)
            }
        }
    }
}
