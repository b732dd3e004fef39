import NetworkNode
import NimbusCore

/// What each host's datapath should be (`HostTopology`), the DHCP ports Neutron's DHCP agent
/// would own, and the port states the agents report.
extension NetworkService {
    static func dhcpDeviceID(_ network: String) -> String { "dhcp-" + network }

    /// A subnet the network's dnsmasq serves: IPv4 with DHCP, and IPv6 with DHCPv6 (`dhcpv6-stateful`,
    /// `dhcpv6-stateless`, or neither mode set, as Neutron's DHCP agent; /64 or longer, as dnsmasq
    /// takes). `slaac` subnets are the router's alone.
    static func servedByDHCP(_ sub: JSONObject) -> Bool {
        guard sub["enable_dhcp"]?.boolValue == true else { return false }
        if sub["ip_version"]?.intValue == 4 { return true }
        let am = sub["ipv6_address_mode"]?.stringValue, ra = sub["ipv6_ra_mode"]?.stringValue
        guard am == "dhcpv6-stateful" || am == "dhcpv6-stateless" || (am == nil && ra == nil) else { return false }
        return (cidr(sub)?.prefixLength ?? 0) >= 64
    }

    /// Keeps one DHCP port on a network with subnets DHCP serves, with an address on each of
    /// them (the address dnsmasq serves from), and none otherwise.
    func syncDHCPPort(network networkID: String, _ s: inout NetworkState) throws {
        guard let network = s[.network, networkID] else { return }
        let subnets = s.subnets(ofNetwork: networkID).filter(Self.servedByDHCP)
        // The service's own DHCP port (a user's port with that owner is just a port).
        let existing = s.ports(ofNetwork: networkID).first {
            $0["device_owner"]?.stringValue == "network:dhcp" && $0["device_id"]?.stringValue == Self.dhcpDeviceID(networkID)
        }
        if subnets.isEmpty {
            if let existing { s.remove(.port, existing["id"]!.stringValue!) }
            return
        }
        let want = Set(subnets.compactMap { $0["id"]?.stringValue })
        if let existing {
            let have = Set(NetworkState.fixedIPs(existing).map(\.subnet))
            if have == want { return }
            var requested = NetworkState.fixedIPs(existing).filter { want.contains($0.subnet) }
                .map { JSONValue.object(["subnet_id": .string($0.subnet), "ip_address": .string($0.address.description)]) }
            for id in want.subtracting(have).sorted() { requested.append(["subnet_id": .string(id)]) }
            _ = try updatePort(existing["id"]!.stringValue!, ["fixed_ips": .array(requested)], actor: NetworkActor(projectID: "", isAdmin: true), &s)
            return
        }
        let owner = network["project_id"]?.stringValue ?? ""
        _ = try createPort(["network_id": .string(networkID), "device_owner": "network:dhcp", "device_id": .string(Self.dhcpDeviceID(networkID)),
                            "project_id": .string(owner), "name": "", "admin_state_up": true, "description": "",
                            "fixed_ips": .array(want.sorted().map { ["subnet_id": .string($0)] }), "security_groups": [],
                            "port_security_enabled": false, "allowed_address_pairs": [], "binding:host_id": ""],
                           actor: NetworkActor(projectID: owner, isAdmin: true), &s)
    }

    static func addresses(_ p: JSONObject, _ s: NetworkState) -> [InterfaceAddress] {
        NetworkState.fixedIPs(p).compactMap { ip in
            guard let net = s[.subnet, ip.subnet].flatMap(Self.cidr) else { return nil }
            return InterfaceAddress(address: ip.address.description, prefixLength: net.prefixLength, version: ip.address.version)
        }
    }

    static func routes(_ v: JSONValue?) -> [Route] {
        (v?.arrayValue ?? []).compactMap { r in
            guard let d = r["destination"]?.stringValue, let n = r["nexthop"]?.stringValue else { return nil }
            return Route(destination: d, nexthop: n)
        }
    }

