import Logging
import Networking
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing

/// Subnet pool arithmetic (`PrefixSet`, netaddr's IPSet as Neutron uses it) and the service's
/// pool rules without HTTP.
@Suite struct SubnetPoolTests {
    static func nets(_ s: [String]) -> [IPNetwork] { s.map { IPNetwork($0)! } }
    static func set(_ s: [String]) -> PrefixSet { PrefixSet(version: IPNetwork(s[0])!.version, networks: nets(s)) }

    @Test func mergesAndCompactsLikeNetaddr() {
        #expect(Self.set(["10.0.0.0/25", "10.0.0.128/25"]).cidrs.map(\.description) == ["10.0.0.0/24"])
        #expect(Self.set(["10.0.1.0/24", "10.0.0.0/16", "192.168.0.0/16"]).cidrs.map(\.description) == ["10.0.0.0/16", "192.168.0.0/16"])
        // Adjacent but not mergeable into one CIDR: two blocks.
        #expect(Self.set(["10.0.1.0/24", "10.0.2.0/24"]).cidrs.map(\.description) == ["10.0.1.0/24", "10.0.2.0/24"])
        // Host bits are dropped; the other version is ignored.
        #expect(Self.set(["10.0.0.77/24", "2001:db8::/32"]).cidrs.map(\.description) == ["10.0.0.0/24"])
        #expect(Self.set(["::/0"]).cidrs.map(\.description) == ["::/0"])
        #expect(Self.set(["0.0.0.0/0"]).cidrs.map(\.description) == ["0.0.0.0/0"])
        #expect(Self.set(["2001:db8::/48", "2001:db8:1::/48"]).cidrs.map(\.description) == ["2001:db8::/47"])
    }

    @Test func subtractsAndSplitsIntoCIDRs() {
        let free = Self.set(["10.0.0.0/24"]).subtracting(Self.set(["10.0.0.0/28", "10.0.0.128/25"]))
        #expect(free.cidrs.map(\.description) == ["10.0.0.16/28", "10.0.0.32/27", "10.0.0.64/26"])
        #expect(Self.set(["10.0.0.0/24"]).subtracting(Self.set(["10.0.0.0/8"])).isEmpty)
        let all6 = Self.set(["::/0"]).subtracting(Self.set(["::/128"]))
        #expect(all6.cidrs.count == 128)
        #expect(all6.cidrs.first?.description == "::1/128" && all6.cidrs.last?.description == "8000::/1")
        #expect(Self.set(["10.0.0.0/24"]).intersects(Self.set(["10.0.0.255/32"])))
        #expect(!Self.set(["10.0.0.0/24"]).intersects(Self.set(["10.0.1.0/24", "9.0.0.0/8"])))
        #expect(Self.set(["10.0.0.0/24"]).isSubset(of: Self.set(["10.0.0.0/25", "10.0.0.128/25"])))
        #expect(!Self.set(["10.0.0.0/23"]).isSubset(of: Self.set(["10.0.0.0/24"])))
        #expect(Self.set(["10.0.0.0/16"]).contains(IPNetwork("10.0.3.0/24")!))
        #expect(!Self.set(["10.0.0.0/24", "10.0.2.0/24"]).contains(IPNetwork("10.0.0.0/22")!))
    }

    /// subnet_alloc.py: the free CIDRs sorted by prefix length, longest first (stable by
    /// address), and the first one the request fits in.
    @Test func firstFitIsNeutronsOrder() {
        let free = Self.set(["10.0.0.0/24"]).subtracting(Self.set(["10.0.0.0/28"]))
        #expect(free.firstFit(prefixLength: 28)?.description == "10.0.0.16/28")
        #expect(free.firstFit(prefixLength: 26)?.description == "10.0.0.64/26")
        #expect(free.firstFit(prefixLength: 27)?.description == "10.0.0.32/27")
        #expect(free.firstFit(prefixLength: 25)?.description == "10.0.0.128/25")
        #expect(free.firstFit(prefixLength: 24) == nil)
        #expect(Self.set(["10.0.0.0/30"]).subtracting(Self.set(["10.0.0.0/30"])).firstFit(prefixLength: 32) == nil)
    }

