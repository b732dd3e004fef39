@testable import NetworkNode
@testable import Networking
import NimbusCore
import Testing

/// Review of the port forwarding DNAT (commit b8ed7de): what one forwarding costs the router's
/// nft ruleset, and that nothing but validated values reaches its text.
@Suite struct PortForwardingAdversarialTests {
    let gateway = RouterInterface(portID: "1234567890abcdef", networkID: "ext", mac: "fa:16:3e:00:00:01",
                                  addresses: [InterfaceAddress(address: "172.24.4.10", prefixLength: 24, version: 4)], mtu: 1500)

    func rule(_ e: ClosedRange<Int>, _ i: ClosedRange<Int>, proto: String = "tcp", floating: String = "172.24.4.20",
              to target: String = "10.0.0.5") -> PortForwardingRule {
        PortForwardingRule(id: "pf", floating: floating, proto: proto, externalPorts: e, internalAddress: target, internalPorts: i)
    }

    func entries(_ text: String) -> Int { text.components(separatedBy: " : ").count - 1 }

    /// nftables has no port offset: a shifted range is one map entry per port, so the service
    /// refuses one wider than `maxShiftedPorts` and the datapath never writes one.
    @Test func aShiftedRangeIsCappedAtBothEnds() throws {
        let limit = PortForwardingRule.maxShiftedPorts
        let widest = try #require(LinuxDatapath.forwardingRule(rule(1000...(999 + limit), 3000...(2999 + limit))))
        #expect(entries(widest) == limit + 1)  // the `ip : proto dport map` separator, then one per port
        #expect(LinuxDatapath.forwardingRule(rule(1000...(1000 + limit), 3000...(3000 + limit))) == nil)
        #expect(LinuxDatapath.forwardingRule(rule(1...65534, 2...65535)) == nil)

        #expect(throws: (any Error).self) {
            try NetworkService.forwardingRanges(["external_port_range": "1000:60999", "internal_port_range": "2000:61999"], current: nil)
        }
        #expect(throws: (any Error).self) {
            try NetworkService.forwardingRanges(["external_port_range": .string("1000:\(1000 + limit)"), "internal_port_range": .string("3000:\(3000 + limit)")], current: nil)
        }
        _ = try NetworkService.forwardingRanges(["external_port_range": .string("1000:\(999 + limit)"), "internal_port_range": .string("3000:\(2999 + limit)")], current: nil)
        // An update that widens the range is held to it too.
        #expect(throws: (any Error).self) {
            try NetworkService.forwardingRanges(["external_port_range": "1:2000"], current: ["internal_port_range": "3001:5000"])
        }
    }

    /// Whatever the width, a same-numbered range and a range onto one port are one rule each.
    @Test func wideRangesWithoutAShiftCostOneRule() throws {
        let same = try #require(LinuxDatapath.forwardingRule(rule(1...65535, 1...65535)))
        let toOne = try #require(LinuxDatapath.forwardingRule(rule(1...65535, 22...22, proto: "udp")))
        #expect(!same.contains("map") && !toOne.contains("map"))
        #expect(same == "ip daddr 172.24.4.20 tcp dport 1-65535 dnat to 10.0.0.5")
        _ = try NetworkService.forwardingRanges(["external_port_range": "1:65535", "internal_port_range": "1:65535"], current: nil)
        let r = RouterWiring(id: "r", interfaces: [], gateway: gateway, defaultRoute: nil, snat: true, routes: [], floatingIPs: [],
                             portForwardings: [rule(1...65535, 1...65535), rule(1...65535, 22...22, proto: "udp"), rule(1...65534, 2...65535, proto: "sctp")])
        let text = LinuxDatapath.natRuleset(r)
        #expect(text.utf8.count < 2_000)
        #expect(!text.contains("sctp"))  // the oversized shift (from an older controller) is left out
    }

    /// The worst a floating IP can ask for within the cap stays linear in what it asked for:
    /// 64 shifted ranges of 1,024 ports (one protocol's whole space) are 64 x 1,024 entries in
    /// each of the two hooks, not more.
    @Test func theRulesetGrowsWithThePortsAskedFor() {
        let limit = PortForwardingRule.maxShiftedPorts
        let rules = (0..<63).map { k in rule((1 + k * limit)...(k * limit + limit), (2 + k * limit)...(k * limit + limit + 1)) }
        let r = RouterWiring(id: "r", interfaces: [], gateway: gateway, defaultRoute: nil, snat: true, routes: [], floatingIPs: [], portForwardings: rules)
        let text = LinuxDatapath.natRuleset(r)
        #expect(entries(text) == 2 * 63 * (limit + 1))
        #expect(text.utf8.count < 2 * 63 * limit * 16)
    }

    /// Text aimed at the ruleset in any field of a forwarding from the wire: no rule.
    @Test(arguments: [
        ("TCP", "172.24.4.20", "10.0.0.5"), ("tcp dport 1 accept", "172.24.4.20", "10.0.0.5"), ("tcp\n", "172.24.4.20", "10.0.0.5"),
        ("", "172.24.4.20", "10.0.0.5"), ("tcp", "172.24.4.20\n}\ntable ip x {", "10.0.0.5"), ("tcp", "172.24.4.20", "10.0.0.5 }"),
        ("tcp", "2001:db8::1", "10.0.0.5"), ("tcp", "172.24.4.20", "::ffff:10.0.0.5"), ("tcp", "172.24.4.20", "10.0.0.5:22"),
        ("tcp", "0x0a.0.0.1", "10.0.0.5"),
    ])
    func hostileFieldsMakeNoRule(_ proto: String, _ floating: String, _ target: String) {
        #expect(LinuxDatapath.forwardingRule(rule(22...22, 22...22, proto: proto, floating: floating, to: target)) == nil)
    }

    @Test func portsOutsideTheirRangeMakeNoRule() {
        for (e, i) in [(0...0, 22...22), (22...22, 0...0), (65535...65536, 1...2), (-5...(-1), 1...5), (1...3, 10...11)] {
            #expect(LinuxDatapath.forwardingRule(rule(e, i)) == nil)
        }
    }
}
