import Foundation
import Logging
import NimbusCore
import NimbusStore
import Synchronization

/// Who asks: the project the token is scoped to and whether the caller is an admin. The API
/// layer has already checked policy; the service uses this for what Neutron decides in its
/// plugins (per-project visibility of shared networks, the default security group, quotas).
public struct NetworkActor: Sendable {
    public let projectID: String
    public let isAdmin: Bool
    public init(projectID: String, isAdmin: Bool) { self.projectID = projectID; self.isAdmin = isAdmin }
}

public struct NetworkSettings: Sendable {
    /// MTU of self-service (VXLAN) networks: 1500 less the 50-byte VXLAN header.
    public var overlayMTU: Int64 = 1450
    public var physicalMTU: Int64 = 1500
    /// VXLAN network identifiers handed out to self-service networks (Neutron's `vni_ranges`).
    public var vniRange: ClosedRange<Int64> = 1...16_777_215
    public var maxHostRoutes = 20
    public var maxNameservers = 5
    public var maxRoutes = 30
    public var availabilityZone = "nova"
    public init() {}
}

/// The network service (Neutron's ML2 core plugin, L3 router plugin and security groups, as
/// rules over documents): validates what the API layer prepared, allocates addresses, MACs and
/// segments, keeps the relations, and commits each change atomically.
public final class NetworkService: Sendable {
    let store: NetworkStore
    public let settings: NetworkSettings
    let logger: Logger
    /// The published state and its single writer.
    let committed: CommittedState<NetworkState>
    /// The agents' last reports (agent id → time), in memory only.
    let heartbeats = Mutex<[String: Date]>([:])
    /// When each host's agent records were last written (in memory).
    let agentWrites = Mutex<[String: Date]>([:])

    public static let quotaDefaults: [(String, Int64)] = [
        ("network", 100), ("subnet", 100), ("port", 500), ("router", 10), ("floatingip", 50),
        ("security_group", 10), ("security_group_rule", 100), ("rbac_policy", 10), ("subnetpool", -1),
    ]

    public init(store: NetworkStore, settings: NetworkSettings = NetworkSettings(), logger: Logger) async throws {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.committed = try await CommittedState(name: "network", logger: logger, version: { try await store.version() },
                                                  load: { try await store.load() }, commit: { try await store.commit($0) })
    }

    /// Returns once the state's version is no longer `since` (a commit here or a reload of
    /// another controller's), or after `timeout`.
    public func waitForChange(since: Int64, timeout: Duration) async { await committed.waitForChange(since: since, timeout: timeout) }

    public var state: NetworkState { committed.value }

    public func onCommit(_ f: @escaping @Sendable (Int64) -> Void) { committed.onCommit(f) }

    /// Reloads whenever another controller committed, checking every `interval`; the agents
    /// are woken after a reload.
    public func watchChanges(every interval: Duration) async { await committed.watchChanges(every: interval) }

    /// An `If-Match: revision_number=N` that a request's update or delete must still find when
    /// it writes. The API checks it first against a snapshot, but two concurrent writers can both
    /// pass that; the task's first write checks it again under the write lock (as Neutron checks
    /// it inside the update's transaction).
    public final class RevisionGuard: Sendable {
        let kind: ResourceKind, id: String, revision: Int64
        let pending = Mutex(true)
        public init(kind: ResourceKind, id: String, revision: Int64) {
            self.kind = kind
            self.id = id
            self.revision = revision
        }

        func check(_ s: NetworkState) throws {
            guard pending.withLock({ $0 }), let doc = s[kind, id] else { return }
            let have = doc["revision_number"]?.intValue ?? 0
            if have != revision {
                throw NeutronFault.error(.preconditionFailed, "RevisionNumberConstraintFailed", "Constrained to \(revision), but current revision is \(have)")
            }
        }
    }
    @TaskLocal public static var revisionGuard: RevisionGuard?

