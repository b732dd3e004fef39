import Foundation
import NimbusCore
import SQLKit

public struct Role: Sendable, Equatable {
    public var id: String
    public var name: String
    public var domainID: String?
    public var description: String?
    public var options: JSONObject
    public var extra: JSONObject
}

extension IdentityService {
    static let roleColumns = "id, name, domain_id, description, has_description, options, extra"

    func makeRole(_ r: RoleRecord) -> Role {
        Role(id: r.id, name: r.name, domainID: r.domainId.isEmpty ? nil : r.domainId, description: r.hasDescription ? r.description : nil,
             options: decodeJSONColumn(r.options), extra: decodeJSONColumn(r.extra))
    }

    public func role(_ id: String) async throws -> Role? {
        try await db.sql.record(RoleRecord.self, "SELECT \(unsafeRaw: Self.roleColumns) FROM identity_roles WHERE id = \(bind: id)").map(makeRole)
    }

    public func requireRole(_ id: String) async throws -> Role {
        guard let r = try await role(id) else { throw NimbusError.notFound("Could not find role: \(id).") }
        return r
    }

    public func role(named name: String, domainID: String?) async throws -> Role? {
        try await db.sql.record(RoleRecord.self, "SELECT \(unsafeRaw: Self.roleColumns) FROM identity_roles WHERE name = \(bind: name) AND domain_id = \(bind: domainID ?? "")").map(makeRole)
    }

    public func listRoles(name: String?, domainID: String?) async throws -> [Role] {
        var q = SQLQueryString("SELECT \(unsafeRaw: Self.roleColumns) FROM identity_roles WHERE domain_id = \(bind: domainID ?? "")")
        if let v = name { q.appendInterpolation(unsafeRaw: " AND name = "); q.appendInterpolation(bind: v) }
        return try await db.sql.records(RoleRecord.self, q).map(makeRole).sortedByBytes(\.name)
    }

    /// Keyed by id: role ids are hex we generated, so `String` keys are exact here.
    func allRoles() async throws -> [String: Role] {
        let rows = try await db.sql.records(RoleRecord.self, "SELECT \(unsafeRaw: Self.roleColumns) FROM identity_roles")
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.id, makeRole($0)) })
    }

    public func createRole(name: String, domainID: String?, description: String?, options: JSONObject, extra: JSONObject,
                           explicitID: String? = nil) async throws -> Role {
        if let domainID, try await domain(domainID) == nil { throw NimbusError.notFound("Could not find domain: \(domainID).") }
        let r = RoleRecord(id: explicitID ?? Identifiers.hex32(), name: name, domainId: domainID ?? "", description: description ?? "", hasDescription: description != nil,
                           options: encodeJSONColumn(Self.mergingOptions([:], options)), extra: encodeJSONColumn(extra))
        do {
            try await write { db in try await db.insertRecord("identity_roles", r) }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Conflict occurred attempting to store role - Duplicate entry found with name \(name).")
        }
        return makeRole(r)
    }

    /// `description`: `.some(nil)` removes it.
    public func updateRole(_ id: String, name: String?, description: String??, domainID: String??, options: JSONObject?, extra: JSONObject) async throws -> Role {
        var role = try await requireRole(id)
        if let d = domainID, !d.sameBytes(as: role.domainID) { throw NimbusError.badRequest("Update of `domain_id` is not allowed.") }
        if let n = name { role.name = n }
        if let d = description { role.description = d }
        if let o = options { role.options = Self.mergingOptions(role.options, o) }
        role.extra = try Self.mergingExtras(role.extra, extra)
        let r = role
        do {
            try await write { db in
                try await db.execute("""
                    UPDATE identity_roles SET name = \(bind: r.name), description = \(bind: r.description ?? ""), has_description = \(bind: r.description != nil),
                    options = \(bind: encodeJSONColumn(r.options)), extra = \(bind: encodeJSONColumn(r.extra)) WHERE id = \(bind: id)
                    """)
            }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Conflict occurred attempting to store role - Duplicate entry found with name \(r.name).")
        }
        return r
    }

    public func deleteRole(_ id: String) async throws {
        let role = try await requireRole(id)
        if role.options["immutable"] == .bool(true) { throw NimbusError.forbidden("Cannot delete role \(id): it is immutable.") }
        try await write { db in
            try await db.execute("DELETE FROM identity_assignments WHERE role_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_implied_roles WHERE prior_role_id = \(bind: id) OR implied_role_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_roles WHERE id = \(bind: id)")
        }
    }

    // MARK: Implied roles

    func impliedRules() async throws -> [ImpliedRoleRecord] {
        try await db.sql.records(ImpliedRoleRecord.self, "SELECT prior_role_id, implied_role_id FROM identity_implied_roles")
    }

    public func implications(of priorID: String) async throws -> [Role] {
        let roles = try await allRoles()
        return try await impliedRules().filter { $0.priorRoleId.sameBytes(as: priorID) }.compactMap { roles[$0.impliedRoleId] }.sortedByBytes(\.name)
    }

    public func allImplications() async throws -> [(Role, [Role])] {
        let roles = try await allRoles()
        var grouped = [String: [Role]]()
        for rule in try await impliedRules() { if let r = roles[rule.impliedRoleId] { grouped[rule.priorRoleId, default: []].append(r) } }
        return grouped.compactMap { prior, implied in roles[prior].map { ($0, implied.sortedByBytes(\.name)) } }.sortedByBytes(\.0.name)
    }

    public func hasImplication(prior: String, implied: String) async throws -> Bool {
        try await impliedRules().contains(ImpliedRoleRecord(priorRoleId: prior, impliedRoleId: implied))
    }

    public func createImplication(prior: String, implied: String) async throws -> (Role, Role) {
        let p = try await requireRole(prior)
        let i = try await requireRole(implied)
        if p.domainID == nil && i.domainID != nil {
            throw NimbusError.forbidden("Implied role \(implied) must not be domain specific when the prior role is global.")
        }
        // Refuse cycles: the prior must not be reachable from the implied role.
        let rules = try await impliedRules()
        if prior.sameBytes(as: implied) || expandImplied([implied], rules: rules).containsBytes(prior) {
            throw NimbusError.forbidden("Cannot create an implied role that would create a cycle.")
        }
        if !rules.contains(ImpliedRoleRecord(priorRoleId: prior, impliedRoleId: implied)) {
            try await write { db in
                try await db.execute("INSERT INTO identity_implied_roles (prior_role_id, implied_role_id) VALUES (\(bind: prior), \(bind: implied)) ON CONFLICT DO NOTHING")
            }
        }
        return (p, i)
    }

    public func deleteImplication(prior: String, implied: String) async throws {
        _ = try await requireRole(prior)
        _ = try await requireRole(implied)
        guard try await hasImplication(prior: prior, implied: implied) else {
            throw NimbusError.notFound("\(prior) does not imply \(implied).")
        }
        try await write { db in
            try await db.execute("DELETE FROM identity_implied_roles WHERE prior_role_id = \(bind: prior) AND implied_role_id = \(bind: implied)")
        }
    }

    /// The closure of `roleIDs` under the implication rules (the inputs included).
    func expandImplied(_ roleIDs: [String], rules: [ImpliedRoleRecord]) -> [String] {
        var seen = Set<Name>()
        var order = [String]()
        var stack = roleIDs
        while let id = stack.popLast() {
            guard seen.insert(Name(id)).inserted else { continue }
            order.append(id)
            for r in rules where r.priorRoleId.sameBytes(as: id) { stack.append(r.impliedRoleId) }
        }
        return order
    }
}
