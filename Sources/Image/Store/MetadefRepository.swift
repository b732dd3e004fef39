import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Metadata definitions in SQL (tables `image_metadef_*`). Children (objects, properties, tags,
/// associations) hang off the namespace's id, so renaming a namespace keeps them.
public struct MetadefRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static func seconds(_ d: Date) -> Int64 { Int64(d.timeIntervalSince1970.rounded(.down)) }
    static func date(_ row: any SQLRow, _ c: String) throws -> Date { Date(timeIntervalSince1970: TimeInterval(try row.decode(column: c, as: Int64.self))) }
    static func json(_ v: JSONValue) -> String { v.serializedString() }
    static func parse(_ s: String?) -> JSONValue? { s.flatMap { try? JSONValue.parse(Array($0.utf8)) } }

    // MARK: namespaces

    static let nsColumns = "id, namespace, display_name, description, visibility, protected, owner, created_at, updated_at"

    static func decodeNamespace(_ row: any SQLRow) throws -> MetadefNamespace {
        var ns = MetadefNamespace(id: try row.decode(column: "id", as: String.self), namespace: try row.decode(column: "namespace", as: String.self),
                                  visibility: try row.decode(column: "visibility", as: String.self), protected: try row.decode(column: "protected", as: Bool.self),
                                  owner: try row.decode(column: "owner", as: String?.self), now: try date(row, "created_at"))
        ns.displayName = try row.decode(column: "display_name", as: String?.self)
        ns.description = try row.decode(column: "description", as: String?.self)
        ns.updatedAt = try date(row, "updated_at")
        return ns
    }

    public func namespace(named name: String, on db: (any SQLDatabase)? = nil) async throws -> MetadefNamespace? {
        try await (db ?? database.sql).raw("SELECT \(unsafeRaw: Self.nsColumns) FROM image_metadef_namespaces WHERE namespace = \(bind: name)")
            .first().map(Self.decodeNamespace)
    }

    /// Namespaces `caller` may see (Glance's `_select_namespaces_query`), optionally only those
    /// associated with one of `resourceTypes`.
    public func namespaces(visibleTo caller: ImageCaller, resourceTypes: [String]?) async throws -> [MetadefNamespace] {
        var q: SQLQueryString = "SELECT \(unsafeRaw: Self.nsColumns) FROM image_metadef_namespaces WHERE 1 = 1"
        if !caller.isAdmin {
            if let p = caller.projectID { q.appendInterpolation(unsafeRaw: " AND (visibility = 'public' OR owner IS NULL OR owner = "); q.appendInterpolation(bind: p); q.appendInterpolation(unsafeRaw: ")") }
            else { q.appendInterpolation(unsafeRaw: " AND (visibility = 'public' OR owner IS NULL)") }
        }
        if let types = resourceTypes {
            guard !types.isEmpty else { return [] }
            q.appendInterpolation(unsafeRaw: " AND id IN (SELECT namespace_id FROM image_metadef_associations WHERE resource_type IN (")
            for (i, t) in types.enumerated() {
                if i > 0 { q.appendInterpolation(unsafeRaw: ", ") }
                q.appendInterpolation(bind: t)
            }
            q.appendInterpolation(unsafeRaw: "))")
        }
        return try await database.sql.raw(q).all().map(Self.decodeNamespace)
    }

    /// Inserts a namespace and its contents in one transaction; an existing name is a 409.
    public func create(_ c: MetadefNamespaceContents) async throws {
        do { try await insert(c) } catch let e as NimbusError { throw e } catch {
            // Two creates of one name raced past the check: the unique index decided.
            if try await namespace(named: c.namespace.namespace) != nil {
                throw NimbusError.conflict("The metadata definition namespace=\(c.namespace.namespace) already exists.")
            }
            throw error
        }
    }

    func insert(_ c: MetadefNamespaceContents) async throws {
        try await database.transaction { db in
            if try await self.namespace(named: c.namespace.namespace, on: db) != nil {
                throw NimbusError.conflict("The metadata definition namespace=\(c.namespace.namespace) already exists.")
            }
            let n = c.namespace
            try await db.raw("""
                INSERT INTO image_metadef_namespaces (\(unsafeRaw: Self.nsColumns)) VALUES (\(bind: n.id), \(bind: n.namespace), \(bind: n.displayName),
                \(bind: n.description), \(bind: n.visibility), \(bind: n.protected), \(bind: n.owner), \(bind: Self.seconds(n.createdAt)), \(bind: Self.seconds(n.updatedAt)))
                """).run()
            for a in c.associations { try await Self.insert(a, namespaceID: n.id, on: db) }
            for o in c.objects { try await Self.insert(o, namespaceID: n.id, on: db) }
            for p in c.properties { try await Self.insert(p, namespaceID: n.id, on: db) }
            for t in c.tags { try await Self.insert(t, namespaceID: n.id, on: db) }
        }
    }

    /// Writes `ns` (found by its id); a new name already taken is a 409.
    public func update(_ ns: MetadefNamespace) async throws {
        try await database.transaction { db in
            if let other = try await self.namespace(named: ns.namespace, on: db), other.id != ns.id {
                throw NimbusError.conflict("The metadata definition namespace=\(ns.namespace) already exists.")
            }
            try await db.raw("""
                UPDATE image_metadef_namespaces SET namespace = \(bind: ns.namespace), display_name = \(bind: ns.displayName), description = \(bind: ns.description),
                visibility = \(bind: ns.visibility), protected = \(bind: ns.protected), owner = \(bind: ns.owner), updated_at = \(bind: Self.seconds(ns.updatedAt))
                WHERE id = \(bind: ns.id)
                """).run()
        }
    }

    public enum Child: String, Sendable, CaseIterable {
        case objects = "image_metadef_objects", properties = "image_metadef_properties", tags = "image_metadef_tags"
        case associations = "image_metadef_associations"
        var key: String { self == .associations ? "resource_type" : "name" }
    }

    public func deleteNamespace(_ id: String) async throws {
        try await database.transaction { db in
            for child in Child.allCases { try await db.raw("DELETE FROM \(unsafeRaw: child.rawValue) WHERE namespace_id = \(bind: id)").run() }
            try await db.raw("DELETE FROM image_metadef_namespaces WHERE id = \(bind: id)").run()
        }
    }

    public func deleteAll(_ child: Child, namespaceID: String) async throws {
        try await database.sql.raw("DELETE FROM \(unsafeRaw: child.rawValue) WHERE namespace_id = \(bind: namespaceID)").run()
    }

    /// Deletes one child; false when there was none.
    public func delete(_ child: Child, namespaceID: String, name: String) async throws -> Bool {
        try await database.transaction { db in
            let found = try await db.raw("SELECT 1 AS x FROM \(unsafeRaw: child.rawValue) WHERE namespace_id = \(bind: namespaceID) AND \(unsafeRaw: child.key) = \(bind: name)").first() != nil
            if found { try await db.raw("DELETE FROM \(unsafeRaw: child.rawValue) WHERE namespace_id = \(bind: namespaceID) AND \(unsafeRaw: child.key) = \(bind: name)").run() }
            return found
        }
    }

    func count(_ child: Child, namespaceID: String, on db: any SQLDatabase) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: child.rawValue) WHERE namespace_id = \(bind: namespaceID)").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func exists(_ child: Child, namespaceID: String, name: String, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT 1 AS x FROM \(unsafeRaw: child.rawValue) WHERE namespace_id = \(bind: namespaceID) AND \(unsafeRaw: child.key) = \(bind: name)").first() != nil
    }

    /// Runs `body` in a transaction after checking that `name` is free in the namespace (409
    /// `duplicate` otherwise, ignoring `replacing`) and that the namespace has room for one more.
    public func withFreeName<R: Sendable>(_ child: Child, namespaceID: String, name: String, replacing: String? = nil, duplicate: String,
                                           _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        do {
            return try await checkedInsert(child, namespaceID: namespaceID, name: name, replacing: replacing, duplicate: duplicate, body)
        } catch let e as NimbusError { throw e } catch {
            // A concurrent insert of the same name got past the check: the primary key decided.
            if try await exists(child, namespaceID: namespaceID, name: name, on: database.sql) { throw NimbusError.conflict(duplicate) }
            throw error
        }
    }

    func checkedInsert<R: Sendable>(_ child: Child, namespaceID: String, name: String, replacing: String?, duplicate: String,
                                    _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await database.transaction { db in
            if replacing.map({ !$0.sameBytes(as: name) }) ?? true, try await self.exists(child, namespaceID: namespaceID, name: name, on: db) {
                throw NimbusError.conflict(duplicate)
            }
            if replacing == nil, try await self.count(child, namespaceID: namespaceID, on: db) >= MetadefLimits.itemsPerNamespace {
                throw NimbusError.badRequest("A namespace holds at most \(MetadefLimits.itemsPerNamespace) \(child.key == "name" ? String(child.rawValue.dropFirst(14)) : "resource type associations").")
            }
            return try await body(db)
        }
    }
}
