import Foundation
import NimbusCore
import NimbusStore
import SQLKit

public enum ImageMigrations {
    public static let all: [Migration] = [
        Migration(service: "image", version: 1, name: "images and members") { _ in
            [
                """
                CREATE TABLE image_images (
                    id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, visibility TEXT NOT NULL,
                    protected BOOLEAN NOT NULL, os_hidden BOOLEAN NOT NULL, checksum TEXT, os_hash_algo TEXT, os_hash_value TEXT,
                    size BIGINT, virtual_size BIGINT, min_disk BIGINT NOT NULL, min_ram BIGINT NOT NULL,
                    disk_format TEXT, container_format TEXT, owner TEXT,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
                    tags TEXT NOT NULL, properties TEXT NOT NULL, location TEXT, deleted BOOLEAN NOT NULL)
                """,
                "CREATE INDEX image_images_owner ON image_images (owner)",
                "CREATE INDEX image_images_listing ON image_images (deleted, created_at, id)",
                """
                CREATE TABLE image_members (
                    image_id TEXT NOT NULL, member TEXT NOT NULL, status TEXT NOT NULL,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
                    PRIMARY KEY (image_id, member))
                """,
                "CREATE INDEX image_members_member ON image_members (member)",
            ]
        },
        Migration(service: "image", version: 2, name: "import tasks") { _ in
            [
                """
                CREATE TABLE image_tasks (
                    id TEXT PRIMARY KEY, image_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
                    owner TEXT, user_id TEXT, request_id TEXT, input TEXT NOT NULL, result TEXT, message TEXT NOT NULL,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, expires_at BIGINT)
                """,
                "CREATE INDEX image_tasks_image ON image_tasks (image_id)",
            ]
        },
        Migration(service: "image", version: 3, name: "metadata definitions") { engine in
            // Names sort and compare by bytes on both engines, as in Glance's MySQL schema with a
            // binary collation (SQLite compares bytes).
            let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
            return [
                """
                CREATE TABLE image_metadef_namespaces (
                    id TEXT PRIMARY KEY, namespace \(text) NOT NULL UNIQUE, display_name TEXT, description TEXT,
                    visibility TEXT NOT NULL, protected BOOLEAN NOT NULL, owner TEXT,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE image_metadef_objects (
                    namespace_id TEXT NOT NULL, name \(text) NOT NULL, description TEXT, required TEXT, properties TEXT,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (namespace_id, name))
                """,
                """
                CREATE TABLE image_metadef_properties (
                    namespace_id TEXT NOT NULL, name \(text) NOT NULL, schema TEXT NOT NULL,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (namespace_id, name))
                """,
                """
                CREATE TABLE image_metadef_tags (
                    namespace_id TEXT NOT NULL, name \(text) NOT NULL,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (namespace_id, name))
                """,
                """
                CREATE TABLE image_metadef_resource_types (
                    name \(text) PRIMARY KEY, protected BOOLEAN NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE image_metadef_associations (
                    namespace_id TEXT NOT NULL, resource_type \(text) NOT NULL, prefix TEXT, properties_target TEXT,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (namespace_id, resource_type))
                """,
                "CREATE INDEX image_metadef_associations_type ON image_metadef_associations (resource_type)",
                // Standard definition files already loaded once (a namespace an admin deleted stays deleted).
                "CREATE TABLE image_metadef_loads (file TEXT PRIMARY KEY, loaded_at BIGINT NOT NULL)",
            ]
        },
    ]
}

