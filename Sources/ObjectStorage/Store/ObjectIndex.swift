import Foundation
import NimbusCore
import NimbusStore
import SQLKit

public struct AccountRow: Sendable {
    public var account: String
    public var putTimestamp: String
    public var metadata: [String: String]
}

public struct ContainerRow: Sendable {
    public var account: String
    public var name: String
    public var putTimestamp: String
    public var objectCount: Int
    /// Bytes of the current objects (a current row that shows an object version counts 0, as
    /// Swift's versions symlink does; the version's bytes count in `versionsBytes`).
    public var bytesUsed: Int
    public var metadata: [String: String]
    /// Rows of the container's object versions (Swift's hidden `\0versions\0<name>` container's
    /// object count, delete markers included); nil when versioning was never enabled, so no
    /// such container exists.
    public var versionsCount: Int? = nil
    public var versionsBytes = 0
    /// The storage policy of the container's objects, fixed when it is made.
    public var policy = 0

    /// What Swift reports as the container's bytes: its own and its versions container's.
    public var reportedBytes: Int { bytesUsed + versionsBytes }
}

public struct ObjectRow: Sendable, Equatable {
    public var account: String
    public var container: String
    public var name: String
    public var timestamp: String
    public var metaTimestamp: String?
    public var size: Int
    public var etag: String
    public var contentType: String
    /// Lower-case header names: `x-object-meta-*`, content-encoding, content-disposition,
    /// x-object-manifest, x-static-large-object, x-delete-at, and `x-object-sysmeta-*`.
    public var metadata: [String: String]
    public var deleteAt: Int?
    public var part: Int
    public var hash: String
    /// The object version this row is (`isVersionRecord`), or that an object's current row shows
    /// (Swift's "versions symlink"); nil for a plain object (the `null` version).
    public var versionID: String? = nil
    /// A row of the versions table rather than an object's current row.
    public var isVersionRecord = false
    /// The storage policy whose ring `part` and `hash` place the files in (the container's).
    public var policy = 0

    /// What the row adds to its container's bytes: a current row that shows a version adds
    /// nothing (the version's row counts the bytes).
    public var countedSize: Int { versionID != nil && !isVersionRecord ? 0 : size }

    /// The newest of the data and metadata timestamps: what X-Timestamp and Last-Modified report.
    public var lastModified: String { max(timestamp, metaTimestamp ?? "") }
}

public struct ListingQuery: Sendable {
    public var prefix: String = ""
    public var marker: String = ""
    public var endMarker: String = ""
    public var delimiter: String?
    public var reverse = false
    public var limit = 10000
    public init() {}
}

public enum ListingEntry<Row: Sendable>: Sendable {
    case row(Row)
    case subdir(String)
}

enum MetadataJSON {
    // Keys are lower-cased HTTP header names: ASCII tokens, so `String` keys are byte keys here.
    static func encode(_ m: [String: String]) -> String {
        JSONValue.object(JSONObject(pairs: m.map { ($0.key, JSONValue.string($0.value)) })).serializedString()
    }

    static func decode(_ s: String) -> [String: String] {
        guard let v = try? JSONValue.parse(string: s), case .object(let o) = v else { return [:] }
        return Dictionary(o.compactMapValues(\.stringValue).map { ($0.key.string, $0.value) }, uniquingKeysWith: { _, b in b })
    }
}

/// SQL for the object index. Writes run in one transaction each, so container counts always
/// match the rows they count.
public struct ObjectIndex: Sendable {
    let database: Database
    var sql: any SQLDatabase { database.sql }

    public init(database: Database) { self.database = database }

    /// PostgreSQL runs transactions at READ COMMITTED: writes that touch a container lock its row
    /// first, so they serialize per container (counts, overwrites, delete-vs-put). SQLite already
    /// serializes every write.
    var lock: String { database.engine == .postgres ? " FOR UPDATE" : "" }

    // MARK: accounts

