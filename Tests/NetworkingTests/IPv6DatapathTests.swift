@testable import NetworkNode
import Foundation
import Testing

/// What the Linux datapath hands dnsmasq for IPv6, per Neutron mode: DHCPv6 static leases by MAC
/// and DNS servers in the network's dnsmasq, and the router's advertisements (flags by range
/// kind, RDNSS).
@Suite struct DHCPv6FilesTests {
    static let v4 = DHCPSubnet(id: "s4", cidr: "10.0.0.0/24", version: 4, gateway: "10.0.0.1", dnsServers: [], hostRoutes: [], ipv6AddressMode: nil)

    func service(mode: String?, ra: String? = nil, cidr: String = "2001:db8:1::/64", dns: [String] = ["2001:db8::53", "2001:DB8:0::54"]) -> DHCPService {
        let v6 = DHCPSubnet(id: "s6", cidr: cidr, version: 6, gateway: "2001:db8:1::1", dnsServers: dns, hostRoutes: [],
                            ipv6AddressMode: mode, ipv6RAMode: ra ?? mode)
        return DHCPService(networkID: "n", portID: "d", mac: "fa:16:3e:00:00:01",
                           addresses: [InterfaceAddress(address: "10.0.0.2", prefixLength: 24, version: 4)], mtu: 1450, subnets: [Self.v4, v6],
                           hosts: [DHCPHost(mac: "fa:16:3e:00:00:05", address: "10.0.0.5", hostname: "host-10-0-0-5", subnetID: "s4"),
                                   DHCPHost(mac: "fa:16:3e:00:00:05", address: "2001:db8:1::5", hostname: "host-2001-db8-1--5", subnetID: "s6")])
    }

    @Test func statefulLeasesTheAddressByMACWithTheDNSServers() {
        let files = LinuxDatapath.dhcpFiles(service(mode: "dhcpv6-stateful"))
        #expect(files.ranges == ["set:s0,10.0.0.0,static,255.255.255.0,86400s", "set:v6s0,2001:db8:1::,static,64,86400s"])
        #expect(files.hosts == "fa:16:3e:00:00:05,host-10-0-0-5,10.0.0.5\nfa:16:3e:00:00:05,tag:dhcpv6,host-2001-db8-1--5,[2001:db8:1::5]\n")
        #expect(files.opts.hasSuffix("tag:v6s0,option6:dns-server,[2001:db8::53],[2001:db8::54]\n"))
    }

    @Test func statelessAnswersOptionsWithoutLeases() {
        let files = LinuxDatapath.dhcpFiles(service(mode: "dhcpv6-stateless"))
        #expect(files.ranges.last == "set:v6s0,2001:db8:1::,static,64,86400s")
        #expect(!files.hosts.contains("2001:db8"))
        #expect(files.opts.contains("tag:v6s0,option6:dns-server,[2001:db8::53],[2001:db8::54]\n"))
    }

    @Test func slaacIsLeftToTheRouter() {
        let files = LinuxDatapath.dhcpFiles(service(mode: "slaac"))
        #expect(files.ranges == ["set:s0,10.0.0.0,static,255.255.255.0,86400s"])
        #expect(!files.hosts.contains("2001:db8") && !files.opts.contains("option6"))
    }

    /// Neither mode set: Neutron's agent serves static DHCPv6 leases; only an RA mode: nothing.
    @Test func noModeLeasesOnlyModeRANothing() {
        #expect(LinuxDatapath.dhcpFiles(service(mode: nil, ra: nil)).hosts.contains("[2001:db8:1::5]"))
        let raOnly = LinuxDatapath.dhcpFiles(service(mode: nil, ra: "slaac"))
        #expect(raOnly.ranges.count == 1 && !raOnly.hosts.contains("2001:db8"))
    }

    @Test func shortPrefixesAndBadServersAreLeftOut() {
        let short = LinuxDatapath.dhcpFiles(service(mode: "dhcpv6-stateful", cidr: "2001:db8::/56"))
        #expect(short.ranges.count == 1 && !short.hosts.contains("2001:db8"))
        let files = LinuxDatapath.dhcpFiles(service(mode: "dhcpv6-stateful", dns: ["8.8.8.8", "2001:db8::53],[x", "2001:db8::53"]))
        #expect(files.opts.contains("tag:v6s0,option6:dns-server,[2001:db8::53]\n"))
        #expect(!LinuxDatapath.dhcpFiles(service(mode: "dhcpv6-stateful", dns: ["8.8.8.8"])).opts.contains("option6"))
    }

