import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Objects, properties, tags, resource types and associations.
extension MetadefRepository {
    // MARK: objects

    static func insert(_ o: MetadefObject, namespaceID: String, on db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO image_metadef_objects (namespace_id, name, description, required, properties, created_at, updated_at) VALUES
            (\(bind: namespaceID), \(bind: o.name), \(bind: o.description), \(bind: o.required.map { json(.array($0.map { .string($0) })) }),
            \(bind: o.properties.map { json(.object($0)) }), \(bind: seconds(o.createdAt)), \(bind: seconds(o.updatedAt)))
            """).run()
    }

    static func decodeObject(_ row: any SQLRow) throws -> MetadefObject {
        var o = MetadefObject(name: try row.decode(column: "name", as: String.self), now: try date(row, "created_at"))
        o.description = try row.decode(column: "description", as: String?.self)
        o.required = parse(try row.decode(column: "required", as: String?.self))?.arrayValue?.compactMap(\.stringValue)
        o.properties = parse(try row.decode(column: "properties", as: String?.self))?.objectValue
        o.updatedAt = try date(row, "updated_at")
        return o
    }

    public func objects(_ namespaceID: String, name: String? = nil) async throws -> [MetadefObject] {
        var q: SQLQueryString = "SELECT name, description, required, properties, created_at, updated_at FROM image_metadef_objects WHERE namespace_id = \(bind: namespaceID)"
        if let name { q.appendInterpolation(unsafeRaw: " AND name = "); q.appendInterpolation(bind: name) }
        q.appendInterpolation(unsafeRaw: " ORDER BY created_at, name")
        return try await database.sql.raw(q).all().map(Self.decodeObject)
    }

    static func replace(_ o: MetadefObject, oldName: String, namespaceID: String, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM image_metadef_objects WHERE namespace_id = \(bind: namespaceID) AND name = \(bind: oldName)").run()
        try await insert(o, namespaceID: namespaceID, on: db)
    }

    // MARK: properties

    static func insert(_ p: MetadefProperty, namespaceID: String, on db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO image_metadef_properties (namespace_id, name, schema, created_at, updated_at) VALUES
            (\(bind: namespaceID), \(bind: p.name), \(bind: json(.object(p.schema))), \(bind: seconds(p.createdAt)), \(bind: seconds(p.updatedAt)))
            """).run()
    }

    public func properties(_ namespaceID: String, name: String? = nil) async throws -> [MetadefProperty] {
        var q: SQLQueryString = "SELECT name, schema, created_at, updated_at FROM image_metadef_properties WHERE namespace_id = \(bind: namespaceID)"
        if let name { q.appendInterpolation(unsafeRaw: " AND name = "); q.appendInterpolation(bind: name) }
        q.appendInterpolation(unsafeRaw: " ORDER BY name")
        return try await database.sql.raw(q).all().map { row in
            var p = MetadefProperty(name: try row.decode(column: "name", as: String.self),
                                    schema: Self.parse(try row.decode(column: "schema", as: String.self))?.objectValue ?? [:], now: try Self.date(row, "created_at"))
            p.updatedAt = try Self.date(row, "updated_at")
            return p
        }
    }

    static func replace(_ p: MetadefProperty, oldName: String, namespaceID: String, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM image_metadef_properties WHERE namespace_id = \(bind: namespaceID) AND name = \(bind: oldName)").run()
        try await insert(p, namespaceID: namespaceID, on: db)
    }

    // MARK: tags

    static func insert(_ t: MetadefTag, namespaceID: String, on db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO image_metadef_tags (namespace_id, name, created_at, updated_at) VALUES
            (\(bind: namespaceID), \(bind: t.name), \(bind: seconds(t.createdAt)), \(bind: seconds(t.updatedAt)))
            """).run()
    }

    public func tags(_ namespaceID: String, name: String? = nil) async throws -> [MetadefTag] {
        var q: SQLQueryString = "SELECT name, created_at, updated_at FROM image_metadef_tags WHERE namespace_id = \(bind: namespaceID)"
        if let name { q.appendInterpolation(unsafeRaw: " AND name = "); q.appendInterpolation(bind: name) }
        q.appendInterpolation(unsafeRaw: " ORDER BY created_at, name")
        return try await database.sql.raw(q).all().map { row in
            var t = MetadefTag(name: try row.decode(column: "name", as: String.self), now: try Self.date(row, "created_at"))
            t.updatedAt = try Self.date(row, "updated_at")
            return t
        }
    }

    /// Replaces all of a namespace's tags (`POST …/tags` without `X-Openstack-Append`), or adds
    /// to them; a name already present is a 409 and nothing changes.
    public func setTags(_ tags: [MetadefTag], namespace: MetadefNamespace, append: Bool) async throws {
        try await database.transaction { db in
            if !append { try await db.raw("DELETE FROM image_metadef_tags WHERE namespace_id = \(bind: namespace.id)").run() }
            let existing = append ? try await self.count(.tags, namespaceID: namespace.id, on: db) : 0
            guard existing + tags.count <= MetadefLimits.itemsPerNamespace else {
                throw NimbusError.badRequest("A namespace holds at most \(MetadefLimits.itemsPerNamespace) tags.")
            }
            for t in tags {
                if try await self.exists(.tags, namespaceID: namespace.id, name: t.name, on: db) {
                    throw NimbusError.conflict("A metadata tag with name=\(t.name) already exists in namespace=\(namespace.namespace). (Please note that metadata tag names are case insensitive).")
                }
                try await Self.insert(t, namespaceID: namespace.id, on: db)
            }
        }
    }

    static func rename(tag old: String, to new: MetadefTag, namespaceID: String, on db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE image_metadef_tags SET name = \(bind: new.name), updated_at = \(bind: seconds(new.updatedAt))
            WHERE namespace_id = \(bind: namespaceID) AND name = \(bind: old)
            """).run()
    }

    // MARK: resource types and associations

    public func resourceTypes() async throws -> [MetadefResourceType] {
        try await database.sql.raw("SELECT name, protected, created_at, updated_at FROM image_metadef_resource_types ORDER BY name").all().map { row in
            var r = MetadefResourceType(name: try row.decode(column: "name", as: String.self), protected: try row.decode(column: "protected", as: Bool.self),
                                        now: try Self.date(row, "created_at"))
            r.updatedAt = try Self.date(row, "updated_at")
            return r
        }
    }

    /// Inserts an association, creating its resource type (unprotected) when new, as Glance does.
    static func insert(_ a: MetadefAssociation, namespaceID: String, on db: any SQLDatabase, protectedType: Bool = false) async throws {
        if try await db.raw("SELECT 1 AS x FROM image_metadef_resource_types WHERE name = \(bind: a.resourceType)").first() == nil {
            try await db.raw("""
                INSERT INTO image_metadef_resource_types (name, protected, created_at, updated_at)
                VALUES (\(bind: a.resourceType), \(bind: protectedType), \(bind: seconds(a.createdAt)), \(bind: seconds(a.createdAt)))
                """).run()
        }
        try await db.raw("""
            INSERT INTO image_metadef_associations (namespace_id, resource_type, prefix, properties_target, created_at, updated_at) VALUES
            (\(bind: namespaceID), \(bind: a.resourceType), \(bind: a.prefix), \(bind: a.propertiesTarget), \(bind: seconds(a.createdAt)), \(bind: seconds(a.updatedAt)))
            """).run()
    }

    public func associations(_ namespaceID: String) async throws -> [MetadefAssociation] {
        try await database.sql.raw("""
            SELECT resource_type, prefix, properties_target, created_at, updated_at FROM image_metadef_associations
            WHERE namespace_id = \(bind: namespaceID) ORDER BY created_at, resource_type
            """).all().map { row in
            var a = MetadefAssociation(resourceType: try row.decode(column: "resource_type", as: String.self), prefix: try row.decode(column: "prefix", as: String?.self),
                                       propertiesTarget: try row.decode(column: "properties_target", as: String?.self), now: try Self.date(row, "created_at"))
            a.updatedAt = try Self.date(row, "updated_at")
            return a
        }
    }

    // MARK: standard definitions

    /// Whether the standard definition `file` was loaded before.
    public func loaded(_ file: String) async throws -> Bool {
        try await database.sql.raw("SELECT 1 AS x FROM image_metadef_loads WHERE file = \(bind: file)").first() != nil
    }

    /// Loads one standard definition file's namespace (unless a namespace of that name exists)
    /// and records the file as loaded, in one transaction.
    public func load(_ c: MetadefNamespaceContents, file: String, now: Date) async throws -> Bool {
        try await database.transaction { db in
            if try await db.raw("SELECT 1 AS x FROM image_metadef_loads WHERE file = \(bind: file)").first() != nil { return false }
            try await db.raw("INSERT INTO image_metadef_loads (file, loaded_at) VALUES (\(bind: file), \(bind: Self.seconds(now)))").run()
            if try await self.namespace(named: c.namespace.namespace, on: db) != nil { return false }
            let n = c.namespace
            try await db.raw("""
                INSERT INTO image_metadef_namespaces (\(unsafeRaw: Self.nsColumns)) VALUES (\(bind: n.id), \(bind: n.namespace), \(bind: n.displayName),
                \(bind: n.description), \(bind: n.visibility), \(bind: n.protected), \(bind: n.owner), \(bind: Self.seconds(n.createdAt)), \(bind: Self.seconds(n.updatedAt)))
                """).run()
            for a in c.associations { try await Self.insert(a, namespaceID: n.id, on: db, protectedType: true) }
            for o in c.objects { try await Self.insert(o, namespaceID: n.id, on: db) }
            for p in c.properties { try await Self.insert(p, namespaceID: n.id, on: db) }
            for t in c.tags { try await Self.insert(t, namespaceID: n.id, on: db) }
            return true
        }
    }
}
