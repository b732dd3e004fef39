import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    static let userFields = ["id", "name", "domain_id", "password", "enabled", "default_project_id", "options", "links",
                             "password_expires_at", "federated"]
    static let groupFields = ["id", "name", "domain_id", "description", "links"]

    /// A user from a body its schema has validated.
    func userInput(_ e: Entity) -> UserInput {
        var i = UserInput()
        i.name = e.string("name")
        i.domainID = e.string("domain_id")
        if e.has("password") { i.password = .some(e.string("password")) }
        i.enabled = e.bool("enabled")
        if e.has("default_project_id") { i.defaultProjectID = .some(e.string("default_project_id")) }
        i.options = e.object("options")
        i.extra = e.extras(excluding: Self.userFields)
        return i
    }

    func userTarget(_ u: User) -> [String: String] { ["target.user.id": u.id, "target.user.domain_id": u.domainID] }

    func addUserRoutes(_ t: inout RouteTable) {
        t.get("/v3/users") { req, ctx in
            let caller = try ctx.caller()
            var target = [String: String]()
            if let d = caller.domainID { target["target.domain_id"] = d }
            try self.authorize("identity:list_users", ctx, target)
            let users = try await self.service.listUsers(name: req.query("name"), domainID: caller.domainID ?? req.query("domain_id"),
                                                         enabled: try self.boolQuery(req, "enabled"))
            return self.collection("users", users.map(self.view), request: req)
        }
        t.post("/v3/users") { req, ctx in
            let input = self.userInput(try await self.entity(req, ctx, KeystoneSchemas.userCreate))
            let caller = try ctx.caller()
            let domainID = input.domainID ?? self.defaultDomain(for: caller)
            try self.authorize("identity:create_user", ctx, ["target.user.domain_id": domainID])
            return self.created("user", self.view(try await self.service.createUser(input, defaultDomainID: domainID)))
        }
        t.get("/v3/users/{user_id}") { req, ctx in
            let u = try await self.service.requireUser(try ctx.parameter("user_id"))
            try self.authorize("identity:get_user", ctx, self.userTarget(u))
            return self.ok("user", self.view(u))
        }
        t.patch("/v3/users/{user_id}") { req, ctx in
            let u = try await self.service.requireUser(try ctx.parameter("user_id"))
            try self.authorize("identity:update_user", ctx, self.userTarget(u))
            let input = self.userInput(try await self.entity(req, ctx, KeystoneSchemas.userUpdate))
            return self.ok("user", self.view(try await self.service.updateUser(u.id, input)))
        }
        t.delete("/v3/users/{user_id}") { req, ctx in
            let u = try await self.service.requireUser(try ctx.parameter("user_id"))
            try self.authorize("identity:delete_user", ctx, self.userTarget(u))
            try await self.service.deleteUser(u.id)
            return .empty()
        }
        // Keystone lets a user change their own password without a valid token (it may have expired).
        t.post("/v3/users/{user_id}/password", auth: .none) { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.passwordChange)
            try await self.service.changePassword(userID: try ctx.parameter("user_id"), original: r.string("original_password") ?? "",
                                                  new: r.string("password") ?? "")
            return .empty()
        }
        t.get("/v3/users/{user_id}/groups") { req, ctx in
            let u = try await self.service.requireUser(try ctx.parameter("user_id"))
            try self.authorize("identity:list_groups_for_user", ctx, self.userTarget(u))
            return self.collection("groups", try await self.service.groups(ofUser: u.id).map(self.view), request: req)
        }
        t.get("/v3/users/{user_id}/projects") { req, ctx in
            let u = try await self.service.requireUser(try ctx.parameter("user_id"))
            try self.authorize("identity:list_user_projects", ctx, self.userTarget(u))
            return self.collection("projects", try await self.service.projectsForUser(u.id).map(self.view), request: req)
        }
    }

    func groupTarget(_ g: Group) -> [String: String] { ["target.group.id": g.id, "target.group.domain_id": g.domainID] }

    func addGroupRoutes(_ t: inout RouteTable) {
        t.get("/v3/groups") { req, ctx in
            let caller = try ctx.caller()
            var target = [String: String]()
            if let d = caller.domainID { target["target.group.domain_id"] = d }
            try self.authorize("identity:list_groups", ctx, target)
            let groups = try await self.service.listGroups(name: req.query("name"), domainID: caller.domainID ?? req.query("domain_id"))
            return self.collection("groups", groups.map(self.view), request: req)
        }
        t.post("/v3/groups") { req, ctx in
            let r = try await self.entity(req, ctx, KeystoneSchemas.groupCreate)
            let caller = try ctx.caller()
            let domainID = r.string("domain_id") ?? self.defaultDomain(for: caller)
            try self.authorize("identity:create_group", ctx, ["target.group.domain_id": domainID])
            let g = try await self.service.createGroup(name: r.string("name") ?? "", domainID: domainID, description: r.nullableString("description"),
                                                       extra: r.extras(excluding: Self.groupFields))
            return self.created("group", self.view(g))
        }
        t.get("/v3/groups/{group_id}") { req, ctx in
            let g = try await self.service.requireGroup(try ctx.parameter("group_id"))
            try self.authorize("identity:get_group", ctx, self.groupTarget(g))
            return self.ok("group", self.view(g))
        }
        t.patch("/v3/groups/{group_id}") { req, ctx in
            let g = try await self.service.requireGroup(try ctx.parameter("group_id"))
            try self.authorize("identity:update_group", ctx, self.groupTarget(g))
            let r = try await self.entity(req, ctx, KeystoneSchemas.groupUpdate)
            let updated = try await self.service.updateGroup(g.id, name: r.string("name"), description: r.nullableString("description"), domainID: r.string("domain_id"),
                                                             extra: r.extras(excluding: Self.groupFields))
            return self.ok("group", self.view(updated))
        }
        t.delete("/v3/groups/{group_id}") { req, ctx in
            let g = try await self.service.requireGroup(try ctx.parameter("group_id"))
            try self.authorize("identity:delete_group", ctx, self.groupTarget(g))
            try await self.service.deleteGroup(g.id)
            return .empty()
        }
        t.get("/v3/groups/{group_id}/users") { req, ctx in
            let g = try await self.service.requireGroup(try ctx.parameter("group_id"))
            try self.authorize("identity:list_users_in_group", ctx, self.groupTarget(g))
            return self.collection("users", try await self.service.users(inGroup: g.id).map(self.view), request: req)
        }
        t.put("/v3/groups/{group_id}/users/{user_id}") { req, ctx in
            let (g, u) = try await self.membershipTargets(ctx)
            try self.authorize("identity:add_user_to_group", ctx, self.groupTarget(g).merging(self.userTarget(u)) { $1 })
            try await self.service.addUser(u.id, toGroup: g.id)
            return .empty()
        }
        t.head("/v3/groups/{group_id}/users/{user_id}") { req, ctx in try await self.checkMembership(ctx) }
        t.get("/v3/groups/{group_id}/users/{user_id}") { req, ctx in try await self.checkMembership(ctx) }
        t.delete("/v3/groups/{group_id}/users/{user_id}") { req, ctx in
            let (g, u) = try await self.membershipTargets(ctx)
            try self.authorize("identity:remove_user_from_group", ctx, self.groupTarget(g).merging(self.userTarget(u)) { $1 })
            try await self.service.removeUser(u.id, fromGroup: g.id)
            return .empty()
        }
    }

    func membershipTargets(_ ctx: NimbusRequestContext) async throws -> (Group, User) {
        let g = try await service.requireGroup(try ctx.parameter("group_id"))
        let u = try await service.requireUser(try ctx.parameter("user_id"))
        return (g, u)
    }

    func checkMembership(_ ctx: NimbusRequestContext) async throws -> Response {
        let (g, u) = try await membershipTargets(ctx)
        try authorize("identity:check_user_in_group", ctx, groupTarget(g).merging(userTarget(u)) { $1 })
        guard try await service.isMember(u.id, g.id) else { throw NimbusError.notFound("User '\(u.id)' not found in group '\(g.id)'") }
        return .empty()
    }
}