    public func account(_ account: String) async throws -> AccountRow? {
        guard let row = try await sql.raw("SELECT account, put_timestamp, metadata FROM object_accounts WHERE account = \(bind: account)").first() else { return nil }
        return AccountRow(account: try row.decode(column: "account", as: String.self), putTimestamp: try row.decode(column: "put_timestamp", as: String.self),
                          metadata: MetadataJSON.decode(try row.decode(column: "metadata", as: String.self)))
    }

    /// The account's totals as Swift's account server keeps them: a container's versions
    /// container counts as a container of its own, its versions as objects.
    public func accountStats(_ account: String) async throws -> (containers: Int, objects: Int, bytes: Int) {
        guard let row = try await sql.raw("""
            SELECT CAST(COUNT(*) + COUNT(versions_count) AS BIGINT) AS n,
            CAST(COALESCE(SUM(object_count + COALESCE(versions_count, 0)), 0) AS BIGINT) AS o,
            CAST(COALESCE(SUM(bytes_used + versions_bytes), 0) AS BIGINT) AS b
            FROM object_containers WHERE account = \(bind: account)
            """).first() else { return (0, 0, 0) }
        return (try row.decode(column: "n", as: Int.self), try row.decode(column: "o", as: Int.self), try row.decode(column: "b", as: Int.self))
    }

    /// The account's totals per storage policy (Swift's account `policy_stat`), for the policies
    /// that have containers in it.
    public func accountPolicyStats(_ account: String) async throws -> [Int: (containers: Int, objects: Int, bytes: Int)] {
        let rows = try await sql.raw("""
            SELECT policy_index, CAST(COUNT(*) + COUNT(versions_count) AS BIGINT) AS n,
            CAST(COALESCE(SUM(object_count + COALESCE(versions_count, 0)), 0) AS BIGINT) AS o,
            CAST(COALESCE(SUM(bytes_used + versions_bytes), 0) AS BIGINT) AS b
            FROM object_containers WHERE account = \(bind: account) GROUP BY policy_index
            """).all()
        var out = [Int: (containers: Int, objects: Int, bytes: Int)]()
        for r in rows {
            out[try r.decode(column: "policy_index", as: Int.self)] = (try r.decode(column: "n", as: Int.self), try r.decode(column: "o", as: Int.self),
                                                                       try r.decode(column: "b", as: Int.self))
        }
        return out
    }

    /// Applies `update` to the account's metadata (creating the account row), atomically.
    public func updateAccountMetadata(_ account: String, timestamp: String, _ update: @escaping @Sendable (inout [String: String]) throws -> Void) async throws {
        try await database.transaction { db in
            try await Self.ensureAccount(db, account, timestamp)
            let row = try await db.raw("SELECT metadata FROM object_accounts WHERE account = \(bind: account)").first()
            var meta = MetadataJSON.decode(try row?.decode(column: "metadata", as: String.self) ?? "{}")
            try update(&meta)
            try await db.raw("UPDATE object_accounts SET metadata = \(bind: MetadataJSON.encode(meta)) WHERE account = \(bind: account)").run()
        }
    }

    static func ensureAccount(_ db: any SQLDatabase, _ account: String, _ timestamp: String) async throws {
        try await db.raw("INSERT INTO object_accounts (account, put_timestamp, metadata) VALUES (\(bind: account), \(bind: timestamp), '{}') ON CONFLICT (account) DO NOTHING").run()
    }

    // MARK: containers

    public func container(_ account: String, _ name: String) async throws -> ContainerRow? {
        guard let row = try await sql.raw("""
            SELECT \(unsafeRaw: Self.containerColumns) FROM object_containers
            WHERE account = \(bind: account) AND name = \(bind: name)
            """).first() else { return nil }
        return try Self.containerRow(row)
    }

