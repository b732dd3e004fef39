import NimbusCore

/// What one host's datapath should be: the networks it needs, the guest ports plugged there,
/// the DHCP servers and routers it hosts, and the security groups of its ports. The network
/// service computes it (`NetworkService.topology(host:)`); a host's agent converges the kernel
/// to it. Plain values, so the fake and the Linux datapath, and tests, share them.
public struct HostTopology: Sendable, Equatable, Codable {
    public var networks: [NetworkWiring] = []
    public var ports: [PortWiring] = []
    public var dhcp: [DHCPService] = []
    public var routers: [RouterWiring] = []
    public var groups: [String: SecurityGroupRules] = [:]
    public init() {}
}

extension HostTopology {
    /// Every port this topology wires (guests, DHCP servers, router interfaces and gateways).
    public var portIDs: Set<String> {
        var ids = Set(ports.map(\.id) + dhcp.map(\.portID))
        for r in routers { ids.formUnion(r.interfaces.map(\.portID) + (r.gateway.map { [$0.portID] } ?? [])) }
        return ids
    }
}

/// What a host's network agent says of itself with each topology request.
public struct AgentHello: Sendable, Equatable, Codable {
    public var host: String
    /// The host's VXLAN endpoint (nil: it has no tunnels).
    public var tunnelIP: String?
    public init(host: String, tunnelIP: String?) { self.host = host; self.tunnelIP = tunnelIP }
}

public struct NetworkWiring: Sendable, Equatable, Codable {
    public var id: String
    public var type: String
    public var segmentationID: Int64?
    public var physicalNetwork: String?
    public var mtu: Int
    /// For a VXLAN network: the tunnel addresses of the other hosts with ports on it (head-end
    /// replication, as Neutron's l2population fills the linuxbridge agent's forwarding table).
    public var peers: [String]
    public init(id: String, type: String, segmentationID: Int64?, physicalNetwork: String?, mtu: Int, peers: [String] = []) {
        self.id = id; self.type = type; self.segmentationID = segmentationID; self.physicalNetwork = physicalNetwork; self.mtu = mtu
        self.peers = peers
    }
    /// The Linux bridge of the network (`brq` + 11 characters of its id, as Neutron's
    /// linuxbridge agent names it).
    public var bridge: String { "brq" + String(id.unicodeScalars.prefix(11)) }
    /// The veth from the bridge to the physical network's outside (a namespace on one machine).
    public var outsideDevice: String { "ext" + String(id.unicodeScalars.prefix(11)) }
    /// The VXLAN device of the network (`vxlan-<vni>`, as the linuxbridge agent names it).
    public var vxlanDevice: String? {
        guard type == "vxlan", let vni = segmentationID, (1...16_777_215).contains(vni) else { return nil }
        return "vxlan-\(vni)"
    }
}

/// A route (`destination` via `nexthop`).
public struct Route: Sendable, Equatable, Codable {
    public var destination: String
    public var nexthop: String
    public init(destination: String, nexthop: String) { self.destination = destination; self.nexthop = nexthop }
}

/// An allowed address pair: an address or CIDR and the MAC it may come from.
public struct AddressPair: Sendable, Equatable, Codable {
    public var address: String
    public var mac: String
    public init(address: String, mac: String) { self.address = address; self.mac = mac }
}

/// A floating IP and the fixed address it maps to.
public struct FloatingMapping: Sendable, Equatable, Codable {
    public var floating: String
    public var fixed: String
    public init(floating: String, fixed: String) { self.floating = floating; self.fixed = fixed }
}

