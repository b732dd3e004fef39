@testable import NetworkNode
import Testing

/// What the Linux datapath hands dnsmasq: leases per port, options per subnet, and a port's
/// own `extra_dhcp_opts` under its tag, as Neutron's dnsmasq driver writes them.
@Suite struct DatapathFilesTests {
    let port = "0b2ad3f6-1c1e-4d5a-9a43-7f0e8c1d2e3f"

    func service(_ options: [DHCPOption]) -> DHCPService {
        DHCPService(networkID: "n", portID: "d", mac: "fa:16:3e:00:00:01",
                    addresses: [InterfaceAddress(address: "10.0.0.2", prefixLength: 24, version: 4)], mtu: 1450,
                    subnets: [DHCPSubnet(id: "s", cidr: "10.0.0.0/24", version: 4, gateway: "10.0.0.1", dnsServers: [], hostRoutes: [], ipv6AddressMode: nil)],
                    hosts: [DHCPHost(mac: "fa:16:3e:00:00:05", address: "10.0.0.5", hostname: "host-10-0-0-5", subnetID: "s", portID: port, options: options)])
    }

    @Test func portOptionsAreTaggedWithThePort() {
        let files = LinuxDatapath.dhcpFiles(service([DHCPOption(name: "tftp-server", value: "10.0.0.9"), DHCPOption(name: "150", value: "10.0.0.8")]))
        #expect(files.hosts == "fa:16:3e:00:00:05,host-10-0-0-5,10.0.0.5,set:port-\(port)\n")
        #expect(files.opts.contains("tag:port-\(port),option:tftp-server,10.0.0.9\n"))
        #expect(files.opts.contains("tag:port-\(port),150,10.0.0.8\n"))
    }

    @Test func namesDnsmasqWouldReadAsSomethingElseAreLeftOut() {
        let files = LinuxDatapath.dhcpFiles(service([DHCPOption(name: "tag:x,router", value: "1.2.3.4"), DHCPOption(name: "a b", value: "1")]))
        #expect(files.hosts == "fa:16:3e:00:00:05,host-10-0-0-5,10.0.0.5\n")
        #expect(!files.opts.contains("port-"))
    }

    @Test func noOptionsNoTag() {
        #expect(LinuxDatapath.dhcpFiles(service([])).hosts == "fa:16:3e:00:00:05,host-10-0-0-5,10.0.0.5\n")
    }
}

@Suite struct RouterAdvertisementTests {
    func router(_ prefixes: [RAPrefix]) -> RouterWiring {
        RouterWiring(id: "r", interfaces: [RouterInterface(portID: "1234567890abcdef", networkID: "n", mac: "fa:16:3e:00:00:01",
                                                           addresses: [InterfaceAddress(address: "2001:db8::1", prefixLength: 64, version: 6)],
                                                           mtu: 1450, advertised: prefixes)],
                     gateway: nil, defaultRoute: nil, snat: true, routes: [], floatingIPs: [])
    }

    @Test func slaacAndStatelessPrefixesAreAdvertisedOnTheirInterface() throws {
        let argv = try #require(LinuxDatapath.raArguments(router([RAPrefix(cidr: "2001:db8::/64", mode: "slaac"),
                                                                  RAPrefix(cidr: "2001:db8:1::/64", mode: "dhcpv6-stateless")]), dir: "/d"))
        #expect(argv.prefix(4) == ["ip", "netns", "exec", "qrouter-r"])
        #expect(argv.contains("--enable-ra") && argv.contains("--interface=qr-1234567890a"))
        #expect(argv.contains("--dhcp-range=set:i0,2001:db8::,ra-only,64") && argv.contains("--dhcp-range=set:i0,2001:db8:1::,ra-stateless,64"))
    }

    @Test func nothingToAdvertiseRunsNothing() {
        #expect(LinuxDatapath.raArguments(router([]), dir: "/d") == nil)
        #expect(LinuxDatapath.raArguments(router([RAPrefix(cidr: "2001:db8::/48", mode: "dhcpv6-stateful")]), dir: "/d") == nil)
        #expect(LinuxDatapath.raArguments(router([RAPrefix(cidr: "2001:db8::/56", mode: "slaac")]), dir: "/d") == nil)
        #expect(LinuxDatapath.raArguments(router([RAPrefix(cidr: "--x/64", mode: "slaac")]), dir: "/d") == nil)
    }
}
