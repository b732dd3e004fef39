import NimbusCore

/// Address scopes (Neutron's `address-scope`, neutron/db/address_scope_db.py): a name, an IP
/// version fixed at creation, sharing that cannot be taken back, and no deletion while a subnet
/// pool is in the scope. Sharing is RBAC (`rbac-address-scope`, `rbac-subnetpool`), as for networks.
extension NetworkService {
    public func createAddressScope(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            let project = try Self.owner(attrs, actor)
            var d = JSONObject()
            d["id"] = .string(Identifiers.uuid())
            d["project_id"] = .string(project)
            d["tenant_id"] = .string(project)
            d["name"] = attrs["name"] ?? ""
            d["ip_version"] = attrs["ip_version"] ?? 4
            let shared = attrs["shared"]?.boolValue == true
            d["shared"] = .bool(shared)
            s.put(.addressScope, d)
            if shared { addRBAC(object: d["id"]!.stringValue!, type: "address_scope", owner: project, target: "*", action: "access_as_shared", &s) }
            return d
        }
    }

    public func updateAddressScope(_ id: String, _ changes: JSONObject) async throws -> JSONObject {
        try await write { s in
            guard var d = s[.addressScope, id] else { throw ResourceKind.addressScope.notFound(id) }
            if let shared = changes["shared"]?.boolValue {
                let was = d["shared"]?.boolValue == true
                if was && !shared {
                    throw NeutronFault.badRequest("Unable to update address scope \(id) : Shared address scope can't be unshared.", type: "AddressScopeUpdateError")
                }
                if shared && !was {
                    addRBAC(object: id, type: "address_scope", owner: d["project_id"]?.stringValue ?? "", target: "*", action: "access_as_shared", &s)
                }
            }
            for (k, v) in changes { d[k] = v }
            s.put(.addressScope, d)
            return d
        }
    }

    public func deleteAddressScope(_ id: String) async throws {
        try await write { s in
            guard s[.addressScope, id] != nil else { throw ResourceKind.addressScope.notFound(id) }
            if !s.pools(ofScope: id).isEmpty {
                throw NeutronFault.conflict("AddressScopeInUse", "Unable to complete operation on address scope \(id). There are one or more subnet pools in use on the address scope.")
            }
            s.removeRBAC(of: id)
            s.remove(.addressScope, id)
        }
    }

    // MARK: RBAC on pools and scopes

    /// The kind an RBAC `object_type` names, among those this service shares.
    static func rbacKind(_ objectType: String) -> ResourceKind? {
        switch objectType {
        case "network": .network
        case "subnetpool": .subnetPool
        case "address_scope": .addressScope
        default: nil
        }
    }

    /// The projects that use a pool (its subnets') or a scope (its pools'), other than its owner.
    func dependentProjects(_ kind: ResourceKind, _ id: String, owner: String, _ s: NetworkState) -> [String] {
        let users = kind == .subnetPool ? s.subnets(ofPool: id) : s.pools(ofScope: id)
        return users.compactMap { $0["project_id"]?.stringValue }.filter { !$0.sameBytes(as: owner) }
    }

    /// Removing the sharing of a pool or scope with `target` while a project it reaches only that
    /// way uses it is Neutron's RbacPolicyInUse (rbac_db_mixin `validate_object_delete`).
    func checkUnshare(_ kind: ResourceKind, _ id: String, removingPolicy policyID: String, _ s: NetworkState) throws {
        guard let doc = s[kind, id], let policy = s[.rbacPolicy, policyID], let target = policy["target_tenant"]?.stringValue else { return }
        let remaining = s.rbac(object: id).filter { $0["id"]?.stringValue != policyID && $0["action"]?.stringValue == "access_as_shared" }
        for p in dependentProjects(kind, id, owner: doc["project_id"]?.stringValue ?? "", s) where target == "*" || p.sameBytes(as: target) {
            if !remaining.contains(where: { Self.targets($0, p) }) {
                throw NeutronFault.conflict("RbacPolicyInUse", "RBAC policy on object \(id) cannot be removed because other objects depend on it.")
            }
        }
    }

    /// An RBAC policy sharing a subnet pool or an address scope.
    func createObjectRBAC(_ kind: ResourceKind, _ objectID: String, _ attrs: JSONObject, project: String, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        guard let doc = s[kind, objectID], actor.isAdmin || Self.owns(doc, actor.projectID) else {
            throw NeutronFault.error(.notFound, "RbacPolicyNotFound", "\(kind.member) \(objectID) could not be found.")
        }
        guard let target = Self.given(attrs["target_tenant"])?.stringValue ?? Self.given(attrs["target_project"])?.stringValue else {
            throw NeutronFault.badRequest("Failed to parse request. Required attribute 'target_tenant' not specified")
        }
        let action = attrs["action"]!.stringValue!
        let shared = try shareObject(kind, doc, target: target, action: action, s)
        if s.rbac(object: objectID).contains(where: { $0["action"]?.stringValue == action && $0["target_tenant"]?.stringValue?.sameBytes(as: target) == true }) {
            throw NeutronFault.conflict("DuplicateRbacPolicy", "An RBAC policy already exists with those values.")
        }
        try checkQuota(.rbacPolicy, project: project, s)
        addRBAC(object: objectID, type: kind.member, owner: project, target: target, action: action, &s)
        if shared != doc { s.put(kind, kind == .subnetPool ? Self.touched(shared) : shared) }
        return s.rbac(object: objectID).first { $0["target_tenant"]?.stringValue?.sameBytes(as: target) == true && $0["action"]?.stringValue == action } ?? [:]
    }

    /// A pool's or scope's RBAC policy given another target: the old one loses access (refused
    /// while it depends on it), `shared` follows the `*` entries.
    func retargetObjectRBAC(_ kind: ResourceKind, _ policy: JSONObject, target: String, _ s: inout NetworkState) throws -> JSONObject {
        let id = policy["id"]?.stringValue ?? "", object = policy["object_id"]?.stringValue ?? ""
        try checkUnshare(kind, object, removingPolicy: id, s)
        if let doc = s[kind, object], policy["target_tenant"]?.stringValue == "*" || target == "*" {
            var d = doc
            d["shared"] = .bool(target == "*" || s.rbac(object: object).contains { $0["id"]?.stringValue != id && $0["target_tenant"]?.stringValue == "*" })
            if d != doc { s.put(kind, kind == .subnetPool ? Self.touched(d) : d) }
        }
        var r = policy
        r["target_tenant"] = .string(target)
        r["target_project"] = .string(target)
        s.put(.rbacPolicy, r)
        return r
    }

    /// A new RBAC policy on a pool or scope (only `access_as_shared`; a pool in a scope only for
    /// a project that can use the scope). Returns the object with its `shared` set.
    func shareObject(_ kind: ResourceKind, _ doc: JSONObject, target: String, action: String, _ s: NetworkState) throws -> JSONObject {
        let id = doc["id"]?.stringValue ?? ""
        guard action == "access_as_shared" else {
            throw NeutronFault.badRequest("Invalid action '\(action)' for object type '\(kind.member)'. Valid actions: ['access_as_shared']", type: "InvalidActionForType")
        }
        if kind == .subnetPool, let scopeID = doc["address_scope_id"]?.stringValue, let scope = s[.addressScope, scopeID],
           !(Self.owns(scope, target) || s.rbac(object: scopeID).contains(where: { r in
               r["action"]?.stringValue == "access_as_shared" && (r["target_tenant"]?.stringValue == "*" || r["target_tenant"]?.stringValue?.sameBytes(as: target) == true)
           })) {
            throw NeutronFault.badRequest("Failed to create RBAC policy on object \(id) because target project doesn't have access to associated address scope.", type: "RbacPolicyInitError")
        }
        var d = doc
        if target == "*" { d["shared"] = true }
        return d
    }
}
