import ComputeNode
import Foundation
import NimbusCore

/// Nova's volume attach and detach (`os-volume_attachments`) with Cinder's new attach flow: the
/// attachment is made and connected first (the storage node exports the volume), the instance's
/// node hot-plugs the export and reports it, and only then is the attachment completed (the
/// volume `in-use`). A detach takes the disk out of the guest first and deletes the attachment
/// once the node no longer has it.
extension ComputeService {
    static let volumeStates: Set<VMState> = [.active, .paused, .stopped, .resized, .shelved, .shelvedOffloaded]
    /// The most volumes a server may have (Nova's `max_disk_devices_to_attach` is unlimited by
    /// default; the `pc` machine's PCI bus is not).
    public static let maxVolumes = 16

    /// The device name the next volume gets (`/dev/vdb`, `/dev/vdc`, …), as libvirt's driver
    /// picks it for virtio disks after the root (and ephemeral, swap) disks.
    static func nextDevice(_ i: Instance) -> String {
        var used = Set(i.volumes.map(\.device))
        used.insert("/dev/vda")
        if i.flavor.ephemeralGB > 0 { used.insert("/dev/vdb") }
        if i.flavor.swapMB > 0 { used.insert(i.flavor.ephemeralGB > 0 ? "/dev/vdc" : "/dev/vdb") }
        for c in UInt8(ascii: "b")...UInt8(ascii: "z") {
            let name = "/dev/vd" + String(UnicodeScalar(c))
            if !used.contains(name) { return name }
        }
        return "/dev/vdz"
    }

    /// Attaches a volume the caller may see; returns the instance's record of it.
    /// Nova's MultiattachNotSupportedOldMicroversion.
    static var multiattachTooOld: NimbusError {
        NimbusError.badRequest("Multiattach volumes are only supported starting with compute API version 2.60.")
    }

