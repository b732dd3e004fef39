import NimbusCore

/// IPv6 on the Linux datapath, as Neutron's agents configure it:
///
/// * the network's dnsmasq (DHCP agent) serves DHCPv6 on `dhcpv6-stateful` subnets (and on
///   IPv6 subnets without modes) with one static lease per port, found by the port's MAC (the
///   client's DUID need not contain it: dnsmasq reads the MAC of the sender on the link), and
///   answers `dhcpv6-stateless` clients with options only; both get the subnet's DNS servers;
/// * the router (L3 agent, radvd there, dnsmasq's RA here) advertises each interface's
///   prefixes: `slaac` with the autonomous flag, `dhcpv6-stateless` with it and the other-config
///   flag, `dhcpv6-stateful` with the managed flag and without the autonomous flag; the DNS
///   servers of `slaac` subnets (at most 3) go out as RDNSS. dnsmasq also sets the other-config
///   flag next to the managed one (radvd leaves it off; with M set it changes nothing).
extension LinuxDatapath {
    /// A prefix as dnsmasq takes it: its canonical network address and length, or nil.
    static func ipv6Prefix(_ cidr: String) -> (network: String, length: Int)? {
        let parts = cidr.splitBytes("/")
        guard parts.count == 2, let network = canonical(String(parts[0])), network.containsByte(":"),
              let length = Int(parts[1]), (0...128).contains(length) else { return nil }
        return (network, length)
    }

    /// IPv6 DNS servers in dnsmasq's brackets (IPv4 ones and text that is no address are left out).
    static func bracketed(_ servers: [String]) -> [String] {
        servers.compactMap(canonical).filter { $0.containsByte(":") }.map { "[\($0)]" }
    }

    /// The DHCPv6 lines of a network's dnsmasq: a `static` range per served subnet (/64 or
    /// longer: dnsmasq takes no shorter, and Neutron's agent skips those too), its DNS servers,
    /// and a lease per port address on a leasing subnet (`tag:dhcpv6`: the line is never used
    /// for DHCPv4, where the same MAC has its IPv4 line).
    static func dhcpv6Files(_ d: DHCPService) -> (hosts: String, opts: String, ranges: [String]) {
        var hosts = "", opts = "", ranges = [String]()
        var leasing = Set<String>()
        for (n, s) in d.subnets.filter(\.servesDHCPv6).enumerated() {
            guard let (network, length) = ipv6Prefix(s.cidr), length >= 64 else { continue }
            let tag = "v6s\(n)"
            ranges.append("set:\(tag),\(network),static,\(length),86400s")
            let servers = bracketed(s.dnsServers)
            if !servers.isEmpty { opts += "tag:\(tag),option6:dns-server,\(servers.joined(separator: ","))\n" }
            if s.leasesIPv6 { leasing.insert(s.id) }
        }
        for h in d.hosts where leasing.contains(h.subnetID) {
            guard let address = canonical(h.address), address.containsByte(":"), isMAC(h.mac) else { continue }
            hosts += "\(h.mac),tag:dhcpv6,host-\(address.replacingBytes(":", with: "-")),[\(address)]\n"
        }
        return (hosts, opts, ranges)
    }

    /// `aa:bb:cc:dd:ee:ff`, nothing else (a hosts line is split at commas).
    static func isMAC(_ text: String) -> Bool {
        let parts = text.splitBytes(":")
        return parts.count == 6 && parts.allSatisfy { $0.utf8.count == 2 && UInt8($0, radix: 16) != nil }
    }

    /// The router's IPv6 advertisements (dnsmasq with `--enable-ra` in the router's namespace):
    /// one range per advertised prefix on its `qr-` interface, tagged with the interface so that
    /// its RDNSS goes out there only. Nil: nothing to advertise.
    static func raArguments(_ r: RouterWiring, dir: String) -> [String]? {
        var ranges = [String](), options = [String](), interfaces = [String]()
        for (k, i) in r.interfaces.enumerated() {
            let tag = "i\(k)"
            var any = false
            var dns = [String]()
            for p in i.advertised {
                guard let (network, length) = ipv6Prefix(p.cidr) else { continue }
                switch p.mode {
                case "slaac" where length == 64:
                    ranges.append("--dhcp-range=set:\(tag),\(network),ra-only,64")
                    dns += p.dnsServers
                case "dhcpv6-stateless" where length == 64:
                    ranges.append("--dhcp-range=set:\(tag),\(network),ra-stateless,64")
                case "dhcpv6-stateful" where length >= 64:
                    // A DHCPv6 range makes dnsmasq set M and leave A off; the router's own
                    // DHCPv6 server it also starts is cut off (`dhcpv6Guard`).
                    ranges.append("--dhcp-range=set:\(tag),\(network),static,\(length)")
                default: continue
                }
                any = true
            }
            let servers = bracketed(dns).prefix(3)
            if !servers.isEmpty { options.append("--dhcp-option=tag:\(tag),option6:dns-server,\(servers.joined(separator: ","))") }
            if any { interfaces.append("--interface=" + RouterWiring.device("qr-", i.portID)) }
        }
        if ranges.isEmpty { return nil }
        return ["ip", "netns", "exec", r.namespace, "dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--port=0",
                "--pid-file=\(dir)/pid", "--enable-ra", "--bind-interfaces", "--except-interface=lo", "--log-facility=\(dir)/log",
                "--leasefile-ro", "--quiet-ra", "--quiet-dhcp6"]
            + interfaces + ranges + options
    }

    /// True when the router advertises a stateful prefix (its dnsmasq then listens for DHCPv6).
    static func advertisesStateful(_ r: RouterWiring) -> Bool {
        r.interfaces.contains { $0.advertised.contains { $0.mode == "dhcpv6-stateful" } }
    }

    /// nftables in the router's namespace: no DHCPv6 reaches the router's dnsmasq. It serves
    /// DHCPv6 on a stateful prefix only because that is how it sets the managed flag; with no
    /// leases it would answer "no addresses available" next to the network's DHCP server. The
    /// table is always named (and deleted) so that it goes with the last stateful prefix.
    static func dhcpv6Guard(_ r: RouterWiring) -> String {
        var s = "table ip6 nimbus-ra\ndelete table ip6 nimbus-ra\n"
        guard advertisesStateful(r) else { return s }
        s += "table ip6 nimbus-ra {\n  chain input {\n    type filter hook input priority 0; policy accept;\n"
        s += "    udp dport 547 drop\n  }\n}\n"
        return s
    }
}