/// A floating IP port forwarding: `floating`:`externalPorts` of `proto` to
/// `internalAddress`:`internalPorts` (a range of the same size, or one port).
public struct PortForwardingRule: Sendable, Equatable, Codable {
    public var id: String
    public var floating: String
    /// `tcp`, `udp`, `sctp` or `dccp`.
    public var proto: String
    public var externalPorts: ClosedRange<Int>
    public var internalAddress: String
    public var internalPorts: ClosedRange<Int>
    /// The widest range mapped onto a range that starts elsewhere: nftables has no port
    /// offset (iptables' `ip:a-b/base`), so such a range is one map entry per port.
    public static let maxShiftedPorts = 1024
    public init(id: String, floating: String, proto: String, externalPorts: ClosedRange<Int>, internalAddress: String, internalPorts: ClosedRange<Int>) {
        self.id = id; self.floating = floating; self.proto = proto; self.externalPorts = externalPorts
        self.internalAddress = internalAddress; self.internalPorts = internalPorts
    }
}

/// An address with its prefix length (`10.0.0.5/24`).
public struct InterfaceAddress: Sendable, Equatable, Codable, Hashable {
    public var address: String
    public var prefixLength: Int
    public var version: Int
    public init(address: String, prefixLength: Int, version: Int) { self.address = address; self.prefixLength = prefixLength; self.version = version }
    public var cidr: String { "\(address)/\(prefixLength)" }
}

/// A guest's port on this host: a tap device in its network's bridge, filtered by its groups.
public struct PortWiring: Sendable, Equatable, Codable {
    public var id: String
    public var networkID: String
    public var mac: String
    public var addresses: [InterfaceAddress]
    public var portSecurity: Bool
    public var groups: [String]
    /// Allowed address pairs: an address or CIDR, and the MAC it may come from.
    public var allowedPairs: [AddressPair]
    public var adminUp: Bool
    public init(id: String, networkID: String, mac: String, addresses: [InterfaceAddress], portSecurity: Bool, groups: [String],
                allowedPairs: [AddressPair], adminUp: Bool) {
        self.id = id; self.networkID = networkID; self.mac = mac; self.addresses = addresses; self.portSecurity = portSecurity
        self.groups = groups; self.allowedPairs = allowedPairs; self.adminUp = adminUp
    }
    public var device: String { "tap" + String(id.unicodeScalars.prefix(11)) }

}

public struct DHCPSubnet: Sendable, Equatable, Codable {
    public var id: String
    public var cidr: String
    public var version: Int
    public var gateway: String?
    public var dnsServers: [String]
    public var hostRoutes: [Route]
    public var ipv6AddressMode: String?
    /// Absent on an older controller's wire (nil).
    public var ipv6RAMode: String?
    public init(id: String, cidr: String, version: Int, gateway: String?, dnsServers: [String], hostRoutes: [Route],
                ipv6AddressMode: String?, ipv6RAMode: String? = nil) {
        self.id = id; self.cidr = cidr; self.version = version; self.gateway = gateway; self.dnsServers = dnsServers
        self.hostRoutes = hostRoutes; self.ipv6AddressMode = ipv6AddressMode; self.ipv6RAMode = ipv6RAMode
    }
    /// An IPv6 subnet whose addresses DHCPv6 leases: `dhcpv6-stateful`, or no mode at all (Neutron's
    /// DHCP agent serves those with static leases too).
    public var leasesIPv6: Bool {
        version == 6 && (ipv6AddressMode == "dhcpv6-stateful" || (ipv6AddressMode == nil && ipv6RAMode == nil))
    }
    /// An IPv6 subnet the network's dnsmasq serves: the leasing ones and `dhcpv6-stateless` (options only).
    public var servesDHCPv6: Bool { leasesIPv6 || (version == 6 && ipv6AddressMode == "dhcpv6-stateless") }
}

/// A DHCP lease dnsmasq hands out: the port's MAC, address and host name (an IPv4 address, or
/// an IPv6 one on a `dhcpv6-stateful` subnet, leased by DHCPv6).
public struct DHCPHost: Sendable, Equatable, Codable {
    public var mac: String
    public var address: String
    public var hostname: String
    public var subnetID: String
    /// The port's own IPv4 DHCP options (`extra_dhcp_opts`), tagged with the port.
    public var portID: String
    public var options: [DHCPOption]
    public init(mac: String, address: String, hostname: String, subnetID: String, portID: String = "", options: [DHCPOption] = []) {
        self.mac = mac; self.address = address; self.hostname = hostname; self.subnetID = subnetID
        self.portID = portID; self.options = options
    }
}