    static func containerRow(_ row: any SQLRow) throws -> ContainerRow {
        ContainerRow(account: try row.decode(column: "account", as: String.self), name: try row.decode(column: "name", as: String.self),
                     putTimestamp: try row.decode(column: "put_timestamp", as: String.self),
                     objectCount: try row.decode(column: "object_count", as: Int.self), bytesUsed: try row.decode(column: "bytes_used", as: Int.self),
                     metadata: MetadataJSON.decode(try row.decode(column: "metadata", as: String.self)),
                     versionsCount: try row.decode(column: "versions_count", as: Int?.self),
                     versionsBytes: try row.decode(column: "versions_bytes", as: Int.self),
                     policy: try row.decode(column: "policy_index", as: Int.self))
    }

    static let containerColumns = "account, name, put_timestamp, object_count, bytes_used, metadata, versions_count, versions_bytes, policy_index"

    public enum PutContainerResult: Sendable, Equatable {
        case created, updated
        /// It exists with another storage policy than the one asked for (nothing was changed).
        case policyConflict(existing: Int)
    }

    /// Creates the container (in storage policy `policy`), or updates its metadata when it
    /// exists. `requestedPolicy` is the policy the client named, which an existing container
    /// must have (Swift's 409 otherwise); nil when the client named none.
    public func putContainer(_ account: String, _ name: String, timestamp: String, policy: Int = 0, requestedPolicy: Int? = nil,
                             _ update: @escaping @Sendable (inout [String: String]) throws -> Void) async throws -> PutContainerResult {
        let lock = self.lock
        return try await database.transaction { db in
            try await Self.ensureAccount(db, account, timestamp)
            if let existing = try await db.raw("""
                SELECT policy_index FROM object_containers WHERE account = \(bind: account) AND name = \(bind: name)\(unsafeRaw: lock)
                """).first() {
                let current = try existing.decode(column: "policy_index", as: Int.self)
                if let requestedPolicy, requestedPolicy != current { return .policyConflict(existing: current) }
                return try await Self.rewriteContainerMetadata(db, account, name, update) ? .updated : .created
            }
            var meta = [String: String]()
            try update(&meta)
            let versions: Int? = meta[Self.versionsContainerKey] != nil ? 0 : nil
            // A concurrent create of the same name makes this a no-op (then: 202, as Swift would).
            let inserted = try await db.raw("""
                INSERT INTO object_containers (account, name, put_timestamp, object_count, bytes_used, metadata, versions_count, versions_bytes, policy_index)
                VALUES (\(bind: account), \(bind: name), \(bind: timestamp), 0, 0, \(bind: MetadataJSON.encode(meta)), \(bind: versions), 0, \(bind: policy))
                ON CONFLICT (account, name) DO NOTHING RETURNING name
                """).first()
            return inserted != nil ? .created : .updated
        }
    }

    /// Updates an existing container's metadata; false when it does not exist.
    public func updateContainerMetadata(_ account: String, _ name: String, _ update: @escaping @Sendable (inout [String: String]) throws -> Void) async throws -> Bool {
        try await database.transaction { db in try await Self.rewriteContainerMetadata(db, account, name, update) }
    }

    /// Applies `update` to an existing container's metadata inside a transaction; false when
    /// the container does not exist.
    static func rewriteContainerMetadata(_ db: any SQLDatabase, _ account: String, _ name: String,
                                         _ update: (inout [String: String]) throws -> Void) async throws -> Bool {
        guard let row = try await db.raw("SELECT metadata FROM object_containers WHERE account = \(bind: account) AND name = \(bind: name)").first() else { return false }
        var meta = MetadataJSON.decode(try row.decode(column: "metadata", as: String.self))
        try update(&meta)
        // Enabling versioning makes the versions container (its counts start at 0); once made,
        // it stays, as Swift's does.
        let hasVersions = meta[versionsContainerKey] != nil
        try await db.raw("""
            UPDATE object_containers SET metadata = \(bind: MetadataJSON.encode(meta)),
            versions_count = CASE WHEN \(bind: hasVersions) THEN COALESCE(versions_count, 0) ELSE versions_count END
            WHERE account = \(bind: account) AND name = \(bind: name)
            """).run()
        return true
    }

