import NetworkNode
import NimbusCore

/// The rules a port forwarding must keep (neutron/services/portforwarding/pf_plugin.py), with
/// Neutron's messages: one external port (or range) per protocol on a floating IP, one internal
/// socket per port, N-N or N-1 ranges, an address of the internal port, a router that joins the
/// port's subnet to the floating IP's network, and never a port that has a floating IP.
extension NetworkService {
    /// The external and internal ranges after a request: `external_port`/`internal_port` is a
    /// range of one; what the request leaves out is `current`'s.
    static func forwardingRanges(_ a: JSONObject, current: JSONObject?) throws -> (outside: PortRange, inside: PortRange) {
        func pick(_ single: String, _ range: String) throws -> PortRange {
            let port = a[single].flatMap { $0 == .null ? nil : $0.intValue }
            let given = a[range].flatMap { $0 == .null ? nil : PortRange.parse($0) }
            if port != nil && given != nil {
                throw forwardingError("\(single) and \(range) cannot be given together")
            }
            if let port { return PortRange(single: Int(port)) }
            if let given { return given }
            guard let r = current?[range].flatMap({ PortRange.parse($0) }) else {
                throw forwardingError("Either \(single) or \(range) must be specified")
            }
            return r
        }
        let outside = try pick("external_port", "external_port_range")
        let inside = try pick("internal_port", "internal_port_range")
        if inside.size > 0 && inside.size != outside.size {
            throw forwardingError("Invalid ranges of internal and/or external ports. The relation between internal and external ports must be N-N or 1-N")
        }
        // nftables has no iptables `ip:a-b/base`: the datapath maps a shifted range port by port.
        let limit = PortForwardingRule.maxShiftedPorts
        if inside.size > 0 && inside.lower != outside.lower && inside.size + 1 > limit {
            throw forwardingError("A port range mapped onto a range that starts at another port may span at most \(limit) ports; \(outside) to \(inside) spans \(inside.size + 1)")
        }
        return (outside, inside)
    }

    /// Both spellings, as Neutron's object shows them: the range always, the port for one port.
    static func setRanges(_ pf: inout JSONObject, _ r: (outside: PortRange, inside: PortRange)) {
        pf["external_port_range"] = .string(r.outside.description)
        pf["internal_port_range"] = .string(r.inside.description)
        pf["external_port"] = r.outside.isSingle ? .int(Int64(r.outside.lower)) : nil
        pf["internal_port"] = r.inside.isSingle ? .int(Int64(r.inside.lower)) : nil
    }

    static func checkProtocol(_ pf: JSONObject) throws {
        let p = pf["protocol"]?.stringValue ?? ""
        guard forwardableProtocols.contains(where: { $0.sameBytes(as: p) }) else {
            throw forwardingError("Port forwarding of protocol \(p) is not supported: only tcp, udp, sctp and dccp have ports")
        }
    }

    static func range(_ d: JSONObject, _ key: String) -> PortRange? { d[key].flatMap { PortRange.parse($0) } }

    /// Neutron's `_check_port_collisions`: the internal range against the same socket's other
    /// forwardings (port, address, protocol), then the external range against the floating
    /// IP's other forwardings of the protocol.
    static func checkCollisions(_ pf: JSONObject, _ r: (outside: PortRange, inside: PortRange), _ s: NetworkState) throws {
        let id = pf["id"]?.stringValue
        let proto = pf["protocol"]
        func collide(_ others: [JSONObject], _ key: String, _ mine: PortRange) throws {
            for o in others where o["id"]?.stringValue != id && o["protocol"] == proto {
                guard let theirs = range(o, key), theirs.overlaps(mine) else { continue }
                throw forwardingError("There is a port collision with the \(key). The following ranges collide: \(theirs) and \(mine)")
            }
        }
        let sameSocket = s.portForwardings(toPort: pf["internal_port_id"]?.stringValue ?? "").filter {
            $0["internal_ip_address"] == pf["internal_ip_address"]
        }
        try collide(sameSocket, "internal_port_range", r.inside)
        try collide(s.portForwardings(ofFloatingIP: pf["floatingip_id"]?.stringValue ?? ""), "external_port_range", r.outside)
    }

    /// A port with a floating IP gets no forwardings (PortHasBindingFloatingIP, 409).
    static func checkPortHasNoFloatingIP(_ pf: JSONObject, _ s: NetworkState) throws {
        guard let port = pf["internal_port_id"]?.stringValue, let f = s.floatingIPs(ofPort: port).first else { return }
        throw NeutronFault.conflict("PortHasBindingFloatingIP",
                                    "Cannot create port forwarding to floating IP \(f["floating_ip_address"]?.stringValue ?? "") (\(f["id"]?.stringValue ?? "")) with port \(port) using fixed IP \(pf["internal_ip_address"]?.stringValue ?? "None"), as that port already has a binding floating IP.")
    }

    /// How Python prints a port's `fixed_ips` in Neutron's messages.
    static func pyFixedIPs(_ ips: [(subnet: String, address: IPAddress)]) -> String {
        "[" + ips.map { "{'subnet_id': '\($0.subnet)', 'ip_address': '\($0.address)'}" }.joined(separator: ", ") + "]"
    }

