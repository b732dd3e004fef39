import Foundation
import NIOCore
import NimbusCore

/// No bytes: the upload that makes a data-less image active (Nova's `force_activate`).
struct EmptyBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    struct AsyncIterator: AsyncIteratorProtocol {
        mutating func next() async throws -> ByteBuffer? { nil }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
}

/// One `block_device_mapping_v2` entry (or a legacy `block_device_mapping` entry turned into
/// one), shape-checked by the API layer.
public struct BlockDeviceRequest: Sendable, Equatable {
    public enum Source: String, Sendable { case image, volume, snapshot, blank }
    public var source: Source
    /// `destination_type` `volume` (else `local`).
    public var toVolume: Bool
    public var uuid: String?
    public var volumeSize: Int?
    /// nil or negative: not a boot device.
    public var bootIndex: Int?
    public var deleteOnTermination: Bool
    public var tag: String?
    public var volumeType: String?
    public var guestFormat: String?
    public init(source: Source, toVolume: Bool, uuid: String? = nil, volumeSize: Int? = nil, bootIndex: Int? = nil,
                deleteOnTermination: Bool = false, tag: String? = nil, volumeType: String? = nil, guestFormat: String? = nil) {
        self.source = source; self.toVolume = toVolume; self.uuid = uuid; self.volumeSize = volumeSize; self.bootIndex = bootIndex
        self.deleteOnTermination = deleteOnTermination; self.tag = tag; self.volumeType = volumeType; self.guestFormat = guestFormat
    }
    var isBootable: Bool { (bootIndex ?? -1) >= 0 }
}

/// Boot from volume, as Nova's compute API and `_prep_block_device` do it with Cinder's new
/// attach flow. The request is checked at once (sources visible, sizes, boot order); volumes
/// to be made from an image, a snapshot or nothing are created in the caller's project while
/// the server is created (their ids are known at once), and a given volume is reserved for the
/// server. Once the server has a host (task `block_device_mapping`) the conductor waits for
/// the new volumes to be `available`, reserves them, connects every attachment to the host,
/// and only then lets the node spawn the guest with the boot volume as its root disk.
extension ComputeService {
    /// How long a volume made for a boot may stay `creating` (Nova's
    /// `block_device_allocate_retries` × `block_device_allocate_retries_interval` is 180 s; a
    /// volume from an image larger than the cache may need longer here).
    static let volumeCreateTimeout: TimeInterval = 600

    /// Moves and rebuilds of a volume-backed instance are not built yet: refused
    /// before anything changes (409, as for a state the action does not allow).
    static func refuseVolumeBacked(_ i: Instance, _ method: String) throws {
        guard i.isVolumeBacked else { return }
        throw NimbusError.conflict("Cannot '\(method)' instance \(i.id): Nimbus does not \(method) volume-backed instances yet.")
    }

    /// createImage of a volume-backed instance (Nova's `snapshot_volume_backed`): each volume is
    /// snapshotted (forced, it is in use) and an image without data is made whose
    /// `block_device_mapping` names the snapshots, so a server booted from it gets volumes made
    /// from them. The image is active at once (size 0).
    func snapshotVolumeBacked(_ i: Instance, name: String, metadata: [Name: String], caller: AuthContext) async throws -> String {
        guard let volumes else { throw NimbusError.conflict("The block storage service is not available.") }
        var mappings = [JSONValue]()
        for v in i.volumes where v.isConnected {
            let snap = try await volumes.snapshotForce(volumeID: v.volumeID, name: "snapshot for \(name)", caller: caller, wait: .seconds(60))
            mappings.append(["source_type": "snapshot", "destination_type": "volume", "snapshot_id": .string(snap.id), "volume_id": .null,
                             "volume_size": .int(Int64(snap.sizeGB)), "boot_index": v.bootIndex.map { .int(Int64($0)) } ?? .null,
                             "device_name": .string(v.device), "delete_on_termination": .bool(v.deleteOnTermination), "tag": JSONValue(v.tag),
                             "guest_format": .null, "device_type": "disk", "disk_bus": "virtio", "image_id": .null, "no_device": .null,
                             "volume_type": .null])
        }
        var properties = metadata
        properties[Name("block_device_mapping")] = JSONValue.array(mappings).serializedString()
        properties[Name("bdm_v2")] = "True"
        properties[Name("root_device_name")] = "/dev/vda"
        var meta = i
        for key in ["block_device_mapping", "bdm_v2", "root_device_name", "mappings"] { meta.imageMeta[Name(key)] = nil }
        let imageID = try await queueSnapshot(of: meta, name: name, metadata: properties, caller: caller)
        do {
            try await images.uploadSnapshot(imageID, diskFormat: "qcow2", size: 0, bytes: EmptyBytes())
        } catch {
            try? await images.deleteImage(imageID)
            throw error
        }
        return imageID
    }