    public enum DeleteContainerResult: Sendable {
        case deleted, notFound, notEmpty
        /// Its versions container still holds versions (or delete markers).
        case hasVersions
    }

    /// Deletes an empty container together with its (empty) versions container, in one
    /// transaction: Swift deletes the versions container first and may leave the container
    /// without it when the second delete fails; here neither or both go.
    public func deleteContainer(_ account: String, _ name: String) async throws -> DeleteContainerResult {
        let lock = self.lock
        return try await database.transaction { db in
            guard let row = try await db.raw("""
                SELECT object_count, versions_count FROM object_containers WHERE account = \(bind: account) AND name = \(bind: name)\(unsafeRaw: lock)
                """).first() else { return .notFound }
            if try row.decode(column: "versions_count", as: Int?.self) ?? 0 > 0 { return .hasVersions }
            if try row.decode(column: "object_count", as: Int.self) > 0 { return .notEmpty }
            try await db.raw("DELETE FROM object_containers WHERE account = \(bind: account) AND name = \(bind: name)").run()
            return .deleted
        }
    }

    public func listContainers(_ account: String, _ q: ListingQuery) async throws -> [ListingEntry<ContainerRow>] {
        try await list(q) { marker, endMarker, prefix, reverse, limit in
            let rows = try await sql.raw(Self.listingSQL(
                select: "SELECT \(Self.containerColumns) FROM object_containers",
                scope: "account = \(bind: account)", marker: marker, endMarker: endMarker, prefix: prefix, reverse: reverse, limit: limit)).all()
            return try rows.map { try Self.containerRow($0) }
        } name: { $0.name }
    }

    // MARK: objects

    static let objectColumns = "account, container, name, timestamp, meta_timestamp, size, etag, content_type, metadata, delete_at, part, hash, version_id, policy_index"

    static func objectRow(_ row: any SQLRow) throws -> ObjectRow {
        ObjectRow(account: try row.decode(column: "account", as: String.self), container: try row.decode(column: "container", as: String.self),
                  name: try row.decode(column: "name", as: String.self), timestamp: try row.decode(column: "timestamp", as: String.self),
                  metaTimestamp: try row.decode(column: "meta_timestamp", as: String?.self), size: try row.decode(column: "size", as: Int.self),
                  etag: try row.decode(column: "etag", as: String.self), contentType: try row.decode(column: "content_type", as: String.self),
                  metadata: MetadataJSON.decode(try row.decode(column: "metadata", as: String.self)),
                  deleteAt: try row.decode(column: "delete_at", as: Int?.self), part: try row.decode(column: "part", as: Int.self),
                  hash: try row.decode(column: "hash", as: String.self), versionID: try row.decode(column: "version_id", as: String?.self),
                  policy: try row.decode(column: "policy_index", as: Int.self))
    }

    public func object(_ account: String, _ container: String, _ name: String) async throws -> ObjectRow? {
        try await Self.object(sql, account, container, name)
    }

    static func object(_ db: any SQLDatabase, _ account: String, _ container: String, _ name: String) async throws -> ObjectRow? {
        try await db.raw("""
            SELECT \(unsafeRaw: objectColumns) FROM object_objects
            WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)
            """).first().map(objectRow)
    }

    /// Locks the container's row for the rest of the transaction (see `lock`); false when the
    /// container does not exist or (given `policy`) is no longer in that storage policy (it was
    /// deleted and made again in another since the write began).
    func lockContainer(_ db: any SQLDatabase, _ account: String, _ container: String, policy: Int? = nil) async throws -> Bool {
        guard let row = try await db.raw("""
            SELECT policy_index FROM object_containers WHERE account = \(bind: account) AND name = \(bind: container)\(unsafeRaw: lock)
            """).first() else { return false }
        guard let policy else { return true }
        return try row.decode(column: "policy_index", as: Int.self) == policy
    }

