import Networking
import NetworkNode
import NimbusCore
import Testing

/// What the network node's datapath is told for IPv6 subnets: the DHCP port has an address on
/// the subnets DHCPv6 serves (dnsmasq serves a range only from an address in it), ports on a
/// stateful subnet get a lease of their fixed address, and router interfaces carry their
/// subnet's mode and DNS servers.
@Suite struct DHCPv6TopologyTests {
    static let alice = NetworkActor(projectID: "alice", isAdmin: false)

    func subnet(_ s: NetworkService, _ net: String, _ cidr: String, mode: String, dns: [String] = []) async throws -> String {
        let sub = try await s.createSubnet(try ResourceSpecs.prepareCreate(.subnet, [
            "network_id": .string(net), "ip_version": 6, "cidr": .string(cidr), "ipv6_ra_mode": .string(mode),
            "ipv6_address_mode": .string(mode), "dns_nameservers": .array(dns.map { .string($0) })]), actor: Self.alice)
        return sub["id"]!.stringValue!
    }

    @Test func statefulPortsAreLeasedAndSlaacOnesAreNot() async throws {
        try await withNetworkService { s, _ in
            let net = try await s.createNetwork(try ResourceSpecs.prepareCreate(.network, ["name": "n"]), actor: Self.alice)["id"]!.stringValue!
            let slaac = try await subnet(s, net, "2001:db8:2::/64", mode: "slaac")
            #expect(!s.state.all(.port).contains { $0["device_owner"] == "network:dhcp" })   // nothing for dnsmasq to serve
            let stateful = try await subnet(s, net, "2001:db8:1::/64", mode: "dhcpv6-stateful", dns: ["2001:db8::53"])
            let port = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.alice)
            let fixed = port["fixed_ips"]!.arrayValue!.first { $0["subnet_id"] == .string(stateful) }!["ip_address"]!.stringValue!
            let d = try #require(s.topology(host: "h", networkNode: true).dhcp.first { $0.networkID == net })
            #expect(d.subnets.map(\.id) == [stateful] && d.subnets[0].dnsServers == ["2001:db8::53"] && d.subnets[0].leasesIPv6)
            #expect(d.addresses.map(\.cidr) == ["2001:db8:1::2/64"])
            #expect(d.hosts.map(\.address) == [fixed] && d.hosts[0].subnetID == stateful && d.hosts[0].mac == port["mac_address"]?.stringValue)
            #expect(!d.hosts.contains { $0.subnetID == slaac })
            try await s.deletePort(port["id"]!.stringValue!, actor: Self.alice)
            #expect(s.topology(host: "h", networkNode: true).dhcp.first { $0.networkID == net }?.hosts == [])
        }
    }
}