    /// The block device mappings an image names (a volume-backed server's snapshot):
    /// `block_device_mapping` as JSON, v2 entries when `bdm_v2` is true.
    static func imageDefinedBlockDevices(_ image: ImageInfo) -> [BlockDeviceRequest] {
        guard let text = image.properties[Name("block_device_mapping")], image.properties[Name("bdm_v2")].map({ $0.lowercased() == "true" }) == true,
              let list = (try? JSONValue.parse(Array(text.utf8)))?.arrayValue else { return [] }
        return list.compactMap { b -> BlockDeviceRequest? in
            guard let source = b["source_type"]?.stringValue.flatMap(BlockDeviceRequest.Source.init(rawValue:)) else { return nil }
            let uuid: String? = switch source {
            case .snapshot: b["snapshot_id"]?.stringValue
            case .volume: b["volume_id"]?.stringValue
            case .image: b["image_id"]?.stringValue
            case .blank: nil
            }
            // Numbers as Nova's BlockDeviceDict reads them: integers or their strings.
            func number(_ v: JSONValue?) -> Int? {
                switch v {
                case .int(let i)?: Int(exactly: i)
                case .string(let s)?: Int(s)
                default: nil
                }
            }
            return BlockDeviceRequest(source: source, toVolume: b["destination_type"]?.stringValue == "volume", uuid: uuid,
                                      volumeSize: number(b["volume_size"]), bootIndex: number(b["boot_index"]),
                                      deleteOnTermination: b["delete_on_termination"]?.boolValue ?? false, tag: b["tag"]?.stringValue,
                                      volumeType: b["volume_type"]?.stringValue, guestFormat: b["guest_format"]?.stringValue)
        }
    }

    /// What an instance keeps of the image its root volume was made from (Nova's
    /// `get_image_metadata_from_volume`): the image's own attributes (`image_id`, `checksum`,
    /// `size`, …) are not properties; min_disk, min_ram and the formats are kept as for an image.
    static func imageMeta(volumeImageMetadata m: [String: String]) -> [Name: String] {
        let attributes: Set<String> = ["image_id", "image_name", "size", "checksum", "container_format", "disk_format", "min_ram", "min_disk"]
        var meta = [Name: String]()
        for (k, v) in m where !attributes.contains(k) { meta[Name(k)] = v }
        for k in ["min_disk", "min_ram", "disk_format", "container_format"] { if let v = m[k] { meta[Name(k)] = v } }
        return meta
    }

    /// The checked block device mappings of a create: the boot volume (if the root disk is one)
    /// and what each server gets.
    struct BlockDevicePlan: Sendable {
        var devices: [BlockDeviceRequest] = []
        /// The root is a volume (source volume, snapshot, image or blank with boot index 0).
        var volumeBacked: Bool { devices.contains { $0.toVolume && $0.bootIndex == 0 } }
        /// The image a volume-backed server's metadata comes from (Nova's `get_bdm_image_metadata`).
        var rootImageMeta: [Name: String] = [:]
    }

