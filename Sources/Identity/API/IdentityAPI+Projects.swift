import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

extension IdentityAPI {
    static let projectFields = ["id", "name", "domain_id", "parent_id", "is_domain", "enabled", "description", "tags", "options", "links",
                                "explicit_domain_id"]

    /// A project or domain from a body its schema has validated.
    func projectInput(_ e: Entity) -> ProjectInput {
        var i = ProjectInput()
        // Keystone strips project and domain names.
        i.name = e.string("name")?.pythonStripped
        i.domainID = e.string("domain_id")
        i.parentID = e.string("parent_id")
        i.isDomain = e.bool("is_domain")
        i.enabled = e.bool("enabled")
        i.description = e.nullableString("description")
        if e.has("tags") { i.tags = e.array("tags").compactMap(\.stringValue) }
        i.options = e.object("options")
        i.extra = e.extras(excluding: Self.projectFields)
        return i
    }

    func projectTarget(_ p: Project) -> [String: String] {
        ["target.project.id": p.id, "target.project.domain_id": p.domainID.policyValue]
    }

    func addProjectRoutes(_ t: inout RouteTable) {
        t.get("/v3/projects") { req, ctx in
            let caller = try ctx.caller()
            var target = [String: String]()
            if let d = caller.domainID { target["target.domain_id"] = d }
            try self.authorize("identity:list_projects", ctx, target)
            var f = ProjectFilter()
            f.name = req.query("name")
            f.domainID = req.query("domain_id")
            f.parentID = req.query("parent_id")
            f.enabled = try self.boolQuery(req, "enabled")
            f.isDomain = try self.boolQuery(req, "is_domain")
            // Split on "," bytes and keep empty pieces, as Python's `str.split(',')` does.
            func tagList(_ name: String) -> [String]? { req.query(name)?.splitBytes(",", omittingEmpty: false).map(String.init) }
            f.tags = tagList("tags")
            f.tagsAny = tagList("tags-any")
            f.notTags = tagList("not-tags")
            f.notTagsAny = tagList("not-tags-any")
            var projects = try await self.service.listProjects(f)
            if let d = caller.domainID { projects = projects.filter { $0.domainID.sameBytes(as: d) } }
            return self.collection("projects", projects.map(self.view), request: req)
        }
        t.post("/v3/projects") { req, ctx in
            let input = self.projectInput(try await self.entity(req, ctx, KeystoneSchemas.projectCreate))
            let caller = try ctx.caller()
            // Authorize against the domain the project will really land in: the parent's, if given.
            var domainID = input.domainID ?? self.defaultDomain(for: caller)
            if let parentID = input.parentID, input.isDomain != true {
                let parent = try await self.service.projectOrDomain(parentID)
                domainID = parent.isDomain ? parent.id : (parent.domainID ?? domainID)
            }
            if input.isDomain == true {
                try self.authorize("identity:create_domain", ctx)
            } else {
                try self.authorize("identity:create_project", ctx, ["target.project.domain_id": domainID])
            }
            let p = try await self.service.createProject(input, defaultDomainID: domainID)
            return self.created("project", self.view(p))
        }
        t.get("/v3/projects/{project_id}") { req, ctx in
            let p = try await self.service.projectOrDomain(try ctx.parameter("project_id"))
            try self.authorize("identity:get_project", ctx, self.projectTarget(p))
            var v = self.view(p)
            // Like Keystone, the hierarchy lists only the projects the caller may see.
            let caller = try ctx.caller()
            let visible = { (q: Project) in
                self.policy.enforce("identity:get_project", credentials: caller.policyCredentials, target: self.projectTarget(q))
            }
            if req.queryFlag("parents_as_list"), case .object(var o) = v {
                o["parents"] = .array(try await self.service.parents(of: p).filter(visible).map { ["project": self.view($0)] })
                v = .object(o)
            }
            if req.queryFlag("subtree_as_list"), case .object(var o) = v {
                o["subtree"] = .array(try await self.service.subtree(of: p.id).filter(visible).map { ["project": self.view($0)] })
                v = .object(o)
            }
            return self.ok("project", v)
        }
        t.patch("/v3/projects/{project_id}") { req, ctx in
            let p = try await self.service.projectOrDomain(try ctx.parameter("project_id"))
            try self.authorize("identity:update_project", ctx, self.projectTarget(p))
            let input = self.projectInput(try await self.entity(req, ctx, KeystoneSchemas.projectUpdate))
            return self.ok("project", self.view(try await self.service.updateProject(p.id, input, isDomain: p.isDomain)))
        }
        t.delete("/v3/projects/{project_id}") { req, ctx in
            let p = try await self.service.projectOrDomain(try ctx.parameter("project_id"))
            try self.authorize("identity:delete_project", ctx, self.projectTarget(p))
            if p.isDomain { try await self.service.deleteDomain(p.id) } else { try await self.service.deleteProject(p.id) }
            return .empty()
        }
        addProjectTagRoutes(&t)
    }

    /// Where a new user, group or project lands when the request names no domain: the caller's
    /// domain scope, else its project's domain, else the default domain (as Keystone does).
    func defaultDomain(for c: AuthContext) -> String {
        switch c.scope {
        case .domain(let id, _): id
        case .project(let p): p.domainID
        default: service.settings.defaultDomainID
        }
    }

