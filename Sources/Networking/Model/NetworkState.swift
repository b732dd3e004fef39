import NimbusCore

/// Every network resource as Neutron shows it to an admin (one JSON document per resource),
/// with the indices the service's rules need: addresses in use per subnet, MACs per network,
/// children per parent. The service holds one in memory; each write changes a copy, commits
/// the changed documents with the state's version as a compare-and-set, then publishes it.
public struct NetworkState: Sendable {
    public var version: Int64 = 0
    public private(set) var docs: [ResourceKind: [String: JSONObject]] = [:]
    /// Quota limits set per project (resource → limit); absent: the defaults.
    public var quotas: [Name: [String: Int64]] = [:]
    /// Addresses allocated per subnet (by ports, including router and floating IP ports).
    public private(set) var allocated: [String: Set<IPAddress>] = [:]
    /// MAC address → port, per network.
    public private(set) var macs: [String: [MACAddress: String]] = [:]
    /// Children per parent for every relation the rules and views walk (ports of a network or
    /// device, subnets of a network, rules of a group, RBAC of an object, floating IPs of a
    /// port), and documents per owner: no lookup scans a whole kind.
    private var children: [Relation: [String: Set<String>]] = [:]
    private var owned: [ResourceKind: [Name: Int]] = [:]
    /// Ids per kind in ascending order: a list in Neutron's default order (by id) needs no sort.
    private var ordered: [ResourceKind: [String]] = [:]

    enum Relation: CaseIterable {
        case portsOfNetwork, portsOfDevice, subnetsOfNetwork, rulesOfGroup, rbacOfObject, floatingIPsOfPort, subnetsOfPool, poolsOfScope
        case forwardingsOfFloatingIP, forwardingsOfPort
        var kind: ResourceKind {
            switch self {
            case .portsOfNetwork, .portsOfDevice: .port
            case .subnetsOfNetwork, .subnetsOfPool: .subnet
            case .poolsOfScope: .subnetPool
            case .rulesOfGroup: .securityGroupRule
            case .rbacOfObject: .rbacPolicy
            case .floatingIPsOfPort: .floatingIP
            case .forwardingsOfFloatingIP, .forwardingsOfPort: .portForwarding
            }
        }
        var parentField: String {
            switch self {
            case .portsOfNetwork, .subnetsOfNetwork: "network_id"
            case .portsOfDevice: "device_id"
            case .rulesOfGroup: "security_group_id"
            case .rbacOfObject: "object_id"
            case .floatingIPsOfPort: "port_id"
            case .subnetsOfPool: "subnetpool_id"
            case .poolsOfScope: "address_scope_id"
            case .forwardingsOfFloatingIP: "floatingip_id"
            case .forwardingsOfPort: "internal_port_id"
            }
        }
    }
    /// What changed since `beginChanges()`: documents to write (nil: delete).
    public private(set) var changes: [ResourceKind: [String: JSONObject?]] = [:]
    public private(set) var quotaChanges: Set<Name> = []

    public init() {}

    public subscript(kind: ResourceKind, id: String) -> JSONObject? { docs[kind]?[id] }
    public func all(_ kind: ResourceKind) -> Dictionary<String, JSONObject>.Values { (docs[kind] ?? [:]).values }
    public func count(_ kind: ResourceKind) -> Int { docs[kind]?.count ?? 0 }

    public mutating func beginChanges() { changes = [:]; quotaChanges = [] }

    public mutating func setQuota(project: String, _ limits: [String: Int64]?) {
        quotas[Name(project)] = limits
        quotaChanges.insert(Name(project))
    }

    /// Inserts or replaces a document (keyed by its `id`), keeping the indices.
    public mutating func put(_ kind: ResourceKind, _ doc: JSONObject) {
        guard let id = doc["id"]?.stringValue else { return }
        load(kind, doc)
        changes[kind, default: [:]][id] = .some(doc)
    }

    /// Loads a stored document without recording a change.
    mutating func load(_ kind: ResourceKind, _ doc: JSONObject) {
        guard let id = doc["id"]?.stringValue else { return }
        if let old = docs[kind]?[id] {
            index(kind, old, id, adding: false)
        } else {
            ordered[kind, default: []].insert(id, at: Self.position(of: id, in: ordered[kind] ?? []))
        }
        docs[kind, default: [:]][id] = doc
        index(kind, doc, id, adding: true)
    }