    /// Nova's `_validate_bdm` and `BlockDeviceDict.from_api` checks, and the sizes they fill in.
    func checkBlockDevices(_ r: ServerRequest, flavor: Flavor, image: ImageInfo?, caller: AuthContext) async throws -> BlockDevicePlan {
        var plan = BlockDevicePlan()
        guard !r.blockDevices.isEmpty else { return plan }
        guard let volumes else { throw NimbusError.badRequest("Block Device Mapping is Invalid: the block storage service is not available.") }
        func invalid(_ details: String) -> NimbusError { .badRequest("Block Device Mapping is Invalid: \(details)") }
        var devices = r.blockDevices
        for d in devices {
            if d.source == .blank && d.uuid != nil { throw invalid("Invalid device UUID.") }
            if d.source != .blank && d.uuid == nil { throw invalid("Missing device UUID.") }
            if d.source == .image && !d.toVolume && !(r.imageID != nil && d.bootIndex == 0) { throw invalid("Mapping image to local is not supported.") }
            if !d.toVolume && d.volumeType != nil { throw invalid("Specifying a volume_type with destination_type=local is not supported.") }
            if d.source == .volume && d.volumeType != nil { throw invalid("Specifying volume type to existing volume is not supported.") }
            if d.source == .blank && !d.toVolume {
                // Ephemeral and swap disks come from the flavor; sizes per server are not built.
                throw invalid("Local blank devices (ephemeral, swap) are not supported by Nimbus yet; use a flavor's ephemeral and swap disks.")
            }
            if d.source != .image && !d.toVolume { throw invalid("Mapping \(d.source.rawValue) to local is not supported.") }
        }
        let bootIndexes = devices.compactMap { d in d.isBootable ? d.bootIndex : nil }.sorted()
        if bootIndexes.isEmpty || bootIndexes.enumerated().contains(where: { $0.offset != $0.element }) {
            throw invalid("Boot sequence for the instance and image/block device mapping combination is not valid.")
        }
        if r.maxCount > 1 || r.minCount > 1, devices.contains(where: { $0.source == .volume }) {
            throw NimbusError.badRequest("Cannot attach one or more volumes to multiple instances")
        }
        if devices.filter({ $0.toVolume }).count > Self.maxVolumes { throw Self.tooManyVolumes }
        var seenVolumes = Set<Name>()
        for k in devices.indices {
            let d = devices[k]
            switch d.source {
            case .image:
                let id = d.uuid ?? ""
                if image == nil || !id.sameBytes(as: image?.id ?? "") {
                    guard let found = try await images.image(id, caller: caller), found.status == "active" else {
                        throw invalid("failed to get image \(id).")
                    }
                    if d.bootIndex == 0 { plan.rootImageMeta = Self.systemMetadata(found, flavor: flavor) }
                    if d.toVolume, let size = d.volumeSize, found.minDiskGB > size, d.bootIndex == 0 {
                        throw NimbusError.badRequest("Volume is smaller than the minimum size specified in image metadata. Volume size is \(Int64(size) << 30) bytes, minimum size is \(Int64(found.minDiskGB) << 30) bytes.")
                    }
                    if d.toVolume, let size = d.volumeSize, let bytes = found.size, bytes > Int64(size) << 30 {
                        throw NimbusError.badRequest("Volume is smaller than the minimum size specified in image metadata. Volume size is \(Int64(size) << 30) bytes, minimum size is \(bytes) bytes.")
                    }
                } else if d.bootIndex == 0, let image {
                    plan.rootImageMeta = Self.systemMetadata(image, flavor: flavor)
                }
                if d.toVolume && (d.volumeSize ?? 0) <= 0 {
                    throw invalid("Images with destination_type 'volume' need to have a non-zero size specified")
                }
            case .volume:
                let id = d.uuid ?? ""
                guard seenVolumes.insert(Name(id)).inserted else { throw invalid("failed to get volume \(id).") }
                guard let v = try await volumes.volume(id, caller: caller) else { throw invalid("failed to get volume \(id).") }
                if v.multiattach && !r.multiattachAllowed { throw Self.multiattachTooOld }
                guard v.status == "available" || (v.multiattach && v.status == "in-use") else {
                    throw NimbusError.badRequest("Invalid volume: volume '\(id)' status must be 'available'. Currently in '\(v.status)'")
                }
                devices[k].volumeSize = v.sizeGB
                // Nova's `get_bdm_image_metadata`: a root volume must be bootable.
                if d.bootIndex == 0, image == nil, !v.bootable { throw NimbusError.badRequest("Block Device \(id) is not bootable.") }
                if d.bootIndex == 0 {
                    plan.rootImageMeta = Self.imageMeta(volumeImageMetadata: v.imageMetadata)
                    if let minRam = v.imageMetadata["min_ram"].flatMap(Int.init), minRam > flavor.memoryMB {
                        throw NimbusError.badRequest("Flavor's memory is too small for requested image.")
                    }
                    if let minDisk = v.imageMetadata["min_disk"].flatMap(Int.init), minDisk > v.sizeGB {
                        throw NimbusError.badRequest("Volume is smaller than the minimum size specified in image metadata. Volume size is \(Int64(v.sizeGB) << 30) bytes, minimum size is \(Int64(minDisk) << 30) bytes.")
                    }
                }
            case .snapshot:
                let id = d.uuid ?? ""
                guard let size = try await volumes.snapshotSize(id, caller: caller) else { throw invalid("failed to get snapshot \(id).") }
                devices[k].volumeSize = d.volumeSize ?? size
            case .blank:
                if (d.volumeSize ?? 0) <= 0 { throw invalid("Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size") }
            }
        }
        if image != nil, devices.contains(where: { $0.toVolume && $0.bootIndex == 0 }) == false,
           !devices.contains(where: { $0.source == .image && !$0.toVolume && $0.bootIndex == 0 }) {
            throw invalid("Boot sequence for the instance and image/block device mapping combination is not valid.")
        }
        plan.devices = devices
        return plan
    }

