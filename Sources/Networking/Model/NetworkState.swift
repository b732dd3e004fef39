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
    /// RBAC policies per object (every visibility check of a network reads them).
    private var rbacByObject: [String: [String: JSONObject]] = [:]
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
        if kind == .port, let old = docs[.port]?[id] { unindexPort(old) }
        if kind == .rbacPolicy, let old = docs[.rbacPolicy]?[id], let o = old["object_id"]?.stringValue { rbacByObject[o]?[id] = nil }
        docs[kind, default: [:]][id] = doc
        if kind == .port { indexPort(doc) }
        if kind == .rbacPolicy, let o = doc["object_id"]?.stringValue { rbacByObject[o, default: [:]][id] = doc }
        changes[kind, default: [:]][id] = .some(doc)
    }

    /// Loads a stored document without recording a change.
    mutating func load(_ kind: ResourceKind, _ doc: JSONObject) {
        guard let id = doc["id"]?.stringValue else { return }
        docs[kind, default: [:]][id] = doc
        if kind == .port { indexPort(doc) }
        if kind == .rbacPolicy, let o = doc["object_id"]?.stringValue { rbacByObject[o, default: [:]][id] = doc }
    }

    public mutating func remove(_ kind: ResourceKind, _ id: String) {
        guard let old = docs[kind]?.removeValue(forKey: id) else { return }
        if kind == .port { unindexPort(old) }
        if kind == .rbacPolicy, let o = old["object_id"]?.stringValue { rbacByObject[o]?[id] = nil }
        changes[kind, default: [:]][id] = .some(nil)
    }

    private mutating func indexPort(_ p: JSONObject) {
        for ip in Self.fixedIPs(p) { allocated[ip.subnet, default: []].insert(ip.address) }
        if let n = p["network_id"]?.stringValue, let m = p["mac_address"]?.stringValue.flatMap({ MACAddress($0) }), let id = p["id"]?.stringValue {
            macs[n, default: [:]][m] = id
        }
    }

    private mutating func unindexPort(_ p: JSONObject) {
        for ip in Self.fixedIPs(p) { allocated[ip.subnet]?.remove(ip.address) }
        if let n = p["network_id"]?.stringValue, let m = p["mac_address"]?.stringValue.flatMap({ MACAddress($0) }) {
            macs[n]?.removeValue(forKey: m)
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

    public func subnets(ofNetwork n: String) -> [JSONObject] {
        all(.subnet).filter { $0["network_id"]?.stringValue == n }.sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
    }
    public func ports(ofNetwork n: String) -> [JSONObject] { all(.port).filter { $0["network_id"]?.stringValue == n } }
    public func ports(ofDevice d: String) -> [JSONObject] { all(.port).filter { $0["device_id"]?.stringValue == d } }
    public func rules(ofGroup g: String) -> [JSONObject] {
        all(.securityGroupRule).filter { $0["security_group_id"]?.stringValue == g }
            .sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
    }
    public func rbac(object: String) -> [JSONObject] { Array((rbacByObject[object] ?? [:]).values) }
    public func ownedCount(_ kind: ResourceKind, project: String) -> Int {
        all(kind).reduce(0) { $0 + ($1["project_id"]?.stringValue?.sameBytes(as: project) == true ? 1 : 0) }
    }
}
