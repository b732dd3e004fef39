import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Flavors, their extra specs and access lists in SQL.
public struct FlavorRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = "id, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap, rxtx_factor, is_public, disabled, description, extra_specs, created_at, updated_at"

    static func decode(_ row: any SQLRow) throws -> Flavor {
        var f = Flavor(id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                       memoryMB: try row.decode(column: "memory_mb", as: Int.self), vcpus: try row.decode(column: "vcpus", as: Int.self),
                       rootGB: try row.decode(column: "root_gb", as: Int.self), ephemeralGB: try row.decode(column: "ephemeral_gb", as: Int.self),
                       swapMB: try row.decode(column: "swap", as: Int.self), rxtxFactor: try row.decode(column: "rxtx_factor", as: Double.self),
                       isPublic: try row.decode(column: "is_public", as: Bool.self), description: try row.decode(column: "description", as: String?.self),
                       createdAt: Micros.date(try row.decode(column: "created_at", as: Int64.self)))
        f.disabled = try row.decode(column: "disabled", as: Bool.self)
        f.updatedAt = try row.decode(column: "updated_at", as: Int64?.self).map(Micros.date)
        if case .object(let specs)? = try? JSONValue.parse(Array(try row.decode(column: "extra_specs", as: String.self).utf8)) {
            f.extraSpecs = specs.compactMapValues(\.stringValue)
        }
        return f
    }

    static func specsJSON(_ specs: [Name: String]) -> String {
        JSONValue.object(JSONObject(names: specs.mapValues { JSONValue.string($0) })).serializedString()
    }

    public enum CreateResult: Sendable { case created(Flavor), nameTaken, idTaken }

    public func create(_ f: Flavor) async throws -> CreateResult {
        try await database.transaction { db in
            if try await db.raw("SELECT id FROM compute_flavors WHERE id = \(bind: f.id)").first() != nil { return .idTaken }
            if try await db.raw("SELECT id FROM compute_flavors WHERE name = \(bind: f.name)").first() != nil { return .nameTaken }
            try await db.raw("""
                INSERT INTO compute_flavors (\(unsafeRaw: Self.columns)) VALUES (\(bind: f.id), \(bind: f.name), \(bind: f.memoryMB), \(bind: f.vcpus),
                \(bind: f.rootGB), \(bind: f.ephemeralGB), \(bind: f.swapMB), \(bind: f.rxtxFactor), \(bind: f.isPublic), \(bind: f.disabled),
                \(bind: f.description), \(bind: Self.specsJSON(f.extraSpecs)), \(bind: Micros.of(f.createdAt)), \(bind: f.updatedAt.map(Micros.of)))
                """).run()
            return .created(f)
        }
    }

    public func get(_ id: String) async throws -> Flavor? {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_flavors WHERE id = \(bind: id)").first().map(Self.decode)
    }

    public struct Query: Sendable {
        /// nil: public and private alike (admins' `is_public=None`).
        public var isPublic: Bool? = true
        /// A project that sees the private flavors it was given access to.
        public var project: String?
        public var includeDisabled = false
        public var minMemoryMB: Int?
        public var minRootGB: Int?
        public var name: String?
        public var sortKey = "id"
        public var ascending = true
        public var limit: Int?
        public var marker: String?
        public init() {}
    }

    static let sortColumns: [String: String] = [
        "flavorid": "id", "id": "created_at", "name": "name", "memory_mb": "memory_mb", "vcpus": "vcpus", "root_gb": "root_gb",
        "ephemeral_gb": "ephemeral_gb", "swap": "swap", "rxtx_factor": "rxtx_factor", "is_public": "is_public", "disabled": "disabled",
        "created_at": "created_at", "updated_at": "updated_at", "description": "description", "vcpu_weight": "created_at",
    ]

    /// Flavors in order (the sort key, then the id), after the marker's flavor; nil when the
    /// marker is not a flavor the query can see.
    public func list(_ q: Query) async throws -> [Flavor]? {
        let rows = try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_flavors").all().map(Self.decode)
        let access = q.project == nil ? [] : try await database.sql.raw(
            "SELECT flavor_id FROM compute_flavor_access WHERE project_id = \(bind: q.project!)").all().map { try $0.decode(column: "flavor_id", as: String.self) }
        let granted = Set(access.map(Name.init))
        var visible = rows.filter { f in
            if let p = q.isPublic, f.isPublic != p, !(p && granted.contains(Name(f.id))) { return false }
            if !q.includeDisabled && f.disabled { return false }
            if let m = q.minMemoryMB, f.memoryMB < m { return false }
            if let m = q.minRootGB, f.rootGB < m { return false }
            if let n = q.name, !f.name.sameBytes(as: n) { return false }
            return true
        }
        let key = Self.sortColumns[q.sortKey] ?? "id"
        visible.sort { a, b in
            let c = Self.compare(key, a, b)
            if c != 0 { return q.ascending ? c < 0 : c > 0 }
            return a.id.bytesPrecede(b.id)
        }
        if let marker = q.marker {
            guard let i = visible.firstIndex(where: { $0.id.sameBytes(as: marker) }) else { return nil }
            visible = Array(visible[(i + 1)...])
        }
        if let limit = q.limit { visible = Array(visible.prefix(limit)) }
        return visible
    }

    static func compare(_ key: String, _ a: Flavor, _ b: Flavor) -> Int {
        func c<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x > y ? 1 : 0) }
        switch key {
        case "name": return c(Name(a.name), Name(b.name))
        case "memory_mb": return c(a.memoryMB, b.memoryMB)
        case "vcpus": return c(a.vcpus, b.vcpus)
        case "root_gb": return c(a.rootGB, b.rootGB)
        case "ephemeral_gb": return c(a.ephemeralGB, b.ephemeralGB)
        case "swap": return c(a.swapMB, b.swapMB)
        case "rxtx_factor": return c(a.rxtxFactor, b.rxtxFactor)
        case "is_public": return c(a.isPublic ? 1 : 0, b.isPublic ? 1 : 0)
        case "disabled": return c(a.disabled ? 1 : 0, b.disabled ? 1 : 0)
        case "created_at": return c(a.createdAt, b.createdAt)
        case "updated_at": return c(a.updatedAt ?? .distantPast, b.updatedAt ?? .distantPast)
        case "description": return c(Name(a.description ?? ""), Name(b.description ?? ""))
        default: return c(Name(a.id), Name(b.id))
        }
    }

    /// Deletes a flavor and its access list; false when there was none.
    public func delete(_ id: String) async throws -> Bool {
        try await database.transaction { db in
            guard try await db.raw("SELECT id FROM compute_flavors WHERE id = \(bind: id)").first() != nil else { return false }
            try await db.raw("DELETE FROM compute_flavor_access WHERE flavor_id = \(bind: id)").run()
            try await db.raw("DELETE FROM compute_flavors WHERE id = \(bind: id)").run()
            return true
        }
    }

    /// Read-modify-write of one flavor in a transaction; nil when it does not exist.
    public func modify(_ id: String, _ change: @escaping @Sendable (inout Flavor) throws -> Void) async throws -> Flavor? {
        let lock = database.engine == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_flavors WHERE id = \(bind: id)\(unsafeRaw: lock)").first() else {
                return nil
            }
            var f = try Self.decode(row)
            try change(&f)
            f.updatedAt = Date()
            try await db.raw("""
                UPDATE compute_flavors SET description = \(bind: f.description), extra_specs = \(bind: Self.specsJSON(f.extraSpecs)),
                disabled = \(bind: f.disabled), updated_at = \(bind: f.updatedAt.map(Micros.of)) WHERE id = \(bind: id)
                """).run()
            return f
        }
    }

    public func access(_ id: String) async throws -> [String] {
        try await database.sql.raw("SELECT project_id FROM compute_flavor_access WHERE flavor_id = \(bind: id)").all()
            .map { try $0.decode(column: "project_id", as: String.self) }.sortedByBytes()
    }

    /// false when the project already had access.
    public func addAccess(_ id: String, project: String) async throws -> Bool {
        try await database.transaction { db in
            let inserted = try await db.raw("""
                INSERT INTO compute_flavor_access (flavor_id, project_id) VALUES (\(bind: id), \(bind: project))
                ON CONFLICT (flavor_id, project_id) DO NOTHING RETURNING project_id
                """).first()
            return inserted != nil
        }
    }

    /// false when the project had no access.
    public func removeAccess(_ id: String, project: String) async throws -> Bool {
        try await database.transaction { db in
            let gone = try await db.raw("DELETE FROM compute_flavor_access WHERE flavor_id = \(bind: id) AND project_id = \(bind: project) RETURNING project_id").first()
            return gone != nil
        }
    }

    /// Whether `project` may use `flavor` (public, or private with access).
    public func visible(_ f: Flavor, to project: String?) async throws -> Bool {
        if f.isPublic { return true }
        guard let project else { return false }
        return try await database.sql.raw("SELECT project_id FROM compute_flavor_access WHERE flavor_id = \(bind: f.id) AND project_id = \(bind: project)").first() != nil
    }
}

/// Times as integer microseconds since the epoch (exact, sortable, the same on both engines).
enum Micros {
    static func of(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1_000_000).rounded()) }
    static func date(_ m: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(m) / 1_000_000) }
}
