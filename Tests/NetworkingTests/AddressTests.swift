import Networking
import NimbusCore
import Testing

@Suite struct AddressTests {
    @Test func parsesAndPrintsCanonically() {
        #expect(IPAddress("10.0.0.1")?.description == "10.0.0.1")
        #expect(IPAddress("2001:DB8:0:0::1")?.description == "2001:db8::1")
        #expect(IPAddress("::ffff:10.0.0.1")?.version == 6)
        for bad in ["10.0.0", "10.0.0.256", "010.0.0.1", "1.2.3.4 ", "", "::g", "1.2.3.4/24", "10.0.0.1\u{0}"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func networks() throws {
        let n = try #require(IPNetwork("10.1.2.3/24"))
        #expect(!n.isCanonical)
        #expect(n.description == "10.1.2.0/24")
        #expect(n.contains(IPAddress("10.1.2.255")!))
        #expect(!n.contains(IPAddress("10.1.3.0")!))
        #expect(IPNetwork("10.0.0.0/33") == nil)
        #expect(IPNetwork("10.0.0.0/") == nil)
        #expect(IPNetwork("10.0.0.0/+8") == nil)
        let v6 = try #require(IPNetwork("2001:db8::/64"))
        #expect(v6.size == UInt128(1) << 64)
        #expect(IPNetwork("::/0")!.size == UInt128.max)
        #expect(IPNetwork("10.0.0.0/8")!.overlaps(IPNetwork("10.200.0.0/16")!))
        #expect(!IPNetwork("10.0.0.0/8")!.overlaps(IPNetwork("2001:db8::/64")!))
    }

    @Test func slaacAddressFromMAC() throws {
        let a = IPAddress.eui64(prefix: IPNetwork("2001:db8::/64")!, mac: MACAddress("fa:16:3e:11:22:33")!)
        #expect(a.description == "2001:db8::f816:3eff:fe11:2233")
    }

    @Test func macAddresses() {
        #expect(MACAddress("FA:16:3E:00:AA:01")?.description == "fa:16:3e:00:aa:01")
        #expect(MACAddress("fa-16-3e-00-aa-01")?.description == "fa:16:3e:00:aa:01")
        #expect(MACAddress("fa:16:3e:00:aa") == nil)
        #expect(MACAddress("zz:16:3e:00:aa:01") == nil)
        #expect(Validators.macAddress(.string("01:00:5e:00:00:01")) != nil)   // multicast
        #expect(Validators.macAddress(.string("00:00:00:00:00:00")) != nil)
    }

    @Test func attributeMaps() throws {
        let n = try ResourceSpecs.prepareCreate(.network, ["name": "x", "admin_state_up": "true"])
        #expect(n["admin_state_up"] == .bool(true))
        #expect(n["shared"] == .bool(false))
        #expect(throws: NimbusError.self) { try ResourceSpecs.prepareCreate(.network, ["bogus": 1]) }
        #expect(throws: NimbusError.self) { try ResourceSpecs.prepareCreate(.network, ["admin_state_up": "maybe"]) }
        #expect(throws: NimbusError.self) { try ResourceSpecs.prepareCreate(.subnet, ["network_id": "8b5e8f5c-0a43-4b4e-9d7a-6c1e0c39a0f1"]) }
        #expect(throws: NimbusError.self) { try ResourceSpecs.prepareCreate(.subnet, ["network_id": "8b5e8f5c-0a43-4b4e-9d7a-6c1e0c39a0f1", "ip_version": 5, "cidr": "10.0.0.0/24"]) }
        #expect(throws: NimbusError.self) { try ResourceSpecs.prepareUpdate(.network, ["id": "x"]) }
        let s = try ResourceSpecs.prepareCreate(.subnet, ["network_id": "8b5e8f5c-0a43-4b4e-9d7a-6c1e0c39a0f1", "ip_version": "4", "cidr": "10.0.0.0/24"])
        #expect(s["ip_version"] == .int(4))
    }
}
