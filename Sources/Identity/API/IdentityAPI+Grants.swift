import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    /// One family of grant URLs, e.g. `/v3/projects/{target_id}/users/{actor_id}/roles`.
    struct GrantFamily {
        let target: TargetType
        let actor: ActorType
        let inherited: Bool
        let base: String
        let suffix: String
    }

    static let grantFamilies: [GrantFamily] = {
        var out = [GrantFamily]()
        for actor in [ActorType.user, .group] {
            let a = actor == .user ? "users" : "groups"
            out.append(GrantFamily(target: .project, actor: actor, inherited: false, base: "/v3/projects/{target_id}/\(a)/{actor_id}/roles", suffix: ""))
            out.append(GrantFamily(target: .domain, actor: actor, inherited: false, base: "/v3/domains/{target_id}/\(a)/{actor_id}/roles", suffix: ""))
            out.append(GrantFamily(target: .system, actor: actor, inherited: false, base: "/v3/system/\(a)/{actor_id}/roles", suffix: ""))
            out.append(GrantFamily(target: .domain, actor: actor, inherited: true,
                                   base: "/v3/OS-INHERIT/domains/{target_id}/\(a)/{actor_id}/roles", suffix: "/inherited_to_projects"))
            out.append(GrantFamily(target: .project, actor: actor, inherited: true,
                                   base: "/v3/OS-INHERIT/projects/{target_id}/\(a)/{actor_id}/roles", suffix: "/inherited_to_projects"))
        }
        return out
    }()

    func addGrantRoutes(_ t: inout RouteTable) {
        for f in Self.grantFamilies {
            t.get(f.base + f.suffix) { req, ctx in
                let grant = try await self.grantFromPath(f, ctx, roleID: nil)
                try self.authorize(f.target == .system ? "identity:list_system_grants_for_\(f.actor.rawValue)" : "identity:list_grants",
                                   ctx, try await self.grantTarget(grant, role: nil))
                let roles = try await self.service.grantedRoles(actorType: f.actor, actorID: grant.actorID, targetType: f.target,
                                                                targetID: grant.targetID, inherited: f.inherited)
                return self.collection("roles", roles.map(self.view), request: req)
            }
            t.put(f.base + "/{role_id}" + f.suffix) { req, ctx in
                let (grant, role) = try await self.authorizeGrant(f, ctx, verb: "create")
                try await self.service.addGrant(grant)
                _ = role
                return .empty()
            }
            t.head(f.base + "/{role_id}" + f.suffix) { req, ctx in try await self.checkGrant(f, ctx) }
            t.get(f.base + "/{role_id}" + f.suffix) { req, ctx in try await self.checkGrant(f, ctx) }
            t.delete(f.base + "/{role_id}" + f.suffix) { req, ctx in
                let (grant, _) = try await self.authorizeGrant(f, ctx, verb: "revoke")
                try await self.service.removeGrant(grant)
                return .empty()
            }
        }
    }

    func grantFromPath(_ f: GrantFamily, _ ctx: NimbusRequestContext, roleID: String?) async throws -> Grant {
        let targetID = f.target == .system ? "all" : try ctx.parameter("target_id")
        let actorID = try ctx.parameter("actor_id")
        switch f.actor {
        case .user: _ = try await service.requireUser(actorID)
        case .group: _ = try await service.requireGroup(actorID)
        }
        switch f.target {
        case .project: _ = try await service.requireProject(targetID)
        case .domain: _ = try await service.requireDomain(targetID)
        case .system: break
        }
        return Grant(actorType: f.actor, actorID: actorID, targetType: f.target, targetID: targetID, roleID: roleID ?? "", inherited: f.inherited)
    }

    func grantTarget(_ g: Grant, role: Role?) async throws -> [String: String] {
        var t = [String: String]()
        switch g.actorType {
        case .user: t["target.user.domain_id"] = try await service.requireUser(g.actorID).domainID
        case .group: t["target.group.domain_id"] = try await service.requireGroup(g.actorID).domainID
        }
        switch g.targetType {
        case .project: t["target.project.domain_id"] = try await service.requireProject(g.targetID).domainID.policyValue
        case .domain: t["target.domain.id"] = g.targetID
        case .system: break
        }
        if let role { t.merge(roleTarget(role)) { $1 } }
        return t
    }

    func authorizeGrant(_ f: GrantFamily, _ ctx: NimbusRequestContext, verb: String) async throws -> (Grant, Role) {
        let role = try await service.requireRole(try ctx.parameter("role_id"))
        let grant = try await grantFromPath(f, ctx, roleID: role.id)
        let action = f.target == .system ? "identity:\(verb)_system_grant_for_\(f.actor.rawValue)" : "identity:\(verb)_grant"
        try authorize(action, ctx, try await grantTarget(grant, role: role))
        return (grant, role)
    }

    func checkGrant(_ f: GrantFamily, _ ctx: NimbusRequestContext) async throws -> Response {
        let (grant, role) = try await authorizeGrant(f, ctx, verb: "check")
        guard try await service.hasGrant(grant) else {
            throw NimbusError.notFound("Could not find role assignment with role: \(role.id), \(grant.actorType.rawValue): \(grant.actorID), \(grant.targetType.rawValue): \(grant.targetID).")
        }
        return .empty()
    }

    // MARK: GET /v3/role_assignments

    func listRoleAssignments(_ req: Request, _ ctx: NimbusRequestContext) async throws -> Response {
        var f = AssignmentFilter()
        f.userID = req.query("user.id")
        f.groupID = req.query("group.id")
        f.roleID = req.query("role.id")
        f.projectID = req.query("scope.project.id")
        f.domainID = req.query("scope.domain.id")
        f.system = req.query("scope.system") != nil
        f.inheritedOnly = req.query("scope.OS-INHERIT:inherited_to") != nil
        f.effective = req.queryFlag("effective") || req.query("effective") == ""
        f.includeSubtree = req.queryFlag("include_subtree")
        if f.effective && f.groupID != nil { throw NimbusError.badRequest("Combining effective and group filter will always result in an empty list.") }
        if f.includeSubtree {
            guard let p = f.projectID else { throw NimbusError.badRequest("scope.project.id needs to be specified if include_subtree is also specified.") }
            let project = try await service.requireProject(p)
            try authorize("identity:list_role_assignments_for_tree", ctx, ["target.project.domain_id": project.domainID.policyValue,
                                                                         "target.domain_id": project.domainID.policyValue, "target.project.id": project.id])
        } else {
            var target = [String: String]()
            if let d = try ctx.caller().domainID { target["target.domain_id"] = d }
            try authorize("identity:list_role_assignments", ctx, target)
        }
        let includeNames = req.queryFlag("include_names")
        var list = try await service.listAssignments(f)
        // A domain-scoped caller sees only assignments on its domain and the projects in it.
        if let domain = try ctx.caller().domainID {
            var f = ProjectFilter()
            f.domainID = domain
            let projects = Set(try await service.listProjects(f).map { Name($0.id) })
            list = list.filter { ($0.grant.targetType == .domain && $0.grant.targetID.sameBytes(as: domain))
                || ($0.grant.targetType == .project && projects.contains(Name($0.grant.targetID))) }
        }
        var names = NameCache(service: service)
        var items = [JSONValue]()
        for a in list { items.append(try await assignmentView(a, includeNames: includeNames, names: &names)) }
        return collection("role_assignments", items, request: req)
    }

    func assignmentView(_ a: RoleAssignment, includeNames: Bool, names: inout NameCache) async throws -> JSONValue {
        let g = a.grant
        var o = JSONObject()
        var role: JSONObject = ["id": .string(g.roleID)]
        var actor: JSONObject = ["id": .string(g.actorID)]
        var target: JSONObject = ["id": .string(g.targetID)]
        if includeNames {
            if let r = try await names.role(g.roleID) {
                role["name"] = .string(r.name)
                if let d = r.domainID { role["domain"] = try await names.domainRef(d) }
            }
            if g.actorType == .user, let u = try await names.user(g.actorID) {
                actor["name"] = .string(u.name); actor["domain"] = try await names.domainRef(u.domainID)
            }
            if g.actorType == .group, let gr = try await service.group(g.actorID) {
                actor["name"] = .string(gr.name); actor["domain"] = try await names.domainRef(gr.domainID)
            }
            if g.targetType == .project, let p = try await service.project(g.targetID) {
                target["name"] = .string(p.name)
                if let d = p.domainID { target["domain"] = try await names.domainRef(d) }
            }
            if g.targetType == .domain, let d = try await names.domain(g.targetID) { target["name"] = .string(d.name) }
        }
        o["role"] = .object(role)
        o[g.actorType.rawValue] = .object(actor)
        var scope: JSONObject = [:]
        switch g.targetType {
        case .system: scope["system"] = ["all": true]
        default: scope[g.targetType.rawValue] = .object(target)
        }
        if g.inherited { scope["OS-INHERIT:inherited_to"] = "projects" }
        o["scope"] = .object(scope)
        let origin = a.source ?? g
        var links: JSONObject = ["assignment": .string(v3 + grantPath(a.viaGroup.map { group in
            var s = origin; s.actorType = .group; s.actorID = group; return s } ?? origin))]
        if let group = a.viaGroup { links["membership"] = .string(v3 + "/groups/\(group)/users/\(g.actorID)") }
        // Keystone's link, parameter names and all: `/prior_role/<role>/implies/<prior role>`.
        if let prior = a.priorRoleID { links["prior_role"] = .string(v3 + "/prior_role/\(g.roleID)/implies/\(prior)") }
        o["links"] = .object(links)
        return .object(o)
    }

    func grantPath(_ g: Grant) -> String {
        let actor = g.actorType == .user ? "users" : "groups"
        switch g.targetType {
        case .system: return "/system/\(actor)/\(g.actorID)/roles/\(g.roleID)"
        case .project, .domain:
            let target = g.targetType == .project ? "projects" : "domains"
            if g.inherited { return "/OS-INHERIT/\(target)/\(g.targetID)/\(actor)/\(g.actorID)/roles/\(g.roleID)/inherited_to_projects" }
            return "/\(target)/\(g.targetID)/\(actor)/\(g.actorID)/roles/\(g.roleID)"
        }
    }
}

/// Memoises name lookups while rendering one assignment listing.
struct NameCache {
    let service: IdentityService
    var roles: [String: Role?] = [:]
    var users: [String: User?] = [:]
    var domains: [String: Project?] = [:]

    init(service: IdentityService) { self.service = service }

    mutating func role(_ id: String) async throws -> Role? {
        if let r = roles[id] { return r }
        let r = try await service.role(id)
        roles[id] = r
        return r
    }

    mutating func user(_ id: String) async throws -> User? {
        if let u = users[id] { return u }
        let u = try await service.user(id)
        users[id] = u
        return u
    }

    mutating func domain(_ id: String) async throws -> Project? {
        if let d = domains[id] { return d }
        let d = try await service.domain(id)
        domains[id] = d
        return d
    }

    mutating func domainRef(_ id: String) async throws -> JSONValue {
        ["id": .string(id), "name": .string(try await domain(id)?.name ?? "")]
    }
}