    public enum PutResult: Sendable {
        /// Stored; `replaced` is the version it superseded.
        case stored(replaced: ObjectRow?)
        /// A newer version was stored meanwhile; this one lost (last writer by timestamp wins).
        case superseded
        case containerMissing
    }

    /// Makes an object version visible: the commit point of a PUT.
    public func putObject(_ o: ObjectRow) async throws -> PutResult {
        try await database.groupTransaction { db in
            guard try await lockContainer(db, o.account, o.container, policy: o.policy) else { return .containerMissing }
            let old = try await Self.object(db, o.account, o.container, o.name)
            if let old, old.timestamp >= o.timestamp { return .superseded }
            let meta = MetadataJSON.encode(o.metadata)
            if old != nil {
                try await db.raw("""
                    UPDATE object_objects SET timestamp = \(bind: o.timestamp), meta_timestamp = NULL, size = \(bind: o.size), etag = \(bind: o.etag),
                    content_type = \(bind: o.contentType), metadata = \(bind: meta), delete_at = \(bind: o.deleteAt), part = \(bind: o.part), hash = \(bind: o.hash),
                    version_id = NULL, policy_index = \(bind: o.policy)
                    WHERE account = \(bind: o.account) AND container = \(bind: o.container) AND name = \(bind: o.name)
                    """).run()
            } else {
                try await Self.insertCurrent(db, o)
            }
            try await Self.count(db, o.account, o.container, objects: old == nil ? 1 : 0, bytes: o.size - (old?.countedSize ?? 0))
            return .stored(replaced: old)
        }
    }

    static func insertCurrent(_ db: any SQLDatabase, _ o: ObjectRow) async throws {
        try await db.raw("""
            INSERT INTO object_objects (\(unsafeRaw: objectColumns)) VALUES (\(bind: o.account), \(bind: o.container), \(bind: o.name),
            \(bind: o.timestamp), \(bind: o.metaTimestamp), \(bind: o.size), \(bind: o.etag), \(bind: o.contentType), \(bind: MetadataJSON.encode(o.metadata)),
            \(bind: o.deleteAt), \(bind: o.part), \(bind: o.hash), \(bind: o.versionID), \(bind: o.policy))
            """).run()
    }

    /// Adds to a container's counts of current objects and of versions.
    static func count(_ db: any SQLDatabase, _ account: String, _ container: String, objects: Int, bytes: Int,
                      versions: Int = 0, versionBytes: Int = 0) async throws {
        try await db.raw("""
            UPDATE object_containers SET object_count = object_count + \(bind: objects), bytes_used = bytes_used + \(bind: bytes),
            versions_count = CASE WHEN \(bind: versions) = 0 THEN versions_count ELSE COALESCE(versions_count, 0) + \(bind: versions) END,
            versions_bytes = versions_bytes + \(bind: versionBytes)
            WHERE account = \(bind: account) AND name = \(bind: container)
            """).run()
    }