    /// Runs `body` on a copy of the state and commits what it changed; retried on a conflict
    /// with another controller's commit (after reloading).
    public func write<R: Sendable>(_ body: (inout NetworkState) throws -> R) async throws -> R {
        let guarded = Self.revisionGuard
        defer { guarded?.pending.withLock { $0 = false } }
        return try await committed.write(check: guarded.map { g in { try g.check($0) } }, body)
    }

    static func now() -> String { Timestamps.seconds(Date()) }

    /// The fields every standard resource has, for a new document.
    static func standard(_ attrs: JSONObject, project: String) -> JSONObject {
        var d = attrs
        let now = now()
        d["id"] = .string(Identifiers.uuid())
        d["project_id"] = .string(project)
        d["tenant_id"] = .string(project)
        d["revision_number"] = 1
        d["created_at"] = .string(now)
        d["updated_at"] = .string(now)
        if d["tags"] == nil || d["tags"] == ResourceSpecs.unspecified { d["tags"] = [] }
        return d
    }

    /// Applies an update's attributes and bumps the revision.
    static func touched(_ doc: JSONObject, _ changes: JSONObject = [:]) -> JSONObject {
        var d = doc
        for (k, v) in changes { d[k] = v }
        d["revision_number"] = .int((d["revision_number"]?.intValue ?? 0) + 1)
        d["updated_at"] = .string(now())
        return d
    }

    /// The project a create is for: the caller's unless `project_id`/`tenant_id` names another
    /// (the API layer's policy decides whether that is allowed).
    static func owner(_ attrs: JSONObject, _ actor: NetworkActor) throws -> String {
        let p = attrs["project_id"].flatMap { $0 == ResourceSpecs.unspecified ? nil : $0.stringValue }
        let t = attrs["tenant_id"].flatMap { $0 == ResourceSpecs.unspecified ? nil : $0.stringValue }
        if let p, let t, !p.sameBytes(as: t) { throw NeutronFault.badRequest("'project_id' and 'tenant_id' do not match") }
        return p ?? t ?? actor.projectID
    }

    static func given(_ v: JSONValue?) -> JSONValue? { v == nil || v == ResourceSpecs.unspecified ? nil : v }

    // MARK: visibility

    /// Whether `project` may use `network` as shared (an RBAC entry for it or for everyone).
    public func isShared(_ network: JSONObject, with project: String, in s: NetworkState) -> Bool {
        guard let id = network["id"]?.stringValue else { return false }
        return s.rbac(object: id).contains { r in
            r["action"]?.stringValue == "access_as_shared" && Self.targets(r, project)
        }
    }
    public func isExternal(_ network: JSONObject, for project: String, in s: NetworkState) -> Bool {
        guard network["router:external"]?.boolValue == true, let id = network["id"]?.stringValue else { return false }
        return s.rbac(object: id).contains { r in r["action"]?.stringValue == "access_as_external" && Self.targets(r, project) }
    }
    static func targets(_ rbac: JSONObject, _ project: String) -> Bool {
        guard let t = rbac["target_tenant"]?.stringValue else { return false }
        return t == "*" || t.sameBytes(as: project)
    }
    static func owns(_ doc: JSONObject, _ project: String) -> Bool { doc["project_id"]?.stringValue?.sameBytes(as: project) == true }

    /// A network the actor may attach to: its own, shared with it, external (for gateways and
    /// floating IPs), or any for an admin.
    func usableNetwork(_ id: String, _ actor: NetworkActor, _ s: NetworkState, external: Bool = false) throws -> JSONObject {
        guard let n = s[.network, id], canUse(n, actor, in: s, external: external) else { throw ResourceKind.network.notFound(id) }
        return n
    }

    public func canUse(_ n: JSONObject, _ actor: NetworkActor, in s: NetworkState, external: Bool = false) -> Bool {
        actor.isAdmin || Self.owns(n, actor.projectID) || isShared(n, with: actor.projectID, in: s)
            || (external && isExternal(n, for: actor.projectID, in: s))
    }

