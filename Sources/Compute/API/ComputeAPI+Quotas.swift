import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Quota sets (`/os-quota-sets`), the default quota class (`/os-quota-class-sets`) and
/// `/limits`, as Nova's `quota_sets.py`, `quota_classes.py` and `limits.py` answer.
extension ComputeAPI {
    func addQuotaRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-quota-sets/{project_id}", versioned { req, ctx, v in try await self.showQuotas(req, ctx, v, detail: false) })
        t.get("/v2.1/os-quota-sets/{project_id}/detail", versioned { req, ctx, v in try await self.showQuotas(req, ctx, v, detail: true) })
        t.get("/v2.1/os-quota-sets/{project_id}/defaults", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("project_id")
            try self.authorize("os_compute_api:os-quota-sets:defaults", c, target: ["project_id": project])
            return .json(["quota_set": Self.quotaSetView(project, try await self.service.defaultQuotas(), v)])
        })
        t.put("/v2.1/os-quota-sets/{project_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("project_id")
            try self.authorize("os_compute_api:os-quota-sets:update", c, target: ["project_id": project])
            let user = try Self.quotaUser(req, v)
            let body = try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.quotaSetUpdate(v))
            let set = body["quota_set"]!.objectValue!
            let force = set["force"].flatMap(NovaSchemas.bool) ?? false
            try await self.service.updateQuotas(project: project, user: user, try NovaSchemas.quotaLimits(set), force: force)
            let limits = try await self.service.quotaLimits(project: project, user: user)
            return .json(["quota_set": Self.quotaSetView(nil, limits, v)])
        })
        t.delete("/v2.1/os-quota-sets/{project_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("project_id")
            try self.authorize("os_compute_api:os-quota-sets:delete", c, target: ["project_id": project])
            try await self.service.quotaOverrides.delete(project: project, user: try Self.quotaUser(req, v))
            return .empty(.accepted)
        })
        addQuotaClassRoutes(&t)
        t.get("/v2.1/limits", versioned { req, ctx, v in try await self.limits(req, ctx, v) })
    }

    /// `?user_id=` (2.75+: the only query parameter allowed); blank means none.
    static func quotaUser(_ req: Request, _ v: NovaVersion) throws -> String? {
        let q = req.queryString
        try NovaSchemas.checkQuery(q, allowed: v.atLeast(75) ? ["user_id"] : nil)
        return q["user_id"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func showQuotas(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion, detail: Bool) async throws -> Response {
        let c = try caller(ctx)
        let project = try ctx.parameter("project_id")
        try authorize(detail ? "os_compute_api:os-quota-sets:detail" : "os_compute_api:os-quota-sets:show", c, target: ["project_id": project])
        let user = try Self.quotaUser(req, v)
        let limits = try await service.quotaLimits(project: project, user: user)
        let usage = detail ? try await service.quotaUsage(project: project, user: user) : nil
        return .json(["quota_set": Self.quotaSetView(project, limits, v, usage: usage)])
    }

    /// The resources a quota set shows at this microversion (2.36 hides nova-network's, 2.57
    /// the personality files').
    static func shownQuotas(_ v: NovaVersion) -> [QuotaResource] {
        QuotaResource.allCases.filter { r in
            !(v.atLeast(36) && QuotaResource.network.contains(r)) && !(v.atLeast(57) && QuotaResource.injected.contains(r))
        }
    }

    static func quotaSetView(_ id: String?, _ limits: QuotaLimits, _ v: NovaVersion, usage: QuotaLimits? = nil) -> JSONValue {
        var o = JSONObject()
        if let id { o["id"] = .string(id) }
        for r in shownQuotas(v) {
            let limit = JSONValue.int(Int64(limits[r] ?? -1))
            if let usage {
                o[r.rawValue] = ["in_use": .int(Int64(usage[r] ?? 0)), "limit": limit, "reserved": 0]
            } else {
                o[r.rawValue] = limit
            }
        }
        return .object(o)
    }

    // MARK: quota classes

    func addQuotaClassRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-quota-class-sets/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-quota-class-sets:show", c, target: [:])
            let id = try ctx.parameter("id")
            return .json(["quota_class_set": Self.quotaClassView(id, try await self.service.classQuotas(id), v)])
        })
        t.put("/v2.1/os-quota-class-sets/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-quota-class-sets:update", c, target: [:])
            let id = try ctx.parameter("id")
            let body = try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.quotaClassUpdate(v))
            guard id.scalarCount <= 255 else {
                throw NimbusError.badRequest("quota_class_name has \(id.scalarCount) characters, more than 255.")
            }
            try await self.service.quotaOverrides.setClass(id, try NovaSchemas.quotaLimits(body["quota_class_set"]!.objectValue!))
            return .json(["quota_class_set": Self.quotaClassView(nil, try await self.service.classQuotas(id), v)])
        })
    }

    /// A quota class: nova-network's hidden from 2.50, personality files' from 2.57, and the
    /// server group quotas shown only from 2.50.
    static func quotaClassView(_ id: String?, _ limits: QuotaLimits, _ v: NovaVersion) -> JSONValue {
        var o = JSONObject()
        if let id { o["id"] = .string(id) }
        for r in QuotaResource.allCases {
            if v.atLeast(50) && QuotaResource.network.contains(r) { continue }
            if v.atLeast(57) && QuotaResource.injected.contains(r) { continue }
            if !v.atLeast(50) && (r == .serverGroups || r == .serverGroupMembers) { continue }
            o[r.rawValue] = .int(Int64(limits[r] ?? -1))
        }
        return .object(o)
    }

    // MARK: limits

    /// `GET /limits`: the project's absolute limits and what it uses (`?tenant_id=` for admins).
    func limits(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion) async throws -> Response {
        let c = try caller(ctx)
        try authorize("os_compute_api:limits", c, target: [:])
        let q = req.queryString
        try NovaSchemas.checkQuery(q, allowed: v.atLeast(75) ? ["tenant_id"] : nil)
        var project = c.projectID ?? ""
        if let other = q.last("tenant_id") {
            try authorize("os_compute_api:limits:other_project", c)
            project = other
        }
        let limits = try await service.projectQuotas(project)
        let used = try await service.quotaUsage(project: project, user: nil)
        return .json(["limits": ["rate": [], "absolute": .object(Self.absoluteLimits(limits, used, v))]])
    }

    static func absoluteLimits(_ limits: QuotaLimits, _ used: QuotaLimits, _ v: NovaVersion) -> JSONObject {
        var filtered: [QuotaResource] = []
        if v.atLeast(36) { filtered = [.floatingIPs, .securityGroups, .securityGroupRules] }
        if v.atLeast(57) { filtered += [.injectedFiles, .injectedFileContentBytes] }
        let names: [(QuotaResource, [String])] = [
            (.ram, ["maxTotalRAMSize"]), (.instances, ["maxTotalInstances"]), (.cores, ["maxTotalCores"]), (.keyPairs, ["maxTotalKeypairs"]),
            (.floatingIPs, ["maxTotalFloatingIps"]), (.metadataItems, v.atLeast(39) ? ["maxServerMeta"] : ["maxServerMeta", "maxImageMeta"]),
            (.injectedFiles, ["maxPersonality"]), (.injectedFileContentBytes, ["maxPersonalitySize"]), (.securityGroups, ["maxSecurityGroups"]),
            (.securityGroupRules, ["maxSecurityGroupRules"]), (.serverGroups, ["maxServerGroups"]), (.serverGroupMembers, ["maxServerGroupMembers"]),
        ]
        var o = JSONObject()
        for (r, keys) in names where !filtered.contains(r) {
            for k in keys { o[k] = .int(Int64(limits[r] ?? -1)) }
        }
        let usedNames: [(String, QuotaResource)] = [
            ("totalRAMUsed", .ram), ("totalCoresUsed", .cores), ("totalInstancesUsed", .instances), ("totalFloatingIpsUsed", .floatingIPs),
            ("totalSecurityGroupsUsed", .securityGroups), ("totalServerGroupsUsed", .serverGroups),
        ]
        for (k, r) in usedNames where !filtered.contains(r) { o[k] = .int(Int64(used[r] ?? 0)) }
        return o
    }
}