    /// Replaces an object's metadata (POST); nil when the object is gone or changed meanwhile.
    public func updateObjectMetadata(_ o: ObjectRow, metaTimestamp: String, metadata: [String: String], contentType: String, deleteAt: Int?) async throws -> ObjectRow? {
        try await database.groupTransaction { db in
            _ = try await lockContainer(db, o.account, o.container)
            guard let cur = try await Self.object(db, o.account, o.container, o.name), cur.timestamp == o.timestamp, cur.versionID == o.versionID else { return nil }
            try await db.raw("""
                UPDATE object_objects SET meta_timestamp = \(bind: metaTimestamp), metadata = \(bind: MetadataJSON.encode(metadata)),
                content_type = \(bind: contentType), delete_at = \(bind: deleteAt)
                WHERE account = \(bind: o.account) AND container = \(bind: o.container) AND name = \(bind: o.name)
                """).run()
            // A current row that shows a version shares the version's files: the version gets the
            // same metadata (and `.meta` file), as Swift's POST reaches the version through its
            // versions symlink; X-Delete-At stays on the current row only.
            if let id = cur.versionID {
                try await db.raw("""
                    UPDATE object_versions SET meta_timestamp = \(bind: metaTimestamp), metadata = \(bind: MetadataJSON.encode(metadata)),
                    content_type = \(bind: contentType)
                    WHERE account = \(bind: o.account) AND container = \(bind: o.container) AND name = \(bind: o.name) AND version_key = \(bind: Self.versionKey(id))
                    """).run()
            }
            var updated = cur
            updated.metaTimestamp = metaTimestamp
            updated.metadata = metadata
            updated.contentType = contentType
            updated.deleteAt = deleteAt
            return updated
        }
    }

    /// Removes an object (only the version `timestamp` when given): the commit point of a DELETE.
    public func deleteObject(_ account: String, _ container: String, _ name: String, onlyTimestamp: String? = nil) async throws -> ObjectRow? {
        try await database.groupTransaction { db in
            _ = try await lockContainer(db, account, container)
            guard let old = try await Self.object(db, account, container, name) else { return nil }
            if let onlyTimestamp, old.timestamp != onlyTimestamp { return nil }
            try await db.raw("DELETE FROM object_objects WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)").run()
            try await Self.count(db, account, container, objects: -1, bytes: -old.countedSize)
            return old
        }
    }

    public func listObjects(_ account: String, _ container: String, _ q: ListingQuery) async throws -> [ListingEntry<ObjectRow>] {
        try await list(q) { marker, endMarker, prefix, reverse, limit in
            let rows = try await sql.raw(Self.listingSQL(
                select: "SELECT \(Self.objectColumns) FROM object_objects",
                scope: "account = \(bind: account) AND container = \(bind: container)", marker: marker, endMarker: endMarker, prefix: prefix, reverse: reverse, limit: limit)).all()
            return try rows.map { try Self.objectRow($0) }
        } name: { $0.name }
    }

    /// Every object and object version of a partition: what the replicator makes the devices
    /// agree with. (A current row that shows a version names the version's files.)
    public func partitionObjects(_ part: Int, policy: Int = 0) async throws -> [ObjectRow] {
        let current = try await sql.raw("""
            SELECT \(unsafeRaw: Self.objectColumns) FROM object_objects WHERE policy_index = \(bind: policy) AND part = \(bind: part)
            """).all().map(Self.objectRow)
        let versions = try await sql.raw("""
            SELECT \(unsafeRaw: Self.versionColumns) FROM object_versions WHERE policy_index = \(bind: policy) AND part = \(bind: part)
            """).all().map(Self.versionRow)
        return current + versions
    }

    public func partitionsInUse(policy: Int = 0) async throws -> [Int] {
        try await sql.raw("""
            SELECT part FROM object_objects WHERE policy_index = \(bind: policy) UNION SELECT part FROM object_versions WHERE policy_index = \(bind: policy)
            """).all().map { try $0.decode(column: "part", as: Int.self) }
    }

    public func expired(before: Int, limit: Int) async throws -> [ObjectRow] {
        try await sql.raw("""
            SELECT \(unsafeRaw: Self.objectColumns) FROM object_objects WHERE delete_at IS NOT NULL AND delete_at <= \(bind: before)
            ORDER BY delete_at LIMIT \(bind: limit)
            """).all().map(Self.objectRow)
    }

    // MARK: listings

