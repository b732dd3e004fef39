import NimbusCore

/// Floating IP port forwardings (Neutron's port forwarding service plugin): a free floating IP
/// forwards an external port (or range) and protocol to a port's fixed IPv4 address, through
/// the router that joins the port's subnet to the floating IP's network. The first forwarding
/// sets the floating IP's `router_id`, the last one gone clears it.
extension NetworkService {
    /// The protocols a forwarding can name that have ports to forward (Neutron also takes
    /// `icmp` and `ipv6-icmp`, which its L3 agent then cannot program).
    static let forwardableProtocols = ["tcp", "udp", "sctp", "dccp"]

    static func forwardingError(_ message: String) -> NimbusError {
        NeutronFault.badRequest("Bad port_forwarding request: \(message).", type: "BadRequest")
    }

    public func createPortForwarding(floatingIP fipID: String, _ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            guard var fip = s[.floatingIP, fipID] else { throw ResourceKind.floatingIP.notFound(fipID) }
            var pf = JSONObject()
            pf["id"] = .string(Identifiers.uuid())
            pf["floatingip_id"] = .string(fipID)
            pf["project_id"] = fip["project_id"] ?? ""
            for k in ["protocol", "internal_port_id", "internal_ip_address", "description"] { pf[k] = attrs[k] }
            Self.canonicalAddress(&pf)
            let ranges = try Self.forwardingRanges(attrs, current: nil)
            Self.setRanges(&pf, ranges)
            try Self.checkProtocol(pf)
            try Self.checkCollisions(pf, ranges, s)
            try Self.checkPortHasNoFloatingIP(pf, s)
            if let bound = fip["port_id"]?.stringValue {
                _ = bound
                throw NeutronFault.conflict("FloatingIPPortAlreadyAssociated",
                                            "Cannot associate floating IP \(fip["floating_ip_address"]?.stringValue ?? "") (\(fipID)) with port \(pf["internal_port_id"]?.stringValue ?? "") using fixed IP \(pf["internal_ip_address"]?.stringValue ?? ""), as that fixed IP already has a floating IP on external network \(fip["floating_network_id"]?.stringValue ?? "").")
            }
            let router = try forwardingRouter(&pf, fip, actor: actor, s)
            try Self.checkRouterMatch(pf, fip, router: router, s)
            s.put(.portForwarding, pf)
            if fip["router_id"]?.stringValue == nil { fip["router_id"] = .string(router) }
            fip["status"] = .string(Self.gatewayActive(router, s) ? "ACTIVE" : "DOWN")
            s.put(.floatingIP, Self.touched(fip))
            touchPort(pf["internal_port_id"]?.stringValue, &s)
            return pf
        }
    }

    public func updatePortForwarding(floatingIP fipID: String, _ id: String, _ changes: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            var pf = try Self.forwarding(fipID, id, s)
            if changes["internal_port_id"] != nil { try Self.checkPortHasNoFloatingIP(pf.merging(changes), s) }
            guard let fip = s[.floatingIP, fipID] else { throw ResourceKind.floatingIP.notFound(fipID) }
            let oldPort = pf["internal_port_id"]?.stringValue
            for k in ["protocol", "internal_port_id", "internal_ip_address", "description"] { if let v = changes[k] { pf[k] = v } }
            Self.canonicalAddress(&pf)
            if let newPort = changes["internal_port_id"]?.stringValue, newPort != oldPort {
                if changes["internal_ip_address"] == nil { pf["internal_ip_address"] = .null }
                let router = try forwardingRouter(&pf, fip, actor: actor, s)
                try Self.checkRouterMatch(pf, fip, router: router, s)
            }
            let ranges = try Self.forwardingRanges(changes, current: pf)
            Self.setRanges(&pf, ranges)
            try Self.checkProtocol(pf)
            try Self.checkInternalAddress(pf, s)
            try Self.checkUpdateConflicts(pf, fip, s)
            // Neutron checks only when a port changes (its unique constraints catch single ports);
            // a new protocol or socket could otherwise overlap another forwarding's range.
            if ["internal_port", "internal_port_range", "external_port", "external_port_range", "protocol", "internal_port_id",
                "internal_ip_address"].contains(where: { changes[$0] != nil }) {
                try Self.checkCollisions(pf, ranges, s)
            }
            s.put(.portForwarding, pf)
            s.put(.floatingIP, Self.touched(fip))
            touchPort(oldPort, &s)
            if let p = pf["internal_port_id"]?.stringValue, p != oldPort { touchPort(p, &s) }
            return pf
        }
    }

    public func deletePortForwarding(floatingIP fipID: String, _ id: String) async throws {
        try await write { s in
            let pf = try Self.forwarding(fipID, id, s)
            removeForwarding(pf, &s)
        }
    }

    /// Removes a forwarding; the floating IP's last one takes its router and status with it.
    func removeForwarding(_ pf: JSONObject, _ s: inout NetworkState) {
        guard let id = pf["id"]?.stringValue, let fipID = pf["floatingip_id"]?.stringValue else { return }
        s.remove(.portForwarding, id)
        guard var fip = s[.floatingIP, fipID] else { return }
        if s.portForwardings(ofFloatingIP: fipID).isEmpty && fip["port_id"]?.stringValue == nil {
            fip["router_id"] = .null
            fip["status"] = "DOWN"
        }
        s.put(.floatingIP, Self.touched(fip))
    }

    /// The forwardings to a port go when the port goes or loses the address they forward to
    /// (Neutron's port forwarding plugin on a port's update and delete).
    func dropForwardings(toPort portID: String, keeping addresses: Set<IPAddress>, _ s: inout NetworkState) {
        for pf in s.portForwardings(toPort: portID) {
            let address = pf["internal_ip_address"]?.stringValue.flatMap { IPAddress($0) }
            if let address, addresses.contains(address) { continue }
            removeForwarding(pf, &s)
        }
    }

    func touchPort(_ id: String?, _ s: inout NetworkState) {
        guard let id, let p = s[.port, id] else { return }
        s.put(.port, Self.touched(p))
    }

    static func forwarding(_ fipID: String, _ id: String, _ s: NetworkState) throws -> JSONObject {
        guard s[.floatingIP, fipID] != nil else { throw ResourceKind.floatingIP.notFound(fipID) }
        guard let pf = s[.portForwarding, id], pf["floatingip_id"]?.stringValue == fipID else { throw ResourceKind.portForwarding.notFound(id) }
        return pf
    }

    /// The internal address as the service writes addresses (`10.0.0.5`), so that equal
    /// addresses compare equal.
    static func canonicalAddress(_ pf: inout JSONObject) {
        if let a = pf["internal_ip_address"]?.stringValue.flatMap({ IPAddress($0) }) { pf["internal_ip_address"] = .string(a.description) }
    }

    static func gatewayActive(_ router: String, _ s: NetworkState) -> Bool {
        s.ports(ofDevice: router).contains { $0["device_owner"]?.stringValue == "network:router_gateway" && $0["status"]?.stringValue == "ACTIVE" }
    }
}
