import ComputeNode
import Foundation
import NimbusCore

/// Rebuild, resize, confirm and revert, as `nova/compute/api.py` checks them. A resize stays on
/// the instance's host (Nova's `allow_resize_to_same_host`, which DevStack turns on): the old
/// flavor's resources move to the migration's Placement consumer and the new flavor is claimed
/// for the instance in one write, so the host must hold both until the resize is confirmed
/// (the migration's allocation is dropped) or reverted (the instance gets the old flavor back).
extension ComputeService {
    /// What a resize or rebuild leaves running: the guest is started again only if it ran.
    static func powerOnAfter(_ i: Instance) -> String { i.vmState == .stopped ? "false" : "true" }

    public func resize(_ id: String, flavorID: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.active, .stopped], task: [nil], method: "resize")
        let volumeBacked = current.isVolumeBacked
        guard let flavor = try await flavors.get(flavorID), !flavor.disabled,
              try await flavors.visible(flavor, to: current.projectID) || isAdmin else {
            throw NimbusError.badRequest("Flavor \(flavorID) could not be found.")
        }
        let old = current.flavor
        if flavor.id.sameBytes(as: old.id) { throw NimbusError.badRequest("When resizing, instances must change flavor!") }
        // A volume-backed server's root disk is its volume: the flavor's root size does not apply.
        if !volumeBacked, flavor.rootGB < old.rootGB && flavor.rootGB != 0 || (flavor.rootGB == 0 && old.rootGB != 0) {
            throw NimbusError.badRequest("Resize error: Unable to resize disk down.")
        }
        if flavor.ephemeralGB < old.ephemeralGB { throw NimbusError.badRequest("Resize error: Unable to resize disk down.") }
        if let image = current.imageMeta[Name("min_ram")].flatMap(Int.init), image > flavor.memoryMB {
            throw NimbusError.badRequest("Flavor's memory is too small for requested image.")
        }
        try await checkResizeQuota(current, to: flavor)
        guard let host = current.host, let provider = try await provider(of: host) else {
            throw NimbusError.conflict("Instance \(id) has no host")
        }
        // Taken first, so a second request fails before any claim (see `reserveMove`).
        let migration = Identifiers.uuid()
        let reserved = try await reserveMove(current, task: .resizePrep, vm: [.active, .stopped], method: "resize", migration: migration,
                                             arguments: [Self.sourceHost: host])
        let claimed: Bool
        do {
            claimed = try await placement.replace([
                ConsumerClaim(consumer: migration, provider: provider, resources: Self.resources(old, volumeBacked: volumeBacked), consumerType: "MIGRATION"),
                ConsumerClaim(consumer: current.id, provider: provider, resources: Self.resources(flavor, volumeBacked: volumeBacked)),
            ], project: current.projectID, user: current.userID)
        } catch {
            await releaseMove(current.id, migration: migration)
            throw error
        }
        if !claimed, volumeBacked {
            // Moving a volume-backed server to another host (its volumes connected there) is not built.
            await releaseMove(current.id, migration: migration)
            throw NimbusError.conflict("Cannot 'resize' instance \(id): Nimbus resizes a volume-backed instance only on its own host, where the new flavor does not fit.")
        }
        guard claimed else {
            // Not on its own host: the scheduler picks another, and the disks move there.
            try await continueColdMove(current, reserved: reserved, migration: migration, flavor: flavor, kind: .resize, requested: nil,
                                       action: "resize", caller: caller, requestID: requestID,
                                       noHost: "No valid host was found. No valid host found for resize")
            return
        }
        let updated = try await commitMove(current.id, migration: migration) { i in
            i.taskArguments = ["power_on": Self.powerOnAfter(i), "prior_vm_state": i.vmState.rawValue]
            i.oldFlavor = i.flavor
            i.flavor = flavor
            i.migrationID = migration
        }
        guard let updated else {
            try await abandonMove(current, source: host, migration: migration)
            throw NimbusError.conflict("Instance \(id) was deleted while it was being resized")
        }
        try await migrations.record(.move(migration, instance: current, kind: .resize, status: "pre-migrating", source: host, dest: host,
                                          newFlavor: flavor, oldFlavor: old, caller: caller.user.id))
        try await actions.start(updated, action: "resize", requestID: requestID, caller: caller)
        nodes.poke()
    }

    /// Nova's `metadata_items` limit of the project (and user) for a metadata set of `count` items.
    public func checkMetadataItems(_ count: Int, project: String, user: String) async throws {
        let limit = try await effectiveQuotas(project: project, user: user).metadataItems
        if limit >= 0, count > limit {
            throw NimbusError.forbidden("Quota exceeded for metadata_items: Requested \(count), but already used 0 of \(limit) metadata_items")
        }
    }

    /// Quotas count the larger of the two flavors while a resize is unconfirmed (Nova counts
    /// the new flavor's cores and RAM on top of current usage when it grows).
    func checkResizeQuota(_ i: Instance, to flavor: Flavor) async throws {
        let used = try await instances.usage(project: i.projectID)
        let quotas = try await effectiveQuotas(project: i.projectID, user: nil)
        let deltas = [("cores", quotas.cores, used.cores, flavor.vcpus - i.flavor.vcpus), ("ram", quotas.ramMB, used.ramMB, flavor.memoryMB - i.flavor.memoryMB)]
        let over = deltas.filter { $0.1 >= 0 && $0.3 > 0 && $0.2 + $0.3 > $0.1 }
        guard over.isEmpty else {
            let names = over.map(\.0).joined(separator: ", ")
            throw NimbusError.forbidden("Quota exceeded for \(names): Requested \(over.map { String($0.3) }.joined(separator: ", ")), but already used "
                + "\(over.map { String($0.2) }.joined(separator: ", ")) of \(over.map { String($0.1) }.joined(separator: ", ")) \(names)")
        }
    }

    public func confirmResize(_ id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.resized], task: [nil], method: "confirmResize")
        guard current.migrationID != nil else { throw NimbusError.badRequest("Instance has not been resized.") }
        let updated = try await instances.modify(current.id) { i in
            try Self.checkState(i, vm: [.resized], task: [nil], method: "confirmResize")
            i.taskState = .resizeConfirming
        }
        if let updated {
            if let m = current.migrationID { try await migrations.update(uuid: m, status: "confirming") }
            try await actions.start(updated, action: "confirmResize", requestID: requestID, caller: caller)
        }
        nodes.poke()
    }

    public func revertResize(_ id: String, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.resized], task: [nil], method: "revertResize")
        let moved = current.taskArguments[MoveTask.move] == "true"
        guard let old = current.oldFlavor, let migration = current.migrationID,
              let host = moved ? current.taskArguments[Self.sourceHost] : current.host,
              let provider = try await provider(of: host) else {
            throw NimbusError.badRequest("Instance has not been resized.")
        }
        // The state first: a confirm that won the race leaves the claims alone.
        let updated = try await instances.modify(current.id) { i in
            try Self.checkState(i, vm: [.resized], task: [nil], method: "revertResize")
            guard i.migrationID == migration else { throw Self.invalidState(i, "task_state", "None", "revertResize") }
            i.flavor = old
            i.oldFlavor = nil
            i.migrationID = nil
            i.taskState = .resizeReverting
            i.taskArguments["migration"] = migration   // for the migration record's status when the node is done
            i.taskArguments["power_on"] = i.taskArguments["power_on"] ?? "true"
            // A move: the destination removes its copy first, then the source starts its own.
            if moved { i.taskArguments[MoveTask.phase] = MoveTask.Phase.dest.rawValue }
        }
        if updated != nil {
            _ = try await placement.replace([ConsumerClaim(consumer: current.id, provider: provider, resources: Self.resources(old, volumeBacked: current.isVolumeBacked)),
                                             ConsumerClaim(consumer: migration, provider: nil, resources: [:])],
                                            project: current.projectID, user: current.userID)
        }
        if let updated {
            try await migrations.update(uuid: migration, status: "reverting")
            try await actions.start(updated, action: "revertResize", requestID: requestID, caller: caller)
        }
        nodes.poke()
    }

    // MARK: rebuild

    /// What a rebuild may change besides the image.
    public struct RebuildRequest: Sendable {
        public var imageID: String
        public var name: String?
        public var metadata: [Name: String]?
        public var description: String??
        public var keyName: String??
        public var userData: String??
        public var hostname: String?
        public var accessIPv4: String?
        public var accessIPv6: String?
        public var preserveEphemeral = false
        /// 2.93: a volume-backed server's root volume is re-imaged (Cinder's `os-reimage`);
        /// before it, such a server is rebuilt only with the image its volume already holds.
        public var reimageBootVolume = false
        public init(imageID: String) { self.imageID = imageID }
    }

    public func rebuild(_ id: String, _ r: RebuildRequest, caller: AuthContext, isAdmin: Bool, lockOverride: Bool, requestID: String) async throws -> Instance {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        try Self.checkLock(current, caller: caller, override: lockOverride)
        try Self.checkState(current, vm: [.active, .stopped, .error], task: [nil], method: "rebuild")
        guard let image = try await images.image(r.imageID, caller: caller) else { throw NimbusError.badRequest("Image \(r.imageID) could not be found.") }
        var reimage = false
        if current.isVolumeBacked {
            reimage = try await checkVolumeRebuild(current, image: image, reimage: r.reimageBootVolume, caller: caller)
            var noRootDisk = current.flavor
            noRootDisk.rootGB = 0   // the root volume's size is Cinder's to check
            try Self.check(image, fits: noRootDisk)
        } else {
            try Self.check(image, fits: current.flavor)
        }
        if let m = r.metadata { try await checkMetadataItems(m.count, project: current.projectID, user: caller.user.id) }
        var keyData: String??
        if let name = r.keyName {
            if let name {
                guard let pair = try await keypairs.get(user: caller.user.id, name: name) else { throw NimbusError.badRequest("Invalid key_name provided.") }
                keyData = .some(pair.publicKey)
            } else {
                keyData = .some(nil)
            }
        }
        let meta = Self.systemMetadata(image, flavor: current.flavor)
        let newKeyData = keyData
        let reimageRoot = reimage
        guard current.host != nil else { throw Self.invalidState(current, "vm_state", current.vmState.rawValue, "rebuild") }
        let updated = try await instances.modify(current.id) { i in
            try Self.checkState(i, vm: [.active, .stopped, .error], task: [nil], method: "rebuild")
            i.taskArguments = ["power_on": Self.powerOnAfter(i), "preserve_ephemeral": r.preserveEphemeral ? "true" : "false"]
            if i.isVolumeBacked {
                // Rebuilt around its volumes (the server keeps no image of its own).
                i.taskArguments[Self.volumeRebuild] = "true"
                if reimageRoot { i.taskArguments[Self.reimageWith] = image.id }
            } else {
                i.imageID = image.id
            }
            i.imageMeta = meta
            if let n = r.name { i.name = n }
            if let m = r.metadata { i.metadata = m }
            if let d = r.description { i.description = d }
            if let k = r.keyName { i.keyName = k; i.keyData = newKeyData ?? nil }
            if let u = r.userData { i.userData = u }
            if let h = r.hostname { i.hostname = h }
            if let ip = r.accessIPv4 { i.accessIPv4 = ip }
            if let ip = r.accessIPv6 { i.accessIPv6 = ip }
            i.fault = nil
            i.taskState = .rebuilding
        }
        guard let updated else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        try await actions.start(updated, action: "rebuild", requestID: requestID, caller: caller)
        nodes.poke()
        return updated
    }
}