    /// Huge pools with many allocations: work proportional to the ranges, not the addresses.
    @Test func hugeSpacesAreFast() {
        let start = ContinuousClock.now
        var used = [IPNetwork]()
        var pool6 = Self.set(["2000::/3"])
        for _ in 0..<300 {
            guard let n = pool6.subtracting(PrefixSet(version: 6, networks: used)).firstFit(prefixLength: 128) else { Issue.record("no room"); return }
            used.append(n)
        }
        #expect(used.last?.description == "2000::12b/128")
        pool6 = Self.set(["10.0.0.0/8"])
        used = []
        for _ in 0..<300 {
            guard let n = pool6.subtracting(PrefixSet(version: 4, networks: used)).firstFit(prefixLength: 30) else { Issue.record("no room"); return }
            used.append(n)
        }
        #expect(used.last?.description == "10.0.4.172/30")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    // MARK: the service

    static let alice = NetworkActor(projectID: "alice", isAdmin: false)
    static let bob = NetworkActor(projectID: "bob", isAdmin: false)
    static let admin = NetworkActor(projectID: "admin", isAdmin: true)

    func withService(_ body: (NetworkService) async throws -> Void) async throws {
        try await withNetworkService { s, _ in try await body(s) }
    }

    func pool(_ s: NetworkService, _ actor: NetworkActor, _ attrs: JSONObject) async throws -> JSONObject {
        var a = attrs
        a["name"] = a["name"] ?? "p"
        return try await s.createSubnetPool(try ResourceSpecs.prepareCreate(.subnetPool, a), actor: actor)
    }

    func subnet(_ s: NetworkService, _ actor: NetworkActor, network: String, _ attrs: JSONObject) async throws -> JSONObject {
        var a = attrs
        a["network_id"] = .string(network)
        a["ip_version"] = a["ip_version"] ?? 4
        return try await s.createSubnet(try ResourceSpecs.prepareCreate(.subnet, a), actor: actor)
    }

    func network(_ s: NetworkService, _ actor: NetworkActor) async throws -> String {
        try await s.createNetwork(try ResourceSpecs.prepareCreate(.network, ["name": "n"]), actor: actor)["id"]!.stringValue!
    }

    func faultType(_ body: () async throws -> Void) async -> String? {
        do { try await body(); return nil } catch let e as NimbusError { return NeutronFault.type(of: e) } catch { return "\(error)" }
    }

    @Test func poolDefaultsAndAllocation() async throws {
        try await withService { s in
            let p = try await pool(s, Self.alice, ["prefixes": ["10.1.0.0/17", "10.1.128.0/17"], "default_prefixlen": 24])
            #expect(p["prefixes"] == ["10.1.0.0/16"] && p["min_prefixlen"] == 8 && p["max_prefixlen"] == 32 && p["ip_version"] == 4)
            let id = p["id"]!
            let n = try await network(s, Self.alice)
            let a = try await subnet(s, Self.alice, network: n, ["subnetpool_id": id])
            #expect(a["cidr"] == "10.1.0.0/24" && a["subnetpool_id"] == id && a["gateway_ip"] == "10.1.0.1")
            let b = try await subnet(s, Self.alice, network: n, ["subnetpool_id": id, "prefixlen": 28])
            #expect(b["cidr"] == "10.1.1.0/28")
            // Across networks too: a pool's subnets never overlap.
            let other = try await network(s, Self.alice)
            let c = try await subnet(s, Self.alice, network: other, ["subnetpool_id": id, "prefixlen": 28])
            #expect(c["cidr"] == "10.1.1.16/28")
            #expect(await faultType { _ = try await subnet(s, Self.alice, network: other, ["subnetpool_id": id, "cidr": "10.1.1.0/24"]) } == "SubnetAllocationError")
            let d = try await subnet(s, Self.alice, network: other, ["subnetpool_id": id, "cidr": "10.1.7.9/24"])
            #expect(d["cidr"] == "10.1.7.0/24")
            // A gateway without a CIDR asks for the gateway's network.
            let e = try await subnet(s, Self.alice, network: other, ["subnetpool_id": id, "gateway_ip": "10.1.9.254"])
            #expect(e["cidr"] == "10.1.9.0/24" && e["gateway_ip"] == "10.1.9.254")
            #expect(await faultType { _ = try await subnet(s, Self.bob, network: try await network(s, Self.bob), ["subnetpool_id": id]) } == "SubnetPoolNotFound")
            #expect(await faultType { try await s.deleteSubnetPool(id.stringValue!) } == "SubnetPoolDeleteError")
        }
    }

    @Test func quotaCountsAddressUnitsPerProject() async throws {
        try await withService { s in
            let p = try await pool(s, Self.admin, ["prefixes": ["2001:db8::/48"], "min_prefixlen": 48, "default_quota": 4, "shared": true])
            let id = p["id"]!
            let n = try await network(s, Self.alice)
            _ = try await subnet(s, Self.alice, network: n, ["subnetpool_id": id, "ip_version": 6, "prefixlen": 63])
            _ = try await subnet(s, Self.alice, network: n, ["subnetpool_id": id, "ip_version": 6, "prefixlen": 64])
            #expect(await faultType { _ = try await subnet(s, Self.alice, network: n, ["subnetpool_id": id, "ip_version": 6, "prefixlen": 63]) } == "SubnetPoolQuotaExceeded")
            // Another project has its own allowance.
            _ = try await subnet(s, Self.bob, network: try await network(s, Self.bob), ["subnetpool_id": id, "ip_version": 6, "prefixlen": 62])
        }
    }

    @Test func scopesAndDefaults() async throws {
        try await withService { s in
            let scope = try await s.createAddressScope(try ResourceSpecs.prepareCreate(.addressScope, ["name": "s", "ip_version": 4]), actor: Self.alice)
            let sid = scope["id"]!
            _ = try await pool(s, Self.alice, ["prefixes": ["10.0.0.0/16"], "address_scope_id": sid])
            #expect(await faultType { _ = try await pool(s, Self.alice, ["prefixes": ["10.0.128.0/17"], "address_scope_id": sid]) } == "AddressScopePrefixConflict")
            #expect(await faultType { _ = try await pool(s, Self.bob, ["prefixes": ["11.0.0.0/16"], "address_scope_id": sid]) } == "AddressScopeNotFound")
            #expect(await faultType { try await s.deleteAddressScope(sid.stringValue!) } == "AddressScopeInUse")
            _ = try await pool(s, Self.admin, ["prefixes": ["172.16.0.0/12"], "is_default": true])
            #expect(await faultType { _ = try await pool(s, Self.admin, ["prefixes": ["172.32.0.0/12"], "is_default": true]) } == "InvalidInput")
            #expect(await faultType { _ = try await pool(s, Self.alice, ["prefixes": ["10.0.0.0/8", "::/0"]]) } == "PrefixVersionMismatch")
            #expect(await faultType { _ = try await pool(s, Self.alice, ["prefixes": ["10.0.0.0/8"], "min_prefixlen": 30, "max_prefixlen": 29]) } == "IllegalSubnetPoolPrefixBounds")
        }
    }

    /// Review findings: a /128 past a full IPv6 quota counts (exact arithmetic, not floats); a
    /// default pool emptied and refilled with the other family finds that family's default; an
    /// IPv4 prefix is spelled as netaddr prints it; a revision guard is re-checked in the write.
    @Test func reviewFindings() async throws {
        try await withService { s in
            let p = try await pool(s, Self.alice, ["prefixes": ["2001:db8::/48"], "min_prefixlen": 48, "default_quota": 1])
            let n = try await network(s, Self.alice)
            _ = try await subnet(s, Self.alice, network: n, ["subnetpool_id": p["id"]!, "ip_version": 6, "prefixlen": 64])
            #expect(await faultType { _ = try await subnet(s, Self.alice, network: try await network(s, Self.alice), ["subnetpool_id": p["id"]!, "ip_version": 6, "prefixlen": 128]) } == "SubnetPoolQuotaExceeded")

            _ = try await pool(s, Self.admin, ["prefixes": ["2001:db9::/32"], "is_default": true])
            let v4 = try await pool(s, Self.admin, ["prefixes": ["172.16.0.0/12"], "is_default": true])
            let id = v4["id"]!.stringValue!
            #expect(try await s.removePrefixes(id, [IPNetwork("172.16.0.0/12")!]) == [])
            #expect(await faultType { _ = try await s.addPrefixes(id, [IPNetwork("2001:dba::/32")!], actor: Self.admin) } == "InvalidInput")

            #expect(Validators.subnetList(["10.0.0.0/8"]) == nil && Validators.subnetList(["10.0.0.7/8"]) == nil)
            #expect(Validators.subnetList(["10.0.0.0/08"]) != nil && Validators.subnetList(["2001:db8::/32"]) == nil)

            let q = try await pool(s, Self.alice, ["prefixes": ["10.9.0.0/16"]])
            let qid = q["id"]!.stringValue!
            _ = try await s.updateSubnetPool(qid, ["name": "first"], actor: Self.alice)
            let stale = NetworkService.RevisionGuard(kind: .subnetPool, id: qid, revision: 1)
            #expect(await faultType {
                _ = try await NetworkService.$revisionGuard.withValue(stale) { try await s.updateSubnetPool(qid, ["name": "second"], actor: Self.alice) }
            } == "RevisionNumberConstraintFailed")
            let fresh = NetworkService.RevisionGuard(kind: .subnetPool, id: qid, revision: 2)
            let d = try await NetworkService.$revisionGuard.withValue(fresh) { try await s.updateSubnetPool(qid, ["name": "third"], actor: Self.alice) }
            #expect(d["name"] == "third" && d["revision_number"] == 3)
        }
    }
}
