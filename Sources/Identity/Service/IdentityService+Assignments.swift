import Foundation
import NimbusCore
import SQLKit

public enum ActorType: String, Sendable { case user, group }
public enum TargetType: String, Sendable { case project, domain, system }

public struct Grant: Sendable, Hashable {
    public var actorType: ActorType
    public var actorID: String
    public var targetType: TargetType
    public var targetID: String
    public var roleID: String
    public var inherited: Bool
    public init(actorType: ActorType, actorID: String, targetType: TargetType, targetID: String, roleID: String, inherited: Bool) {
        self.actorType = actorType; self.actorID = actorID; self.targetType = targetType; self.targetID = targetID
        self.roleID = roleID; self.inherited = inherited
    }
}

/// One row of `GET /v3/role_assignments`: a grant, or (with `effective`) one derived from a group
/// membership, an inherited grant or an implied role.
public struct RoleAssignment: Sendable, Hashable {
    public var grant: Grant
    /// The group the user got this through (effective listings).
    public var viaGroup: String?
    /// The grant this was derived from by inheritance or implication.
    public var source: Grant?
    public var priorRoleID: String?
}

public struct AssignmentFilter: Sendable {
    public var userID: String?
    public var groupID: String?
    public var roleID: String?
    public var projectID: String?
    public var domainID: String?
    public var system: Bool = false
    public var inheritedOnly: Bool = false
    public var effective: Bool = false
    public var includeSubtree: Bool = false
    public init() {}
}

extension IdentityService {
    func makeGrant(_ r: AssignmentRecord) -> Grant? {
        guard let a = ActorType(rawValue: r.actorType), let t = TargetType(rawValue: r.targetType) else { return nil }
        return Grant(actorType: a, actorID: r.actorId, targetType: t, targetID: r.targetId, roleID: r.roleId, inherited: r.inherited)
    }

    static let assignmentColumns = "actor_type, actor_id, target_type, target_id, role_id, inherited"

    func grants(actorIDs: [String]) async throws -> [Grant] {
        guard !actorIDs.isEmpty else { return [] }
        var q = SQLQueryString("SELECT \(unsafeRaw: Self.assignmentColumns) FROM identity_assignments WHERE actor_id IN (")
        for (i, id) in actorIDs.enumerated() {
            if i > 0 { q.appendInterpolation(unsafeRaw: ", ") }
            q.appendInterpolation(bind: id)
        }
        q.appendInterpolation(unsafeRaw: ")")
        return try await db.sql.records(AssignmentRecord.self, q).compactMap(makeGrant)
    }

    func allGrants() async throws -> [Grant] {
        try await db.sql.records(AssignmentRecord.self, "SELECT \(unsafeRaw: Self.assignmentColumns) FROM identity_assignments").compactMap(makeGrant)
    }

    public func hasGrant(_ g: Grant) async throws -> Bool {
        try await db.sql.raw("""
            SELECT role_id FROM identity_assignments WHERE actor_type = \(bind: g.actorType.rawValue) AND actor_id = \(bind: g.actorID)
            AND target_type = \(bind: g.targetType.rawValue) AND target_id = \(bind: g.targetID) AND role_id = \(bind: g.roleID)
            AND inherited = \(bind: g.inherited)
            """).first() != nil
    }

    /// Checks that the grant's role, actor and target exist (404 naming the missing one).
    func validateGrant(_ g: Grant) async throws {
        let role = try await requireRole(g.roleID)
        switch g.actorType {
        case .user: _ = try await requireUser(g.actorID)
        case .group: _ = try await requireGroup(g.actorID)
        }
        switch g.targetType {
        case .project:
            let p = try await requireProject(g.targetID)
            if let d = role.domainID, !p.domainID.sameBytes(as: d) { throw NimbusError.forbidden("Domain-specific role \(role.id) cannot be assigned outside its domain.") }
        case .domain:
            _ = try await requireDomain(g.targetID)
            if let d = role.domainID, !d.sameBytes(as: g.targetID) { throw NimbusError.forbidden("Domain-specific role \(role.id) cannot be assigned outside its domain.") }
        case .system: break
        }
    }

    public func addGrant(_ g: Grant) async throws {
        try await validateGrant(g)
        if try await hasGrant(g) { return }
        // Granting twice is not an error, even when two requests race.
        try await write { db in
            try await db.execute("""
                INSERT INTO identity_assignments (actor_type, actor_id, target_type, target_id, role_id, inherited)
                VALUES (\(bind: g.actorType.rawValue), \(bind: g.actorID), \(bind: g.targetType.rawValue), \(bind: g.targetID),
                \(bind: g.roleID), \(bind: g.inherited)) ON CONFLICT DO NOTHING
                """)
        }
    }

