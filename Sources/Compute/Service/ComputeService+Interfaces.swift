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
        if existing.count >= Self.maxInterfaces {
            // The `pc` machine's bus has about 28 free slots; a bound keeps hot-plug from failing.
            throw NimbusError.badRequest("Failed to attach network adapter device to \(i.id): at most \(Self.maxInterfaces) interfaces per server.")
        }
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
        let created: [String]
        do {
            created = try await network.allocate(instance: i.id, project: i.projectID, zone: i.availabilityZone, [one], securityGroups: [],
                                                 caller: caller)
        } catch let e as NimbusError where e.detail == NetworkClientErrors.addressInUse {
            throw NimbusError.conflict(e.message)
        }
        let port = created.first ?? one.portID ?? network.interfaces(instance: i.id, project: i.projectID)
            .compactMap { $0["port_id"]?.stringValue }.first { !before.contains($0) } ?? ""
        let tag = nic.tag
        if !created.isEmpty || tag != nil {
            _ = try await instances.modify(i.id) { m in
                m.createdPorts += created
                if let tag, !port.isEmpty { m.interfaceTags[port] = tag }
            }
        }
        if let host = i.host { try await network.bind(instance: i.id, project: i.projectID, host: host) }
        try await actions.start(i, action: "attach_interface", requestID: requestID, caller: caller)
        nodes.poke()
        return port
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
}
