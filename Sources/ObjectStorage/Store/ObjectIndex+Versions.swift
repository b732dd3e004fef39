import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Object versioning (`X-Versions-Enabled`) in the index. Swift keeps versions as objects of a
/// hidden container (`\0versions\0<container>`, names `\0<object>\0<inverted timestamp>`) and
/// makes the object a symlink to its current version; the two writes are separate requests.
/// Here a version is a row of `object_versions` keyed by the same inverted timestamp, and an
/// object's current row may show one (`version_id`, with the version's columns: it reads the
/// version's files). A versioned write commits its version row(s), the current row and every
/// count in one transaction, so no crash leaves two current versions or a version without its
/// row.
extension ObjectIndex {
    /// Container system metadata, as Swift's middleware names it: whether versioning is on
    /// ("True"/"False"), and — once it was ever on — the versions container.
    public static let versionsEnabledKey = "x-container-sysmeta-versions-enabled"
    public static let versionsContainerKey = "x-container-sysmeta-versions-container"
    public static let deleteMarkerContentType = "application/x-deleted;swift_versions_deleted=1"

    static let versionColumns = "account, container, name, version_key, timestamp, meta_timestamp, size, etag, content_type, metadata, part, hash, policy_index"

    /// Swift's `~Timestamp(id)`: 999999999999999 minus the id in units of 10 µs, in the same
    /// `%016.5f` form, so that newer versions sort first. `id` is a normalized version id
    /// (`VersionID`); anything else maps to a key no version has.
    public static func versionKey(_ id: String) -> String {
        let bytes = Array(id.utf8)
        guard bytes.count == 16, bytes[10] == UInt8(ascii: "."),
              bytes.indices.allSatisfy({ $0 == 10 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) }),
              let whole = Int(String(decoding: bytes[0..<10], as: UTF8.self)),
              let fraction = Int(String(decoding: bytes[11...], as: UTF8.self)) else { return "~" + id }
        return VersionID.format(raw: 999_999_999_999_999 - (whole * 100_000 + fraction))
    }

    static func versionRow(_ row: any SQLRow) throws -> ObjectRow {
        let ts = try row.decode(column: "timestamp", as: String.self)
        return ObjectRow(account: try row.decode(column: "account", as: String.self), container: try row.decode(column: "container", as: String.self),
                         name: try row.decode(column: "name", as: String.self), timestamp: ts,
                         metaTimestamp: try row.decode(column: "meta_timestamp", as: String?.self), size: try row.decode(column: "size", as: Int.self),
                         etag: try row.decode(column: "etag", as: String.self), contentType: try row.decode(column: "content_type", as: String.self),
                         metadata: MetadataJSON.decode(try row.decode(column: "metadata", as: String.self)), deleteAt: nil,
                         part: try row.decode(column: "part", as: Int.self), hash: try row.decode(column: "hash", as: String.self),
                         versionID: ts, isVersionRecord: true, policy: try row.decode(column: "policy_index", as: Int.self))
    }

    /// Inserts a version row (its id is its timestamp); false when that version exists already.
    static func insertVersion(_ db: any SQLDatabase, _ v: ObjectRow) async throws -> Bool {
        try await db.raw("""
            INSERT INTO object_versions (\(unsafeRaw: versionColumns)) VALUES (\(bind: v.account), \(bind: v.container), \(bind: v.name),
            \(bind: versionKey(v.timestamp)), \(bind: v.timestamp), \(bind: v.metaTimestamp), \(bind: v.size), \(bind: v.etag), \(bind: v.contentType),
            \(bind: MetadataJSON.encode(v.metadata)), \(bind: v.part), \(bind: v.hash), \(bind: v.policy))
            ON CONFLICT (account, container, name, version_key) DO NOTHING RETURNING name
            """).first() != nil
    }

    static func version(_ db: any SQLDatabase, _ account: String, _ container: String, _ name: String, id: String) async throws -> ObjectRow? {
        try await db.raw("""
            SELECT \(unsafeRaw: versionColumns) FROM object_versions
            WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name) AND version_key = \(bind: versionKey(id))
            """).first().map(versionRow)
    }

    static func newestVersion(_ db: any SQLDatabase, _ account: String, _ container: String, _ name: String) async throws -> ObjectRow? {
        try await db.raw("""
            SELECT \(unsafeRaw: versionColumns) FROM object_versions
            WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name) ORDER BY version_key LIMIT 1
            """).first().map(versionRow)
    }

    /// Version `id` (a normalized version id) of an object, delete markers included.
    public func version(_ account: String, _ container: String, _ name: String, id: String) async throws -> ObjectRow? {
        try await Self.version(sql, account, container, name, id: id)
    }

    /// Makes `row` the object's current row (replacing whatever is there).
    static func setCurrent(_ db: any SQLDatabase, _ row: ObjectRow) async throws {
        try await db.raw("DELETE FROM object_objects WHERE account = \(bind: row.account) AND container = \(bind: row.container) AND name = \(bind: row.name)").run()
        try await insertCurrent(db, row)
    }

    /// A copy of a plain current object made to keep it as a version (`copy`, at the version's
    /// place), and the current row it was copied from.
    public struct Archived: Sendable {
        public var copy: ObjectRow
        public var source: ObjectRow
        public init(copy: ObjectRow, source: ObjectRow) { self.copy = copy; self.source = source }
    }

    public enum VersionedWrite: Sendable {
        /// Committed. `before` and `after`: the object's current row before and after the write
        /// (the same row when a newer write had already replaced it).
        case committed(before: ObjectRow?, after: ObjectRow?)
        /// The current row is a plain object, which is kept as a version before anything
        /// replaces it: copy it (`Archived`) and commit again.
        case needsArchive(ObjectRow)
        case containerMissing
        /// A version with this id exists already (two writes in the same 10 µs).
        case duplicate
        /// `PUT ?version-id`: no such version.
        case versionMissing
    }

    /// The archived copy that keeps the plain current row `cur` as a version; nil when there is
    /// none or it was made of another current row (then the caller copies `cur` and retries).
    static func matching(_ archived: Archived?, _ cur: ObjectRow) -> ObjectRow? {
        guard let archived, archived.source.isSameRecord(as: cur) else { return nil }
        return archived.copy
    }

    /// The commit point of a PUT (`marker` false) or DELETE (a delete marker) in a container
    /// with versioning on: the new version's row, a plain current object's archived copy, and
    /// the current row — which shows the new version (or, for a marker, is removed) when the
    /// write is newer than what it shows, the newest write winning as for plain objects.
    public func commitVersion(_ v: ObjectRow, marker: Bool, deleteAt: Int?, archived: Archived?) async throws -> VersionedWrite {
        let now = Int(Date().timeIntervalSince1970)
        return try await database.groupTransaction { db in
            guard try await lockContainer(db, v.account, v.container, policy: v.policy) else { return .containerMissing }
            let cur = try await Self.object(db, v.account, v.container, v.name)
            var takesEffect = cur.map { $0.timestamp < v.timestamp } ?? true
            // A newer delete marker is the object's tombstone: a PUT that started before the
            // DELETE but commits after it is kept as a version and does not bring the object back.
            if cur == nil, !marker, let newest = try await Self.newestVersion(db, v.account, v.container, v.name),
               newest.contentType.sameBytes(as: Self.deleteMarkerContentType), newest.timestamp > v.timestamp {
                takesEffect = false
            }
            // Everything is checked before the first write: a returned answer commits.
            var keep: ObjectRow?
            if let cur, cur.versionID == nil, takesEffect, !cur.expired(at: now) {
                guard let copy = Self.matching(archived, cur) else { return .needsArchive(cur) }
                keep = copy
            }
            if try await Self.version(db, v.account, v.container, v.name, id: v.timestamp) != nil { return .duplicate }
            var versions = 1, versionBytes = v.size, objects = 0, bytes = 0
            if let keep, try await Self.insertVersion(db, keep) {
                versions += 1
                versionBytes += keep.size
            }
            _ = try await Self.insertVersion(db, v)
            var current = cur
            if takesEffect {
                bytes -= cur?.countedSize ?? 0
                if marker {
                    current = nil
                    if cur != nil {
                        objects -= 1
                        try await db.raw("DELETE FROM object_objects WHERE account = \(bind: v.account) AND container = \(bind: v.container) AND name = \(bind: v.name)").run()
                    }
                } else {
                    var shown = v
                    shown.isVersionRecord = false
                    shown.deleteAt = deleteAt
                    if cur == nil { objects += 1 }
                    try await Self.setCurrent(db, shown)
                    current = shown
                }
            }
            try await Self.count(db, v.account, v.container, objects: objects, bytes: bytes, versions: versions, versionBytes: versionBytes)
            return .committed(before: cur, after: current)
        }
    }

    /// `PUT ?version-id=<id>`: the object's current row shows version `id` from now on. A plain
    /// current object is archived first when `keepPlain` (versioning on), else replaced.
    public func promoteVersion(_ account: String, _ container: String, _ name: String, id: String, deleteAt: Int?,
                               keepPlain: Bool, archived: Archived?) async throws -> VersionedWrite {
        let now = Int(Date().timeIntervalSince1970)
        return try await database.groupTransaction { db in
            guard try await lockContainer(db, account, container) else { return .containerMissing }
            guard let v = try await Self.version(db, account, container, name, id: id) else { return .versionMissing }
            let cur = try await Self.object(db, account, container, name)
            var versions = 0, versionBytes = 0
            if let cur, cur.versionID == nil, keepPlain, !cur.expired(at: now) {
                guard let copy = Self.matching(archived, cur) else { return .needsArchive(cur) }
                if try await Self.insertVersion(db, copy) {
                    versions = 1
                    versionBytes = copy.size
                }
            }
            var shown = v
            shown.isVersionRecord = false
            shown.deleteAt = deleteAt
            try await Self.setCurrent(db, shown)
            try await Self.count(db, account, container, objects: cur == nil ? 1 : 0, bytes: -(cur?.countedSize ?? 0),
                                 versions: versions, versionBytes: versionBytes)
            return .committed(before: cur, after: shown)
        }
    }

    /// `DELETE ?version-id=<id>`: removes that version, and the object's current row too when
    /// it shows that version (the object is then gone; no older version takes its place, as in
    /// Swift). Returns the deleted version and the current row afterwards.
    public func deleteVersion(_ account: String, _ container: String, _ name: String, id: String) async throws -> (deleted: ObjectRow?, current: ObjectRow?) {
        try await database.groupTransaction { db in
            _ = try await lockContainer(db, account, container)
            var cur = try await Self.object(db, account, container, name)
            guard let v = try await Self.version(db, account, container, name, id: id) else { return (nil, cur) }
            var objects = 0
            if let c = cur, c.versionID?.sameBytes(as: v.timestamp) == true {
                try await db.raw("DELETE FROM object_objects WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)").run()
                objects = -1
                cur = nil
            }
            try await db.raw("""
                DELETE FROM object_versions WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)
                AND version_key = \(bind: Self.versionKey(v.timestamp))
                """).run()
            try await Self.count(db, account, container, objects: objects, bytes: 0, versions: -1, versionBytes: -v.size)
            return (v, cur)
        }
    }
}

extension ObjectRow {
    /// Past its X-Delete-At: hidden from reads (and not kept as a version: Swift's
    /// `_copy_current` finds nothing to copy), waiting for the expirer.
    public func expired(at now: Int) -> Bool { deleteAt.map { $0 <= now } ?? false }

    /// The same write of the same object (and no POST since): compared by the row's
    /// timestamps and version, which are ASCII, never by its names or metadata as `String`s.
    public func isSameRecord(as other: ObjectRow) -> Bool {
        timestamp.sameBytes(as: other.timestamp) && (metaTimestamp ?? "").sameBytes(as: other.metaTimestamp ?? "")
            && (versionID ?? "").sameBytes(as: other.versionID ?? "") && isVersionRecord == other.isVersionRecord
            && account.sameBytes(as: other.account) && container.sameBytes(as: other.container) && name.sameBytes(as: other.name)
    }
}