    /// A deleted port's lease line goes with it (the datapath restarts dnsmasq when a line goes).
    @Test func aPortGoneLeavesNoLine() {
        var d = service(mode: "dhcpv6-stateful")
        d.hosts.removeAll { $0.mac == "fa:16:3e:00:00:05" }
        #expect(LinuxDatapath.dhcpFiles(d).hosts == "")
        d.subnets.removeLast()
        #expect(LinuxDatapath.dhcpFiles(d).ranges.count == 1)
    }
}

@Suite struct RouterAdvertisementModesTests {
    func router(_ prefixes: [[RAPrefix]]) -> RouterWiring {
        let interfaces = prefixes.enumerated().map { k, p in
            RouterInterface(portID: "\(k)234567890abcdef", networkID: "n\(k)", mac: "fa:16:3e:00:00:0\(k)",
                            addresses: [InterfaceAddress(address: "2001:db8:\(k)::1", prefixLength: 64, version: 6)], mtu: 1450, advertised: p)
        }
        return RouterWiring(id: "r", interfaces: interfaces, gateway: nil, defaultRoute: nil, snat: true, routes: [], floatingIPs: [])
    }

    /// Stateful: a DHCPv6 range (dnsmasq sets M, leaves A off), and the router's DHCPv6 cut off.
    @Test func statefulSetsManagedWithoutAutonomous() throws {
        let r = router([[RAPrefix(cidr: "2001:db8:0::/64", mode: "dhcpv6-stateful", dnsServers: ["2001:db8::53"])]])
        let argv = try #require(LinuxDatapath.raArguments(r, dir: "/d"))
        #expect(argv.contains("--dhcp-range=set:i0,2001:db8::,static,64") && argv.contains("--interface=qr-0234567890a"))
        #expect(!argv.contains { $0.contains("option6:dns-server") })   // DNS comes by DHCPv6, as with radvd
        #expect(LinuxDatapath.natRuleset(r).contains("udp dport 547 drop"))
    }

    @Test func rdnssOfSlaacSubnetsPerInterfaceAtMostThree() throws {
        let r = router([[RAPrefix(cidr: "2001:db8::/64", mode: "slaac", dnsServers: ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4"])],
                        [RAPrefix(cidr: "2001:db8:1::/64", mode: "dhcpv6-stateless", dnsServers: ["2001:db8::9"])]])
        let argv = try #require(LinuxDatapath.raArguments(r, dir: "/d"))
        #expect(argv.filter { $0.hasPrefix("--dhcp-option=") } == ["--dhcp-option=tag:i0,option6:dns-server,[2001:db8::1],[2001:db8::2],[2001:db8::3]"])
        #expect(argv.contains("--dhcp-range=set:i1,2001:db8:1::,ra-stateless,64"))
        #expect(!LinuxDatapath.natRuleset(r).contains("547"))
        #expect(LinuxDatapath.natRuleset(r).contains("delete table ip6 nimbus-ra"))   // a guard left from before goes
    }

    /// A controller from before RDNSS sends prefixes without servers.
    @Test func olderWireDecodes() throws {
        let p = try JSONDecoder().decode(RAPrefix.self, from: Data(#"{"cidr":"2001:db8::/64","mode":"slaac"}"#.utf8))
        #expect(p == RAPrefix(cidr: "2001:db8::/64", mode: "slaac"))
        let s = try JSONDecoder().decode(DHCPSubnet.self, from: Data(#"{"id":"s","cidr":"2001:db8::/64","version":6,"dnsServers":[],"hostRoutes":[],"ipv6AddressMode":"dhcpv6-stateful"}"#.utf8))
        #expect(s.leasesIPv6 && s.ipv6RAMode == nil)
    }
}

/// A guest's DHCPv6 passes whatever its groups say (as Neutron's firewall lets DHCP through);
/// a guest answering as a DHCPv6 server does not.
@Suite struct DHCPv6FirewallTests {
    @Test func clientsPassServersDoNot() {
        var t = HostTopology()
        t.ports = [PortWiring(id: "0123456789abcdef", networkID: "n", mac: "fa:16:3e:00:00:05",
                              addresses: [InterfaceAddress(address: "2001:db8:1::5", prefixLength: 64, version: 6)], portSecurity: true,
                              groups: ["g"], allowedPairs: [], adminUp: true)]
        t.groups = ["g": SecurityGroupRules(rules: [], stateful: true, memberAddresses: [])]
        let text = Firewall.ruleset(t, suffix: "x")
        #expect(text.contains("meta nfproto ipv6 udp sport 546 udp dport 547 return"))
        #expect(text.contains("meta nfproto ipv6 udp sport 547 udp dport 546 accept"))
        #expect(text.contains("ether type ip6 udp sport 547 udp dport 546 drop"))
    }
}