    /// The volumes of one new server: new ones created (in `creating`), given ones reserved.
    /// What was made is undone when a later one fails.
    func provisionVolumes(_ plan: BlockDevicePlan, instance i: Instance, caller: AuthContext) async throws -> [Instance.AttachedVolume] {
        guard let volumes else { return [] }
        var made = [Instance.AttachedVolume]()
        do {
            for d in plan.devices where d.toVolume {
                let device = d.bootIndex == 0 ? "/dev/vda" : ""
                if d.source == .volume, let id = d.uuid {
                    let attachment = try await volumes.reserve(volumeID: id, instance: i.id)
                    made.append(.init(volumeID: id, attachmentID: attachment, device: device, tag: d.tag, deleteOnTermination: d.deleteOnTermination,
                                      socketPath: "", export: "", readOnly: false, state: .reserved, bootIndex: d.bootIndex))
                    continue
                }
                let request = VolumeRequest(name: "", sizeGB: d.volumeSize ?? 1, imageID: d.source == .image ? d.uuid : nil,
                                            snapshotID: d.source == .snapshot ? d.uuid : nil, volumeType: d.volumeType,
                                            availabilityZone: nil)
                let id: String
                do {
                    id = try await volumes.createVolume(request, caller: caller)
                } catch let e as NimbusError where e.kind == .notFound {
                    // Nova answers 400 for a volume type (or source) Cinder does not find.
                    throw NimbusError.badRequest(e.message)
                } catch let e as NimbusError where e.kind == .payloadTooLarge {
                    // Cinder's OverLimit is Nova's OverQuota.
                    throw NimbusError.forbidden(e.message)
                }
                made.append(.init(volumeID: id, attachmentID: "", device: device, tag: d.tag, deleteOnTermination: d.deleteOnTermination,
                                  socketPath: "", export: "", readOnly: false, state: .creating, bootIndex: d.bootIndex))
            }
        } catch {
            await release(made, project: i.projectID, undo: true)
            throw error
        }
        // Device names in request order after the root, as libvirt's driver picks them.
        var named = i
        for k in made.indices where made[k].device.isEmpty {
            named.volumes = made.filter { !$0.device.isEmpty }
            made[k].device = Self.nextDevice(named)
        }
        return made
    }