    public func attachVolume(_ i: Instance, volumeID: String, device: String?, tag: String?, deleteOnTermination: Bool, caller: AuthContext,
                             lockOverride: Bool, requestID: String, multiattachAllowed: Bool = true) async throws -> Instance.AttachedVolume {
        guard let volumes else { throw NimbusError.badRequest("The block storage service is not available.") }
        try Self.checkLock(i, caller: caller, override: lockOverride)
        try Self.checkState(i, vm: Self.volumeStates, task: [nil], method: "attach_volume")
        // A shelved-offloaded server has no host: the volume is reserved and marked in use now,
        // and connected when the server is unshelved (Nova's `_attach_volume_shelved_offloaded`).
        let offloaded = i.vmState == .shelvedOffloaded
        guard offloaded || i.host != nil else {
            throw NimbusError.conflict("Cannot 'attach_volume' instance \(i.id) while it is in vm_state \(i.vmState.rawValue)")
        }
        guard let volume = try await volumes.volume(volumeID, caller: caller) else {
            throw NimbusError.notFound("Volume \(volumeID) could not be found.")
        }
        if i.volumes.contains(where: { $0.volumeID == volumeID }) {
            throw NimbusError.badRequest("Invalid volume: volume \(volumeID) already attached")
        }
        if volume.multiattach && !multiattachAllowed { throw Self.multiattachTooOld }
        // Nova's `_check_volume_already_attached`: Cinder's own check is gone once an admin reset
        // an attached volume to available, so the servers' mappings decide.
        if !volume.multiattach {
            let holders = try await instances.holding(volume: volumeID)
            if !holders.isEmpty {
                throw NimbusError.badRequest("Invalid volume: volume \(volumeID) is already attached to instances: \(holders.map(\.id).joined(separator: " "))")
            }
        }
        guard volume.status == "available" || (volume.multiattach && volume.status == "in-use") else {
            throw NimbusError.badRequest("Invalid volume: volume '\(volumeID)' status must be 'available'. Currently in '\(volume.status)'")
        }
        guard i.volumes.count < Self.maxVolumes else { throw Self.tooManyVolumes }
        _ = device   // Nova ignores the requested name under libvirt and picks the next free one.
        var attached: Instance.AttachedVolume
        if offloaded {
            let attachmentID = try await volumes.reserve(volumeID: volumeID, instance: i.id)
            attached = Instance.AttachedVolume(volumeID: volumeID, attachmentID: attachmentID, device: "", tag: tag,
                                               deleteOnTermination: deleteOnTermination, socketPath: "", export: "", readOnly: false, state: .reserved)
        } else {
            let connection = try await volumes.attach(volumeID: volumeID, instance: i.id, host: i.host ?? "", mountpoint: Self.nextDevice(i), caller: caller)
            attached = Instance.AttachedVolume(volumeID: volumeID, attachmentID: connection.attachmentID, device: "", tag: tag,
                                               deleteOnTermination: deleteOnTermination, socketPath: connection.socketPath,
                                               export: connection.export, readOnly: connection.readOnly, state: .attaching)
            attached.qos = connection.qos
        }
        do {
            // Checked again in the row's transaction (Nova's instance lock): concurrent attaches
            // neither add one volume twice, nor pass the limit, nor share a device name.
            let updated = try await instances.modify(i.id) { [attached] m in
                guard !m.deleted else { throw NimbusError.notFound("Instance \(i.id) could not be found.") }
                if m.volumes.contains(where: { $0.volumeID == volumeID }) {
                    throw NimbusError.badRequest("Invalid volume: volume \(volumeID) already attached")
                }
                guard m.volumes.count < Self.maxVolumes else { throw Self.tooManyVolumes }
                // Offloaded while the request ran, or unshelved: the reservation is what it has.
                guard (m.vmState == .shelvedOffloaded && m.host == nil) == offloaded else {
                    throw NimbusError.conflict("Cannot 'attach_volume' instance \(i.id) while it is in vm_state \(m.vmState.rawValue)")
                }
                var made = attached
                // Named when it is connected: now, or at the unshelve (Nova: null until then).
                if !offloaded { made.device = Self.nextDevice(m) }
                m.volumes.append(made)
            }
            if let made = updated?.volumes.first(where: { $0.attachmentID == attached.attachmentID }) { attached = made }
            if offloaded { try await volumes.complete(attachmentID: attached.attachmentID) }
        } catch {
            try? await volumes.detach(attachmentID: attached.attachmentID)
            _ = try? await instances.modify(i.id) { [attached] m in m.volumes.removeAll { $0.attachmentID == attached.attachmentID } }
            throw error
        }
        try await actions.start(i, action: "attach_volume", requestID: requestID, caller: caller)
        nodes.poke()
        return attached
    }

    static var tooManyVolumes: NimbusError {
        NimbusError.forbidden("The maximum allowed number of disk devices (\(maxVolumes)) to attach to a single instance has been exceeded.")
    }

    /// Nova's 2.85 attachment update: whether the volume goes with the server.
    public func setDeleteOnTermination(_ i: Instance, volumeID: String, _ value: Bool) async throws {
        _ = try await instances.modify(i.id) { m in
            guard let k = m.volumes.firstIndex(where: { $0.volumeID.sameBytes(as: volumeID) }) else {
                throw NimbusError.notFound("No volume Block Device Mapping with id \(volumeID).")
            }
            m.volumes[k].deleteOnTermination = value
        }
    }

