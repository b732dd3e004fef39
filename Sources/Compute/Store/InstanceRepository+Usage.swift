import Foundation
import NimbusCore
import NimbusStore
import SQLKit

extension InstanceRepository {
    /// Instances active during [start, stop) (Nova's `instance_get_active_by_window_joined`):
    /// launched before `stop` and not terminated before `start`, deleted ones included, in
    /// (project, id) order after `marker`, at most `limit`. nil when the marker names no instance.
    public func activeInWindow(start: Date, stop: Date, project: String?, limit: Int, marker: String?) async throws -> [Instance]? {
        var sql = SQLQueryString("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE (terminated_at IS NULL OR terminated_at > \(bind: Micros.of(start)))
            AND launched_at < \(bind: Micros.of(stop))
            """)
        if let project { sql.appendInterpolation(" AND project_id = \(bind: project)" as SQLQueryString) }
        if let marker {
            guard let m = try await get(marker) else { return nil }
            sql.appendInterpolation(" AND (project_id > \(bind: m.projectID) OR (project_id = \(bind: m.projectID) AND id > \(bind: m.id)))" as SQLQueryString)
        }
        sql.appendInterpolation(" ORDER BY project_id, id LIMIT \(bind: limit)" as SQLQueryString)
        return try await database.sql.raw(sql).all().map(Self.decode)
    }
}

extension InstanceRepository {
    /// Every live instance that has a host, by host (one query for all compute nodes).
    public func liveByHost() async throws -> [Name: [Instance]] {
        var out = [Name: [Instance]]()
        let rows = try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE deleted = \(bind: false) AND host IS NOT NULL ORDER BY created_at, id
            """).all()
        for row in rows {
            let i = try Self.decode(row)
            if let h = i.host { out[Name(h), default: []].append(i) }
        }
        return out
    }
}
