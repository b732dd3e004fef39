import Logging
import Networking
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing

/// The network service's rules without HTTP, on each store engine.
@Suite struct ServiceTests {
    static let alice = NetworkActor(projectID: "alice", isAdmin: false)
    static let bob = NetworkActor(projectID: "bob", isAdmin: false)

    func withService(_ body: (NetworkService, Database) async throws -> Void) async throws {
        try await withNetworkService(body)
    }

    func network(_ s: NetworkService, _ actor: NetworkActor, _ cidr: String) async throws -> (String, String) {
        let n = try await s.createNetwork(try ResourceSpecs.prepareCreate(.network, ["name": "n"]), actor: actor)
        let id = n["id"]!.stringValue!
        let sub = try await s.createSubnet(try ResourceSpecs.prepareCreate(.subnet, ["network_id": .string(id), "ip_version": 4, "cidr": .string(cidr)]), actor: actor)
        return (id, sub["id"]!.stringValue!)
    }

    @Test func subnetDefaultsAndAllocation() async throws {
        try await withService { s, _ in
            let (net, subnet) = try await network(s, Self.alice, "10.0.0.0/29")
            let sub = s.state[.subnet, subnet]!
            #expect(sub["gateway_ip"] == .string("10.0.0.1"))
            #expect(sub["allocation_pools"] == [["start": "10.0.0.2", "end": "10.0.0.6"]])
            // The DHCP port took the first address.
            let dhcp = s.state.all(.port).first { $0["device_owner"] == "network:dhcp" }
            #expect(dhcp?["fixed_ips"]?.arrayValue?.first?["ip_address"] == .string("10.0.0.2"))
            var addresses = [String]()
            for _ in 0..<4 {
                let p = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.alice)
                addresses.append(p["fixed_ips"]!.arrayValue![0]["ip_address"]!.stringValue!)
            }
            #expect(addresses == ["10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"])
            await #expect(throws: NimbusError.self) {
                _ = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.alice)
            }
            // A freed address is handed out again.
            let first = s.state.all(.port).first { $0["fixed_ips"]?.arrayValue?.first?["ip_address"] == .string("10.0.0.4") }!
            try await s.deletePort(first["id"]!.stringValue!, actor: Self.alice)
            let again = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.alice)
            #expect(again["fixed_ips"]!.arrayValue![0]["ip_address"] == .string("10.0.0.4"))
        }
    }

    /// Addresses are found in ranges, never by enumerating a pool: on a /64 (2^64 addresses, which
    /// no enumeration would ever finish) ports get addresses at once, in pool order.
    @Test func hugeSubnetsAreNotEnumerated() async throws {
        try await withService { s, _ in
            let n = try await s.createNetwork(try ResourceSpecs.prepareCreate(.network, ["name": "big"]), actor: Self.alice)
            let net = n["id"]!.stringValue!
            _ = try await s.createSubnet(try ResourceSpecs.prepareCreate(.subnet, ["network_id": .string(net), "ip_version": 6, "cidr": "2001:db8::/64",
                                                                                  "ipv6_address_mode": "dhcpv6-stateful", "ipv6_ra_mode": "dhcpv6-stateful"]),
                                         actor: Self.alice)
            var got = [String]()
            for _ in 0..<20 {
                let p = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.alice)
                got.append(p["fixed_ips"]!.arrayValue![0]["ip_address"]!.stringValue!)
            }
            // The DHCP port took ::2 (DHCPv6 serves the subnet, as Neutron's DHCP agent does).
            #expect(got == (3..<23).map { "2001:db8::\(String($0, radix: 16))" })
        }
    }

    @Test func duplicateAddressAndOverlap() async throws {
        try await withService { s, _ in
            let (net, subnet) = try await network(s, Self.alice, "10.0.0.0/24")
            _ = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net), "fixed_ips": [["ip_address": "10.0.0.50"]]]), actor: Self.alice)
            await #expect(throws: NimbusError.self) {
                _ = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net), "fixed_ips": [["subnet_id": .string(subnet), "ip_address": "10.0.0.50"]]]), actor: Self.alice)
            }
            await #expect(throws: NimbusError.self) {
                _ = try await s.createSubnet(try ResourceSpecs.prepareCreate(.subnet, ["network_id": .string(net), "ip_version": 4, "cidr": "10.0.0.128/25"]), actor: Self.alice)
            }
            // Another project's network with the same CIDR is its own address space.
            let (other, _) = try await network(s, Self.bob, "10.0.0.0/24")
            let p = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(other), "fixed_ips": [["ip_address": "10.0.0.50"]]]), actor: Self.bob)
            #expect(p["fixed_ips"]!.arrayValue![0]["ip_address"] == .string("10.0.0.50"))
            // … but it cannot use Alice's network.
            await #expect(throws: NimbusError.self) {
                _ = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.bob)
            }
        }
    }

    @Test func stateSurvivesReload() async throws {
        try await withService { s, db in
            let (net, _) = try await network(s, Self.alice, "192.168.0.0/24")
            let p = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.alice)
            let reloaded = try await NetworkService(store: NetworkStore(database: db), logger: Logger(label: "test"))
            #expect(reloaded.state[.port, p["id"]!.stringValue!] == p)
            #expect(reloaded.state.isAllocated(IPAddress(p["fixed_ips"]!.arrayValue![0]["ip_address"]!.stringValue!)!, subnet: p["fixed_ips"]!.arrayValue![0]["subnet_id"]!.stringValue!))
            // Each project got its default security group with Neutron's four rules.
            let group = reloaded.state.all(.securityGroup).first { $0["project_id"] == "alice" }!
            #expect(reloaded.state.rules(ofGroup: group["id"]!.stringValue!).count == 4)
            #expect(p["security_groups"] == [group["id"]!])
        }
    }

    @Test func routerGatewayInterfaceAndFloatingIP() async throws {
        try await withService { s, _ in
            let admin = NetworkActor(projectID: "admin", isAdmin: true)
            let ext = try await s.createNetwork(try ResourceSpecs.prepareCreate(.network, ["name": "public", "router:external": true]), actor: admin)
            let extID = ext["id"]!.stringValue!
            _ = try await s.createSubnet(try ResourceSpecs.prepareCreate(.subnet, ["network_id": .string(extID), "ip_version": 4, "cidr": "172.24.4.0/24"]), actor: admin)
            let (net, subnet) = try await network(s, Self.alice, "10.0.0.0/24")
            let port = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.alice)
            let fip = try await s.createFloatingIP(try ResourceSpecs.prepareCreate(.floatingIP, ["floating_network_id": .string(extID)]), actor: Self.alice)
            let fipID = fip["id"]!.stringValue!
            // No router yet: the network cannot be reached.
            await #expect(throws: NimbusError.self) { _ = try await s.updateFloatingIP(fipID, ["port_id": port["id"]!], actor: Self.alice) }
            let router = try await s.createRouter(try ResourceSpecs.prepareCreate(.router, ["name": "r", "external_gateway_info": ["network_id": .string(extID)]]), actor: Self.alice)
            let rid = router["id"]!.stringValue!
            _ = try await s.addRouterInterface(rid, subnetID: subnet, portID: nil, actor: Self.alice)
            let associated = try await s.updateFloatingIP(fipID, ["port_id": port["id"]!], actor: Self.alice)
            #expect(associated["router_id"] == .string(rid))
            #expect(associated["fixed_ip_address"] == port["fixed_ips"]!.arrayValue![0]["ip_address"]!)
            await #expect(throws: NimbusError.self) { try await s.deleteRouter(rid) }
            await #expect(throws: NimbusError.self) { _ = try await s.removeRouterInterface(rid, subnetID: subnet, portID: nil, actor: Self.alice) }
            try await s.deletePort(port["id"]!.stringValue!, actor: Self.alice)
            #expect(s.state[.floatingIP, fipID]?["port_id"] == .null)
            _ = try await s.removeRouterInterface(rid, subnetID: subnet, portID: nil, actor: Self.alice)
            try await s.deleteFloatingIP(fipID)
            try await s.deleteRouter(rid)
            try await s.deleteNetwork(net)
            // Only the external network's DHCP port is left.
            #expect(s.state.all(.port).allSatisfy { $0["device_owner"] == "network:dhcp" && $0["network_id"] == .string(extID) })
        }
    }

    /// The indices follow every change: id order, ports per device (after a device change), owner counts.
    @Test func indicesFollowChanges() async throws {
        try await withService { s, _ in
            let (net, _) = try await network(s, Self.alice, "10.9.0.0/24")
            var ids = [String]()
            for _ in 0..<5 {
                ids.append(try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(net)]), actor: Self.alice)["id"]!.stringValue!)
            }
            let ordered = s.state.inIDOrder(.port).compactMap { $0["id"]?.stringValue }
            #expect(ordered == ordered.sorted() && Set(ids).isSubset(of: Set(ordered)))
            _ = try await s.updatePort(ids[0], ["device_id": "vm-1"], actor: Self.alice)
            #expect(s.state.ports(ofDevice: "vm-1").map { $0["id"]!.stringValue! } == [ids[0]])
            _ = try await s.updatePort(ids[0], ["device_id": "vm-2"], actor: Self.alice)
            #expect(s.state.ports(ofDevice: "vm-1").isEmpty)
            let before = s.state.ownedCount(.port, project: "alice")
            try await s.deletePort(ids[1], actor: Self.alice)
            #expect(s.state.ownedCount(.port, project: "alice") == before - 1)
            #expect(!s.state.inIDOrder(.port).contains { $0["id"]?.stringValue == ids[1] })
        }
    }
}
