import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// What `os-services` and `os-hypervisors` change on compute hosts, and the integer ids Nova
/// shows before 2.53 (`compute_service_ids`: one number per service uuid, assigned in the
/// order services are first listed, never reused).
extension ComputeHostRepository {
    /// The integer id of each service uuid, assigning numbers to those without one (in order).
    public func numbers(for ids: [String]) async throws -> [Name: Int] {
        var known = try await readNumbers()
        let missing = ids.filter { known[Name($0)] == nil }
        guard !missing.isEmpty else { return known }
        try await database.transaction { db in
            for id in missing {
                try await db.raw("INSERT INTO compute_service_ids (service_id) VALUES (\(bind: id)) ON CONFLICT (service_id) DO NOTHING").run()
            }
        }
        known = try await readNumbers()
        return known
    }

    func readNumbers() async throws -> [Name: Int] {
        var out = [Name: Int]()
        for row in try await database.sql.raw("SELECT id, service_id FROM compute_service_ids").all() {
            out[Name(try row.decode(column: "service_id", as: String.self))] = try row.decode(column: "id", as: Int.self)
        }
        return out
    }

    /// The service uuid of an integer id.
    public func serviceID(number: Int) async throws -> String? {
        try await database.sql.raw("SELECT service_id FROM compute_service_ids WHERE id = \(bind: number)").first()?
            .decode(column: "service_id", as: String.self)
    }

    public func get(id: String) async throws -> ComputeHost? {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_services WHERE id = \(bind: id)").first().map(Self.decode)
    }

    /// Changes a compute service's admin state in one read-modify-write; nil when it is gone.
    public func modify(id: String, _ change: @escaping @Sendable (inout ComputeHost) throws -> Void) async throws -> ComputeHost? {
        let lock = database.engine == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_services WHERE id = \(bind: id)\(unsafeRaw: lock)").first() else {
                return nil
            }
            var h = try Self.decode(row)
            try change(&h)
            h.updatedAt = Date()
            try await db.raw("""
                UPDATE compute_services SET disabled = \(bind: h.disabled), disabled_reason = \(bind: h.disabledReason),
                forced_down = \(bind: h.forcedDown), updated_at = \(bind: Micros.of(h.updatedAt!)) WHERE id = \(bind: id)
                """).run()
            return h
        }
    }

    /// Deletes a compute service's row; false when there was none.
    public func delete(id: String) async throws -> Bool {
        try await database.transaction { db in
            try await db.raw("DELETE FROM compute_services WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }
}
