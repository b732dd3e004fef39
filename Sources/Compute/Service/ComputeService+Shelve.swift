import ComputeNode
import Foundation
import NimbusCore

/// shelve, shelveOffload and unshelve as `nova/compute/api.py` and the compute manager do them:
/// shelve snapshots the guest into `<name>-shelved` and stops it (SHELVED); offloading
/// destroys the guest and frees its host (SHELVED_OFFLOADED: no host, no allocation), at once
/// when `shelved_offload_time` is 0 (Nova's default); unshelve starts the guest again where it
/// is, or, once offloaded, schedules it anew and builds it from the shelved image, which is
/// then deleted. A volume-backed server is shelved without an image and always offloaded: its
/// volumes' connections are given up (each attachment swapped for a reserved one, as Nova's
/// `_terminate_volume_connections`) and made again on the host that unshelves it.
extension ComputeService {
    public func shelve(_ id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        let states: Set<VMState> = [.active, .stopped, .paused, .suspended]
        try Self.checkState(current, vm: states, task: [nil], method: "shelve")
        // A volume-backed server keeps its root on its volume: no image is made, and it is always
        // offloaded (Nova's API sends it straight to shelve_offload_instance), its guest stopped first.
        let volumeBacked = current.isVolumeBacked
        let imageID = volumeBacked ? "" : try await queueSnapshot(of: current, name: current.name + "-shelved", metadata: [:], caller: caller)
        let updated: Instance?
        do {
            updated = try await instances.modify(current.id) { i in
                try Self.checkState(i, vm: states, task: [nil], method: "shelve")
                i.taskState = .shelving
                i.taskArguments = ["image_id": imageID, "prior_vm_state": i.vmState.rawValue,
                                   "offload": volumeBacked || self.settings.shelvedOffloadTime == 0 ? "true" : "false"]
            }
        } catch {
            if !imageID.isEmpty { try? await images.deleteImage(imageID) }
            throw error
        }
        guard let updated else {
            if !imageID.isEmpty { try? await images.deleteImage(imageID) }
            throw NimbusError.notFound("Instance \(id) could not be found.")
        }
        try await actions.start(updated, action: "shelve", requestID: requestID, caller: caller)
        nodes.poke()
    }

