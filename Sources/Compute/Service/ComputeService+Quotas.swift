import Foundation
import NimbusCore

/// Quotas as Nova's `DbQuotaDriver` resolves them: a user's own limit, else the project's, else
/// the `default` quota class's, else the configured default. Usage is counted from rows.
extension ComputeService {
    public var quotaOverrides: QuotaRepository { QuotaRepository(database: database) }

    /// The configured defaults (`[quota]` options; nova-network quotas have none: -1).
    var configQuotas: QuotaLimits {
        let q = settings.quotas
        return [.instances: q.instances, .cores: q.cores, .ram: q.ramMB, .keyPairs: q.keyPairs, .metadataItems: q.metadataItems,
                .serverGroups: q.serverGroups, .serverGroupMembers: q.serverGroupMembers,
                .injectedFiles: 5, .injectedFileContentBytes: 10 * 1024, .injectedFilePathBytes: 255,
                .fixedIPs: -1, .floatingIPs: -1, .securityGroups: -1, .securityGroupRules: -1]
    }

    /// `get_defaults`: the `default` class over the configured defaults.
    public func defaultQuotas() async throws -> QuotaLimits {
        configQuotas.merging(try await quotaOverrides.quotaClass("default")) { $1 }
    }

    /// `get_class_quotas`: a class's limits over the configured defaults.
    public func classQuotas(_ name: String) async throws -> QuotaLimits {
        configQuotas.merging(try await quotaOverrides.quotaClass(name)) { $1 }
    }

    public func projectQuotas(_ project: String) async throws -> QuotaLimits {
        try await defaultQuotas().merging(try await quotaOverrides.project(project)) { $1 }
    }

    public func userQuotas(project: String, user: String) async throws -> QuotaLimits {
        try await projectQuotas(project).merging(try await quotaOverrides.user(user, project: project)) { $1 }
    }

    /// A user's limits within the project, or the project's when `user` is nil.
    public func quotaLimits(project: String, user: String?) async throws -> QuotaLimits {
        if let user { return try await userQuotas(project: project, user: user) }
        return try await projectQuotas(project)
    }

    /// The limits server create (and anything else that enforces quotas) applies to `project`,
    /// or to `user` within it: Nova's `get_user_quotas` / `get_project_quotas`.
    public func effectiveQuotas(project: String, user: String?) async throws -> ComputeQuotas {
        let l = try await quotaLimits(project: project, user: user)
        var q = ComputeQuotas()
        q.instances = l[.instances] ?? q.instances
        q.cores = l[.cores] ?? q.cores
        q.ramMB = l[.ram] ?? q.ramMB
        q.keyPairs = l[.keyPairs] ?? q.keyPairs
        q.metadataItems = l[.metadataItems] ?? q.metadataItems
        q.serverGroups = l[.serverGroups] ?? q.serverGroups
        q.serverGroupMembers = l[.serverGroupMembers] ?? q.serverGroupMembers
        return q
    }

    /// `in_use` as Nova's quota views show it: instances, cores, RAM and server groups counted
    /// (per project, or per user within it); `key_pairs` and `server_group_members` are 0 there,
    /// as in Nova (they are counted per user and per group where they are enforced).
    public func quotaUsage(project: String, user: String?) async throws -> QuotaLimits {
        var out = QuotaLimits()
        for r in QuotaResource.allCases { out[r] = 0 }
        let used = try await instances.usage(project: project, user: user)
        out[.instances] = used.instances
        out[.cores] = used.cores
        out[.ram] = used.ramMB
        out[.serverGroups] = try await serverGroups.count(project: project, user: user)
        return out
    }

    /// Sets limits as `PUT /os-quota-sets/{project}` does: unless `force`, each must lie within
    /// Nova's settable range (at least what is used, and for a user at most what the project
    /// has left), checked for all before any is written.
    public func updateQuotas(project: String, user: String?, _ requested: QuotaLimits, force: Bool) async throws {
        if !force {
            let range = try await settableQuotas(project: project, user: user)
            for (r, limit) in requested.sorted(by: { $0.key < $1.key }) {
                guard let (minimum, maximum) = range[r] else { continue }
                func inf(_ v: Int) -> Double { v == -1 ? .infinity : Double(v) }
                if inf(limit) < inf(minimum) {
                    throw NimbusError.badRequest("Quota limit \(limit) for \(r.rawValue) must be greater than or equal to already used and reserved \(minimum).")
                }
                if inf(limit) > inf(maximum) {
                    throw NimbusError.badRequest("Quota limit \(limit) for \(r.rawValue) must be less than or equal to \(maximum).")
                }
            }
        }
        try await quotaOverrides.set(project: project, user: user, requested)
    }

    /// `get_settable_quotas`: (minimum, maximum) per resource, -1 meaning unlimited.
    func settableQuotas(project: String, user: String?) async throws -> [QuotaResource: (Int, Int)] {
        let limits = try await projectQuotas(project)
        let sums = try await quotaOverrides.userLimitSums(project: project)
        var remains = QuotaLimits()
        for r in QuotaResource.allCases { remains[r] = (limits[r] ?? -1) - (sums[r] ?? 0) }
        var out = [QuotaResource: (Int, Int)]()
        if let user {
            let used = try await quotaUsage(project: project, user: user)
            let own = try await quotaOverrides.user(user, project: project)
            for r in QuotaResource.allCases {
                let rem = remains[r] ?? -1, mine = own[r] ?? 0
                out[r] = (used[r] ?? 0, rem <= -1 || mine <= -1 ? -1 : rem + mine)
            }
        } else {
            let used = try await quotaUsage(project: project, user: nil)
            for r in QuotaResource.allCases {
                let limit = limits[r] ?? -1, rem = remains[r] ?? -1
                let given = limit <= -1 || rem <= -1 ? -1 : limit - rem
                out[r] = (max(given, used[r] ?? 0), -1)
            }
        }
        return out
    }

    /// Whether `count` items of `resource` stay within `limit` (-1 unlimited).
    static func within(_ limit: Int, _ count: Int) -> Bool { limit < 0 || count <= limit }
}