    /// Lets go of volumes a server no longer has: what is to be done is recorded first (a
    /// restart finishes it), then done as far as the block storage service allows now; the
    /// conductor finishes the rest (a volume still being made is deleted once it is made).
    /// Attachments are deleted; volumes too when marked delete-on-termination, or, when a create
    /// is undone (`undo`), only those it made. `instance`: act only once it is deleted.
    func release(_ list: [Instance.AttachedVolume], project: String, undo: Bool, instance: String? = nil) async {
        await recordRelease(list, project: project, undo: undo, instance: instance)
        // A volume still in transition: the conductor looks again soon.
        if await drainVolumeCleanups(Set(list.map(\.volumeID))) { wakeups.yield() }
    }

    func recordRelease(_ list: [Instance.AttachedVolume], project: String, undo: Bool, instance: String? = nil) async {
        guard volumes != nil, !list.isEmpty else { return }
        let now = Date()
        let entries = list.map { v in
            VolumeCleanupRepository.Entry(volumeID: v.volumeID, attachmentID: v.attachmentID, instanceID: instance, projectID: project,
                                          deleteVolume: undo ? v.state == .creating : v.deleteOnTermination, createdAt: now)
        }
        do { try await volumeCleanups.add(entries) } catch { logger.error("could not record the release of volumes: \(error)") }
    }

    /// Statuses a volume passes through on its way to being deletable.
    static let transitionalVolumeStates: Set<String> = ["creating", "downloading", "reserved", "attaching", "detaching", "deleting", "extending"]

    /// Works through the recorded releases (all, or those of `only`). Returns whether one waits
    /// for a volume still in transition (the conductor looks again soon).
    @discardableResult
    func drainVolumeCleanups(_ only: Set<String>? = nil) async -> Bool {
        guard let volumes, let entries = try? await volumeCleanups.all(), !entries.isEmpty else { return false }
        var waiting = false
        for e in entries where only?.contains(e.volumeID) ?? true {
            if let instance = e.instanceID, let i = try? await instances.get(instance), !i.deleted { continue }
            do {
                if !e.attachmentID.isEmpty { try await volumes.detach(attachmentID: e.attachmentID) }
                if e.deleteVolume, let status = try await volumes.status(volumeID: e.volumeID) {
                    if Self.transitionalVolumeStates.contains(status), Date().timeIntervalSince(e.createdAt) < Self.volumeCreateTimeout {
                        waiting = true
                        continue
                    }
                    // With the server's project's rights: only a volume of that project goes.
                    try await volumes.deleteVolume(e.volumeID, project: e.projectID)
                }
                try await volumeCleanups.remove(e)
            } catch let error as NimbusError where error.kind == .badRequest || error.kind == .conflict || error.kind == .notFound {
                // Taken meanwhile (the conductor's reserve for the server being deleted, which it
                // undoes when it sees the deletion): try again once the volume rests.
                if let status = try? await volumes.status(volumeID: e.volumeID), Self.transitionalVolumeStates.contains(status),
                   Date().timeIntervalSince(e.createdAt) < Self.volumeCreateTimeout {
                    waiting = true
                    continue
                }
                // Cinder will not (a snapshot depends on it, …): the volume stays, as under Nova.
                logger.error("volume \(e.volumeID) let go by a server stays: \(error)")
                try? await volumeCleanups.remove(e)
            } catch {
                // The storage node did not answer (busy, restarting): again soon, not at the
                // next tick, for as long as a volume may take to settle.
                logger.error("could not release volume \(e.volumeID) yet: \(error)")
                if Date().timeIntervalSince(e.createdAt) < Self.volumeCreateTimeout { waiting = true }
            }
        }
        return waiting
    }

    /// The conductor's block device pass: every placed instance waiting for its volumes gets
    /// them made, reserved and connected to its host, then spawns. Returns whether some
    /// instance still waits (the conductor looks again soon).
    @discardableResult
    func prepareBlockDevices() async throws -> Bool {
        var waiting = false
        for i in try await instances.inTask(.blockDeviceMapping) where !i.deleted && i.host != nil {
            do {
                if try await prepareBlockDevices(i) { waiting = true }
            } catch {
                logger.error("block devices of \(i.id) failed: \(error)")
                try await failBlockDevices(i.id, message: String(describing: error))
            }
        }
        return waiting
    }

