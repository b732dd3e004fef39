import NimbusCore

/// Subnet pools (Neutron's `subnet_allocation`, `default-subnetpools` and
/// `subnetpool-prefix-ops`): prefixes kept compacted as netaddr's IPSet keeps them, prefix length
/// bounds read as neutron/ipam/subnet_alloc.py's SubnetPoolReader reads them, one default pool
/// per IP version, and the address scope rules of neutron/db/db_base_plugin_v2.py.
extension NetworkService {
    /// A pool's prefixes and bounds after SubnetPoolReader's defaults and checks.
    struct PoolShape {
        var version: Int
        var prefixes: PrefixSet
        var minPrefixLength: Int, maxPrefixLength: Int, defaultPrefixLength: Int
    }

    static func parsePrefixes(_ v: JSONValue?) -> [IPNetwork] {
        (v?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { IPNetwork($0) } }
    }

    /// A pool's prefixes as a set (empty when it has none).
    static func prefixSet(_ pool: JSONObject) -> PrefixSet {
        PrefixSet(version: Int(pool["ip_version"]?.intValue ?? 4), networks: parsePrefixes(pool["prefixes"]))
    }

    /// `d`'s prefixes and bounds (a create's attributes or a pool with an update applied).
    static func readPool(_ d: JSONObject) throws -> PoolShape {
        let nets = parsePrefixes(d["prefixes"])
        guard let version = nets.first?.version else { throw NeutronFault.badRequest("Empty subnet pool prefix list.", type: "EmptySubnetPoolPrefixList") }
        if nets.contains(where: { $0.version != version }) {
            throw NeutronFault.badRequest("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.", type: "PrefixVersionMismatch")
        }
        let bits = version == 4 ? 32 : 128
        func bound(_ k: String, _ d0: Int) -> Int { given(d[k])?.intValue.map { Int(clamping: $0) } ?? d0 }
        let minLength = bound("min_prefixlen", version == 4 ? 8 : 64)
        let maxLength = bound("max_prefixlen", bits)
        let defaultLength = bound("default_prefixlen", minLength)
        func illegal(_ a: String, _ x: Int, _ b: String, _ y: Int) -> NimbusError {
            NeutronFault.badRequest("Illegal prefix bounds: \(a)=\(x), \(b)=\(y).", type: "IllegalSubnetPoolPrefixBounds")
        }
        if minLength > maxLength { throw illegal("min_prefixlen", minLength, "max_prefixlen", maxLength) }
        if maxLength > bits { throw illegal("max_prefixlen", maxLength, "ip_version_max", bits) }
        if defaultLength < minLength { throw illegal("default_prefixlen", defaultLength, "min_prefixlen", minLength) }
        if defaultLength > maxLength { throw illegal("default_prefixlen", defaultLength, "max_prefixlen", maxLength) }
        return PoolShape(version: version, prefixes: PrefixSet(version: version, networks: nets),
                         minPrefixLength: minLength, maxPrefixLength: maxLength, defaultPrefixLength: defaultLength)
    }

    static func apply(_ shape: PoolShape, to d: inout JSONObject) {
        d["ip_version"] = .int(Int64(shape.version))
        d["prefixes"] = .array(shape.prefixes.cidrs.map { .string($0.description) })
        d["min_prefixlen"] = .int(Int64(shape.minPrefixLength))
        d["max_prefixlen"] = .int(Int64(shape.maxPrefixLength))
        d["default_prefixlen"] = .int(Int64(shape.defaultPrefixLength))
    }

    /// Visible to the actor: an admin's, its own, or shared with its project (RBAC).
    func canSee(_ d: JSONObject, _ actor: NetworkActor, _ s: NetworkState) -> Bool {
        actor.isAdmin || Self.owns(d, actor.projectID) || isShared(d, with: actor.projectID, in: s)
    }

    func visiblePool(_ id: String, _ actor: NetworkActor, _ s: NetworkState) throws -> JSONObject {
        guard let p = s[.subnetPool, id], canSee(p, actor, s) else { throw ResourceKind.subnetPool.notFound(id) }
        return p
    }