    static func listingSQL(select: String, scope: SQLQueryString, marker: String, endMarker: String, prefix: String, reverse: Bool, limit: Int) -> SQLQueryString {
        var q = SQLQueryString("\(unsafeRaw: select) WHERE ")
        q.appendInterpolation(scope)
        if reverse {
            if !marker.isEmpty { q.appendInterpolation(" AND name < \(bind: marker)" as SQLQueryString) }
            if !endMarker.isEmpty { q.appendInterpolation(" AND name > \(bind: endMarker)" as SQLQueryString) }
        } else {
            if !marker.isEmpty { q.appendInterpolation(" AND name > \(bind: marker)" as SQLQueryString) }
            if !endMarker.isEmpty { q.appendInterpolation(" AND name < \(bind: endMarker)" as SQLQueryString) }
        }
        if !prefix.isEmpty {
            q.appendInterpolation(" AND name >= \(bind: prefix)" as SQLQueryString)
            if let upper = Self.prefixUpperBound(prefix) { q.appendInterpolation(" AND name < \(bind: upper)" as SQLQueryString) }
        }
        q.appendInterpolation(" ORDER BY name \(unsafeRaw: reverse ? "DESC" : "ASC") LIMIT \(bind: limit)" as SQLQueryString)
        return q
    }

    /// The smallest string greater than every string starting with `prefix` (in code point
    /// order, which is UTF-8 byte order), or nil when there is none.
    static func prefixUpperBound(_ prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var v = last.value + 1
            if v == 0xD800 { v = 0xE000 }
            if let s = Unicode.Scalar(v) {
                scalars.append(s)
                return String(String.UnicodeScalarView(scalars))
            }
        }
        return nil
    }

    /// Swift's listing algorithm: rows in name order between the markers, with names that hold
    /// the delimiter after the prefix rolled up into one `subdir` entry each.
    func list<Row: Sendable>(_ q: ListingQuery,
                             fetch: (_ marker: String, _ endMarker: String, _ prefix: String, _ reverse: Bool, _ limit: Int) async throws -> [Row],
                             name: (Row) -> String) async throws -> [ListingEntry<Row>] {
        var out = [ListingEntry<Row>]()
        var marker = q.marker
        let prefixBytes = q.prefix.utf8.count
        while out.count < q.limit {
            let want = q.limit - out.count
            let batch = try await fetch(marker, q.endMarker, q.prefix, q.reverse, want)
            if batch.isEmpty { break }
            var rolledUp = false
            for row in batch {
                let n = name(row)
                if let d = q.delimiter, !d.isEmpty {
                    // By bytes: Foundation's `range(of:)` would not see a `/` that a combining mark follows.
                    let rest = Array(n.utf8.dropFirst(prefixBytes)), delimiter = Array(d.utf8)
                    if let i = Self.firstIndex(of: delimiter, in: rest) {
                        let subdir = q.prefix + String(decoding: rest[..<(i + delimiter.count)], as: UTF8.self)
                        out.append(.subdir(subdir))
                        marker = q.reverse ? subdir : Self.beforeBound(Self.prefixUpperBound(subdir) ?? subdir)
                        rolledUp = true
                        break
                    }
                }
                out.append(.row(row))
                marker = n
                if out.count >= q.limit { break }
            }
            if !rolledUp && batch.count < want { break }
        }
        return out
    }

    /// Where `needle` (a whole scalar's UTF-8 bytes) first occurs in `haystack`.
    static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }

    /// The marker that skips a rolled-up subdir in a forward listing (`name > marker`): `upper`
    /// (the first string after the subdir's range) with its last scalar stepped back, followed by
    /// U+10FFFF, so every name inside the subdir sorts at or below it and `upper` itself above it.
    static func beforeBound(_ upper: String) -> String {
        var scalars = Array(upper.unicodeScalars)
        guard let last = scalars.popLast() else { return upper }
        var v = last.value - 1
        if v == 0xDFFF { v = 0xD7FF }
        if let s = Unicode.Scalar(v) { scalars.append(s) }
        scalars.append(Unicode.Scalar(0x10FFFF)!)  // see the doc comment
        return String(String.UnicodeScalarView(scalars))
    }
}