/// One `extra_dhcp_opts` entry: an option name or number and its value.
public struct DHCPOption: Sendable, Equatable, Codable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// The DHCP server (and metadata address) of one network, in namespace `qdhcp-<network>`.
public struct DHCPService: Sendable, Equatable, Codable {
    public var networkID: String
    public var portID: String
    public var mac: String
    public var addresses: [InterfaceAddress]
    public var mtu: Int
    public var subnets: [DHCPSubnet]
    public var hosts: [DHCPHost]
    public init(networkID: String, portID: String, mac: String, addresses: [InterfaceAddress], mtu: Int, subnets: [DHCPSubnet], hosts: [DHCPHost]) {
        self.networkID = networkID; self.portID = portID; self.mac = mac; self.addresses = addresses; self.mtu = mtu
        self.subnets = subnets; self.hosts = hosts
    }
    public var namespace: String { "qdhcp-" + networkID }
    /// The veth end in the network's bridge and the one in the namespace.
    public var bridgeDevice: String { "tap" + String(portID.unicodeScalars.prefix(11)) }
    public var device: String { "ns-" + String(portID.unicodeScalars.prefix(11)) }
}

public struct RouterInterface: Sendable, Equatable, Codable {
    public var portID: String
    public var networkID: String
    public var mac: String
    public var addresses: [InterfaceAddress]
    public var mtu: Int
    /// The IPv6 prefixes the router advertises on this interface (subnets with an `ipv6_ra_mode`).
    public var advertised: [RAPrefix]
    /// The port's `admin_state_up`: false puts its bridge end down, as for a guest's tap.
    public var adminUp: Bool
    public init(portID: String, networkID: String, mac: String, addresses: [InterfaceAddress], mtu: Int, advertised: [RAPrefix] = [],
                adminUp: Bool = true) {
        self.portID = portID; self.networkID = networkID; self.mac = mac; self.addresses = addresses; self.mtu = mtu
        self.advertised = advertised; self.adminUp = adminUp
    }
    public var bridgeDevice: String { "tap" + String(portID.unicodeScalars.prefix(11)) }

    enum CodingKeys: String, CodingKey { case portID, networkID, mac, addresses, mtu, advertised, adminUp }
    /// An older controller's wire has no `adminUp`: up.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(portID: try c.decode(String.self, forKey: .portID), networkID: try c.decode(String.self, forKey: .networkID),
                  mac: try c.decode(String.self, forKey: .mac), addresses: try c.decode([InterfaceAddress].self, forKey: .addresses),
                  mtu: try c.decode(Int.self, forKey: .mtu), advertised: try c.decodeIfPresent([RAPrefix].self, forKey: .advertised) ?? [],
                  adminUp: try c.decodeIfPresent(Bool.self, forKey: .adminUp) ?? true)
    }
}

/// An IPv6 prefix in the router's advertisements and its mode (Neutron's `ipv6_ra_mode`:
/// `slaac`, `dhcpv6-stateless` or `dhcpv6-stateful`).
public struct RAPrefix: Sendable, Equatable, Codable {
    public var cidr: String
    public var mode: String
    /// The subnet's `dns_nameservers`: RDNSS in the advertisements of a `slaac` prefix (the
    /// DHCPv6 modes hand them out by DHCPv6 instead, as Neutron's radvd configuration does).
    public var dnsServers: [String]
    public init(cidr: String, mode: String, dnsServers: [String] = []) { self.cidr = cidr; self.mode = mode; self.dnsServers = dnsServers }

    enum CodingKeys: String, CodingKey { case cidr, mode, dnsServers }
    /// An older controller's wire has no `dnsServers`: none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(cidr: try c.decode(String.self, forKey: .cidr), mode: try c.decode(String.self, forKey: .mode),
                  dnsServers: try c.decodeIfPresent([String].self, forKey: .dnsServers) ?? [])
    }
}

