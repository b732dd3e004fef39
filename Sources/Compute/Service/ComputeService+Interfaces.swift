import ComputeNode
import Foundation
import NimbusCore

/// Nova's interface attach and detach (`os-interface`): a port joins or leaves the instance in
/// the network service, and the instance's node converges its guest to the ports it has
/// (hot-plugged into a running or paused guest, recorded for a stopped one).
extension ComputeService {
    static let interfaceStates: Set<VMState> = [.active, .paused, .stopped]
    /// The most interfaces a server may have.
    public static let maxInterfaces = 16

    /// Attaches the port `nic` names, or a new port on its network (the one network the project
    /// can use when it names neither); returns the port's id.
    public func attachInterface(_ i: Instance, _ nic: RequestedNIC, caller: AuthContext, lockOverride: Bool, requestID: String) async throws -> String {
        guard let network else { throw NimbusError.badRequest("Network service is not available.") }
        try Self.checkLock(i, caller: caller, override: lockOverride)
        try Self.checkState(i, vm: Self.interfaceStates, task: [nil], method: "attach_interface")
        let existing = network.interfaces(instance: i.id, project: i.projectID)
        // The `pc` machine's bus has about 28 free slots; a bound keeps hot-plug from failing.
        // The slot is held until the port is on the instance, so concurrent attaches count.
        guard interfacePlugs.claimSlot(i.id, max: Self.maxInterfaces, count: { network.interfaces(instance: i.id, project: i.projectID).count }) else {
            throw NimbusError.badRequest("Failed to attach network adapter device to \(i.id): at most \(Self.maxInterfaces) interfaces per server.")
        }
        var slotHeld = true
        defer { if slotHeld { interfacePlugs.releaseSlot(i.id) } }
        // Nova's attach controller: a missing port or network is 404, an ambiguous choice 400,
        // an address or port in use 409.
        let requested: [RequestedNIC]
        do {
            requested = try await network.resolve(nic.networkID == nil && nic.portID == nil ? nil : [nic], project: i.projectID, caller: caller)
        } catch let e as NimbusError where e.kind == .badRequest && e.message.hasByteSuffix("could not be found.") {
            throw NimbusError.notFound(e.message)
        } catch let e as NimbusError where e.kind == .conflict && e.message.hasBytePrefix("Multiple possible networks") {
            throw NimbusError.badRequest(e.message)
        }
        guard let one = requested.first else { throw NimbusError.badRequest("No networks are available to attach the interface to.") }
        let before = Set(existing.compactMap { $0["port_id"]?.stringValue })
        // A running or paused guest gets the port hot-plugged before the answer, as Nova's attach
        // (an RPC call to the compute host) does; a stopped one has it at its next start.
        let waitsForPlug = i.host != nil && (i.vmState == .active || i.vmState == .paused)
        let mark = waitsForPlug ? interfacePlugs.mark(i.id) : 0
        defer { if waitsForPlug { interfacePlugs.unmark(i.id) } }
        let created: [String]
        do {
            created = try await network.allocate(instance: i.id, project: i.projectID, zone: i.availabilityZone, [one], securityGroups: [],
                                                 caller: caller)
        } catch let e as NimbusError where e.detail == NetworkClientErrors.addressInUse {
            throw NimbusError.conflict(e.message)
        }
        interfacePlugs.releaseSlot(i.id)
        slotHeld = false
        let port = created.first ?? one.portID ?? network.interfaces(instance: i.id, project: i.projectID)
            .compactMap { $0["port_id"]?.stringValue }.first { !before.contains($0) } ?? ""
        let tag = nic.tag
        if !created.isEmpty || tag != nil {
            _ = try await instances.modify(i.id) { m in
                m.createdPorts += created
                if let tag, !port.isEmpty { m.interfaceTags[port] = tag }
            }
        }
        if let host = i.host {
            // A port of the instance that another attach's rollback deletes meanwhile may fail
            // this pass; the node's next `desired` binds again, so that is no failure of this one.
            do { try await network.bind(instance: i.id, project: i.projectID, host: host) } catch {
                logger.warning("binding the ports of \(i.id) to \(host): \(error)")
            }
        }
        try await actions.start(i, action: "attach_interface", requestID: requestID, caller: caller)
        nodes.poke()
        let project = i.projectID
        let isOurs: @Sendable () -> Bool = {
            network.interfaces(instance: i.id, project: project).contains { $0["port_id"]?.stringValue?.sameBytes(as: port) == true }
        }
        if waitsForPlug, !port.isEmpty, let failure = await plugFailure(i.id, port: port, after: mark, stillAttached: isOurs) {
            // Nova's rollback of a failed attach: the port leaves the instance (deleted when it
            // was made for it), and the answer is InterfaceAttachFailed (500).
            logger.error("attaching port \(port) to \(i.id) failed on its host: \(failure)")
            try? await network.release(port: port, instance: i.id, project: i.projectID, delete: created.contains(port))
            _ = try? await instances.modify(i.id) { m in
                m.createdPorts.removeAll { $0 == port }
                m.interfaceTags.removeValue(forKey: port)
            }
            nodes.poke()
            // A server deleted meanwhile took the port with it: that is the answer, not a fault.
            let now = try? await instances.get(i.id)
            if now == nil || now?.deleted == true { throw NimbusError.notFound("Instance \(i.id) could not be found.") }
            if now?.taskState == .deleting { throw Self.invalidState(i, "task_state", "deleting", "attach_interface") }
            throw NimbusError(.internal, "Failed to attach network adapter device to \(i.id)", detail: NimbusError.explainedFault)
        }
        return port
    }

