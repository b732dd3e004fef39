import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Quota sets, quota class sets and limits, as Cinder's `quotas.py`, `quota_classes.py` and
/// `limits.py` answer.
extension CinderAPI {
    func quotaSet(project: String, _ s: VolumeState, usage: Bool, id: Bool = true) -> JSONObject {
        let used = service.usage(project: project, s)
        var o = JSONObject()
        if id { o["id"] = .string(project) }
        for r in service.quotaResources(s) {
            let limit = service.limit(r, project: project, s)
            o[r] = usage ? ["limit": .int(limit), "in_use": .int(used[Name(r)] ?? 0), "reserved": 0] : .int(limit)
        }
        return o
    }

    /// The limits of a PUT body: known resources only, integers from -1.
    func quotaLimits(_ o: JSONObject, _ s: VolumeState) throws -> [Name: Int64] {
        let known = Set(service.quotaResources(s).map(Name.init))
        let bad = o.keys.filter { !known.contains(Name($0)) && $0 != "id" && $0 != "tenant_id" }.sorted()
        if !bad.isEmpty { throw NimbusError.badRequest("Bad key(s) in quota set: \(bad.joined(separator: ", "))") }
        var limits = [Name: Int64]()
        for (k, v) in o where known.contains(Name(k)) {
            if case .string(let str) = v, str == "-1" { limits[Name(k)] = -1; continue }
            limits[Name(k)] = try CinderInput.integer(v, k, -1...Int64(Int32.max))
        }
        guard !limits.isEmpty else { throw NimbusError.badRequest("Invalid input for field/attribute quota_set. Value: {}. {} does not have enough properties") }
        return limits
    }

    func addQuotaRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/os-quota-sets/{target}") { req, ctx, _ in
            let c = try self.caller(ctx)
            let target = try ctx.parameter("target")
            try self.authorize("volume_extension:quotas:show", c, project: target)
            let usage = try req.query("usage").map { try CinderInput.boolean(.string($0), "usage") } ?? false
            return .json(["quota_set": .object(self.quotaSet(project: target, self.service.state, usage: usage))])
        }
        route(&t, .get, "/os-quota-sets/{target}/defaults") { _, ctx, _ in
            let c = try self.caller(ctx)
            let target = try ctx.parameter("target")
            try self.authorize("volume_extension:quotas:show", c, project: target)
            let s = self.service.state
            var o: JSONObject = ["id": .string(target)]
            for r in self.service.quotaResources(s) { o[r] = .int(self.service.classLimit(r, s)) }
            return .json(["quota_set": .object(o)])
        }
        route(&t, .put, "/os-quota-sets/{target}") { req, ctx, _ in
            let c = try self.caller(ctx)
            let target = try ctx.parameter("target")
            try self.authorize("volume_extension:quotas:update", c, project: target)
            guard UUIDText.isUUID(target) || target.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) || $0 == 45 }), !target.isEmpty,
                  target.utf8.count <= 64 else {
                throw NimbusError.badRequest("Invalid project id \(target).")
            }
            let o = try Self.member(try await Self.body(req, ctx), "quota_set")
            try await self.service.setQuotas(project: target, try self.quotaLimits(o, self.service.state))
            return .json(["quota_set": .object(self.quotaSet(project: target, self.service.state, usage: false, id: false))])
        }
        route(&t, .delete, "/os-quota-sets/{target}") { _, ctx, _ in
            let c = try self.caller(ctx)
            let target = try ctx.parameter("target")
            try self.authorize("volume_extension:quotas:delete", c, project: target)
            try await self.service.deleteQuotas(project: target)
            return .empty(.ok)
        }
        route(&t, .get, "/os-quota-class-sets/{class}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:quota_classes:get", c)
            let name = try ctx.parameter("class")
            let s = self.service.state
            var o: JSONObject = ["id": .string(name)]
            for r in self.service.quotaResources(s) { o[r] = .int(name == "default" ? self.service.classLimit(r, s) : (Self.defaultLimit(r))) }
            return .json(["quota_class_set": .object(o)])
        }
        route(&t, .put, "/os-quota-class-sets/{class}") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:quota_classes:update", c)
            let name = try ctx.parameter("class")
            guard name == "default" else { throw NimbusError.badRequest("Only the 'default' quota class is supported.") }
            let o = try Self.member(try await Self.body(req, ctx), "quota_class_set")
            try await self.service.setClassQuotas(try self.quotaLimits(o, self.service.state))
            let s = self.service.state
            var out = JSONObject()
            for r in self.service.quotaResources(s) { out[r] = .int(self.service.classLimit(r, s)) }
            return .json(["quota_class_set": .object(out)])
        }
        route(&t, .get, "/limits") { req, ctx, v in
            let c = try self.caller(ctx)
            var project = c.projectID
            if v.atLeast(39), c.isAdmin, let p = req.query("project_id") { project = p }
            let s = self.service.state
            let used = self.service.usage(project: project, s)
            func limit(_ r: String) -> JSONValue { .int(self.service.limit(r, project: project, s)) }
            var absolute: JSONObject = [
                "maxTotalVolumes": limit("volumes"), "maxTotalSnapshots": limit("snapshots"), "maxTotalVolumeGigabytes": limit("gigabytes"),
                "maxTotalBackups": limit("backups"), "maxTotalBackupGigabytes": limit("backup_gigabytes"),
            ]
            if self.allows("limits_extension:used_limits", c, project: project) {
                absolute["totalVolumesUsed"] = .int(used["volumes"] ?? 0)
                absolute["totalGigabytesUsed"] = .int(used["gigabytes"] ?? 0)
                absolute["totalSnapshotsUsed"] = .int(used["snapshots"] ?? 0)
                absolute["totalBackupsUsed"] = .int(used["backups"] ?? 0)
                absolute["totalBackupGigabytesUsed"] = .int(used["backup_gigabytes"] ?? 0)
            }
            return .json(["limits": ["rate": [], "absolute": .object(absolute)]])
        }
    }

    static func defaultLimit(_ r: String) -> Int64 { VolumeService.quotaDefaults.first { $0.0 == r }?.1 ?? -1 }
}