    /// Detaches a volume: out of the guest first; the attachment goes when the node reports it.
    /// Only an attached (`in-use`) volume detaches, as Cinder's `begin_detaching` requires.
    public func detachVolume(_ i: Instance, volumeID: String, caller: AuthContext, lockOverride: Bool, requestID: String) async throws {
        try Self.checkLock(i, caller: caller, override: lockOverride)
        try Self.checkState(i, vm: Self.volumeStates, task: [nil], method: "detach_volume")
        guard let attached = i.volumes.first(where: { $0.volumeID == volumeID }) else {
            throw NimbusError.notFound("volume_id not found: \(volumeID)")
        }
        if attached.bootIndex == 0 { throw NimbusError.badRequest("Cannot detach a root device volume") }
        guard attached.state == .attached || i.host == nil else {
            throw NimbusError.badRequest("Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
        }
        // Cinder first (Nova's `begin_detaching`): the volume is `detaching`, so nothing else
        // (an extend, a second detach) starts on it meanwhile. Not for an offloaded server: its
        // volumes' attachments are reserved ones (`reserved`, which begin_detaching refuses), and
        // Nova's `_detach_volume_shelved_offloaded` deletes them without it.
        let offloaded = i.vmState == .shelvedOffloaded && i.host == nil
        if !offloaded { try await volumes?.beginDetaching(volumeID: volumeID) }
        let updated: Instance?
        do {
            updated = try await instances.modify(i.id) { m in
                guard let k = m.volumes.firstIndex(where: { $0.volumeID == volumeID }) else {
                    throw NimbusError.notFound("volume_id not found: \(volumeID)")
                }
                guard m.volumes[k].state == .attached || m.host == nil else {
                    throw NimbusError.badRequest("Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
                }
                m.volumes[k].state = .detaching
            }
        } catch {
            if !offloaded { try? await volumes?.rollDetaching(volumeID: volumeID) }
            throw error
        }
        try await actions.start(i, action: "detach_volume", requestID: requestID, caller: caller)
        // A guest that is not on a node (none to unplug from) lets go at once.
        if updated?.host == nil { try await finishDetaches(i.id, plugged: []) }
        nodes.poke()
    }

    /// The node's report of the attachments plugged into the guest.
    func volumesReported(_ r: InstanceReport, from host: String) async throws {
        guard let i = try await instances.get(r.id.rawValue), !i.deleted, i.host?.sameBytes(as: host) == true else { return }
        let plugged = Set((try? JSONValue.parse(Array((r.detail ?? "[]").utf8)))?.arrayValue?.compactMap(\.stringValue) ?? [])
        try await completeAttachments(i, plugged: plugged)
        try await finishDetaches(i.id, plugged: plugged)
    }

    /// Completes the attachments of `i` being attached that the guest has (`os-complete`).
    func completeAttachments(_ i: Instance, plugged: Set<String>) async throws {
        for v in i.volumes where v.state == .attaching && plugged.contains(v.attachmentID) {
            do {
                try await volumes?.complete(attachmentID: v.attachmentID)
                _ = try await instances.modify(i.id) { m in
                    for k in m.volumes.indices where m.volumes[k].attachmentID == v.attachmentID { m.volumes[k].state = .attached }
                }
            } catch {
                logger.error("could not complete attachment \(v.attachmentID) of \(i.id): \(error)")
            }
        }
    }

    /// Unshelve's block device step (Nova's `_prep_block_device` on the host the scheduler chose):
    /// the instance's reserved attachments are connected to `host` before its node builds the
    /// guest (`desired` withholds an unshelving instance while one is still reserved, and starts
    /// this again after a restart). A connection that cannot be made fails the unshelve as
    /// Nova's does: the server stays offloaded with a fault, its claim and connections given up.
    func connectReserved(_ id: String, host: String) async {
        guard volumes != nil, unshelveConnects.withLock({ $0.insert(id).inserted }) else { return }
        defer { _ = unshelveConnects.withLock { $0.remove(id) } }
        guard let volumes, let i = try? await instances.get(id), Self.unshelvingOn(i, host) else { return }
        do {
            for v in i.volumes where v.state == .reserved {
                let device = v.device.isEmpty ? Self.nextDevice(i) : v.device
                let c = try await volumes.connect(attachmentID: v.attachmentID, host: host, mountpoint: device)
                _ = try await instances.modify(id) { m in
                    guard Self.unshelvingOn(m, host),
                          let k = m.volumes.firstIndex(where: { $0.attachmentID == v.attachmentID && $0.state == .reserved }) else { throw Superseded() }
                    if m.volumes[k].device.isEmpty { m.volumes[k].device = Self.nextDevice(m) }
                    m.volumes[k].connect(c)
                }
            }
            nodes.poke()
        } catch is Superseded {
            return
        } catch {
            logger.error("could not connect the volumes of \(id) to \(host) for its unshelve: \(error)")
            let failed = try? await instances.modify(id) { m in
                guard Self.unshelvingOn(m, host) else { throw Superseded() }
                Self.finish(.unshelving, &m, done: false, powerState: PowerState.noState.rawValue, message: String(describing: error))
            }
            guard failed != nil else { return }
            try? await placement.release(consumer: id)
            await terminateConnections(id, while: Self.offloadedAndIdle)
            try? await actions.event(id, action: "unshelve", name: "compute_unshelve_instance", host: host, result: "Error",
                                     traceback: String(describing: error), finishAction: true)
        }
    }

    /// An offloaded server placed on `host` for its unshelve, whose node has not started it yet.
    static func unshelvingOn(_ i: Instance, _ host: String) -> Bool {
        !i.deleted && i.taskState == .unshelving && i.vmState == .shelvedOffloaded && i.host?.sameBytes(as: host) == true
    }

    static let offloadingNow: @Sendable (Instance) -> Bool = { !$0.deleted && $0.taskState == .shelvingOffloading }
    static let offloadedAndIdle: @Sendable (Instance) -> Bool = { !$0.deleted && $0.vmState == .shelvedOffloaded && $0.taskState == nil && $0.host == nil }

    /// The volumes of an instance leaving its host give up their connections (Nova's
    /// `_terminate_volume_connections`): each connected attachment is replaced by a reserved one
    /// of the same instance (no connector), so the storage node stops exporting them while no
    /// host has the server; unshelving connects them again where it is placed (`connectReserved`).
    /// Runs while `condition` holds for the instance (shelve offloading does it before the
    /// server shows SHELVED_OFFLOADED, as Nova does). A volume whose swap fails keeps its
    /// connection (the unshelve uses it as it is).
    func terminateConnections(_ id: String, while condition: @escaping @Sendable (Instance) -> Bool) async {
        guard let volumes, let i = try? await instances.get(id), condition(i) else { return }
        for v in i.volumes where v.isConnected || v.state == .reserved {
            do {
                guard v.isConnected else {
                    // Swapped before a crash that came before the old attachment went: it goes now.
                    try await dropStrayAttachments(of: v, instance: id, keeping: nil)
                    continue
                }
                let reserved = try await reservation(replacing: v, instance: id)
                let swapped = try? await instances.modify(id) { m in
                    guard condition(m), let k = m.volumes.firstIndex(where: { $0.attachmentID == v.attachmentID && $0.isConnected }) else { throw Superseded() }
                    m.volumes[k].attachmentID = reserved
                    m.volumes[k].socketPath = ""
                    m.volumes[k].export = ""
                    m.volumes[k].state = .reserved
                }
                if swapped == nil {
                    try? await volumes.detach(attachmentID: reserved)
                    continue
                }
                try await volumes.detach(attachmentID: v.attachmentID)
            } catch {
                logger.error("could not give up the connection of volume \(v.volumeID) of \(id): \(error)")
            }
        }
    }

    /// A reserved attachment of the instance to take the place of `v`'s connected one: one that
    /// an earlier swap made before a crash stopped it (found by volume and instance), else a new
    /// one. Any other stray attachment of the instance to the volume goes.
    func reservation(replacing v: Instance.AttachedVolume, instance: String) async throws -> String {
        guard let volumes else { throw NimbusError.conflict("The block storage service is not available.") }
        let strays = try await volumes.attachments(volumeID: v.volumeID, instance: instance).filter { !$0.id.sameBytes(as: v.attachmentID) }
        let reused = strays.first { $0.status == "reserved" }?.id
        try await dropStrayAttachments(of: v, instance: instance, keeping: reused)
        if let reused { return reused }
        return try await volumes.reserve(volumeID: v.volumeID, instance: instance)
    }

    /// Deletes the instance's attachments to `v`'s volume other than `v`'s own (and `keeping`):
    /// an instance has one attachment per volume, except in the middle of a swap.
    func dropStrayAttachments(of v: Instance.AttachedVolume, instance: String, keeping: String?) async throws {
        guard let volumes else { return }
        for a in try await volumes.attachments(volumeID: v.volumeID, instance: instance)
        where !a.id.sameBytes(as: v.attachmentID) && !(keeping.map { a.id.sameBytes(as: $0) } ?? false) {
            logger.warning("volume \(v.volumeID) had a stray attachment \(a.id) (\(a.status)) of \(instance); it goes")
            try await volumes.detach(attachmentID: a.id)
        }
    }

    /// Deletes the attachments of volumes being detached that the guest no longer has.
    func finishDetaches(_ id: String, plugged: Set<String>) async throws {
        guard let i = try await instances.get(id) else { return }
        for v in i.volumes where v.state == .detaching && !plugged.contains(v.attachmentID) {
            do {
                try await volumes?.detach(attachmentID: v.attachmentID)
                _ = try await instances.modify(id) { m in m.volumes.removeAll { $0.attachmentID == v.attachmentID } }
            } catch {
                logger.error("could not delete attachment \(v.attachmentID) of \(id): \(error)")
            }
        }
    }

}

/// Extending an attached volume (Nova's `volume-extended` external event, which Cinder sends
/// once the storage node grew the volume): an `extend_volume` action whose
/// `compute_extend_volume` event finishes when the instance's node has the guest's disk at the
/// new size.
extension ComputeService {
    public func volumeExtended(_ instanceID: String, volumeID: String, requestID: String, projectID: String?, userID: String) async throws {
        guard let i = try await instances.get(instanceID), !i.deleted, let host = i.host else { return }
        try await actions.start(i, action: "extend_volume", requestID: requestID, projectID: projectID ?? i.projectID, userID: userID)
        try await actions.event(i.id, action: "extend_volume", name: "compute_extend_volume", host: host)
        let size = try await volumes?.sizeGB(volumeID: volumeID)
        let updated = try? await instances.modify(i.id) { m in
            guard let size, let k = m.volumes.firstIndex(where: { $0.volumeID.sameBytes(as: volumeID) && $0.isConnected }),
                  m.volumes[k].sizeBytes != size << 30 else { throw Superseded() }
            m.volumes[k].sizeBytes = size << 30
        }
        guard updated != nil else {
            // Nova's compute manager logs a volume the instance does not have and returns; a size
            // the node was already given needs nothing more (the action that gave it finishes
            // when the node reports it).
            try await actions.event(i.id, action: "extend_volume", name: "compute_extend_volume", host: host, result: "Success", finishAction: true)
            return
        }
        nodes.poke()
    }

    /// The node's report that the guest's disks have the sizes given (attachment → bytes):
    /// the open `extend_volume` actions of those volumes finish.
    func volumesResized(_ r: InstanceReport, from host: String) async throws {
        guard let i = try await instances.get(r.id.rawValue), !i.deleted, i.host?.sameBytes(as: host) == true else { return }
        let sizes = (try? JSONValue.parse(Array((r.detail ?? "{}").utf8)))?.objectValue ?? [:]
        let done = i.volumes.contains { v in v.sizeBytes != nil && sizes[v.attachmentID]?.intValue == v.sizeBytes }
        guard done, i.volumes.allSatisfy({ v in v.sizeBytes == nil || sizes[v.attachmentID]?.intValue == v.sizeBytes }) else { return }
        try await actions.finishOpen(i.id, action: "extend_volume", name: "compute_extend_volume", host: host, result: "Success")
    }
}

extension ComputeService {
    /// Whether the live instance has the attachment (Nova's `os-volume_attachments` as Cinder's
    /// bug #2004555 check reads it).
    public func holdsAttachment(_ attachmentID: String, instance: String) async throws -> Bool {
        guard let i = try await instances.get(instance), !i.deleted else { return false }
        return i.volumes.contains { $0.attachmentID.sameBytes(as: attachmentID) }
    }
}

extension Instance.AttachedVolume {
    /// The attachment's connection to the instance's host, for the node to plug in.
    mutating func connect(_ c: VolumeConnection) {
        socketPath = c.socketPath
        export = c.export
        readOnly = c.readOnly
        qos = c.qos
        state = .attaching
    }
}
