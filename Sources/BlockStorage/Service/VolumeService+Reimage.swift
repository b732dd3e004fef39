import NimbusCore

/// Cinder 3.68 `os-reimage`: a volume's bytes replaced by an image's, in place (the volume keeps
/// its id, size, type and attachments). Nova 2.93 uses it to rebuild a volume-backed server with
/// `reimage_reserved`, after swapping the server's attachment for a reserved one.
extension VolumeService {
    /// Checks and starts a re-image: the volume `available` or `error` (also `reserved` with
    /// `reimageReserved`), attached to at most one server; the image active and fitting the
    /// volume. The volume is `downloading` until the bytes are in place, then back to its
    /// previous status (`error` when writing failed). An image Nova made of a volume-backed
    /// server re-images from its boot snapshot, as Cinder's `_get_image_snapshot_and_check_size`.
    public func reimage(_ id: String, imageID: String, reimageReserved: Bool, actor: VolumeActor, caller: AuthContext) async throws {
        guard let images else { throw NimbusError(.notImplemented, "Re-imaging volumes needs the image service.") }
        // Looked up outside the write (it asks another service); Glance's 404 is Cinder's.
        guard let image = try await images.image(imageID, caller: caller), image.id.sameBytes(as: imageID) else {
            throw NimbusError.notFound("Image \(imageID) could not be found.")
        }
        let volumeSize = state[.volume, id]?["size"]?.intValue ?? 0
        var bootSnapshot: String?
        if let boot = Self.novaBootMapping(image) {
            if let needed = boot.volumeSize, needed > volumeSize {
                throw NimbusError.badRequest("Volume size must be greater than the image size. (Image: \(needed), Volume: \(volumeSize)).")
            }
            guard let snap = state[.snapshot, boot.snapshotID], visible(snap, actor) else {
                throw NimbusError.notFound("Nova specific image is found, but boot volume snapshot id:\(boot.snapshotID) not found.")
            }
            bootSnapshot = boot.snapshotID
        }
        let expected = reimageReserved ? ["available", "error", "reserved"] : ["available", "error"]
        let (size, previous): (Int64, String) = try await write { s in
            guard var v = s[.volume, id], self.visible(v, actor) else { throw VolumeFault.volumeNotFound(id) }
            if s.attachments(of: id).count > 1 {
                throw NimbusError.conflict("Cannot re-image a volume which is attached to more than one server.")
            }
            let status = v["status"]?.stringValue ?? ""
            // Stricter than Cinder: a volume an admin reset to `error` while a guest still has it
            // connected is not rewritten under the guest (its export would keep the old bytes).
            if s.attachments(of: id).contains(where: { ["attaching", "attached"].contains($0["attach_status"]?.stringValue ?? "") })
                || !Self.legacyExports(v).isEmpty {
                throw VolumeFault.invalidVolume("Volume \(id) is connected to a server; it cannot be re-imaged while attached.")
            }
            guard expected.contains(status) else {
                throw VolumeFault.invalidVolume("Volume \(id) status must be \(expected.joined(separator: " or ")), but current status is \(status).")
            }
            let size = v["size"]?.intValue ?? 1
            if let snap = bootSnapshot {
                guard s[.snapshot, snap]?["status"]?.stringValue == "available" else {
                    throw VolumeFault.invalidSnapshot("Originating snapshot status must be one of 'available' values")
                }
            } else {
                // volume_utils.check_image_metadata
                guard image.status == "active" else { throw VolumeFault.invalidInput("Image \(image.id) is not active.") }
                let imageGB = ((image.size ?? 0) + Self.gib - 1) / Self.gib
                if imageGB > size {
                    throw VolumeFault.invalidInput("Size of specified image \(imageGB)GB is larger than volume size \(size)GB.")
                }
                if size < image.minDiskGB {
                    throw VolumeFault.invalidInput("Volume size \(size)GB cannot be smaller than the image minDisk size \(image.minDiskGB)GB.")
                }
            }
            v["previous_status"] = .string(status)
            v["status"] = "downloading"
            // Marks a re-image for `recover`: the old bytes stay until the new ones are renamed
            // into place, so an interrupted re-image keeps the volume's bytes (status `error`).
            v["reimaging"] = .string(image.id)
            v["updated_at"] = .string(Self.now())
            s.put(.volume, v)
            return (size, status)
        }
        let fromSnapshot = bootSnapshot
        background(id, "re-imaging volume", {
            let source: VolumeSource
            if let bootSnapshot = fromSnapshot { source = .snapshot(bootSnapshot) } else { source = .image(try await images.source(image.id)) }
            try await self.backend.create(volume: id, sizeGB: size, from: source)
            try await self.write { s in
                guard var v = s[.volume, id] else { return }
                // Cinder returns to the previous status; an attachment deleted meanwhile (the
                // server of a reserved volume went) is taken into account, as a detach would.
                v["status"] = .string(previous == "error" ? "error" : Self.statuses(from: s.attachments(of: id)).status)
                v["previous_status"] = "downloading"
                v["reimaging"] = nil
                v["volume_image_metadata"] = .object(Self.imageMetadata(image))
                v["updated_at"] = .string(Self.now())
                s.put(.volume, v)
            }
            // Cinder then sends Nova `volume-reimaged` for a reserved volume; Nimbus' compute
            // service (2.93 rebuild) instead waits for the status to leave `downloading`.
        }, onFailure: { _ in
            try? await self.write { s in
                guard var v = s[.volume, id] else { return }
                v["status"] = "error"
                v["previous_status"] = "downloading"
                v["reimaging"] = nil
                v["updated_at"] = .string(Self.now())
                s.put(.volume, v)
            }
        })
    }

    /// The boot mapping of an image Nova made of a volume-backed server (`source_type` snapshot,
    /// `boot_index` 0, in its `block_device_mapping` property, as Cinder's `_get_image_snapshot`
    /// finds it): its snapshot and size.
    static func novaBootMapping(_ image: VolumeImage) -> (snapshotID: String, volumeSize: Int64?)? {
        guard let text = image.properties[Name("block_device_mapping")],
              let mappings = try? JSONValue.parse(Array(text.utf8)).arrayValue else { return nil }
        guard let boot = mappings.first(where: { $0["source_type"]?.stringValue == "snapshot" && $0["boot_index"]?.intValue == 0 }),
              let snap = boot["snapshot_id"]?.stringValue else { return nil }
        return (snap, boot["volume_size"]?.intValue)
    }
}