/// Images and members in the SQL store. Deleted images keep their row (`deleted`), so their ids
/// stay taken, as in Glance.
public struct ImageRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = "id, name, status, visibility, protected, os_hidden, checksum, os_hash_algo, os_hash_value, size, virtual_size, min_disk, min_ram, disk_format, container_format, owner, created_at, updated_at, tags, properties, location"

    static func decode(_ row: any SQLRow) throws -> Image {
        var i = Image(id: try row.decode(column: "id", as: String.self), owner: try row.decode(column: "owner", as: String?.self),
                      now: Date(timeIntervalSince1970: TimeInterval(try row.decode(column: "created_at", as: Int64.self))))
        i.name = try row.decode(column: "name", as: String?.self)
        i.status = ImageStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .killed
        i.visibility = Visibility(rawValue: try row.decode(column: "visibility", as: String.self)) ?? .private
        i.protected = try row.decode(column: "protected", as: Bool.self)
        i.osHidden = try row.decode(column: "os_hidden", as: Bool.self)
        i.checksum = try row.decode(column: "checksum", as: String?.self)
        i.osHashAlgo = try row.decode(column: "os_hash_algo", as: String?.self)
        i.osHashValue = try row.decode(column: "os_hash_value", as: String?.self)
        i.size = try row.decode(column: "size", as: Int64?.self)
        i.virtualSize = try row.decode(column: "virtual_size", as: Int64?.self)
        i.minDisk = try row.decode(column: "min_disk", as: Int64.self)
        i.minRam = try row.decode(column: "min_ram", as: Int64.self)
        i.diskFormat = try row.decode(column: "disk_format", as: String?.self)
        i.containerFormat = try row.decode(column: "container_format", as: String?.self)
        i.updatedAt = Date(timeIntervalSince1970: TimeInterval(try row.decode(column: "updated_at", as: Int64.self)))
        if case .array(let tags)? = try? JSONValue.parse(Array(try row.decode(column: "tags", as: String.self).utf8)) {
            i.tags = Set(tags.compactMap(\.stringValue).map(Name.init))
        }
        if case .object(let props)? = try? JSONValue.parse(Array(try row.decode(column: "properties", as: String.self).utf8)) {
            i.properties = props.compactMapValues(\.stringValue)
        }
        i.locations = Self.decodeLocations(try row.decode(column: "location", as: String?.self))
        return i
    }

    /// The `location` column: a JSON array of `{"store", "url"}` objects. A bare URL (as the
    /// first version wrote, one store per image) names its store by its scheme.
    static func decodeLocations(_ text: String?) -> [ImageLocation] {
        guard let text, !text.isEmpty else { return [] }
        if case .array(let items)? = try? JSONValue.parse(Array(text.utf8)) {
            return items.compactMap { item in
                guard case .object(let o) = item, let store = o["store"]?.stringValue, let url = o["url"]?.stringValue else { return nil }
                return ImageLocation(store: store, url: url)
            }
        }
        let scheme = text.splitBytes(":", maxSplits: 1).first.map(String.init) ?? ""
        return [ImageLocation(store: scheme, url: text)]
    }

    static func locationsJSON(_ i: Image) -> String? {
        guard !i.locations.isEmpty else { return nil }
        return String(decoding: JSONValue.array(i.locations.map { ["store": .string($0.store), "url": .string($0.url)] }).serialized(), as: UTF8.self)
    }

    /// Times are kept to the second, as Glance keeps them.
    static func seconds(_ d: Date) -> Int64 { Int64(d.timeIntervalSince1970.rounded(.down)) }

    static func tagsJSON(_ i: Image) -> String {
        String(decoding: JSONValue.array(i.tags.sorted().map { .string($0.string) }).serialized(), as: UTF8.self)
    }

    static func propertiesJSON(_ i: Image) -> String {
        String(decoding: JSONValue.object(JSONObject(names: i.properties.mapValues { JSONValue.string($0) })).serialized(), as: UTF8.self)
    }

    /// Inserts a new image; 409 if the id was ever used.
    public func insert(_ i: Image) async throws {
        try await database.transaction { db in
            let inserted = try await db.raw("""
                INSERT INTO image_images (\(unsafeRaw: Self.columns), deleted) VALUES (\(bind: i.id), \(bind: i.name), \(bind: i.status.rawValue),
                \(bind: i.visibility.rawValue), \(bind: i.protected), \(bind: i.osHidden), \(bind: i.checksum), \(bind: i.osHashAlgo), \(bind: i.osHashValue),
                \(bind: i.size), \(bind: i.virtualSize), \(bind: i.minDisk), \(bind: i.minRam), \(bind: i.diskFormat), \(bind: i.containerFormat),
                \(bind: i.owner), \(bind: Self.seconds(i.createdAt)), \(bind: Self.seconds(i.updatedAt)), \(bind: Self.tagsJSON(i)),
                \(bind: Self.propertiesJSON(i)), \(bind: Self.locationsJSON(i)), \(bind: false))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """).first()
            if inserted == nil { throw NimbusError.conflict("Image ID \(i.id) already exists!") }
        }
    }

    public func get(_ id: String) async throws -> Image? {
        guard id.utf8.count <= 36 else { return nil }
        return try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM image_images WHERE id = \(bind: id) AND deleted = \(bind: false)")
            .first().map(Self.decode)
    }

    /// The images `project` owns (not deleted).
    public func owned(by project: String) async throws -> [Image] {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM image_images WHERE owner = \(bind: project) AND deleted = \(bind: false)")
            .all().map(Self.decode)
    }

    /// Every image that is not deleted.
    public func all() async throws -> [Image] {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM image_images WHERE deleted = \(bind: false)").all().map(Self.decode)
    }

    var lock: String { database.engine == .postgres ? " FOR UPDATE" : "" }

    /// Changes an image in one transaction: reads the current row (locked on PostgreSQL; SQLite
    /// serializes writes), lets `change` check and modify it, and writes it back. Every change
    /// goes through here, so none works on a stale copy (an upload finishing cannot undo a PATCH
    /// made meanwhile) and status checks hold under concurrency. nil when the image is gone.
    @discardableResult
    public func modify(_ id: String, _ change: @escaping @Sendable (inout Image) throws -> Void) async throws -> Image? {
        try await database.transaction { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM image_images WHERE id = \(bind: id) AND deleted = \(bind: false)\(unsafeRaw: lock)").first() else {
                return nil
            }
            var i = try Self.decode(row)
            try change(&i)
            try await db.raw("""
                UPDATE image_images SET name = \(bind: i.name), status = \(bind: i.status.rawValue), visibility = \(bind: i.visibility.rawValue),
                protected = \(bind: i.protected), os_hidden = \(bind: i.osHidden), checksum = \(bind: i.checksum), os_hash_algo = \(bind: i.osHashAlgo),
                os_hash_value = \(bind: i.osHashValue), size = \(bind: i.size), virtual_size = \(bind: i.virtualSize), min_disk = \(bind: i.minDisk),
                min_ram = \(bind: i.minRam), disk_format = \(bind: i.diskFormat), container_format = \(bind: i.containerFormat), owner = \(bind: i.owner),
                updated_at = \(bind: Self.seconds(i.updatedAt)), tags = \(bind: Self.tagsJSON(i)), properties = \(bind: Self.propertiesJSON(i)),
                location = \(bind: Self.locationsJSON(i)), deleted = \(bind: i.status == .deleted)
                WHERE id = \(bind: i.id)
                """).run()
            return i
        }
    }

    // MARK: listing

    /// Sort keys as SQL expressions; NULLs become the lowest value (as MySQL sorts them, and as
    /// Glance compares them with a marker), so ordering and marker comparison agree.
    static func sortExpression(_ key: String) -> String {
        switch key {
        case "size": "COALESCE(size, -1)"
        case "created_at", "updated_at", "id": key
        default: "COALESCE(\(key), '')"
        }
    }

    static func sortValue(_ key: String, of i: Image) -> (any Encodable & Sendable) {
        switch key {
        case "size": i.size ?? -1
        case "created_at": seconds(i.createdAt)
        case "updated_at": seconds(i.updatedAt)
        default: ImageListing.attribute(key, of: i) ?? ""
        }
    }

    /// One page of `GET /v2/images`: visibility, the column filters, the order and the marker
    /// are SQL; tag and extra-property filters, which live in JSON columns, are applied to the
    /// rows as they come (so the page is cut in memory only when those are used).
    public func list(_ l: ImageListing, caller: ImageCaller, marker: Image?) async throws -> [Image] {
        var q = SQLQueryString("SELECT \(unsafeRaw: Self.columns) FROM image_images WHERE deleted = \(bind: false) AND status <> 'killed'")
        func and(_ sql: String) { q.appendInterpolation(unsafeRaw: " AND " + sql) }
        func bind(_ v: some Encodable & Sendable) { q.appendInterpolation(bind: v) }
        let own = caller.projectID ?? ""
        if !caller.isAdmin {
            and("(visibility IN ('public', 'community') OR owner = "); bind(own)
            q.appendInterpolation(unsafeRaw: " OR (visibility = 'shared' AND id IN (SELECT image_id FROM image_members WHERE member = ")
            bind(own)
            if l.memberStatus != "all" { q.appendInterpolation(unsafeRaw: " AND status = "); bind(l.memberStatus) }
            q.appendInterpolation(unsafeRaw: ")))")
        }
        switch l.visibility {
        case nil: and("(visibility <> 'community' OR owner = "); bind(own); q.appendInterpolation(unsafeRaw: ")")
        case "all": break
        case let v?: and("visibility = "); bind(v)
        }
        and("os_hidden = "); bind(l.osHidden)
        if let p = l.protected { and("protected = "); bind(p) }
        for (key, values) in l.sets.sorted(by: { $0.key < $1.key }) {
            and("\(key) IN (")
            for (i, v) in values.sorted().enumerated() {
                if i > 0 { q.appendInterpolation(unsafeRaw: ", ") }
                bind(v)
            }
            q.appendInterpolation(unsafeRaw: ")")
        }
        if let m = l.sizeMin { and("size >= "); bind(m) }
        if let m = l.sizeMax { and("size <= "); bind(m) }
        for t in l.times {
            let s = Self.seconds(t.date)
            switch t.op {
            case "gt": and("\(t.key) > "); bind(s)
            case "gte": and("\(t.key) >= "); bind(s)
            case "lt": and("\(t.key) < "); bind(s)
            case "lte": and("\(t.key) <= "); bind(s)
            case "neq": and("\(t.key) <> "); bind(s)
            default: and("\(t.key) = "); bind(s)
            }
        }
        let columnFilters: Set<String> = ["owner", "visibility", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "min_ram", "min_disk"]
        var memoryFilters = !l.tags.isEmpty
        for (k, v) in l.properties.sorted(by: { $0.key < $1.key }) {
            if columnFilters.contains(k) {
                if ["size", "virtual_size", "min_ram", "min_disk"].contains(k) {
                    guard let n = Int64(v) else { return [] }
                    and("\(k) = "); bind(n)
                } else {
                    and("\(k) = "); bind(v)
                }
            } else {
                memoryFilters = true
            }
        }
        if let m = marker {
            // Rows after the marker in the sort order: (k1 > v1) OR (k1 = v1 AND k2 > v2) …
            and("(")
            for i in l.sort.indices {
                if i > 0 { q.appendInterpolation(unsafeRaw: " OR ") }
                q.appendInterpolation(unsafeRaw: "(")
                for j in 0..<i {
                    q.appendInterpolation(unsafeRaw: Self.sortExpression(l.sort[j].key) + " = ")
                    bind(Self.sortValue(l.sort[j].key, of: m))
                    q.appendInterpolation(unsafeRaw: " AND ")
                }
                q.appendInterpolation(unsafeRaw: Self.sortExpression(l.sort[i].key) + (l.sort[i].dir == .asc ? " > " : " < "))
                bind(Self.sortValue(l.sort[i].key, of: m))
                q.appendInterpolation(unsafeRaw: ")")
            }
            q.appendInterpolation(unsafeRaw: ")")
        }
        q.appendInterpolation(unsafeRaw: " ORDER BY " + l.sort.map { Self.sortExpression($0.key) + " " + $0.dir.rawValue.uppercased() }.joined(separator: ", "))
        if !memoryFilters {
            q.appendInterpolation(unsafeRaw: " LIMIT ")
            bind(l.limit)
        }
        var out = [Image]()
        guard l.limit > 0 else { return [] }
        for row in try await database.sql.raw(q).all() {
            let image = try Self.decode(row)
            if memoryFilters {
                guard l.tags.allSatisfy({ image.tags.contains(Name($0)) }),
                      l.properties.allSatisfy({ columnFilters.contains($0.key) || image.properties[Name($0.key)]?.sameBytes(as: $0.value) == true }) else { continue }
            }
            out.append(image)
            if out.count >= l.limit { break }
        }
        return out
    }

    // MARK: members

    static func decodeMember(_ row: any SQLRow) throws -> ImageMember {
        ImageMember(imageID: try row.decode(column: "image_id", as: String.self), memberID: try row.decode(column: "member", as: String.self),
                    status: ImageMember.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .pending,
                    created: Date(timeIntervalSince1970: TimeInterval(try row.decode(column: "created_at", as: Int64.self))),
                    updated: Date(timeIntervalSince1970: TimeInterval(try row.decode(column: "updated_at", as: Int64.self))))
    }

    public func members(of imageID: String) async throws -> [ImageMember] {
        try await database.sql.raw("SELECT * FROM image_members WHERE image_id = \(bind: imageID) ORDER BY created_at, member").all().map(Self.decodeMember)
    }

    public func member(_ imageID: String, _ memberID: String) async throws -> ImageMember? {
        try await database.sql.raw("SELECT * FROM image_members WHERE image_id = \(bind: imageID) AND member = \(bind: memberID)").first().map(Self.decodeMember)
    }

    /// The member status of `project` for every image shared with it.
    public func memberships(of project: String) async throws -> [String: ImageMember.Status] {
        var out = [String: ImageMember.Status]()
        for row in try await database.sql.raw("SELECT image_id, status FROM image_members WHERE member = \(bind: project)").all() {
            out[try row.decode(column: "image_id", as: String.self)] = ImageMember.Status(rawValue: try row.decode(column: "status", as: String.self))
        }
        return out
    }

    /// Adds a member; 409 if it is already one, 413 past `limit` members.
    public func addMember(_ m: ImageMember, limit: Int) async throws {
        try await database.transaction { db in
            _ = try await db.raw("SELECT id FROM image_images WHERE id = \(bind: m.imageID)\(unsafeRaw: lock)").first()
            if try await db.raw("SELECT member FROM image_members WHERE image_id = \(bind: m.imageID) AND member = \(bind: m.memberID)").first() != nil {
                throw NimbusError.conflict("Member \(m.memberID) is duplicated for image \(m.imageID)")
            }
            let count = try await db.raw("SELECT COUNT(*) AS n FROM image_members WHERE image_id = \(bind: m.imageID)").first()?.decode(column: "n", as: Int.self) ?? 0
            if count >= limit {
                throw NimbusError(.payloadTooLarge, "Image member limit exceeded for image \(m.imageID): The limit has been exceeded on the number of allowed image members for this image. Attempted: \(count + 1), Maximum: \(limit)")
            }
            try await db.raw("""
                INSERT INTO image_members (image_id, member, status, created_at, updated_at) VALUES (\(bind: m.imageID), \(bind: m.memberID),
                \(bind: m.status.rawValue), \(bind: Self.seconds(m.createdAt)), \(bind: Self.seconds(m.updatedAt)))
                """).run()
        }
    }

    public func updateMember(_ m: ImageMember) async throws {
        try await database.sql.raw("""
            UPDATE image_members SET status = \(bind: m.status.rawValue), updated_at = \(bind: Self.seconds(m.updatedAt))
            WHERE image_id = \(bind: m.imageID) AND member = \(bind: m.memberID)
            """).run()
    }

    public func deleteMember(_ imageID: String, _ memberID: String) async throws {
        try await database.sql.raw("DELETE FROM image_members WHERE image_id = \(bind: imageID) AND member = \(bind: memberID)").run()
    }
}