    public func shelveOffload(_ id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.shelved], task: [nil], method: "shelve_offload")
        guard let updated = try await instances.modify(current.id, { i in
            try Self.checkState(i, vm: [.shelved], task: [nil], method: "shelve_offload")
            i.taskState = .shelvingOffloading
        }) else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        try await actions.start(updated, action: "shelveOffload", requestID: requestID, caller: caller)
        nodes.poke()
    }

    /// `zone` (2.77) and `host` (2.91, admins) choose where an offloaded server goes.
    public func unshelve(_ id: String, zone: String??, host: String?, caller: AuthContext, isAdmin: Bool, lockOverride: Bool,
                         requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.shelved, .shelvedOffloaded], task: [nil], method: "unshelve")
        if current.vmState == .shelved, zone != nil || host != nil {
            throw NimbusError.conflict("The availability_zone and host parameters are only valid for a server in SHELVED_OFFLOADED state.")
        }
        if let z = zone ?? nil, !(try await hosts.list()).contains(where: { $0.zone.sameBytes(as: z) }) {
            throw NimbusError.badRequest("The requested availability zone is not available")
        }
        if let h = host, !(try await hosts.list()).contains(where: { $0.host.sameBytes(as: h) }) {
            throw NimbusError.badRequest("Compute host \(h) could not be found.")
        }
        guard let updated = try await instances.modify(current.id, { i in
            try Self.checkState(i, vm: [.shelved, .shelvedOffloaded], task: [nil], method: "unshelve")
            i.taskState = .unshelving
            i.taskArguments = ["image_id": i.shelved["shelved_image_id"] ?? ""]
            if i.vmState == .shelvedOffloaded {
                if let zone { i.availabilityZone = zone; i.requestedZone = zone }
                if let host { i.requestedHost = host }
                i.failedHosts = []
            }
        }) else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        try await actions.start(updated, action: "unshelve", requestID: requestID, caller: caller)
        if updated.vmState == .shelvedOffloaded { wake() } else { nodes.poke() }
    }

    /// rescue: the guest restarted from `rescueImage` (else its own image) with its disk second.
    /// `rescue`: boots the guest from a rescue image. An image with Nova's `hw_rescue_bus` and
    /// `hw_rescue_device` makes it a stable-device rescue (the rescue disk added on that bus, the
    /// guest's disks left as they are), which a volume-backed server gets from 2.87
    /// (`allowVolumeBacked`); without those properties a volume-backed server is not rescued.
    public func rescue(_ id: String, rescueImage: String?, allowVolumeBacked: Bool = false, caller: AuthContext, isAdmin: Bool, lockOverride: Bool,
                       requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        let states: Set<VMState> = [.active, .stopped, .error]
        try Self.checkState(current, vm: states, task: [nil], method: "rescue")
        let notRescuable = NimbusError.badRequest("Instance \(current.id) cannot be rescued: Cannot rescue a volume-backed instance")
        guard let imageID = rescueImage ?? (current.imageID.map { $0.isEmpty ? nil : $0 } ?? nil) else { throw notRescuable }
        guard let image = try await images.image(imageID, caller: caller), image.status == "active" else {
            if rescueImage != nil { throw NimbusError.badRequest("Requested rescue image '\(imageID)' is not supported") }
            throw NimbusError.badRequest("Image \(imageID) could not be found.")
        }
        // Nova cannot rescue from an image of a volume-backed server (a volume snapshot image).
        if image.properties[Name("img_block_device_mapping")] != nil || image.properties[Name("block_device_mapping")] != nil {
            throw NimbusError.badRequest("Requested rescue image '\(imageID)' is not supported")
        }
        var arguments = ["rescue_image": image.id]
        let givenBus = image.properties[Name("hw_rescue_bus")], givenDevice = image.properties[Name("hw_rescue_device")]
        if givenBus != nil || givenDevice != nil {
            // Either property makes it a stable-device rescue (libvirt's `get_rescue_device` and
            // `get_rescue_bus`: a disk by default, on virtio; a CD-ROM on IDE).
            let device = givenDevice ?? "disk"
            let bus = givenBus ?? (device == "cdrom" ? "ide" : "virtio")
            // Nova's libvirt driver: UnsupportedRescueBus / UnsupportedRescueDevice.
            guard RescueDevice.Bus(rawValue: bus) != nil else {
                throw NimbusError.badRequest("Requested rescue bus '\(bus)' is not supported by the QEMU virt driver")
            }
            guard RescueDevice.supported(bus: bus, device: device) != nil else {
                throw NimbusError.badRequest("Requested rescue device '\(device)' is not supported")
            }
            arguments["rescue_bus"] = bus
            arguments["rescue_device"] = device
        }
        // The API's rule (nova/compute/api.py): a volume-backed server needs both properties.
        if current.isVolumeBacked && !(allowVolumeBacked && givenBus != nil && givenDevice != nil) { throw notRescuable }
        let taskArguments = arguments
        guard let updated = try await instances.modify(current.id, { i in
            try Self.checkState(i, vm: states, task: [nil], method: "rescue")
            i.taskState = .rescuing
            i.taskArguments = taskArguments
        }) else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        try await actions.start(updated, action: "rescue", requestID: requestID, caller: caller)
        nodes.poke()
    }

    public func unrescue(_ id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.rescued], task: [nil], method: "unrescue")
        guard let updated = try await instances.modify(current.id, { i in
            try Self.checkState(i, vm: [.rescued], task: [nil], method: "unrescue")
            i.taskState = .unrescuing
        }) else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        try await actions.start(updated, action: "unrescue", requestID: requestID, caller: caller)
        nodes.poke()
    }

    /// `os-resetState` (admins): the vm_state set, the task cleared, nothing else touched.
    public func resetState(_ id: String, to state: VMState, caller: AuthContext, requestID: String) async throws {
        guard let updated = try await instances.modify(id, { i in
            guard !i.deleted else { throw NimbusError.notFound("Instance \(id) could not be found.") }
            i.vmState = state
            i.taskState = nil
            i.taskArguments = [:]
        }) else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        try await actions.start(updated, action: "resetState", requestID: requestID, caller: caller)
        nodes.poke()
    }

    /// `forceDelete`: a delete that Nova allows in any vm_state while no task runs.
    public func forceDelete(_ id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: Set(VMState.allCases), task: [nil], method: "force_delete")
        try await deleteServer(id, caller: caller, isAdmin: isAdmin, lockOverride: lockOverride, requestID: requestID)
    }

    /// The conductor's pass over shelved servers whose `shelved_offload_time` has passed.
    func offloadExpiredShelves(now: Date = Date()) async throws {
        let wait = settings.shelvedOffloadTime
        guard wait > 0 else { return }
        for i in try await instances.shelvedOnHosts() {
            guard let at = i.shelved["shelved_at"].flatMap(Timestamps.parse), now.timeIntervalSince(at) >= Double(wait) else { continue }
            _ = try? await instances.modify(i.id) { cur in
                guard cur.vmState == .shelved, cur.taskState == nil else { throw Superseded() }
                cur.taskState = .shelvingOffloading
            }
            nodes.poke()
        }
    }
}

extension InstanceRepository {
    /// Shelved servers that still hold their host.
    func shelvedOnHosts() async throws -> [Instance] {
        try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE deleted = \(bind: false) AND vm_state = 'shelved' AND host IS NOT NULL
            """).all().map(Self.decode)
    }
}