/// A router: namespace `qrouter-<id>` with `qr-` interfaces on its subnets, a `qg-` gateway on
/// the external network with SNAT, and floating IPs as DNAT/SNAT pairs.
public struct RouterWiring: Sendable, Equatable, Codable {
    public var id: String
    public var interfaces: [RouterInterface]
    public var gateway: RouterInterface?
    /// The external subnet's gateway: the router's default route.
    public var defaultRoute: String?
    public var snat: Bool
    public var routes: [Route]
    public var floatingIPs: [FloatingMapping]
    /// Floating IP port forwardings through this router (absent on an older controller's wire:
    /// none).
    public var portForwardings: [PortForwardingRule]
    /// The router's `admin_state_up`: false sets the bridge ends of its interfaces and gateway
    /// down (no traffic through it) while its ports stay wired, as OVN disables a logical router.
    public var adminUp: Bool
    public init(id: String, interfaces: [RouterInterface], gateway: RouterInterface?, defaultRoute: String?, snat: Bool,
                routes: [Route], floatingIPs: [FloatingMapping], portForwardings: [PortForwardingRule] = [], adminUp: Bool = true) {
        self.id = id; self.interfaces = interfaces; self.gateway = gateway; self.defaultRoute = defaultRoute; self.snat = snat
        self.routes = routes; self.floatingIPs = floatingIPs; self.portForwardings = portForwardings; self.adminUp = adminUp
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), interfaces: try c.decode([RouterInterface].self, forKey: .interfaces),
                  gateway: try c.decodeIfPresent(RouterInterface.self, forKey: .gateway), defaultRoute: try c.decodeIfPresent(String.self, forKey: .defaultRoute),
                  snat: try c.decode(Bool.self, forKey: .snat), routes: try c.decode([Route].self, forKey: .routes),
                  floatingIPs: try c.decode([FloatingMapping].self, forKey: .floatingIPs),
                  portForwardings: try c.decodeIfPresent([PortForwardingRule].self, forKey: .portForwardings) ?? [],
                  adminUp: try c.decodeIfPresent(Bool.self, forKey: .adminUp) ?? true)
    }
    /// The floating addresses the gateway carries: associated floating IPs and those with
    /// port forwardings.
    public var floatingAddresses: [String] {
        var seen = Set<String>()
        return (floatingIPs.map(\.floating) + portForwardings.map(\.floating)).filter { seen.insert($0).inserted }
    }
    public var namespace: String { "qrouter-" + id }
    public static func device(_ prefix: String, _ portID: String) -> String { prefix + String(portID.unicodeScalars.prefix(11)) }
}

public struct SecurityGroupRule: Sendable, Equatable, Codable {
    public var direction: String
    public var ethertype: String
    /// The IP protocol number; nil: any.
    public var proto: Int?
    public var portMin: Int?
    public var portMax: Int?
    public var remoteCIDR: String?
    public var remoteGroup: String?
    public init(direction: String, ethertype: String, proto: Int?, portMin: Int?, portMax: Int?, remoteCIDR: String?, remoteGroup: String?) {
        self.direction = direction; self.ethertype = ethertype; self.proto = proto; self.portMin = portMin; self.portMax = portMax
        self.remoteCIDR = remoteCIDR; self.remoteGroup = remoteGroup
    }
}

public struct SecurityGroupRules: Sendable, Equatable, Codable {
    public var rules: [SecurityGroupRule]
    public var stateful: Bool
    /// Addresses of the group's ports (anywhere in the cloud), for rules naming it as remote.
    public var memberAddresses: [String]
    public init(rules: [SecurityGroupRule], stateful: Bool, memberAddresses: [String]) {
        self.rules = rules; self.stateful = stateful; self.memberAddresses = memberAddresses
    }
}

/// How a physical network reaches the outside on this host.
public enum PhysicalAttachment: Sendable, Equatable {
    /// A namespace Nimbus creates that plays the outside world (one machine): a veth from the
    /// network's bridge with `address` inside.
    case namespace(name: String, address: String)
    /// An existing host interface (or bridge) added to the network's bridge.
    case interface(String)
}