    public mutating func remove(_ kind: ResourceKind, _ id: String) {
        guard let old = docs[kind]?.removeValue(forKey: id) else { return }
        index(kind, old, id, adding: false)
        let i = Self.position(of: id, in: ordered[kind] ?? [])
        if ordered[kind]?.indices.contains(i) == true, ordered[kind]?[i] == id { ordered[kind]?.remove(at: i) }
        changes[kind, default: [:]][id] = .some(nil)
    }

    private mutating func index(_ kind: ResourceKind, _ d: JSONObject, _ id: String, adding: Bool) {
        for r in Relation.allCases where r.kind == kind {
            guard let parent = d[r.parentField]?.stringValue, !parent.isEmpty else { continue }
            if adding { children[r, default: [:]][parent, default: []].insert(id) } else { children[r]?[parent]?.remove(id) }
        }
        if let project = d["project_id"]?.stringValue {
            owned[kind, default: [:]][Name(project), default: 0] += adding ? 1 : -1
        }
        guard kind == .port else { return }
        for ip in Self.fixedIPs(d) {
            if adding { allocated[ip.subnet, default: []].insert(ip.address) } else { allocated[ip.subnet]?.remove(ip.address) }
        }
        if let n = d["network_id"]?.stringValue, let m = d["mac_address"]?.stringValue.flatMap({ MACAddress($0) }) {
            if adding { macs[n, default: [:]][m] = id } else if macs[n]?[m] == id { macs[n]?.removeValue(forKey: m) }
        }
    }

    /// A port's `fixed_ips` as (subnet, address) pairs.
    public static func fixedIPs(_ p: JSONObject) -> [(subnet: String, address: IPAddress)] {
        (p["fixed_ips"]?.arrayValue ?? []).compactMap { e in
            guard let s = e["subnet_id"]?.stringValue, let a = e["ip_address"]?.stringValue.flatMap({ IPAddress($0) }) else { return nil }
            return (s, a)
        }
    }

    public func isAllocated(_ a: IPAddress, subnet: String) -> Bool { allocated[subnet]?.contains(a) ?? false }
    public func allocatedCount(subnet: String) -> Int { allocated[subnet]?.count ?? 0 }
    public func port(withMAC m: MACAddress, network: String) -> String? { macs[network]?[m] }

    // MARK: relations

    /// Where `id` is or would go in an ascending list (binary search by bytes).
    static func position(of id: String, in ids: [String]) -> Int {
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid].bytesPrecede(id) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Every document of `kind` in ascending id order.
    public func inIDOrder(_ kind: ResourceKind) -> [JSONObject] { (ordered[kind] ?? []).compactMap { docs[kind]?[$0] } }

    func related(_ r: Relation, _ parent: String) -> [JSONObject] {
        (children[r]?[parent] ?? []).sorted().compactMap { docs[r.kind]?[$0] }
    }
    /// In id order, as the rest.
    public func subnets(ofNetwork n: String) -> [JSONObject] { related(.subnetsOfNetwork, n) }
    public func ports(ofNetwork n: String) -> [JSONObject] { related(.portsOfNetwork, n) }
    public func ports(ofDevice d: String) -> [JSONObject] { related(.portsOfDevice, d) }
    public func rules(ofGroup g: String) -> [JSONObject] { related(.rulesOfGroup, g) }
    public func rbac(object: String) -> [JSONObject] { related(.rbacOfObject, object) }
    /// Removes the RBAC policies of an object being deleted.
    mutating func removeRBAC(of object: String) {
        for r in rbac(object: object) { if let id = r["id"]?.stringValue { remove(.rbacPolicy, id) } }
    }
    public func floatingIPs(ofPort p: String) -> [JSONObject] { related(.floatingIPsOfPort, p) }
    /// The subnets allocated from a subnet pool, and the pools of an address scope.
    public func subnets(ofPool p: String) -> [JSONObject] { related(.subnetsOfPool, p) }
    public func pools(ofScope a: String) -> [JSONObject] { related(.poolsOfScope, a) }
    /// The port forwardings of a floating IP, and those to a port.
    public func portForwardings(ofFloatingIP f: String) -> [JSONObject] { related(.forwardingsOfFloatingIP, f) }
    public func portForwardings(toPort p: String) -> [JSONObject] { related(.forwardingsOfPort, p) }
    public func ownedCount(_ kind: ResourceKind, project: String) -> Int { owned[kind]?[Name(project)] ?? 0 }
}