    // MARK: quotas

    public func quotaLimits(_ project: String, in s: NetworkState) -> [(String, Int64)] {
        let set = s.quotas[Name(project)] ?? [:]
        return Self.quotaDefaults.map { ($0.0, set[$0.0] ?? $0.1) }
    }

    static func quotaKind(_ resource: String) -> ResourceKind? {
        switch resource {
        case "network": .network
        case "subnet": .subnet
        case "port": .port
        case "router": .router
        case "floatingip": .floatingIP
        case "security_group": .securityGroup
        case "security_group_rule": .securityGroupRule
        case "rbac_policy": .rbacPolicy
        case "subnetpool": .subnetPool
        default: nil
        }
    }

    public func usage(_ resource: String, project: String, in s: NetworkState) -> Int64 {
        guard let kind = Self.quotaKind(resource) else { return 0 }
        return Int64(s.ownedCount(kind, project: project))
    }

    func checkQuota(_ kind: ResourceKind, project: String, adding n: Int = 1, _ s: NetworkState) throws {
        let limit = quotaLimits(project, in: s).first { $0.0 == kind.rawValue }?.1 ?? -1
        guard limit >= 0 else { return }
        if Int64(s.ownedCount(kind, project: project) + n) > limit {
            throw NeutronFault.conflict("OverQuota", "Quota exceeded for resources: ['\(kind.rawValue)'].")
        }
    }

    // MARK: networks