    /// Waits for the node's hot-plug of `port`: nil once it is plugged in, or when no report came
    /// in time (the node converging later); the failure when a pass after `mark` failed without
    /// it, or when the port left the instance first.
    func plugFailure(_ id: String, port: String, after mark: Int, stillAttached: @Sendable () -> Bool) async -> String? {
        let deadline = ContinuousClock.now + interfacePlugWait
        while ContinuousClock.now < deadline {
            if let r = interfacePlugs.latest(id, after: mark) {
                if r.plugged.contains(where: { $0.sameBytes(as: port) }) { return nil }
                if let failure = r.failure { return failure }
            }
            // Detached meanwhile (by its owner, or by another attach of the same port that was
            // undone): the node has nothing to plug, and this attach did not happen.
            guard stillAttached() else { return "port \(port) left the instance before its node plugged it" }
            guard (try? await Task.sleep(for: .milliseconds(20))) != nil else { return nil }
        }
        logger.warning("no hot-plug report for port \(port) of \(id) in time; its node plugs it when it can")
        return nil
    }

    /// Detaches `port` from the instance: deleted if the compute service made it, else released.
    public func detachInterface(_ i: Instance, port: String, caller: AuthContext, lockOverride: Bool, requestID: String) async throws {
        guard let network else { throw NimbusError.notFound("Port \(port) could not be found.") }
        try Self.checkLock(i, caller: caller, override: lockOverride)
        try Self.checkState(i, vm: Self.interfaceStates, task: [nil], method: "detach_interface")
        let created = i.createdPorts.contains(port)
        try await network.release(port: port, instance: i.id, project: i.projectID, delete: created)
        if created || i.interfaceTags[port] != nil {
            _ = try await instances.modify(i.id) { m in
                m.createdPorts.removeAll { $0 == port }
                m.interfaceTags.removeValue(forKey: port)
            }
        }
        try await actions.start(i, action: "detach_interface", requestID: requestID, caller: caller)
        nodes.poke()
    }

    /// Nova's addFixedIp (`add`: a network id) and removeFixedIp (`remove`: an address), up to
    /// 2.43: a lock check, then what the compute host's cast does, a failure only logged (Nova
    /// answers 202 before the host acts).
    public func changeFixedIP(_ i: Instance, add network: String?, remove address: String?, caller: AuthContext, isAdmin: Bool) async throws {
        try Self.checkLock(i, caller: caller, override: isAdmin)
        guard let client = self.network else { return }
        do {
            if let network {
                try await client.addFixedIP(network: network, instance: i.id, project: i.projectID, caller: caller)
            } else if let address {
                try await client.removeFixedIP(address, instance: i.id, project: i.projectID, caller: caller)
            }
            nodes.poke()
        } catch {
            logger.warning("\(network != nil ? "addFixedIp" : "removeFixedIp") on \(i.id) changed nothing: \(error)")
        }
    }
}