    /// The datapath of `host`. A network node (the controller's host in `nimbus up`) also
    /// serves every network's DHCP and every router. VXLAN networks carry the tunnel
    /// addresses of the other hosts with ports on them.
    public func topology(host: String, networkNode: Bool) -> HostTopology {
        let s = state
        var t = HostTopology()
        var networkIDs = Set<String>()
        var groupIDs = Set<String>()
        // Where each network has ports: the hosts of its guests, and the network nodes for its
        // DHCP servers and router interfaces.
        let networkNodes = Self.networkNodes(s)
        var hostsOf = [String: Set<String>]()
        for p in s.all(.port) {
            let owner = p["device_owner"]?.stringValue ?? ""
            guard let n = p["network_id"]?.stringValue else { continue }
            if owner.hasBytePrefix("compute:") {
                if let h = p["binding:host_id"]?.stringValue, !h.isEmpty { hostsOf[n, default: []].insert(h) }
            } else if owner == "network:dhcp" || owner.hasBytePrefix("network:router_") || owner == "network:ha_router_replicated_interface" {
                hostsOf[n, default: []].formUnion(networkNodes)
            }
            guard owner.hasBytePrefix("compute:"), p["binding:host_id"]?.stringValue?.sameBytes(as: host) == true else { continue }
            guard let id = p["id"]?.stringValue, let mac = p["mac_address"]?.stringValue else { continue }
            let groups = (p["security_groups"]?.arrayValue ?? []).compactMap(\.stringValue)
            groupIDs.formUnion(groups)
            let pairs = (p["allowed_address_pairs"]?.arrayValue ?? []).compactMap { a -> AddressPair? in
                guard let ip = a["ip_address"]?.stringValue else { return nil }
                return AddressPair(address: ip, mac: a["mac_address"]?.stringValue ?? mac)
            }
            t.ports.append(PortWiring(id: id, networkID: n, mac: mac, addresses: Self.addresses(p, s), portSecurity: p["port_security_enabled"]?.boolValue ?? true,
                                      groups: groups, allowedPairs: pairs, adminUp: p["admin_state_up"]?.boolValue ?? true))
            networkIDs.insert(n)
        }
        if networkNode {
            for p in s.all(.port) where p["device_owner"]?.stringValue == "network:dhcp" {
                guard let id = p["id"]?.stringValue, let n = p["network_id"]?.stringValue, let network = s[.network, n],
                      p["device_id"]?.stringValue == Self.dhcpDeviceID(n) else { continue }
                let subnets = s.subnets(ofNetwork: n).filter(Self.servedByDHCP)
                let dhcpSubnets = subnets.compactMap { sub -> DHCPSubnet? in
                    guard let sid = sub["id"]?.stringValue, let cidr = sub["cidr"]?.stringValue else { return nil }
                    return DHCPSubnet(id: sid, cidr: cidr, version: Int(sub["ip_version"]?.intValue ?? 4), gateway: sub["gateway_ip"]?.stringValue,
                                      dnsServers: (sub["dns_nameservers"]?.arrayValue ?? []).compactMap(\.stringValue),
                                      hostRoutes: Self.routes(sub["host_routes"]), ipv6AddressMode: sub["ipv6_address_mode"]?.stringValue,
                                      ipv6RAMode: sub["ipv6_ra_mode"]?.stringValue)
                }
                var hosts = [DHCPHost]()
                for q in s.ports(ofNetwork: n) where !(q["device_owner"]?.stringValue ?? "").hasBytePrefix("network:") {
                    guard let mac = q["mac_address"]?.stringValue else { continue }
                    // Neutron leaves the client id to the client; the rest go to dnsmasq.
                    let options = (q["extra_dhcp_opts"]?.arrayValue ?? []).compactMap { o -> DHCPOption? in
                        guard o["ip_version"]?.intValue ?? 4 == 4, let name = o["opt_name"]?.stringValue,
                              !["client-id", "61"].contains(name) else { return nil }
                        return DHCPOption(name: name, value: o["opt_value"]?.stringValue ?? "")
                    }
                    for ip in NetworkState.fixedIPs(q) where ip.address.version == 4 {
                        hosts.append(DHCPHost(mac: mac, address: ip.address.description,
                                              hostname: "host-" + ip.address.description.replacingBytes(".", with: "-"), subnetID: ip.subnet,
                                              portID: q["id"]?.stringValue ?? "", options: options))
                    }
                    // DHCPv6 leases only where DHCPv6 hands out addresses (Neutron writes none
                    // for `slaac` and `dhcpv6-stateless`); dnsmasq finds the MAC on the link.
                    for ip in NetworkState.fixedIPs(q) where ip.address.version == 6
                        && dhcpSubnets.contains(where: { $0.id == ip.subnet && $0.leasesIPv6 }) {
                        hosts.append(DHCPHost(mac: mac, address: ip.address.description,
                                              hostname: "host-" + ip.address.description.replacingBytes(":", with: "-"), subnetID: ip.subnet,
                                              portID: q["id"]?.stringValue ?? ""))
                    }
                }
                hosts.sort { $0.address < $1.address }
                t.dhcp.append(DHCPService(networkID: n, portID: id, mac: p["mac_address"]?.stringValue ?? "", addresses: Self.addresses(p, s),
                                          mtu: Int(network["mtu"]?.intValue ?? 1500), subnets: dhcpSubnets, hosts: hosts))
                networkIDs.insert(n)
            }
            // A router that is administratively down keeps its namespace, but its interfaces and
            // gateway are cut off at the bridge (`adminUp`); its ports stay ACTIVE, as under OVN
            // (Tempest waits for a down router's interfaces to be ACTIVE).
            for r in s.all(.router) {
                guard let rid = r["id"]?.stringValue else { continue }
                func iface(_ p: JSONObject) -> RouterInterface? {
                    guard let pid = p["id"]?.stringValue, let n = p["network_id"]?.stringValue, let mac = p["mac_address"]?.stringValue else { return nil }
                    networkIDs.insert(n)
                    let advertised = NetworkState.fixedIPs(p).compactMap { ip -> RAPrefix? in
                        guard ip.address.version == 6, let sub = s[.subnet, ip.subnet], let mode = sub["ipv6_ra_mode"]?.stringValue,
                              let cidr = sub["cidr"]?.stringValue else { return nil }
                        return RAPrefix(cidr: cidr, mode: mode, dnsServers: (sub["dns_nameservers"]?.arrayValue ?? []).compactMap(\.stringValue))
                    }
                    return RouterInterface(portID: pid, networkID: n, mac: mac, addresses: Self.addresses(p, s), mtu: Int(s[.network, n]?["mtu"]?.intValue ?? 1500),
                                           advertised: advertised, adminUp: p["admin_state_up"]?.boolValue ?? true)
                }
                let ports = s.ports(ofDevice: rid)
                let interfaces = ports.filter { $0["device_owner"]?.stringValue == "network:router_interface" }
                    .sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }.compactMap(iface)
                let gatewayPort = ports.first { $0["device_owner"]?.stringValue == "network:router_gateway" }
                let gateway = gatewayPort.flatMap(iface)
                let defaultRoute = gatewayPort.flatMap { g in
                    NetworkState.fixedIPs(g).lazy.compactMap { s[.subnet, $0.subnet]?["gateway_ip"]?.stringValue }.first { IPAddress($0)?.version == 4 }
                }
                let fips = s.all(.floatingIP).filter { $0["router_id"]?.stringValue == rid }.compactMap { f -> FloatingMapping? in
                    guard let a = f["floating_ip_address"]?.stringValue, let b = f["fixed_ip_address"]?.stringValue,
                          IPAddress(a)?.version == 4, IPAddress(b)?.version == 4 else { return nil }
                    return FloatingMapping(floating: a, fixed: b)
                }.sorted { $0.floating < $1.floating }
                if interfaces.isEmpty && gateway == nil { continue }
                t.routers.append(RouterWiring(id: rid, interfaces: interfaces, gateway: gateway, defaultRoute: defaultRoute,
                                              snat: r["external_gateway_info"]?["enable_snat"]?.boolValue ?? true,
                                              routes: Self.routes(r["routes"]), floatingIPs: fips,
                                              portForwardings: Self.forwardingRules(router: rid, s),
                                              adminUp: r["admin_state_up"]?.boolValue ?? true))
            }
        }
        let tunnels = Self.tunnelEndpoints(s)
        for id in networkIDs.sorted() {
            guard let n = s[.network, id] else { continue }
            let type = n["provider:network_type"]?.stringValue ?? "vxlan"
            let peers = type == "vxlan" ? Set((hostsOf[id] ?? []).filter { !$0.sameBytes(as: host) }.compactMap { tunnels[$0] }).sorted() : []
            t.networks.append(NetworkWiring(id: id, type: type,
                                            segmentationID: n["provider:segmentation_id"]?.intValue, physicalNetwork: n["provider:physical_network"]?.stringValue,
                                            mtu: Int(n["mtu"]?.intValue ?? 1500), peers: peers))
        }
        t.ports.sort { $0.id < $1.id }
        t.dhcp.sort { $0.networkID < $1.networkID }
        t.routers.sort { $0.id < $1.id }
        // The groups of the ports here, and the members of the groups their rules name.
        var remote = Set<String>()
        for g in groupIDs {
            for r in s.rules(ofGroup: g) { if let rg = r["remote_group_id"]?.stringValue { remote.insert(rg) } }
        }
        for g in groupIDs.union(remote) {
            guard let group = s[.securityGroup, g] else { continue }
            let rules = s.rules(ofGroup: g).map { r in
                SecurityGroupRule(direction: r["direction"]?.stringValue ?? "ingress", ethertype: r["ethertype"]?.stringValue ?? "IPv4",
                                  proto: r["protocol"]?.stringValue.flatMap { Self.protocolNumbers[$0].map(Int.init) ?? Int($0) },
                                  portMin: r["port_range_min"]?.intValue.map(Int.init), portMax: r["port_range_max"]?.intValue.map(Int.init),
                                  remoteCIDR: r["normalized_cidr"]?.stringValue, remoteGroup: r["remote_group_id"]?.stringValue)
            }
            var members = [String]()
            if remote.contains(g) {
                for p in s.all(.port) where (p["security_groups"]?.arrayValue ?? []).contains(.string(g)) {
                    members += NetworkState.fixedIPs(p).map { $0.address.description }
                }
            }
            t.groups[g] = SecurityGroupRules(rules: rules, stateful: group["stateful"]?.boolValue ?? true, memberAddresses: members.sorted())
        }
        return t
    }

    /// An agent's report: the ports of its topology (`considered`) that are wired are ACTIVE,
    /// the others DOWN; floating IPs are ACTIVE when associated through a wired gateway. A host
    /// that is not the network node speaks only for the guest ports bound to it.
    public func reportWired(host: String, considered: Set<String>, wired: Set<String>, networkNode: Bool) async throws {
        let s = state
        let mine = networkNode ? considered : considered.filter { id in
            guard let p = s[.port, id] else { return false }
            return (p["device_owner"]?.stringValue ?? "").hasBytePrefix("compute:") && p["binding:host_id"]?.stringValue?.sameBytes(as: host) == true
        }
        let changes = mine.filter { id in
            let want = wired.contains(id) ? "ACTIVE" : "DOWN"
            return s[.port, id]?["status"]?.stringValue != want
        }
        let fipChanges = networkNode ? s.all(.floatingIP).filter { f in
            let want = Self.fipActive(f, wired: wired, s) ? "ACTIVE" : "DOWN"
            return f["status"]?.stringValue != want
        } : []
        if changes.isEmpty && fipChanges.isEmpty { return }
        try await write { s in
            for id in changes {
                guard var p = s[.port, id] else { continue }
                p["status"] = .string(wired.contains(id) ? "ACTIVE" : "DOWN")
                s.put(.port, Self.touched(p))
            }
            for f in fipChanges {
                guard var cur = s[.floatingIP, f["id"]?.stringValue ?? ""] else { continue }
                cur["status"] = .string(Self.fipActive(cur, wired: wired, s) ? "ACTIVE" : "DOWN")
                s.put(.floatingIP, Self.touched(cur))
            }
        }
    }

    /// Who asks the metadata service: the compute port on `network` with `address` (one at
    /// most: addresses are unique on a network; anti-spoofing ties the guest's source address to
    /// it), the instance it names, the project that owns the port, and its floating IP.
    public func metadataCaller(network: String, address: String) -> (instance: String, portProject: String, fixedIP: String, floatingIP: String?)? {
        guard let a = IPAddress(address) else { return nil }
        let s = state
        for p in s.ports(ofNetwork: network) where (p["device_owner"]?.stringValue ?? "").hasBytePrefix("compute:") {
            guard NetworkState.fixedIPs(p).contains(where: { $0.address == a }), let device = p["device_id"]?.stringValue, !device.isEmpty,
                  let id = p["id"]?.stringValue else { continue }
            let fip = s.floatingIPs(ofPort: id).first { $0["fixed_ip_address"]?.stringValue == a.description }?["floating_ip_address"]?.stringValue
            return (device, p["project_id"]?.stringValue ?? "", a.description, fip)
        }
        return nil
    }

    /// A floating IP is ACTIVE when it is associated or forwards ports, through a router whose
    /// gateway is wired.
    static func fipActive(_ f: JSONObject, wired: Set<String>, _ s: NetworkState) -> Bool {
        guard let r = f["router_id"]?.stringValue else { return false }
        guard f["port_id"]?.stringValue != nil || !s.portForwardings(ofFloatingIP: f["id"]?.stringValue ?? "").isEmpty else { return false }
        return s.ports(ofDevice: r).contains { $0["device_owner"]?.stringValue == "network:router_gateway" && wired.contains($0["id"]?.stringValue ?? "") }
    }

    /// The port forwardings of a router's floating IPs, for its namespace's DNAT.
    static func forwardingRules(router: String, _ s: NetworkState) -> [PortForwardingRule] {
        s.all(.floatingIP).filter { $0["router_id"]?.stringValue == router }.flatMap { f in
            s.portForwardings(ofFloatingIP: f["id"]?.stringValue ?? "").compactMap { pf -> PortForwardingRule? in
                guard let id = pf["id"]?.stringValue, let floating = f["floating_ip_address"]?.stringValue,
                      let proto = pf["protocol"]?.stringValue, let address = pf["internal_ip_address"]?.stringValue,
                      let e = Self.range(pf, "external_port_range"), let i = Self.range(pf, "internal_port_range") else { return nil }
                return PortForwardingRule(id: id, floating: floating, proto: proto, externalPorts: e.lower...e.upper,
                                          internalAddress: address, internalPorts: i.lower...i.upper)
            }
        }.sorted { $0.id < $1.id }
    }
}