    public func createNetwork(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in try createNetwork(attrs, actor: actor, &s) }
    }

    func createNetwork(_ attrs: JSONObject, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        let project = try Self.owner(attrs, actor)
        try checkQuota(.network, project: project, s)
        var d = Self.standard(attrs, project: project)
        let external = attrs["router:external"]?.boolValue == true
        var type = Self.given(attrs["provider:network_type"])?.stringValue ?? "vxlan"
        var physnet = Self.given(attrs["provider:physical_network"])?.stringValue
        var segment = Self.given(attrs["provider:segmentation_id"])?.intValue
        if Self.given(attrs["provider:network_type"]) == nil && (physnet != nil || segment != nil) {
            // Neutron needs the type when other provider attributes are given.
            throw NeutronFault.invalidInput("network_type required")
        }
        switch type {
        case "flat":
            if segment != nil { throw NeutronFault.invalidInput("segmentation_id prohibited for flat provider network") }
            physnet = physnet ?? "public"
            if s.all(.network).contains(where: { $0["provider:network_type"]?.stringValue == "flat" && $0["provider:physical_network"]?.stringValue == physnet }) {
                throw NeutronFault.conflict("FlatNetworkInUse", "Unable to create the flat network. Physical network \(physnet!) is in use.")
            }
        case "vlan":
            guard let p = physnet else { throw NeutronFault.invalidInput("physical_network required for VLAN provider network") }
            guard let seg = segment else { throw NeutronFault.invalidInput("segmentation_id required for VLAN provider network") }
            guard (1...4094).contains(seg) else { throw NeutronFault.invalidInput("segmentation_id out of range (1 through 4094)") }
            if s.all(.network).contains(where: { $0["provider:network_type"]?.stringValue == "vlan" && $0["provider:physical_network"]?.stringValue == p
                && $0["provider:segmentation_id"]?.intValue == seg }) {
                throw NeutronFault.conflict("VlanIdInUse", "Unable to create the network. The VLAN \(seg) on physical network \(p) is in use.")
            }
        case "vxlan":
            if physnet != nil { throw NeutronFault.invalidInput("provider:physical_network specified for VXLAN network") }
            let used = Set(s.all(.network).filter { $0["provider:network_type"]?.stringValue == "vxlan" }.compactMap { $0["provider:segmentation_id"]?.intValue })
            if let seg = segment {
                guard settings.vniRange.contains(seg) || (1...16_777_215).contains(seg) else {
                    throw NeutronFault.invalidInput("segmentation_id out of range (1 through 16777215)")
                }
                if used.contains(seg) {
                    throw NeutronFault.conflict("TunnelIdInUse", "Unable to create the network. The tunnel ID \(seg) is in use.")
                }
            } else {
                guard let free = settings.vniRange.first(where: { !used.contains($0) }) else {
                    throw NeutronFault.error(.serviceUnavailable, "NoNetworkAvailable", "Unable to create the network. No tenant network is available for allocation.")
                }
                segment = free
            }
        default:
            type = "local"
            if physnet != nil || segment != nil { throw NeutronFault.invalidInput("provider:physical_network and segmentation_id prohibited for local provider network") }
        }
        let maxMTU = type == "vxlan" ? settings.overlayMTU : settings.physicalMTU
        if let mtu = Self.given(attrs["mtu"])?.intValue, mtu > maxMTU {
            throw NeutronFault.invalidInput("Requested MTU is too big, maximum is \(maxMTU)")
        }
        d["mtu"] = .int(Self.given(attrs["mtu"])?.intValue ?? maxMTU)
        d["provider:network_type"] = .string(type)
        d["provider:physical_network"] = JSONValue(physnet)
        d["provider:segmentation_id"] = segment.map { .int($0) } ?? .null
        d["status"] = "ACTIVE"
        d["subnets"] = []
        d["availability_zones"] = [.string(settings.availabilityZone)]
        d["ipv4_address_scope"] = .null
        d["ipv6_address_scope"] = .null
        d["l2_adjacency"] = true
        d["shared"] = .bool(attrs["shared"]?.boolValue == true)
        d["router:external"] = .bool(external)
        s.put(.network, d)
        let id = d["id"]!.stringValue!
        if attrs["shared"]?.boolValue == true { addRBAC(object: id, owner: project, target: "*", action: "access_as_shared", &s) }
        if external { addRBAC(object: id, owner: project, target: "*", action: "access_as_external", &s) }
        ensureDefaultSecurityGroup(project: project, &s)
        return d
    }

    func addRBAC(object: String, type: String = "network", owner: String, target: String, action: String, _ s: inout NetworkState) {
        var r = JSONObject()
        r["id"] = .string(Identifiers.uuid())
        r["project_id"] = .string(owner)
        r["tenant_id"] = .string(owner)
        r["object_type"] = .string(type)
        r["object_id"] = .string(object)
        r["target_tenant"] = .string(target)
        r["target_project"] = .string(target)
        r["action"] = .string(action)
        s.put(.rbacPolicy, r)
    }

    public func updateNetwork(_ id: String, _ changes: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            guard var n = s[.network, id] else { throw ResourceKind.network.notFound(id) }
            var c = changes
            if let type = c["provider:network_type"], type != n["provider:network_type"] {
                _ = type
                throw NeutronFault.invalidInput("Plugin does not support updating the following provider network attributes: provider:network_type")
            }
            for k in ["provider:physical_network", "provider:segmentation_id"] where c[k] != nil && c[k] != n[k] {
                throw NeutronFault.invalidInput("Plugin does not support updating the following provider network attributes: \(k)")
            }
            if let mtu = c["mtu"]?.intValue {
                let maxMTU = n["provider:network_type"]?.stringValue == "vxlan" ? settings.overlayMTU : settings.physicalMTU
                if mtu > maxMTU { throw NeutronFault.invalidInput("Requested MTU is too big, maximum is \(maxMTU)") }
            }
            let owner = n["project_id"]?.stringValue ?? ""
            if let shared = c["shared"]?.boolValue, shared != (n["shared"]?.boolValue == true) {
                if shared {
                    addRBAC(object: id, owner: owner, target: "*", action: "access_as_shared", &s)
                } else {
                    try checkUnshare(network: id, owner: owner, removingTarget: "*", s)
                    for r in s.rbac(object: id) where r["action"]?.stringValue == "access_as_shared" && r["target_tenant"]?.stringValue == "*" {
                        s.remove(.rbacPolicy, r["id"]!.stringValue!)
                    }
                }
            }
            if let ext = c["router:external"]?.boolValue, ext != (n["router:external"]?.boolValue == true) {
                if ext {
                    addRBAC(object: id, owner: owner, target: "*", action: "access_as_external", &s)
                } else {
                    if s.ports(ofNetwork: id).contains(where: { ($0["device_owner"]?.stringValue == "network:router_gateway"
                        || $0["device_owner"]?.stringValue == "network:floatingip") }) {
                        throw NeutronFault.conflict("ExternalNetworkInUse", "External network \(id) cannot be updated to be made non-external, since it has existing gateway ports.")
                    }
                    for r in s.rbac(object: id) where r["action"]?.stringValue == "access_as_external" { s.remove(.rbacPolicy, r["id"]!.stringValue!) }
                }
            }
            c["tenant_id"] = nil
            n = Self.touched(n, c)
            s.put(.network, n)
            return n
        }
    }

    /// Removing sharing while other projects' ports use the network is Neutron's 409.
    func checkUnshare(network id: String, owner: String, removingTarget target: String, _ s: NetworkState, type: String = "InvalidSharedSetting") throws {
        let remaining = s.rbac(object: id).filter { r in
            r["action"]?.stringValue == "access_as_shared" && r["target_tenant"]?.stringValue.map { !$0.sameBytes(as: target) } == true
        }
        for p in s.ports(ofNetwork: id) {
            let pp = p["project_id"]?.stringValue ?? ""
            if pp.isEmpty || pp.sameBytes(as: owner) { continue }
            if (p["device_owner"]?.stringValue ?? "").hasBytePrefix("network:") { continue }
            if target == "*" || pp.sameBytes(as: target) {
                if !remaining.contains(where: { Self.targets($0, pp) }) {
                    throw type == "RbacPolicyInUse"
                        ? NeutronFault.conflict(type, "RBAC policy on object \(id) cannot be removed because other objects depend on it.")
                        : NeutronFault.conflict(type, "Unable to reconfigure sharing settings for network \(id). Multiple tenants are using it.")
                }
            }
        }
    }

    public func deleteNetwork(_ id: String) async throws {
        try await write { s in
            guard let n = s[.network, id] else { throw ResourceKind.network.notFound(id) }
            // Floating IPs that point nowhere go with their external network (Neutron's L3 plugin).
            let floating = s.all(.floatingIP).filter { $0["floating_network_id"]?.stringValue == id }
            if floating.allSatisfy({ $0["port_id"] == nil || $0["port_id"] == .null }) {
                for f in floating {
                    let fid = f["id"]!.stringValue!
                    for p in s.ports(ofDevice: fid) where p["device_owner"]?.stringValue == "network:floatingip" { s.remove(.port, p["id"]!.stringValue!) }
                    s.remove(.floatingIP, fid)
                }
            }
            for p in s.ports(ofNetwork: id) {
                let owner = p["device_owner"]?.stringValue ?? ""
                // Only the service's own DHCP ports go with the network; anything else is in use.
                if owner != "network:dhcp" {
                    throw NeutronFault.conflict("NetworkInUse", "Unable to complete operation on network \(id). There are one or more ports still in use on the network.")
                }
            }
            for p in s.ports(ofNetwork: id) { s.remove(.port, p["id"]!.stringValue!) }
            for sub in s.subnets(ofNetwork: id) { s.remove(.subnet, sub["id"]!.stringValue!) }
            s.removeRBAC(of: id)
            _ = n
            s.remove(.network, id)
        }
    }
}