    /// The default pool of `version` the actor can see (neutron's get_default_subnetpool).
    func defaultPool(version: Int, _ actor: NetworkActor, _ s: NetworkState) -> JSONObject? {
        s.inIDOrder(.subnetPool).first { p in
            p["is_default"]?.boolValue == true && p["ip_version"]?.intValue == Int64(version) && canSee(p, actor, s)
        }
    }

    func checkNoDefaultPool(version: Int, except id: String?, _ s: NetworkState) throws {
        if s.all(.subnetPool).contains(where: { $0["is_default"]?.boolValue == true && $0["ip_version"]?.intValue == Int64(version) && $0["id"]?.stringValue != id }) {
            throw NeutronFault.invalidInput("A default subnetpool for this IP family has already been set. Only one default may exist per IP family")
        }
    }

    // MARK: create, update, delete

    public func createSubnetPool(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            let project = try Self.owner(attrs, actor)
            try checkQuota(.subnetPool, project: project, s)
            let shape = try Self.readPool(attrs)
            var d = Self.standard(attrs, project: project)
            let id = d["id"]!.stringValue!
            if attrs["is_default"]?.boolValue == true { try checkNoDefaultPool(version: shape.version, except: nil, s) }
            let scope = Self.given(attrs["address_scope_id"]).flatMap(\.stringValue)
            if let scope { try checkScope(scope, pool: id, shape, actor, s) }
            Self.apply(shape, to: &d)
            d["default_quota"] = Self.given(attrs["default_quota"]) ?? .null
            d["address_scope_id"] = scope.map { .string($0) } ?? .null
            d["is_default"] = .bool(attrs["is_default"]?.boolValue == true)
            d["shared"] = .bool(attrs["shared"]?.boolValue == true)
            s.put(.subnetPool, d)
            if attrs["shared"]?.boolValue == true { addRBAC(object: id, type: "subnetpool", owner: project, target: "*", action: "access_as_shared", &s) }
            return d
        }
    }

    public func updateSubnetPool(_ id: String, _ changes: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in try updateSubnetPool(id, changes, actor: actor, &s) }
    }

    func updateSubnetPool(_ id: String, _ changes: JSONObject, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        guard let pool = s[.subnetPool, id] else { throw ResourceKind.subnetPool.notFound(id) }
        var merged = pool
        for (k, v) in changes { merged[k] = v }
        if let given = changes["prefixes"] {
            let old = Self.prefixSet(pool)
            let new = PrefixSet(version: old.version, networks: Self.parsePrefixes(given))
            guard old.isSubset(of: new) else {
                throw NeutronFault.badRequest("Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.", type: "IllegalSubnetPoolPrefixUpdate")
            }
        }
        let shape = try Self.readPool(merged)
        // A pool emptied by remove_prefixes may come back with the other family's prefixes: a
        // default pool that changes family must find that family without a default too.
        let familyChanged = pool["ip_version"]?.intValue != Int64(shape.version)
        if merged["is_default"]?.boolValue == true && (pool["is_default"]?.boolValue != true || familyChanged) {
            try checkNoDefaultPool(version: shape.version, except: id, s)
        }
        if let old = pool["address_scope_id"]?.stringValue {
            guard let scope = s[.addressScope, old], canSee(scope, actor, s) else { throw ResourceKind.addressScope.notFound(old) }
            if !actor.isAdmin && !Self.owns(scope, actor.projectID) {
                throw NeutronFault.badRequest("Illegal subnetpool update : subnetpool \(id) cannot be updated when associated with shared address scope \(old).", type: "IllegalSubnetPoolUpdate")
            }
        }
        if let scope = merged["address_scope_id"]?.stringValue { try checkScope(scope, pool: id, shape, actor, s) }
        var d = merged
        Self.apply(shape, to: &d)
        d = Self.touched(d)
        s.put(.subnetPool, d)
        return d
    }

    public func deleteSubnetPool(_ id: String) async throws {
        try await write { s in
            guard s[.subnetPool, id] != nil else { throw ResourceKind.subnetPool.notFound(id) }
            // Neutron answers SubnetPoolDeleteError, a 400 (not SubnetPoolInUse's 409).
            if !s.subnets(ofPool: id).isEmpty {
                throw NeutronFault.badRequest("Unable to delete subnet pool: Subnet pool has existing allocations.", type: "SubnetPoolDeleteError")
            }
            s.removeRBAC(of: id)
            s.remove(.subnetPool, id)
        }
    }

    // MARK: prefix operations

    public func addPrefixes(_ id: String, _ prefixes: [IPNetwork], actor: NetworkActor) async throws -> [String] {
        try await write { s in
            guard let pool = s[.subnetPool, id] else { throw ResourceKind.subnetPool.notFound(id) }
            let all = (pool["prefixes"]?.arrayValue ?? []) + prefixes.map { .string($0.description) }
            let d = try updateSubnetPool(id, ["prefixes": .array(all)], actor: actor, &s)
            return (d["prefixes"]?.arrayValue ?? []).compactMap(\.stringValue)
        }
    }

    public func removePrefixes(_ id: String, _ prefixes: [IPNetwork]) async throws -> [String] {
        try await write { s in
            guard var pool = s[.subnetPool, id] else { throw ResourceKind.subnetPool.notFound(id) }
            let all = Self.prefixSet(pool)
            let removal = PrefixSet(version: all.version, networks: prefixes)
            let current = (pool["prefixes"]?.arrayValue ?? []).compactMap(\.stringValue)
            guard all.intersects(removal) else { return current }
            let allocated = PrefixSet(version: all.version, networks: s.subnets(ofPool: id).compactMap { Self.cidr($0) })
            if allocated.intersects(removal) {
                throw NeutronFault.badRequest("Illegal update to prefixes: One or more the prefixes to be removed is in use by a subnet.", type: "IllegalSubnetPoolPrefixUpdate")
            }
            let left = all.subtracting(removal).cidrs.map { $0.description }
            pool["prefixes"] = JSONValue(left)
            s.put(.subnetPool, Self.touched(pool))
            return left
        }
    }

    // MARK: address scopes of pools

    /// Whether pool `id` (with `shape`) may join `scopeID` (db_base_plugin_v2's
    /// `_validate_address_scope_id`): a scope the actor can use, of the same IP version, without
    /// splitting a network's subnets across scopes, and with no prefix another pool of the scope has.
    func checkScope(_ scopeID: String, pool id: String, _ shape: PoolShape, _ actor: NetworkActor, _ s: NetworkState) throws {
        guard let scope = s[.addressScope, scopeID], canSee(scope, actor, s) else { throw ResourceKind.addressScope.notFound(scopeID) }
        let scopeVersion = scope["ip_version"]?.intValue ?? 4
        guard scopeVersion == Int64(shape.version) else {
            throw NeutronFault.badRequest("Illegal subnetpool association: subnetpool \(id) cannot associate with address scope \(scopeID) because subnetpool ip_version is not \(scopeVersion).",
                                          type: "IllegalSubnetPoolIpVersionAssociationToAddressScope")
        }
        // Re-scoping the pool's subnets must not leave other subnets of their networks behind.
        let rescoped = s.subnets(ofPool: id)
        let ids = Set(rescoped.compactMap { $0["id"]?.stringValue })
        for network in Set(rescoped.compactMap { $0["network_id"]?.stringValue }) {
            for sub in s.subnets(ofNetwork: network) where sub["ip_version"]?.intValue == Int64(shape.version) && !ids.contains(sub["id"]?.stringValue ?? "") {
                throw Self.scopeAffinityError
            }
        }
        for other in s.pools(ofScope: scopeID) where other["id"]?.stringValue != id {
            if Self.prefixSet(other).intersects(shape.prefixes) {
                throw NeutronFault.conflict("AddressScopePrefixConflict", "Failed to associate address scope: subnetpools within an address scope must have unique prefixes.")
            }
        }
    }

    static let scopeAffinityError = NeutronFault.badRequest(
        "Subnets of the same address family hosted on the same network must all participate in the same address scope.", type: "NetworkAddressScopeAffinityError")
}
