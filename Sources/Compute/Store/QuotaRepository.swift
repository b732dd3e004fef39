import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Quota overrides in SQL, as Nova's `quotas`, `project_user_quotas` and `quota_classes` tables:
/// a project's limits (`user_id` empty), a user's limits within a project, and quota classes
/// (only `default` takes effect). Rows naming no known resource are ignored.
public struct QuotaRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static func limits(_ rows: [any SQLRow]) throws -> QuotaLimits {
        var out = QuotaLimits()
        for row in rows {
            guard let r = QuotaResource.named(try row.decode(column: "resource", as: String.self)) else { continue }
            out[r] = Int(try row.decode(column: "hard_limit", as: Int64.self))
        }
        return out
    }

    /// The project's own limits (no user).
    public func project(_ project: String) async throws -> QuotaLimits {
        try Self.limits(try await database.sql.raw("""
            SELECT resource, hard_limit FROM compute_quotas WHERE project_id = \(bind: project) AND user_id = ''
            """).all())
    }

    /// A user's own limits within a project.
    public func user(_ user: String, project: String) async throws -> QuotaLimits {
        guard !user.isEmpty else { return [:] }
        return try Self.limits(try await database.sql.raw("""
            SELECT resource, hard_limit FROM compute_quotas WHERE project_id = \(bind: project) AND user_id = \(bind: user)
            """).all())
    }

    /// Every user limit set within the project, summed per resource (Nova's "remains").
    public func userLimitSums(project: String) async throws -> QuotaLimits {
        var out = QuotaLimits()
        let rows = try await database.sql.raw("""
            SELECT resource, hard_limit FROM compute_quotas WHERE project_id = \(bind: project) AND user_id <> ''
            """).all()
        for row in rows {
            guard let r = QuotaResource.named(try row.decode(column: "resource", as: String.self)) else { continue }
            out[r, default: 0] += Int(try row.decode(column: "hard_limit", as: Int64.self))
        }
        return out
    }

    /// Sets limits of a project (`user` nil) or of a user in it, in one transaction.
    public func set(project: String, user: String?, _ limits: QuotaLimits) async throws {
        let now = Micros.of(Date())
        let userKey = user ?? ""
        try await database.transaction { db in
            for (r, limit) in limits.sorted(by: { $0.key < $1.key }) {
                try await db.raw("""
                    INSERT INTO compute_quotas (project_id, user_id, resource, hard_limit, created_at, updated_at)
                    VALUES (\(bind: project), \(bind: userKey), \(bind: r.rawValue), \(bind: Int64(limit)), \(bind: now), \(bind: nil as Int64?))
                    ON CONFLICT (project_id, user_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit, updated_at = \(bind: now)
                    """).run()
            }
        }
    }

    /// Removes a project's limits and its users' (`user` nil), or one user's.
    public func delete(project: String, user: String?) async throws {
        try await database.transaction { db in
            if let user {
                try await db.raw("DELETE FROM compute_quotas WHERE project_id = \(bind: project) AND user_id = \(bind: user)").run()
            } else {
                try await db.raw("DELETE FROM compute_quotas WHERE project_id = \(bind: project)").run()
            }
        }
    }

    /// A quota class's limits.
    public func quotaClass(_ name: String) async throws -> QuotaLimits {
        try Self.limits(try await database.sql.raw("SELECT resource, hard_limit FROM compute_quota_classes WHERE class_name = \(bind: name)").all())
    }

    public func setClass(_ name: String, _ limits: QuotaLimits) async throws {
        let now = Micros.of(Date())
        try await database.transaction { db in
            for (r, limit) in limits.sorted(by: { $0.key < $1.key }) {
                try await db.raw("""
                    INSERT INTO compute_quota_classes (class_name, resource, hard_limit, created_at, updated_at)
                    VALUES (\(bind: name), \(bind: r.rawValue), \(bind: Int64(limit)), \(bind: now), \(bind: nil as Int64?))
                    ON CONFLICT (class_name, resource) DO UPDATE SET hard_limit = excluded.hard_limit, updated_at = \(bind: now)
                    """).run()
            }
        }
    }
}
