import NimbusCore

/// A subnet's CIDR from a subnet pool (neutron/db/db_base_plugin_v2.py `_get_subnetpool_id`,
/// neutron/ipam/requests.py SubnetRequestFactory, neutron/ipam/subnet_alloc.py SubnetAllocator),
/// and the network rules that tie subnets to pools and address scopes
/// (neutron/db/ipam_backend_mixin.py `_validate_network_subnetpools`).
extension NetworkService {
    /// The pool a subnet request names (`subnetpool_id`, or the default pool of its IP version
    /// with `use_default_subnetpool`), or nil for a plain CIDR.
    func requestedPool(_ attrs: JSONObject, version: Int, _ actor: NetworkActor, _ s: NetworkState) throws -> JSONObject? {
        let useDefault = attrs["use_default_subnetpool"]?.boolValue == true
        let id = Self.given(attrs["subnetpool_id"]).flatMap(\.stringValue)
        if useDefault && id != nil {
            throw NeutronFault.badRequest("Bad subnets request: subnetpool_id and use_default_subnetpool cannot both be specified.", type: "BadRequest")
        }
        if let id { return try visiblePool(id, actor, s) }
        guard useDefault else { return nil }
        let cidrVersion = Self.given(attrs["cidr"]).flatMap(\.stringValue).flatMap { IPNetwork($0) }?.version
        guard let pool = defaultPool(version: cidrVersion ?? version, actor, s) else {
            throw NeutronFault.badRequest("Bad subnets request: No default subnetpool found for IPv\(cidrVersion ?? version).", type: "BadRequest")
        }
        return pool
    }

    /// The CIDR `pool` gives a subnet request: the one asked for if it is free (`cidr`, or the
    /// gateway's network with `prefixlen`), else the first fit of `prefixlen` (the pool's
    /// default when not given), within the pool's bounds and the project's `default_quota`.
    func allocate(from pool: JSONObject, cidr: IPNetwork?, gateway: IPAddress?, prefixLength: Int?, project: String, _ s: NetworkState) throws -> IPNetwork {
        let poolID = pool["id"]?.stringValue ?? ""
        let shape = try Self.readPool(pool)
        let length = cidr?.prefixLength ?? prefixLength ?? shape.defaultPrefixLength
        if length > shape.maxPrefixLength {
            throw NeutronFault.badRequest("Unable to allocate subnet with prefix length \(length), maximum allowed prefix is \(shape.maxPrefixLength).", type: "MaxPrefixSubnetAllocationError")
        }
        if length < shape.minPrefixLength {
            throw NeutronFault.badRequest("Unable to allocate subnet with prefix length \(length), minimum allowed prefix is \(shape.minPrefixLength).", type: "MinPrefixSubnetAllocationError")
        }
        let used = s.subnets(ofPool: poolID)
        try checkPoolQuota(pool, version: shape.version, used: used, project: project, adding: length)
        let free = shape.prefixes.subtracting(PrefixSet(version: shape.version, networks: used.compactMap { Self.cidr($0) }))
        // A gateway without a CIDR asks for the gateway's network (SubnetRequestFactory).
        let specific = cidr ?? gateway.map { IPNetwork(address: $0, prefixLength: length) }.map { IPNetwork(address: $0.network, prefixLength: length) }
        if let specific {
            guard free.contains(specific) else {
                throw NeutronFault.conflict("SubnetAllocationError", "Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.")
            }
            return specific
        }
        guard let n = free.firstFit(prefixLength: length) else {
            throw NeutronFault.conflict("SubnetAllocationError", "Failed to allocate subnet: Insufficient prefix space to allocate subnet size /\(length).")
        }
        return n
    }

    /// `default_quota` counts addresses in units of /32 (IPv4) or /64 (IPv6) per project; none or
    /// 0 is no limit (subnet_alloc.py `_check_subnetpool_project_quota`). The project is the
    /// subnet's: Neutron counts the pool owner's subnets whoever asks, which makes a shared
    /// pool's quota meaningless, so this counts the asking project's.
    /// Counted exactly, in addresses (Neutron sums floating-point units, in which a /64's 1.0
    /// plus a /128's 2⁻⁶⁴ is still 1.0, so /128s past a full IPv6 quota would never count).
    func checkPoolQuota(_ pool: JSONObject, version: Int, used: [JSONObject], project: String, adding length: Int) throws {
        guard let quota = pool["default_quota"]?.intValue, quota > 0 else { return }
        let bits = version == 4 ? 32 : 128, unit = version == 4 ? 32 : 64
        func addresses(_ prefixLength: Int) -> UInt128 {
            let host = bits - min(max(prefixLength, 0), bits)
            return host >= 128 ? .max : UInt128(1) << UInt128(host)
        }
        func add(_ a: UInt128, _ b: UInt128) -> UInt128 { let (r, o) = a.addingReportingOverflow(b); return o ? .max : r }
        var total = addresses(length)
        for sub in used where Self.owns(sub, project) { total = add(total, addresses(Self.cidr(sub)?.prefixLength ?? unit)) }
        if total > UInt128(quota) << UInt128(bits - unit) {
            throw NeutronFault.conflict("SubnetPoolQuotaExceeded", "Per-project subnet pool prefix quota exceeded.")
        }
    }

    /// Subnets of one IP version on a network come from one pool, or all from pools of one
    /// address scope, or none from a pool.
    func checkNetworkPools(network: String, version: Int, pool: JSONObject?, _ s: NetworkState) throws {
        let subnets = s.subnets(ofNetwork: network)
        let networkScope = subnets.lazy.filter { $0["ip_version"]?.intValue == Int64(version) }
            .compactMap { $0["subnetpool_id"]?.stringValue.flatMap { s[.subnetPool, $0] }?["address_scope_id"]?.stringValue }.first
        if let networkScope, pool?["address_scope_id"]?.stringValue != networkScope { throw Self.scopeAffinityError }
        let affinity = NeutronFault.badRequest("Subnets hosted on the same network must be allocated from the same subnet pool.", type: "NetworkSubnetPoolAffinityError")
        for sub in subnets where sub["ip_version"]?.intValue == Int64(version) {
            let subPool = sub["subnetpool_id"]?.stringValue
            if let pool {
                if subPool != pool["id"]?.stringValue && networkScope == nil { throw affinity }
            } else if subPool != nil {
                throw affinity
            }
        }
    }

    /// The address scopes a network's subnets take part in, by IP version (address_scope_db.py
    /// `_extend_network_dict_address_scope`).
    public func addressScopes(ofNetwork id: String, in s: NetworkState) -> (v4: JSONValue, v6: JSONValue) {
        var v4 = JSONValue.null, v6 = JSONValue.null
        for sub in s.subnets(ofNetwork: id) {
            guard let pool = sub["subnetpool_id"]?.stringValue.flatMap({ s[.subnetPool, $0] }) else { continue }
            let scope = pool["address_scope_id"] ?? .null
            if pool["ip_version"]?.intValue == 6 { v6 = scope } else { v4 = scope }
        }
        return (v4, v6)
    }
}