    func addProjectTagRoutes(_ t: inout RouteTable) {
        t.get("/v3/projects/{project_id}/tags") { req, ctx in
            let p = try await self.service.requireProject(try ctx.parameter("project_id"))
            try self.authorize("identity:list_project_tags", ctx, self.projectTarget(p))
            return .json(["tags": JSONValue(p.tags), "links": ["self": .string(self.v3 + "/projects/\(p.id)/tags"), "previous": nil, "next": nil]])
        }
        t.put("/v3/projects/{project_id}/tags") { req, ctx in
            let p = try await self.service.requireProject(try ctx.parameter("project_id"))
            try self.authorize("identity:update_project_tags", ctx, self.projectTarget(p))
            // Keystone validates `body.get('tags', {})` as the list: a body without tags is a 400, never "delete all".
            let body = try await self.entity(req, ctx, KeystoneSchemas.projectTagsUpdate)
            var input = ProjectInput()
            // Keystone strips each tag (`t.strip()`), as it strips a tag added alone.
            input.tags = body.array("tags").compactMap { $0.stringValue?.pythonStripped }
            let updated = try await self.service.updateProject(p.id, input, isDomain: false)
            return .json(["tags": JSONValue(updated.tags), "links": ["self": .string(self.v3 + "/projects/\(p.id)/tags"), "previous": nil, "next": nil]])
        }
        t.delete("/v3/projects/{project_id}/tags") { req, ctx in
            let p = try await self.service.requireProject(try ctx.parameter("project_id"))
            try self.authorize("identity:delete_project_tags", ctx, self.projectTarget(p))
            var input = ProjectInput()
            input.tags = []
            _ = try await self.service.updateProject(p.id, input, isDomain: false)
            return .empty()
        }
        t.get("/v3/projects/{project_id}/tags/{tag}") { req, ctx in
            let p = try await self.service.requireProject(try ctx.parameter("project_id"))
            try self.authorize("identity:get_project_tag", ctx, self.projectTarget(p))
            let tag = try ctx.parameter("tag")
            guard p.tags.containsBytes(tag) else { throw NimbusError.notFound("Tag \(tag) not found for project \(p.id).") }
            return .empty()
        }
        t.put("/v3/projects/{project_id}/tags/{tag}") { req, ctx in
            let p = try await self.service.requireProject(try ctx.parameter("project_id"))
            try self.authorize("identity:create_project_tag", ctx, self.projectTarget(p))
            let tag = try ctx.parameter("tag")
            // Keystone validates the tag, then the list it would make (at most 80, no duplicate).
            try Self.check(.string(tag), KeystoneSchemas.tag, field: "tag")
            try Self.check(JSONValue(p.tags + [tag]), KeystoneSchemas.tags, field: "tags")
            var input = ProjectInput()
            input.tags = p.tags + [tag.pythonStripped]
            _ = try await self.service.updateProject(p.id, input, isDomain: false)
            return .empty(.created, headers: [.location: self.v3 + "/projects/\(p.id)/tags/\(tag)"])
        }
        t.delete("/v3/projects/{project_id}/tags/{tag}") { req, ctx in
            let p = try await self.service.requireProject(try ctx.parameter("project_id"))
            try self.authorize("identity:delete_project_tag", ctx, self.projectTarget(p))
            let tag = try ctx.parameter("tag")
            guard p.tags.containsBytes(tag) else { throw NimbusError.notFound("Tag \(tag) not found for project \(p.id).") }
            var input = ProjectInput()
            input.tags = p.tags.filter { !$0.sameBytes(as: tag) }
            _ = try await self.service.updateProject(p.id, input, isDomain: false)
            return .empty()
        }
    }

    func addDomainRoutes(_ t: inout RouteTable) {
        t.get("/v3/domains") { req, ctx in
            let caller = try ctx.caller()
            try self.authorize("identity:list_domains", ctx, caller.domainID.map { ["target.domain.id": $0] } ?? [:])
            var domains = try await self.service.listDomains(name: req.query("name"), enabled: try self.boolQuery(req, "enabled"))
            if let d = caller.domainID { domains = domains.filter { $0.id.sameBytes(as: d) } }
            return self.collection("domains", domains.map(self.domainView), request: req)
        }
        t.post("/v3/domains") { req, ctx in
            try self.authorize("identity:create_domain", ctx)
            let e = try await self.entity(req, ctx, KeystoneSchemas.domainCreate)
            var input = self.projectInput(e)
            input.isDomain = true
            input.explicitID = e.string("explicit_domain_id")
            let d = try await self.service.createProject(input, defaultDomainID: self.service.settings.defaultDomainID)
            return self.created("domain", self.domainView(d))
        }
        t.get("/v3/domains/{domain_id}") { req, ctx in
            let d = try await self.service.requireDomain(try ctx.parameter("domain_id"))
            try self.authorize("identity:get_domain", ctx, ["target.domain.id": d.id])
            return self.ok("domain", self.domainView(d))
        }
        t.patch("/v3/domains/{domain_id}") { req, ctx in
            let d = try await self.service.requireDomain(try ctx.parameter("domain_id"))
            try self.authorize("identity:update_domain", ctx, ["target.domain.id": d.id])
            let input = self.projectInput(try await self.entity(req, ctx, KeystoneSchemas.domainUpdate))
            return self.ok("domain", self.domainView(try await self.service.updateProject(d.id, input, isDomain: true)))
        }
        t.delete("/v3/domains/{domain_id}") { req, ctx in
            let d = try await self.service.requireDomain(try ctx.parameter("domain_id"))
            try self.authorize("identity:delete_domain", ctx, ["target.domain.id": d.id])
            try await self.service.deleteDomain(d.id)
            return .empty()
        }
    }
}
