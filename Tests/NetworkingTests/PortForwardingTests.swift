import Foundation
import Logging
@testable import NetworkNode
@testable import Networking
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing

/// Port ranges as neutron-lib validates them, and the router's DNAT for port forwardings.
@Suite struct PortForwardingRangeTests {
    @Test(arguments: [
        ("22", "22:22"), ("80:90", "80:90"), ("65535", "65535:65535"), ("1:65535", "1:65535"),
    ])
    func acceptedRanges(_ text: String, _ canonical: String) {
        #expect(PortRange.parse(.string(text))?.description == canonical)
    }

    @Test(arguments: [
        ("1:2:3", "Port range must be two integers separated by a colon"),
        (":5", "Port range must be two integers separated by a colon"),
        ("", "Port range must be two integers separated by a colon"),
        ("x", "Invalid port: x"),
        ("0", "Invalid port: 0, the port must be in the range [1, 65535]"),
        ("70000", "Invalid port: 70000"),
        ("9:8", "First port in a port range must be lower than the second port"),
    ])
    func refusedRanges(_ text: String, _ message: String) {
        #expect(PortRange.check(.string(text)).failure?.message == message)
        #expect(PortRange.parse(.string(text)) == nil)
    }

    @Test func anIntegerIsARangeOfOne() {
        #expect(PortRange.parse(.int(443)) == PortRange(single: 443))
        #expect(PortRange.check(.null).range == nil && PortRange.check(.null).failure == nil)
    }

    @Test func rangesOfDifferentSizesAreRefusedButNToOneIsNot() throws {
        let nToOne = try NetworkService.forwardingRanges(["external_port_range": "100:110", "internal_port": 22], current: nil)
        #expect(nToOne.outside == PortRange(100, 110) && nToOne.inside == PortRange(single: 22))
        #expect(throws: NimbusError.self) {
            try NetworkService.forwardingRanges(["external_port_range": "100:110", "internal_port_range": "20:25"], current: nil)
        }
        #expect(throws: NimbusError.self) {
            try NetworkService.forwardingRanges(["external_port": 22, "internal_port_range": "20:25"], current: nil)
        }
        #expect(throws: NimbusError.self) {
            try NetworkService.forwardingRanges(["external_port": 22, "external_port_range": "22:23", "internal_port": 5], current: nil)
        }
        // An update keeps what it does not name.
        let kept = try NetworkService.forwardingRanges(["internal_port": 2022], current: ["external_port_range": "2222:2222", "internal_port_range": "22:22"])
        #expect(kept.outside == PortRange(single: 2222) && kept.inside == PortRange(single: 2022))
    }

    @Test func portSpecsConvertAndValidate() throws {
        let attrs = try ResourceSpecs.prepareCreate(.portForwarding, [
            "internal_port_id": "0b2ad3f6-1c1e-4d5a-9a43-7f0e8c1d2e3f", "internal_ip_address": "10.0.0.5", "protocol": "tcp",
            "external_port": "2222", "internal_port": 22, "internal_port_range": .null,
        ])
        #expect(attrs["external_port"] == .int(2222) && attrs["description"] == "")
        #expect(throws: NimbusError.self) { try ResourceSpecs.prepareCreate(.portForwarding, ["protocol": "tcp"]) }
        let bad = try? ResourceSpecs.prepareUpdate(.portForwarding, ["protocol": "TCP"])
        #expect(bad == nil)
        let range = try ResourceSpecs.prepareUpdate(.portForwarding, ["external_port_range": "2000"])
        #expect(range["external_port_range"] == "2000:2000")
    }
}

@Suite struct PortForwardingNATTests {
    let gateway = RouterInterface(portID: "1234567890abcdef", networkID: "ext", mac: "fa:16:3e:00:00:01",
                                  addresses: [InterfaceAddress(address: "172.24.4.10", prefixLength: 24, version: 4)], mtu: 1500)

    func rule(_ e: ClosedRange<Int>, _ i: ClosedRange<Int>, proto: String = "tcp", to target: String = "10.0.0.5") -> PortForwardingRule {
        PortForwardingRule(id: "pf", floating: "172.24.4.20", proto: proto, externalPorts: e, internalAddress: target, internalPorts: i)
    }

    @Test func aPortToAPort() {
        #expect(LinuxDatapath.forwardingRule(rule(2222...2222, 22...22)) == "ip daddr 172.24.4.20 tcp dport 2222 dnat to 10.0.0.5:22")
    }

