import NimbusCore

/// Subnets and address management (Neutron's `ipam`): CIDRs, gateways, allocation pools as
/// ranges (never enumerated: a /8 or a /64 costs what a /24 does), addresses handed out first
/// free in pool order, SLAAC addresses from the MAC.
extension NetworkService {
    public func createSubnet(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in try createSubnet(attrs, actor: actor, &s) }
    }

    static func pools(_ subnet: JSONObject) -> [IPRange] {
        (subnet["allocation_pools"]?.arrayValue ?? []).compactMap { p in
            guard let a = p["start"]?.stringValue.flatMap({ IPAddress($0) }), let b = p["end"]?.stringValue.flatMap({ IPAddress($0) }) else { return nil }
            return IPRange(start: a, end: b)
        }
    }
    static func cidr(_ subnet: JSONObject) -> IPNetwork? { subnet["cidr"]?.stringValue.flatMap { IPNetwork($0) } }
    static func isAutoAddress(_ subnet: JSONObject) -> Bool {
        let m = subnet["ipv6_address_mode"]?.stringValue
        return m == "slaac" || m == "dhcpv6-stateless"
    }

    /// The pools Neutron makes when none are given: the CIDR less its network address (and, for
    /// IPv4, its broadcast address), split around the gateway.
    static func defaultPools(_ net: IPNetwork, gateway: IPAddress?) -> [IPRange] {
        var first = net.first
        var last = net.last
        if net.version == 4 {
            if net.prefixLength <= 30 { first = first.adding(1); last = IPAddress(version: 4, value: last.value - 1) }
        } else if net.prefixLength < 128 {
            first = first.adding(1)
        }
        var ranges = [IPRange(start: first, end: last)]
        if let g = gateway, ranges[0].contains(g) {
            ranges = []
            if g.value > first.value { ranges.append(IPRange(start: first, end: IPAddress(version: g.version, value: g.value - 1))) }
            if g.value < last.value { ranges.append(IPRange(start: g.adding(1), end: last)) }
        }
        return ranges
    }

    static func poolJSON(_ pools: [IPRange]) -> JSONValue {
        .array(pools.map { ["start": .string($0.start.description), "end": .string($0.end.description)] })
    }

    func validatePools(_ pools: [IPRange], net: IPNetwork, gateway: IPAddress?) throws {
        let lowest = net.version == 4 && net.prefixLength <= 30 ? net.first.adding(1) : net.first
        let highest = net.version == 4 && net.prefixLength <= 30 ? IPAddress(version: 4, value: net.last.value - 1) : net.last
        for p in pools {
            guard p.start.version == net.version, p.end.version == net.version else {
                throw NeutronFault.badRequest("The allocation pool \(p.start)-\(p.end) is not valid.", type: "InvalidAllocationPool")
            }
            if p.start.value > p.end.value {
                throw NeutronFault.badRequest("The allocation pool \(p.start)-\(p.end) is not valid.", type: "InvalidAllocationPool")
            }
            if p.start.value < lowest.value || p.end.value > highest.value {
                throw NeutronFault.badRequest("The allocation pool \(p.start)-\(p.end) spans beyond the subnet cidr \(net).", type: "OutOfBoundsAllocationPool")
            }
        }
        let ordered = pools.sorted { $0.start.value < $1.start.value }
        for (a, b) in zip(ordered, ordered.dropFirst()) where a.overlaps(b) {
            throw NeutronFault.conflict("OverlappingAllocationPools", "Found overlapping allocation pools: \(a.start)-\(a.end) and \(b.start)-\(b.end) for subnet \(net).")
        }
        if let g = gateway, let p = pools.first(where: { $0.contains(g) }) {
            throw NeutronFault.conflict("GatewayConflictWithAllocationPools", "Gateway ip \(g) conflicts with allocation pool \(p.start)-\(p.end).")
        }
    }

    func checkGateway(_ g: IPAddress, _ net: IPNetwork) throws {
        guard g.version == net.version else {
            throw NeutronFault.invalidInput("Gateway IP version inconsistent with allocation pool version")
        }
        if net.contains(g) && (g == net.network && net.prefixLength < (net.version == 4 ? 31 : 127) || (net.version == 4 && net.prefixLength <= 30 && g == net.broadcast)) {
            throw NeutronFault.badRequest("Invalid input for operation: Gateway is not valid on subnet.", type: "InvalidInput")
        }
    }

    func validateLists(_ attrs: JSONObject, version: Int) throws {
        if let dns = attrs["dns_nameservers"]?.arrayValue {
            if dns.count > settings.maxNameservers {
                throw NeutronFault.badRequest("Unable to complete operation for subnet. The number of DNS nameservers exceeds the limit \(settings.maxNameservers).", type: "DNSNameServersExhausted")
            }
            for d in dns where IPAddress(d.stringValue ?? "")?.version != version {
                throw NeutronFault.invalidInput("DNS nameserver \(Validators.repr(d)) does not match the subnet's IP version")
            }
        }
        if let routes = attrs["host_routes"]?.arrayValue {
            if routes.count > settings.maxHostRoutes {
                throw NeutronFault.badRequest("Unable to complete operation for subnet. The number of host routes exceeds the limit \(settings.maxHostRoutes).", type: "HostRoutesExhausted")
            }
            for r in routes {
                let d = IPNetwork(r["destination"]?.stringValue ?? "")
                let n = IPAddress(r["nexthop"]?.stringValue ?? "")
                if d?.version != version || n?.version != version {
                    throw NeutronFault.invalidInput("Host route \(Validators.repr(r)) does not match the subnet's IP version")
                }
            }
        }
    }

    /// The request's CIDR: the one given (host bits dropped, as Neutron stores the network:
    /// `10.1.2.77/24` → `10.1.2.0/24`), or one from the pool it names.
    func subnetCIDR(_ attrs: JSONObject, version: Int, project: String, _ actor: NetworkActor, _ s: NetworkState) throws -> (IPNetwork, JSONObject?) {
        let given = Self.given(attrs["cidr"]).flatMap(\.stringValue).flatMap { IPNetwork($0) }.map { IPNetwork(address: $0.network, prefixLength: $0.prefixLength) }
        let prefixLength = Self.given(attrs["prefixlen"])?.intValue.map { Int(clamping: $0) }
        if given != nil && prefixLength != nil {
            throw NeutronFault.badRequest("Bad subnets request: cidr and prefixlen must not be supplied together.", type: "BadRequest")
        }
        guard let pool = try requestedPool(attrs, version: version, actor, s) else {
            guard let given else {
                throw NeutronFault.badRequest("Bad subnets request: a subnetpool must be specified in the absence of a cidr.", type: "BadRequest")
            }
            return (given, nil)
        }
        if given == nil && Self.given(attrs["allocation_pools"]) != nil {
            throw NeutronFault.badRequest("Bad subnets request: allocation_pools allowed only for specific subnet requests.", type: "BadRequest")
        }
        let poolVersion = Int(pool["ip_version"]?.intValue ?? 4)
        if poolVersion != version {
            throw NeutronFault.badRequest("Bad subnets request: Cannot allocate IPv\(version) subnet from IPv\(poolVersion) subnet pool.", type: "BadRequest")
        }
        var gateway: IPAddress?
        if let g = Self.given(attrs["gateway_ip"])?.stringValue {
            gateway = IPAddress(g)
            if gateway?.version != version { throw NeutronFault.invalidInput("Gateway IP version inconsistent with allocation pool version") }
        }
        return (try allocate(from: pool, cidr: given, gateway: gateway, prefixLength: prefixLength, project: project, s), pool)
    }

    func createSubnet(_ attrs: JSONObject, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        let networkID = attrs["network_id"]!.stringValue!
        var network = try usableNetwork(networkID, actor, s)
        let project = try Self.owner(attrs, actor)
        try checkQuota(.subnet, project: project, s)
        let version = Int(attrs["ip_version"]?.intValue ?? 4)
        let pool: JSONObject?
        let net: IPNetwork
        (net, pool) = try subnetCIDR(attrs, version: version, project: project, actor, s)
        guard net.version == version else {
            throw NeutronFault.invalidInput("Cidr \(net) does not match ip_version \(version)")
        }
        if version == 4 && net.prefixLength > 32 || version == 6 && net.prefixLength > 128 { throw NeutronFault.invalidInput("Invalid CIDR \(net)") }
        if net.version == 4 ? net.prefixLength == 0 : net.prefixLength == 0 {
            throw NeutronFault.invalidInput("0 is not allowed as CIDR prefix length")
        }
        let ra = attrs["ipv6_ra_mode"]?.stringValue
        let am = attrs["ipv6_address_mode"]?.stringValue
        if version == 4 && (ra != nil || am != nil) {
            throw NeutronFault.invalidInput("ipv6_ra_mode or ipv6_address_mode cannot be set when ip_version is 4")
        }
        if let ra, let am, ra != am {
            throw NeutronFault.invalidInput("ipv6_ra_mode set to '\(ra)' with ipv6_address_mode set to '\(am)' is not valid. If both attributes are set, they must be the same value")
        }
        let enableDHCP = attrs["enable_dhcp"]?.boolValue ?? true
        let first = net.network.value
        if version == 4 && ((first >> 28) == 0xE || (first >> 24) == 127) || version == 6 && ((first >> 120) == 0xFF || first == 0) {
            throw NeutronFault.invalidInput("Subnet \(net) cannot be a multicast, loopback or unspecified network")
        }
        if enableDHCP && version == 4 && net.prefixLength >= 31 {
            throw NeutronFault.invalidInput("Invalid CIDR \(net) for DHCP subnet: the prefix length must be 30 or shorter")
        }
        if !enableDHCP && (ra != nil || am != nil) {
            throw NeutronFault.invalidInput("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False")
        }
        if (am == "slaac" || am == "dhcpv6-stateless" || ra == "slaac" || ra == "dhcpv6-stateless") && net.prefixLength != 64 {
            throw NeutronFault.invalidInput("Invalid CIDR \(net) for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64")
        }
        try checkNetworkPools(network: networkID, version: version, pool: pool, s)
        for other in s.subnets(ofNetwork: networkID) {
            if let o = Self.cidr(other), o.overlaps(net) {
                throw NeutronFault.invalidInput("Requested subnet with cidr: \(net) for network: \(networkID) overlaps with another subnet")
            }
        }
        var gateway: IPAddress?
        if let g = Self.given(attrs["gateway_ip"]) {
            if g != .null {
                gateway = IPAddress(g.stringValue ?? "")
                try checkGateway(gateway!, net)
            }
        } else {
            gateway = net.prefixLength < (version == 4 ? 31 : 128) ? net.first.adding(1) : nil
        }
        try validateLists(attrs, version: version)
        var pools: [IPRange]
        if let given = Self.given(attrs["allocation_pools"]) {
            pools = Self.pools(["allocation_pools": given])
            try validatePools(pools, net: net, gateway: gateway)
        } else {
            pools = Self.defaultPools(net, gateway: gateway)
        }
        pools.sort { $0.start.value < $1.start.value }
        var d = Self.standard(attrs, project: project)
        d["cidr"] = .string(net.description)
        d["ip_version"] = .int(Int64(version))
        d["gateway_ip"] = gateway.map { .string($0.description) } ?? .null
        d["allocation_pools"] = Self.poolJSON(pools)
        d["enable_dhcp"] = .bool(enableDHCP)
        d["subnetpool_id"] = pool?["id"] ?? .null
        d["prefixlen"] = nil
        d["use_default_subnetpool"] = nil
        d["shared"] = .bool(network["shared"]?.boolValue == true)
        d["dns_publish_fixed_ip"] = nil
        s.put(.subnet, d)
        let id = d["id"]!.stringValue!
        var subnets = network["subnets"]?.arrayValue ?? []
        subnets.append(.string(id))
        network["subnets"] = .array(subnets)
        s.put(.network, network)
        // Ports on the network get an address on a new SLAAC subnet, as Neutron gives them.
        if Self.isAutoAddress(d) {
            for var p in s.ports(ofNetwork: networkID) where !(p["device_owner"]?.stringValue ?? "").hasBytePrefix("network:router") {
                guard let mac = p["mac_address"]?.stringValue.flatMap({ MACAddress($0) }) else { continue }
                var ips = p["fixed_ips"]?.arrayValue ?? []
                ips.append(["subnet_id": .string(id), "ip_address": .string(IPAddress.eui64(prefix: net, mac: mac).description)])
                p["fixed_ips"] = .array(ips)
                s.put(.port, Self.touched(p))
            }
        }
        try syncDHCPPort(network: networkID, &s)
        return s[.subnet, id] ?? d
    }

    public func updateSubnet(_ id: String, _ changes: JSONObject) async throws -> JSONObject {
        try await write { s in
            guard var sub = s[.subnet, id], let net = Self.cidr(sub) else { throw ResourceKind.subnet.notFound(id) }
            var gateway = sub["gateway_ip"]?.stringValue.flatMap { IPAddress($0) }
            if let g = changes["gateway_ip"] {
                gateway = g == .null ? nil : IPAddress(g.stringValue ?? "")
                if let gateway {
                    try checkGateway(gateway, net)
                    if s.isAllocated(gateway, subnet: id), !s.ports(ofNetwork: sub["network_id"]?.stringValue ?? "").contains(where: { p in
                        (p["device_owner"]?.stringValue ?? "").hasBytePrefix("network:router")
                            && NetworkState.fixedIPs(p).contains { $0.subnet == id && $0.address == gateway }
                    }) {
                        throw NeutronFault.conflict("IpAddressAlreadyAllocated", "IP address \(gateway) already allocated in subnet \(id)")
                    }
                }
                if s.ports(ofNetwork: sub["network_id"]?.stringValue ?? "").contains(where: { p in
                    p["device_owner"]?.stringValue == "network:router_interface"
                        && NetworkState.fixedIPs(p).contains { $0.subnet == id && $0.address.description == sub["gateway_ip"]?.stringValue }
                }) {
                    throw NeutronFault.conflict("SubnetInUse", "Unable to complete operation on subnet \(id): Cannot update the gateway of a subnet used as a router interface.")
                }
            }
            try validateLists(changes, version: Int(sub["ip_version"]?.intValue ?? 4))
            var c = changes
            if let given = changes["allocation_pools"] {
                var pools = Self.pools(["allocation_pools": given])
                try validatePools(pools, net: net, gateway: gateway)
                pools.sort { $0.start.value < $1.start.value }
                c["allocation_pools"] = Self.poolJSON(pools)
            } else if changes["gateway_ip"] != nil, let g = gateway, let p = Self.pools(sub).first(where: { $0.contains(g) }) {
                throw NeutronFault.conflict("GatewayConflictWithAllocationPools", "Gateway ip \(g) conflicts with allocation pool \(p.start)-\(p.end).")
            }
            c["gateway_ip"] = changes["gateway_ip"].map { _ in gateway.map { .string($0.description) } ?? .null }
            if c["gateway_ip"] == nil { c["gateway_ip"] = nil }
            sub = Self.touched(sub, c)
            s.put(.subnet, sub)
            try syncDHCPPort(network: sub["network_id"]?.stringValue ?? "", &s)
            return sub
        }
    }

    public func deleteSubnet(_ id: String) async throws {
        try await write { s in
            guard let sub = s[.subnet, id] else { throw ResourceKind.subnet.notFound(id) }
            let networkID = sub["network_id"]?.stringValue ?? ""
            for p in s.ports(ofNetwork: networkID) where NetworkState.fixedIPs(p).contains(where: { $0.subnet == id }) {
                let owner = p["device_owner"]?.stringValue ?? ""
                if owner == "network:dhcp" || (Self.isAutoAddress(sub) && !owner.hasBytePrefix("network:router")) {
                    // Auto addresses and the service's own DHCP addresses go with the subnet.
                    var q = p
                    q["fixed_ips"] = .array((p["fixed_ips"]?.arrayValue ?? []).filter { $0["subnet_id"]?.stringValue != id })
                    s.put(.port, Self.touched(q))
                    continue
                }
                throw NeutronFault.conflict("SubnetInUse", "Unable to complete operation on subnet \(id): One or more ports have an IP allocation from this subnet.")
            }
            if var n = s[.network, networkID] {
                n["subnets"] = .array((n["subnets"]?.arrayValue ?? []).filter { $0.stringValue != id })
                s.put(.network, n)
            }
            s.remove(.subnet, id)
            try syncDHCPPort(network: networkID, &s)
        }
    }

    // MARK: addresses

    /// The first free address of `subnet`'s pools (not in `excluding`, from `after` on).
    func nextFree(_ subnet: JSONObject, _ s: NetworkState, excluding: Set<IPAddress> = [], after: IPAddress? = nil) -> IPAddress? {
        let id = subnet["id"]?.stringValue ?? ""
        for pool in Self.pools(subnet) {
            if let after, after.value >= pool.end.value { continue }
            var a = after.map { $0.value >= pool.start.value ? $0.adding(1) : pool.start } ?? pool.start
            // Skips at most as many addresses as are taken: never enumerates the pool.
            var budget = s.allocatedCount(subnet: id) + excluding.count + 1
            while budget > 0 {
                if !s.isAllocated(a, subnet: id) && !excluding.contains(a) { return a }
                if a.value >= pool.end.value { break }
                a = a.adding(1)
                budget -= 1
            }
        }
        return nil
    }

    /// Resolves a port's requested `fixed_ips` (or the default when nil) to addresses.
    func allocate(network: JSONObject, requested: [JSONValue]?, mac: MACAddress, portID: String, deviceOwner: String, actor: NetworkActor? = nil,
                  keeping existing: [(subnet: String, address: IPAddress)] = [], _ s: NetworkState) throws -> [JSONValue] {
        let networkID = network["id"]?.stringValue ?? ""
        let subnets = s.subnets(ofNetwork: networkID)
        var out = [JSONValue]()
        var taken = [String: Set<IPAddress>]()
        func add(_ subnet: String, _ a: IPAddress) throws {
            if !taken[subnet, default: []].insert(a).inserted {
                throw NeutronFault.badRequest("Invalid input for operation: Duplicate IP address '\(a)'.")
            }
            out.append(["subnet_id": .string(subnet), "ip_address": .string(a.description)])
        }
        let isRouter = deviceOwner.hasBytePrefix("network:router")
        guard let requested else {
            // Neutron's default: one address from the first IPv4 subnet with room, one from the
            // first stateful IPv6 subnet, and one from every SLAAC subnet.
            var v4Done = false, v6Done = false
            for sub in subnets {
                guard let id = sub["id"]?.stringValue, let net = Self.cidr(sub) else { continue }
                if Self.isAutoAddress(sub) {
                    if !isRouter { try add(id, IPAddress.eui64(prefix: net, mac: mac)) }
                    continue
                }
                if net.version == 4 ? v4Done : v6Done { continue }
                if let a = nextFree(sub, s) {
                    try add(id, a)
                    if net.version == 4 { v4Done = true } else { v6Done = true }
                }
            }
            if out.isEmpty && !subnets.isEmpty {
                throw NeutronFault.conflict("IpAddressGenerationFailure", "No more IP addresses available on network \(networkID).")
            }
            return out
        }
        var cursor = [String: IPAddress]()
        if subnets.isEmpty && !requested.isEmpty {
            throw NeutronFault.invalidInput("Failed to create port on network \(networkID), because fixed_ips included invalid subnet; the network has no subnets")
        }
        for r in requested {
            let subnetID = r["subnet_id"]?.stringValue
            let address = r["ip_address"]?.stringValue.flatMap { IPAddress($0) }
            let sub: JSONObject
            if let subnetID {
                guard let found = subnets.first(where: { $0["id"]?.stringValue == subnetID }) else {
                    // A subnet the caller cannot see is not found (its existence is not revealed).
                    guard let other = s[.subnet, subnetID] else { throw ResourceKind.subnet.notFound(subnetID) }
                    if let actor, !actor.isAdmin, (try? usableNetwork(other["network_id"]?.stringValue ?? "", actor, s)) == nil {
                        throw ResourceKind.subnet.notFound(subnetID)
                    }
                    throw NeutronFault.invalidInput("Failed to create port on network \(networkID), because fixed_ips included invalid subnet \(subnetID)")
                }
                sub = found
            } else if let address {
                guard let found = subnets.first(where: { Self.cidr($0)?.contains(address) == true }) else {
                    throw NeutronFault.badRequest("IP address \(address) is not a valid IP for any of the subnets on the specified network.", type: "InvalidIpForNetwork")
                }
                sub = found
            } else {
                throw NeutronFault.badRequest("Invalid input for operation: Failed to create port: fixed_ips entry needs a subnet_id or an ip_address.", type: "InvalidInput")
            }
            let id = sub["id"]!.stringValue!
            let net = Self.cidr(sub)!
            if let address {
                let reserved = net.version == 4 && net.prefixLength <= 30 && (address == net.network || address == net.broadcast)
                guard net.contains(address), !reserved else {
                    throw NeutronFault.badRequest("IP address \(address) is not a valid IP for the specified subnet.", type: "InvalidIpForSubnet")
                }
                if Self.isAutoAddress(sub) && !isRouter && address != IPAddress.eui64(prefix: net, mac: mac) {
                    throw NeutronFault.badRequest("IPv6 address \(address) cannot be directly assigned to a port on subnet \(id) since the subnet is configured for automatic addresses", type: "AllocationOnAutoAddressSubnet")
                }
                if s.isAllocated(address, subnet: id) && !existing.contains(where: { $0.subnet == id && $0.address == address }) {
                    throw NeutronFault.conflict("IpAddressAlreadyAllocated", "IP address \(address) already allocated in subnet \(id)")
                }
                try add(id, address)
            } else if Self.isAutoAddress(sub) && !isRouter {
                try add(id, IPAddress.eui64(prefix: net, mac: mac))
            } else if let keep = existing.first(where: { $0.subnet == id }), !out.contains(where: { $0["subnet_id"]?.stringValue == id }) {
                try add(id, keep.address)
            } else {
                // Addresses this request took already, and where the last search stopped: each
                // entry costs a step, not a copy of the state.
                let chosen = taken[id] ?? []
                guard let a = nextFree(sub, s, excluding: chosen, after: cursor[id]) ?? nextFree(sub, s, excluding: chosen) else {
                    throw NeutronFault.conflict("IpAddressGenerationFailure", "No more IP addresses available on network \(networkID).")
                }
                cursor[id] = a
                try add(id, a)
            }
        }
        return out
    }
}