    public func removeGrant(_ g: Grant) async throws {
        try await validateGrant(g)
        guard try await hasGrant(g) else {
            throw NimbusError.notFound("Could not find role assignment with role: \(g.roleID), \(g.actorType.rawValue): \(g.actorID), \(g.targetType.rawValue): \(g.targetID).")
        }
        try await write { db in
            try await db.execute("""
                DELETE FROM identity_assignments WHERE actor_type = \(bind: g.actorType.rawValue) AND actor_id = \(bind: g.actorID)
                AND target_type = \(bind: g.targetType.rawValue) AND target_id = \(bind: g.targetID) AND role_id = \(bind: g.roleID)
                AND inherited = \(bind: g.inherited)
                """)
        }
    }

    /// Roles granted directly on a target to one actor (the `/v3/projects/{p}/users/{u}/roles` listing).
    public func grantedRoles(actorType: ActorType, actorID: String, targetType: TargetType, targetID: String, inherited: Bool) async throws -> [Role] {
        let roles = try await allRoles()
        return try await grants(actorIDs: [actorID]).filter {
            $0.actorType == actorType && $0.actorID.sameBytes(as: actorID) && $0.targetType == targetType && $0.targetID.sameBytes(as: targetID)
                && $0.inherited == inherited
        }.compactMap { roles[$0.roleID] }.sortedByBytes(\.name)
    }

    /// The roles a user holds on a scope once groups, inheritance and implied roles are applied.
    /// Domain-specific roles are not placed in tokens, only the global roles they imply.
    public func effectiveRoles(userID: String, scope: TokenPayload.Scope) async throws -> [Role] {
        let groups = try await groupIDs(ofUser: userID)
        let grants = try await grants(actorIDs: [userID] + groups)
        var roleIDs = [String]()
        switch scope {
        case .unscoped:
            return []
        case .system:
            roleIDs = grants.filter { $0.targetType == .system }.map(\.roleID)
        case .domain(let d):
            roleIDs = grants.filter { $0.targetType == .domain && $0.targetID.sameBytes(as: d) && !$0.inherited }.map(\.roleID)
        case .project(let p):
            guard let project = try await project(p) else { return [] }
            let ancestors = Set(try await parents(of: project).map { Name($0.id) })
            roleIDs = grants.filter { g in
                (g.targetType == .project && g.targetID.sameBytes(as: p) && !g.inherited)
                    || (g.targetType == .domain && project.domainID.sameBytes(as: g.targetID) && g.inherited)
                    || (g.targetType == .project && ancestors.contains(Name(g.targetID)) && g.inherited)
            }.map(\.roleID)
        }
        let roles = try await allRoles()
        let expanded = expandImplied(roleIDs, rules: try await impliedRules())
        var seen = Set<Name>()
        return expanded.compactMap { roles[$0] }.filter { $0.domainID == nil && seen.insert(Name($0.id)).inserted }.sortedByBytes(\.name)
    }

    /// Projects on which the user has any effective role (for `/v3/auth/projects` and `/v3/users/{id}/projects`).
    public func projectsForUser(_ userID: String) async throws -> [Project] {
        let groups = try await groupIDs(ofUser: userID)
        let grants = try await grants(actorIDs: [userID] + groups)
        var ids = Set<Name>()
        for g in grants {
            switch (g.targetType, g.inherited) {
            case (.project, false): ids.insert(Name(g.targetID))
            case (.project, true): ids.formUnion(try await subtree(of: g.targetID).map { Name($0.id) })
            case (.domain, true):
                var f = ProjectFilter()
                f.domainID = g.targetID
                ids.formUnion(try await listProjects(f).map { Name($0.id) })
            default: break
            }
        }
        var f = ProjectFilter()
        f.ids = ids
        return try await listProjects(f)
    }

    public func domainsForUser(_ userID: String) async throws -> [Project] {
        let groups = try await groupIDs(ofUser: userID)
        let ids = Set(try await grants(actorIDs: [userID] + groups).filter { $0.targetType == .domain && !$0.inherited }.map { Name($0.targetID) })
        return try await listDomains(name: nil, enabled: nil).filter { ids.contains(Name($0.id)) }
    }
}