    @Test func aRangeToOnePortAndARangeToARange() {
        #expect(LinuxDatapath.forwardingRule(rule(5000...5002, 53...53, proto: "udp")) == "ip daddr 172.24.4.20 udp dport 5000-5002 dnat to 10.0.0.5:53")
        // Same ports inside: only the address changes.
        #expect(LinuxDatapath.forwardingRule(rule(8000...8002, 8000...8002)) == "ip daddr 172.24.4.20 tcp dport 8000-8002 dnat to 10.0.0.5")
        // Shifted: port by port, as iptables' `ip:a-b/base`.
        #expect(LinuxDatapath.forwardingRule(rule(9000...9002, 80...82))
            == "ip daddr 172.24.4.20 tcp dport 9000-9002 dnat to 10.0.0.5 : tcp dport map { 9000 : 80, 9001 : 81, 9002 : 82 }")
    }

    @Test func whatNftShouldNeverSeeIsLeftOut() {
        #expect(LinuxDatapath.forwardingRule(rule(1...1, 1...1, proto: "icmp")) == nil)
        #expect(LinuxDatapath.forwardingRule(rule(1...3, 5...6)) == nil)
        #expect(LinuxDatapath.forwardingRule(rule(0...0, 22...22)) == nil)
        #expect(LinuxDatapath.forwardingRule(rule(22...22, 22...22, to: "fd00::5")) == nil)
        #expect(LinuxDatapath.forwardingRule(rule(22...22, 22...22, to: "10.0.0.5; flush ruleset")) == nil)
    }

    @Test func theRouterRulesetCarriesForwardingsBothHooksAndTheGatewayTheAddress() {
        let r = RouterWiring(id: "r", interfaces: [], gateway: gateway, defaultRoute: nil, snat: true, routes: [],
                             floatingIPs: [FloatingMapping(floating: "172.24.4.30", fixed: "10.0.0.9")],
                             portForwardings: [rule(2222...2222, 22...22), rule(53...53, 53...53, proto: "udp")])
        let text = LinuxDatapath.natRuleset(r)
        #expect(text.components(separatedBy: "tcp dport 2222 dnat to 10.0.0.5:22").count == 3)  // prerouting and output
        #expect(text.contains("udp dport 53 dnat to 10.0.0.5:53"))
        #expect(text.contains("ip daddr 172.24.4.30 dnat to 10.0.0.9"))
        #expect(r.floatingAddresses == ["172.24.4.30", "172.24.4.20"])
        let none = RouterWiring(id: "r", interfaces: [], gateway: gateway, defaultRoute: nil, snat: true, routes: [], floatingIPs: [])
        #expect(!LinuxDatapath.natRuleset(none).contains("dport"))
    }

    @Test func anOlderWireWithoutForwardingsDecodes() throws {
        let r = RouterWiring(id: "r", interfaces: [], gateway: gateway, defaultRoute: "172.24.4.1", snat: false, routes: [],
                             floatingIPs: [], portForwardings: [rule(2222...2222, 22...22)])
        let data = try JSONEncoder().encode(r)
        #expect(try JSONDecoder().decode(RouterWiring.self, from: data) == r)
        var object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["portForwardings"] = nil
        let old = try JSONDecoder().decode(RouterWiring.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(old.portForwardings.isEmpty && old.defaultRoute == "172.24.4.1" && old.snat == false)
    }
}

/// The service's rules without HTTP: router, collisions, floating IP conflicts, cleanup, topology.
@Suite struct PortForwardingServiceTests {
    static let admin = NetworkActor(projectID: "admin", isAdmin: true)
    static let alice = NetworkActor(projectID: "alice", isAdmin: false)

    func withService(_ body: (NetworkService) async throws -> Void) async throws {
        try await withNetworkService(engines: ["sqlite"]) { s, _ in try await body(s) }
    }

    struct Setup { let fip: String; let port: String; let other: String; let address: String; let router: String; let floating: String }

