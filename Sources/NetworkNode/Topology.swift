import NimbusCore

/// What one host's datapath should be: the networks it needs, the guest ports plugged there,
/// the DHCP servers and routers it hosts, and the security groups of its ports. The network
/// service computes it (`NetworkService.topology(host:)`); a host's agent converges the kernel
/// to it. Plain values, so the fake and the Linux datapath, and tests, share them.
public struct HostTopology: Sendable, Equatable {
    public var networks: [NetworkWiring] = []
    public var ports: [PortWiring] = []
    public var dhcp: [DHCPService] = []
    public var routers: [RouterWiring] = []
    public var groups: [String: SecurityGroupRules] = [:]
    public init() {}
}

public struct NetworkWiring: Sendable, Equatable {
    public var id: String
    public var type: String
    public var segmentationID: Int64?
    public var physicalNetwork: String?
    public var mtu: Int
    public init(id: String, type: String, segmentationID: Int64?, physicalNetwork: String?, mtu: Int) {
        self.id = id; self.type = type; self.segmentationID = segmentationID; self.physicalNetwork = physicalNetwork; self.mtu = mtu
    }
    /// The Linux bridge of the network (`brq` + 11 characters of its id, as Neutron's
    /// linuxbridge agent names it).
    public var bridge: String { "brq" + String(id.unicodeScalars.prefix(11)) }
    /// The veth from the bridge to the physical network's outside (a namespace on one machine).
    public var outsideDevice: String { "ext" + String(id.unicodeScalars.prefix(11)) }
}

/// An address with its prefix length (`10.0.0.5/24`).
public struct InterfaceAddress: Sendable, Equatable, Hashable {
    public var address: String
    public var prefixLength: Int
    public var version: Int
    public init(address: String, prefixLength: Int, version: Int) { self.address = address; self.prefixLength = prefixLength; self.version = version }
    public var cidr: String { "\(address)/\(prefixLength)" }
}

/// A guest's port on this host: a tap device in its network's bridge, filtered by its groups.
public struct PortWiring: Sendable, Equatable {
    public var id: String
    public var networkID: String
    public var mac: String
    public var addresses: [InterfaceAddress]
    public var portSecurity: Bool
    public var groups: [String]
    /// Allowed address pairs: an address or CIDR, and the MAC it may come from.
    public var allowedPairs: [(address: String, mac: String)]
    public var adminUp: Bool
    public init(id: String, networkID: String, mac: String, addresses: [InterfaceAddress], portSecurity: Bool, groups: [String],
                allowedPairs: [(address: String, mac: String)], adminUp: Bool) {
        self.id = id; self.networkID = networkID; self.mac = mac; self.addresses = addresses; self.portSecurity = portSecurity
        self.groups = groups; self.allowedPairs = allowedPairs; self.adminUp = adminUp
    }
    public var device: String { "tap" + String(id.unicodeScalars.prefix(11)) }

    public static func == (a: PortWiring, b: PortWiring) -> Bool {
        a.id == b.id && a.networkID == b.networkID && a.mac == b.mac && a.addresses == b.addresses && a.portSecurity == b.portSecurity
            && a.groups == b.groups && a.adminUp == b.adminUp
            && a.allowedPairs.map { $0.address + "|" + $0.mac } == b.allowedPairs.map { $0.address + "|" + $0.mac }
    }
}

public struct DHCPSubnet: Sendable, Equatable {
    public var id: String
    public var cidr: String
    public var version: Int
    public var gateway: String?
    public var dnsServers: [String]
    public var hostRoutes: [(destination: String, nexthop: String)]
    public var ipv6AddressMode: String?
    public init(id: String, cidr: String, version: Int, gateway: String?, dnsServers: [String], hostRoutes: [(destination: String, nexthop: String)],
                ipv6AddressMode: String?) {
        self.id = id; self.cidr = cidr; self.version = version; self.gateway = gateway; self.dnsServers = dnsServers
        self.hostRoutes = hostRoutes; self.ipv6AddressMode = ipv6AddressMode
    }
    public static func == (a: DHCPSubnet, b: DHCPSubnet) -> Bool {
        a.id == b.id && a.cidr == b.cidr && a.version == b.version && a.gateway == b.gateway && a.dnsServers == b.dnsServers
            && a.ipv6AddressMode == b.ipv6AddressMode
            && a.hostRoutes.map { $0.destination + ">" + $0.nexthop } == b.hostRoutes.map { $0.destination + ">" + $0.nexthop }
    }
}

/// A DHCP lease dnsmasq hands out: the port's MAC, address and host name.
public struct DHCPHost: Sendable, Equatable {
    public var mac: String
    public var address: String
    public var hostname: String
    public var subnetID: String
    public init(mac: String, address: String, hostname: String, subnetID: String) {
        self.mac = mac; self.address = address; self.hostname = hostname; self.subnetID = subnetID
    }
}

/// The DHCP server (and metadata address) of one network, in namespace `qdhcp-<network>`.
public struct DHCPService: Sendable, Equatable {
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

public struct RouterInterface: Sendable, Equatable {
    public var portID: String
    public var networkID: String
    public var mac: String
    public var addresses: [InterfaceAddress]
    public var mtu: Int
    public init(portID: String, networkID: String, mac: String, addresses: [InterfaceAddress], mtu: Int) {
        self.portID = portID; self.networkID = networkID; self.mac = mac; self.addresses = addresses; self.mtu = mtu
    }
    public var bridgeDevice: String { "tap" + String(portID.unicodeScalars.prefix(11)) }
}

/// A router: namespace `qrouter-<id>` with `qr-` interfaces on its subnets, a `qg-` gateway on
/// the external network with SNAT, and floating IPs as DNAT/SNAT pairs.
public struct RouterWiring: Sendable, Equatable {
    public var id: String
    public var interfaces: [RouterInterface]
    public var gateway: RouterInterface?
    /// The external subnet's gateway: the router's default route.
    public var defaultRoute: String?
    public var snat: Bool
    public var routes: [(destination: String, nexthop: String)]
    public var floatingIPs: [(floating: String, fixed: String)]
    public init(id: String, interfaces: [RouterInterface], gateway: RouterInterface?, defaultRoute: String?, snat: Bool,
                routes: [(destination: String, nexthop: String)], floatingIPs: [(floating: String, fixed: String)]) {
        self.id = id; self.interfaces = interfaces; self.gateway = gateway; self.defaultRoute = defaultRoute; self.snat = snat
        self.routes = routes; self.floatingIPs = floatingIPs
    }
    public var namespace: String { "qrouter-" + id }
    public static func == (a: RouterWiring, b: RouterWiring) -> Bool {
        a.id == b.id && a.interfaces == b.interfaces && a.gateway == b.gateway && a.defaultRoute == b.defaultRoute && a.snat == b.snat
            && a.routes.map { $0.destination + ">" + $0.nexthop } == b.routes.map { $0.destination + ">" + $0.nexthop }
            && a.floatingIPs.map { $0.floating + ">" + $0.fixed } == b.floatingIPs.map { $0.floating + ">" + $0.fixed }
    }
    public static func device(_ prefix: String, _ portID: String) -> String { prefix + String(portID.unicodeScalars.prefix(11)) }
}

public struct SecurityGroupRule: Sendable, Equatable {
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

public struct SecurityGroupRules: Sendable, Equatable {
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