    /// The router of a forwarding (`_find_a_router_for_fip_port_forwarding`): the internal
    /// address is one of the port's IPv4 addresses (the first when not given), and a router
    /// with its gateway on the floating IP's network has an interface on that address's subnet.
    func forwardingRouter(_ pf: inout JSONObject, _ fip: JSONObject, actor: NetworkActor, _ s: NetworkState) throws -> String {
        let portID = pf["internal_port_id"]?.stringValue ?? ""
        guard let port = s[.port, portID], actor.isAdmin || Self.owns(port, actor.projectID) else { throw ResourceKind.port.notFound(portID) }
        let v4 = NetworkState.fixedIPs(port).filter { $0.address.version == 4 }
        guard let first = v4.first else { throw Self.forwardingError("Requested internal port \(portID) must allocate an IPv4 address at least") }
        var chosen = first
        if let given = pf["internal_ip_address"]?.stringValue {
            guard let a = IPAddress(given), let m = v4.first(where: { $0.address == a }) else {
                throw Self.forwardingError("Requested internal IP address \(given) is not suitable for internal neutron port \(portID), as its fixed_ips are \(Self.pyFixedIPs(v4))")
            }
            chosen = m
        }
        pf["internal_ip_address"] = .string(chosen.address.description)
        let external = fip["floating_network_id"]?.stringValue ?? ""
        let routers = s.all(.router).filter { r in
            r["external_gateway_info"]?["network_id"]?.stringValue == external
                && interfaceSubnets(r["id"]!.stringValue!, s).contains { $0.id == chosen.subnet }
        }.compactMap { $0["id"]?.stringValue }.sorted()
        guard let router = routers.first else {
            throw Self.forwardingError("External network \(external) is not reachable from subnet \(chosen.subnet). Cannot set Port forwarding for port \(portID) with Floating IP \(fip["id"]?.stringValue ?? "")")
        }
        return router
    }

    /// A floating IP already routed elsewhere (by its other forwardings) cannot take one through
    /// another router (`_check_router_match`).
    static func checkRouterMatch(_ pf: JSONObject, _ fip: JSONObject, router: String, _ s: NetworkState) throws {
        guard let current = fip["router_id"]?.stringValue, current != router else { return }
        let fipID = fip["id"]?.stringValue ?? ""
        let internalPort = pf["internal_port"] ?? .null
        let same = s.portForwardings(ofFloatingIP: fipID).contains {
            $0["internal_ip_address"] == pf["internal_ip_address"] && ($0["internal_port"] ?? .null) == internalPort
        }
        if same {
            throw forwardingError("Floating IP \(fipID) with params: internal_ip_address: \(pf["internal_ip_address"]?.stringValue ?? ""), internal_port: \(Validators.repr(internalPort)) already exists")
        }
        throw forwardingError("The Floating IP \(fipID) had been set on router \(current), the internal Neutron port \(pf["internal_port_id"]?.stringValue ?? "") can not reach it")
    }

    /// After an update the internal address must still be one of the internal port's IPv4
    /// addresses.
    static func checkInternalAddress(_ pf: JSONObject, _ s: NetworkState) throws {
        let portID = pf["internal_port_id"]?.stringValue ?? ""
        guard let port = s[.port, portID] else { throw ResourceKind.port.notFound(portID) }
        let ips = NetworkState.fixedIPs(port)
        // Forwardings are IPv4 (Neutron's object keeps an IPv4 address field).
        guard let a = pf["internal_ip_address"]?.stringValue.flatMap({ IPAddress($0) }), a.version == 4, ips.contains(where: { $0.address == a }) else {
            throw forwardingError("The internal IP does not correspond to an address on the internal port, which has fixed_ips \(pyFixedIPs(ips))")
        }
    }

    /// `_check_port_forwarding_update`: no other forwarding of the floating IP and protocol with
    /// the same external port, or the same internal socket.
    static func checkUpdateConflicts(_ pf: JSONObject, _ fip: JSONObject, _ s: NetworkState) throws {
        let fipID = fip["id"]?.stringValue ?? ""
        for o in s.portForwardings(ofFloatingIP: fipID) where o["id"] != pf["id"] && o["protocol"] == pf["protocol"] {
            if let e = o["external_port"]?.intValue, e == pf["external_port"]?.intValue {
                throw forwardingError("Another port forwarding entry with the same attributes already exists, conflicting values are {'floating_ip_address': '\(fip["floating_ip_address"]?.stringValue ?? "")', 'external_port': \(e)}")
            }
            if let i = o["internal_port"]?.intValue, i == pf["internal_port"]?.intValue,
               o["internal_port_id"] == pf["internal_port_id"], o["internal_ip_address"] == pf["internal_ip_address"] {
                throw forwardingError("Another port forwarding entry with the same attributes already exists, conflicting values are {'internal_port_id': '\(o["internal_port_id"]?.stringValue ?? "")', 'internal_ip_address': '\(o["internal_ip_address"]?.stringValue ?? "")', 'internal_port': \(i)}")
            }
        }
    }
}
