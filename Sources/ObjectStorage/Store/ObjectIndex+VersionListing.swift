import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// A version in a `?versions` listing.
public struct VersionListingRow: Sendable {
    public var row: ObjectRow
    /// What the object shows now: the version its current row shows; with no current row, the
    /// newest version when it is a delete marker.
    public var isLatest: Bool
}

extension ObjectIndex {
    /// Where a versions listing starts (exclusive): after (before, in reverse) `name`'s version
    /// with this key. Swift's `marker` alone is past all of `name`'s versions (`":"` sorts after
    /// every key), `version_marker=null` before all of them (`""`).
    public struct VersionMarker: Sendable {
        public var name: String
        public var key: String
        public init(name: String, key: String) { self.name = name; self.key = key }
        public static func after(_ name: String) -> VersionMarker { .init(name: name, key: ":") }
        public static func before(_ name: String) -> VersionMarker { .init(name: name, key: "") }
    }

    /// The versions of a container's objects in (name, newest first) order — reversed with
    /// `q.reverse` — from `marker`, with names holding `q.delimiter` after `q.prefix` rolled up
    /// into `subdir`s, at most `q.limit` entries. (`q.marker` is not read; `marker` replaces it.)
    /// Each row says whether it is the object's latest: one indexed join and one index probe per
    /// row, so a page costs O(limit · log n) whatever the number of versions.
    public func listVersions(_ account: String, _ container: String, _ q: ListingQuery,
                             from start: VersionMarker?) async throws -> [ListingEntry<VersionListingRow>] {
        var out = [ListingEntry<VersionListingRow>]()
        var marker = start
        let prefixBytes = q.prefix.utf8.count
        while out.count < q.limit {
            let want = q.limit - out.count
            let batch = try await versionPage(account, container, q, marker: marker, limit: want)
            if batch.isEmpty { break }
            var rolledUp = false
            for entry in batch {
                let n = entry.row.name
                if let d = q.delimiter, !d.isEmpty {
                    let rest = Array(n.utf8.dropFirst(prefixBytes)), delimiter = Array(d.utf8)
                    if let i = Self.firstIndex(of: delimiter, in: rest) {
                        let subdir = q.prefix + String(decoding: rest[..<(i + delimiter.count)], as: UTF8.self)
                        out.append(.subdir(subdir))
                        marker = q.reverse ? .before(subdir) : .after(Self.beforeBound(Self.prefixUpperBound(subdir) ?? subdir))
                        rolledUp = true
                        break
                    }
                }
                out.append(.row(entry))
                marker = .init(name: n, key: Self.versionKey(entry.row.timestamp))
                if out.count >= q.limit { break }
            }
            if !rolledUp && batch.count < want { break }
        }
        return out
    }

    func versionPage(_ account: String, _ container: String, _ q: ListingQuery, marker: VersionMarker?, limit: Int) async throws -> [VersionListingRow] {
        let columns = Self.versionColumns.splitBytes(",").map { "v." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
        var s = SQLQueryString("""
            SELECT \(unsafeRaw: columns), o.name AS current_name, o.version_id AS current_version,
            (SELECT MIN(w.version_key) FROM object_versions w WHERE w.account = v.account AND w.container = v.container AND w.name = v.name) AS newest_key
            FROM object_versions v LEFT JOIN object_objects o ON o.account = v.account AND o.container = v.container AND o.name = v.name
            WHERE v.account = \(bind: account) AND v.container = \(bind: container)
            """)
        let op = q.reverse ? "<" : ">"
        if let m = marker {
            s.appendInterpolation(" AND (v.name, v.version_key) \(unsafeRaw: op) (\(bind: m.name), \(bind: m.key))" as SQLQueryString)
        }
        if !q.endMarker.isEmpty {
            s.appendInterpolation(" AND v.name \(unsafeRaw: q.reverse ? ">" : "<") \(bind: q.endMarker)" as SQLQueryString)
        }
        if !q.prefix.isEmpty {
            s.appendInterpolation(" AND v.name >= \(bind: q.prefix)" as SQLQueryString)
            if let upper = Self.prefixUpperBound(q.prefix) { s.appendInterpolation(" AND v.name < \(bind: upper)" as SQLQueryString) }
        }
        let order = q.reverse ? "DESC" : "ASC"
        s.appendInterpolation(" ORDER BY v.name \(unsafeRaw: order), v.version_key \(unsafeRaw: order) LIMIT \(bind: limit)" as SQLQueryString)
        return try await sql.raw(s).all().map { r in
            let row = try Self.versionRow(r)
            let latest: Bool
            if try r.decode(column: "current_name", as: String?.self) != nil {
                latest = try r.decode(column: "current_version", as: String?.self).map { $0.sameBytes(as: row.timestamp) } ?? false
            } else {
                let newest = try r.decode(column: "newest_key", as: String?.self)
                latest = newest.map { $0.sameBytes(as: Self.versionKey(row.timestamp)) } == true
                    && row.contentType.sameBytes(as: Self.deleteMarkerContentType)
            }
            return VersionListingRow(row: row, isLatest: latest)
        }
    }
}