    /// One instance's step; true while a volume is still being made.
    func prepareBlockDevices(_ i: Instance) async throws -> Bool {
        guard let volumes, let host = i.host else { return false }
        var pending = false
        for v in i.volumes where v.state == .creating {
            let status = try await volumes.status(volumeID: v.volumeID)
            switch status {
            case "available"?:
                let attachment = try await volumes.reserve(volumeID: v.volumeID, instance: i.id)
                try await record(i.id, attachment: attachment) { m in
                    guard let k = m.volumes.firstIndex(where: { $0.volumeID == v.volumeID && $0.state == .creating }) else { return false }
                    m.volumes[k].attachmentID = attachment
                    m.volumes[k].state = .reserved
                    return true
                }
            case "creating"?, "downloading"?:
                let waited = Date().timeIntervalSince(i.createdAt)
                if waited > Self.volumeCreateTimeout {
                    throw NimbusError(.internal, "Volume \(v.volumeID) did not finish being created even after we waited \(Int(waited)) seconds or \(Int(waited * 2)) attempts. And its status is creating.")
                }
                pending = true
            default:
                throw NimbusError(.internal, "Volume \(v.volumeID) did not finish being created even after we waited 0 seconds or 1 attempts. And its status is \(status ?? "deleted").")
            }
        }
        guard let now = try await instances.get(i.id), !now.deleted, now.taskState == .blockDeviceMapping else { return false }
        for v in now.volumes where v.state == .reserved {
            let c = try await volumes.connect(attachmentID: v.attachmentID, host: host, mountpoint: v.device)
            try await record(i.id, attachment: nil) { m in
                guard let k = m.volumes.firstIndex(where: { $0.attachmentID == v.attachmentID && $0.state == .reserved }) else { return false }
                m.volumes[k].connect(c)
                return true
            }
        }
        if pending { return true }
        let ready = try? await instances.modify(i.id) { m in
            guard !m.deleted, m.taskState == .blockDeviceMapping, m.volumes.allSatisfy(\.isConnected) else { throw Superseded() }
            m.taskState = .spawning
        }
        if ready != nil {
            try await actions.event(i.id, action: "create", name: "compute__do_build_and_run_instance", host: i.host)
            nodes.poke()
        }
        return false
    }

    /// Records a step in the instance's row; when the row says no (deleted, or another pass
    /// did it), the attachment just made goes again.
    private func record(_ id: String, attachment: String?, _ change: @escaping @Sendable (inout Instance) -> Bool) async throws {
        let done = try? await instances.modify(id) { m in
            guard !m.deleted, m.taskState == .blockDeviceMapping, change(&m) else { throw Superseded() }
        }
        if done == nil, let attachment { try? await volumes?.detach(attachmentID: attachment) }
    }

    /// A boot whose volumes could not be made ends ERROR (Nova's BuildAbortException: no
    /// reschedule); the volumes stay with the server until it is deleted.
    func failBlockDevices(_ id: String, message: String) async throws {
        let failed = try? await instances.modify(id) { cur in
            guard !cur.deleted, cur.taskState == .blockDeviceMapping else { throw Superseded() }
            cur.vmState = .error
            cur.taskState = nil
            cur.fault = Instance.Fault(code: 500, message: "Build of instance \(id) aborted: \(message)", details: message)
        }
        guard let failed else { return }
        // Nova's `_cleanup_volumes` after an aborted build: every attachment goes, and the
        // delete-on-termination volumes; the server keeps none.
        await release(failed.volumes, project: failed.projectID, undo: false)
        _ = try? await instances.modify(id) { cur in cur.volumes = [] }
        try await placement.release(consumer: id)
        try await actions.event(id, action: "create", name: "compute__do_build_and_run_instance", host: failed.host, result: "Error",
                                traceback: message, finishAction: true)
    }
}
