import ComputeNode
import Foundation
import NimbusCore

/// Nova's interface attach and detach (`os-interface`): a port joins or leaves the instance in
/// the network service, and the instance's node converges its guest to the ports it has
/// (hot-plugged into a running or paused guest, recorded for a stopped one).
extension ComputeService {
    static let interfaceStates: Set<VMState> = [.active, .paused, .stopped]

    /// Attaches the port `nic` names, or a new port on its network (the one network the project
    /// can use when it names neither); returns the port's id.
    public func attachInterface(_ i: Instance, _ nic: RequestedNIC, caller: AuthContext, lockOverride: Bool, requestID: String) async throws -> String {
        guard let network else { throw NimbusError.badRequest("Network service is not available.") }
        try Self.checkLock(i, caller: caller, override: lockOverride)
        try Self.checkState(i, vm: Self.interfaceStates, task: [nil], method: "attach_interface")
        let requested = try await network.resolve(nic.networkID == nil && nic.portID == nil ? nil : [nic], caller: caller)
        guard let one = requested.first else { throw NimbusError.badRequest("No networks are available to attach the interface to.") }
        let before = Set(network.interfaces(instance: i.id, project: i.projectID).compactMap { $0["port_id"]?.stringValue })
        let created = try await network.allocate(instance: i.id, project: i.projectID, zone: i.availabilityZone, [one], securityGroups: [],
                                                 caller: caller)
        let port = created.first ?? one.portID ?? network.interfaces(instance: i.id, project: i.projectID)
            .compactMap { $0["port_id"]?.stringValue }.first { !before.contains($0) } ?? ""
        if !created.isEmpty {
            _ = try await instances.modify(i.id) { $0.createdPorts += created }
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
        if created { _ = try await instances.modify(i.id) { $0.createdPorts.removeAll { $0 == port } } }
        try await actions.start(i, action: "detach_interface", requestID: requestID, caller: caller)
        nodes.poke()
    }
}
