import Foundation
import NimbusCore

extension IdentityService {
    /// `GET /v3/role_assignments`, with Keystone's `effective` semantics: group grants become one
    /// entry per member, inherited grants one entry per project below the target, and implied roles
    /// entries of their own.
    public func listAssignments(_ f: AssignmentFilter) async throws -> [RoleAssignment] {
        var base = try await allGrants().map { RoleAssignment(grant: $0) }
        if f.effective {
            base = try await expandGroups(base)
            base = try await expandInherited(base)
            base = try await expandImplied(base)
        }
        var projectScope: Set<Name>?
        if let p = f.projectID {
            projectScope = [Name(p)]
            if f.includeSubtree { projectScope!.formUnion(try await subtree(of: p).map { Name($0.id) }) }
        }
        return base.filter { a in
            let g = a.grant
            if let u = f.userID, !(g.actorType == .user && g.actorID.sameBytes(as: u)) { return false }
            if let gr = f.groupID, !(g.actorType == .group && g.actorID.sameBytes(as: gr)) { return false }
            if let r = f.roleID, !g.roleID.sameBytes(as: r) { return false }
            if let scope = projectScope, !(g.targetType == .project && scope.contains(Name(g.targetID))) { return false }
            if let d = f.domainID, !(g.targetType == .domain && g.targetID.sameBytes(as: d)) { return false }
            if f.system && g.targetType != .system { return false }
            if f.inheritedOnly && !g.inherited { return false }
            return true
        }.sorted { a, b in
            let x = [a.grant.actorID, a.grant.targetID, a.grant.roleID], y = [b.grant.actorID, b.grant.targetID, b.grant.roleID]
            return x.lexicographicallyPrecedes(y) { $0.bytesPrecede($1) }
        }
    }

    private func expandGroups(_ list: [RoleAssignment]) async throws -> [RoleAssignment] {
        var out = [RoleAssignment]()
        var members = [String: [String]]()
        for a in list {
            guard a.grant.actorType == .group else { out.append(a); continue }
            if members[a.grant.actorID] == nil { members[a.grant.actorID] = try await users(inGroup: a.grant.actorID).map(\.id) }
            for u in members[a.grant.actorID]! {
                var g = a.grant
                g.actorType = .user
                g.actorID = u
                out.append(RoleAssignment(grant: g, viaGroup: a.grant.actorID, source: a.source, priorRoleID: a.priorRoleID))
            }
        }
        return out
    }

    private func expandInherited(_ list: [RoleAssignment]) async throws -> [RoleAssignment] {
        var out = [RoleAssignment]()
        for a in list {
            guard a.grant.inherited else { out.append(a); continue }
            let projects: [Project]
            if a.grant.targetType == .domain {
                var f = ProjectFilter()
                f.domainID = a.grant.targetID
                projects = try await listProjects(f)
            } else {
                projects = try await subtree(of: a.grant.targetID)
            }
            for p in projects {
                var g = a.grant
                g.targetType = .project
                g.targetID = p.id
                g.inherited = false
                out.append(RoleAssignment(grant: g, viaGroup: a.viaGroup, source: a.grant, priorRoleID: nil))
            }
        }
        return out
    }

    private func expandImplied(_ list: [RoleAssignment]) async throws -> [RoleAssignment] {
        let rules = try await impliedRules()
        guard !rules.isEmpty else { return list }
        let roles = try await allRoles()
        var out = [RoleAssignment]()
        var seen = Set<Grant>()
        for a in list {
            if roles[a.grant.roleID]?.domainID == nil, seen.insert(a.grant).inserted { out.append(a) }
            for implied in expandImplied([a.grant.roleID], rules: rules).dropFirst() {
                var g = a.grant
                g.roleID = implied
                guard roles[implied]?.domainID == nil, seen.insert(g).inserted else { continue }
                out.append(RoleAssignment(grant: g, viaGroup: a.viaGroup, source: a.source ?? a.grant, priorRoleID: a.grant.roleID))
            }
        }
        return out
    }
}