    func setup(_ s: NetworkService) async throws -> Setup {
        let ext = try await s.createNetwork(try ResourceSpecs.prepareCreate(.network, ["name": "public", "router:external": true]), actor: Self.admin)
        let extID = ext["id"]!.stringValue!
        _ = try await s.createSubnet(try ResourceSpecs.prepareCreate(.subnet, ["network_id": .string(extID), "ip_version": 4, "cidr": "172.24.4.0/24"]), actor: Self.admin)
        let net = try await s.createNetwork(try ResourceSpecs.prepareCreate(.network, ["name": "n"]), actor: Self.alice)
        let netID = net["id"]!.stringValue!
        let sub = try await s.createSubnet(try ResourceSpecs.prepareCreate(.subnet, ["network_id": .string(netID), "ip_version": 4, "cidr": "10.0.0.0/24"]), actor: Self.alice)
        let router = try await s.createRouter(try ResourceSpecs.prepareCreate(.router, ["external_gateway_info": ["network_id": .string(extID)]]), actor: Self.alice)
        let rid = router["id"]!.stringValue!
        _ = try await s.addRouterInterface(rid, subnetID: sub["id"]!.stringValue!, portID: nil, actor: Self.alice)
        let port = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(netID)]), actor: Self.alice)
        let other = try await s.createPort(try ResourceSpecs.prepareCreate(.port, ["network_id": .string(netID)]), actor: Self.alice)
        let fip = try await s.createFloatingIP(try ResourceSpecs.prepareCreate(.floatingIP, ["floating_network_id": .string(extID)]), actor: Self.alice)
        return Setup(fip: fip["id"]!.stringValue!, port: port["id"]!.stringValue!, other: other["id"]!.stringValue!,
                     address: port["fixed_ips"]!.arrayValue![0]["ip_address"]!.stringValue!, router: rid,
                     floating: fip["floating_ip_address"]!.stringValue!)
    }

    func forwarding(_ port: String, _ address: String?, external: Int64, inner: Int64 = 22, proto: String = "tcp") throws -> JSONObject {
        var body: JSONObject = ["internal_port_id": .string(port), "internal_ip_address": .string(address ?? "10.0.0.250"),
                                "external_port": .int(external), "internal_port": .int(inner), "protocol": .string(proto)]
        if address == nil { body["internal_ip_address"] = "10.0.0.250" }
        return try ResourceSpecs.prepareCreate(.portForwarding, body)
    }

    static func type(_ e: any Error) -> String? { (e as? NimbusError).flatMap(NeutronFault.type(of:)) }

    @Test func forwardingsRouteTheFloatingIPAndReachTheTopology() async throws {
        try await withService { s in
            let e = try await setup(s)
            let pf = try await s.createPortForwarding(floatingIP: e.fip, try forwarding(e.port, e.address, external: 2222), actor: Self.alice)
            #expect(pf["external_port_range"] == "2222:2222" && pf["internal_port"] == .int(22))
            #expect(s.state[.floatingIP, e.fip]?["router_id"] == .string(e.router))
            let wiring = try #require(s.topology(host: "h", networkNode: true).routers.first { $0.id == e.router })
            #expect(wiring.portForwardings == [PortForwardingRule(id: pf["id"]!.stringValue!, floating: e.floating, proto: "tcp",
                                                                   externalPorts: 2222...2222, internalAddress: e.address, internalPorts: 22...22)])
            #expect(wiring.floatingAddresses == [e.floating])
            // The gateway wired: the floating IP goes ACTIVE, as an associated one.
            let gw = s.state.ports(ofDevice: e.router).first { $0["device_owner"] == "network:router_gateway" }!["id"]!.stringValue!
            try await s.reportWired(host: "h", considered: [gw], wired: [gw], networkNode: true)
            #expect(s.state[.floatingIP, e.fip]?["status"] == "ACTIVE")
            try await s.deletePortForwarding(floatingIP: e.fip, pf["id"]!.stringValue!)
            #expect(s.state[.floatingIP, e.fip]?["router_id"] == .null && s.state[.floatingIP, e.fip]?["status"] == "DOWN")
            #expect(s.topology(host: "h", networkNode: true).routers.first { $0.id == e.router }?.portForwardings == [])
        }
    }

    @Test func collisionsAndFloatingIPConflictsAreNeutrons() async throws {
        try await withService { s in
            let e = try await setup(s)
            _ = try await s.createPortForwarding(floatingIP: e.fip, try forwarding(e.port, e.address, external: 2222), actor: Self.alice)
            let otherAddress = s.state[.port, e.other]!["fixed_ips"]!.arrayValue![0]["ip_address"]!.stringValue!
            await #expect { _ = try await s.createPortForwarding(floatingIP: e.fip, try forwarding(e.other, otherAddress, external: 2222), actor: Self.alice) }
                throws: { Self.type($0) == "BadRequest" }
            _ = try await s.createPortForwarding(floatingIP: e.fip, try forwarding(e.other, otherAddress, external: 2222, proto: "udp"), actor: Self.alice)
            await #expect { _ = try await s.createPortForwarding(floatingIP: e.fip, try forwarding(e.port, "10.0.0.250", external: 80), actor: Self.alice) }
                throws: { Self.type($0) == "BadRequest" }
            await #expect { _ = try await s.updateFloatingIP(e.fip, ["port_id": .string(e.other)], actor: Self.alice) }
                throws: { Self.type($0) == "FipInUseByPortForwarding" }
            await #expect { try await s.deleteFloatingIP(e.fip) } throws: { Self.type($0) == "FipInUseByPortForwarding" }
            // Deleting the internal port takes its forwardings; the last one frees the floating IP.
            try await s.deletePort(e.port, actor: Self.alice)
            #expect(s.state.portForwardings(ofFloatingIP: e.fip).count == 1)
            try await s.deletePort(e.other, actor: Self.alice)
            #expect(s.state.portForwardings(ofFloatingIP: e.fip).isEmpty && s.state[.floatingIP, e.fip]?["router_id"] == .null)
            try await s.deleteFloatingIP(e.fip)
        }
    }
}
