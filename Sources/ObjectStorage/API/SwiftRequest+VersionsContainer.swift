import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore

/// The container side of Swift's object versioning (versioned_writes/object_versioning.py):
/// `X-Versions-Enabled` on container PUT/POST, and `GET <container>?versions`.
extension SwiftRequest {
    /// `X-Versions-Enabled` as `config_true_value` reads it (nil when not sent, or when the
    /// cluster does not allow object versioning: Swift without the middleware ignores it).
    func versionsEnabledUpdate() -> Bool? {
        guard service.settings.allowObjectVersioning, let v = headers["x-versions-enabled"] else { return nil }
        return ["true", "1", "yes", "on", "t", "y"].contains(v.trimmingCharacters(in: .whitespaces).lowercased())
    }

    /// Applies `X-Versions-Enabled` to a container's metadata (inside the write's transaction).
    /// Enabling the first time makes the versions container; it stays when versioning is
    /// turned off again (suspended). One container uses one versioning mode: enabling on a
    /// container with a legacy `X-Versions-Location`/`X-History-Location` is Swift's 400; setting
    /// a legacy location on a container that has object versions is refused as well (Swift
    /// accepts it and then runs both modes on every write).
    static func applyVersioning(_ enabled: Bool?, updates: [String: String?], container: String, to meta: inout [String: String]) throws {
        let legacy = meta["x-versions-location"] != nil || meta["x-history-location"] != nil
        if let enabled {
            if legacy {
                throw NimbusError.badRequest("Cannot enable object versioning on a container that is already using the legacy versioned writes feature.")
            }
            meta[ObjectIndex.versionsEnabledKey] = enabled ? "True" : "False"
            if enabled, meta[ObjectIndex.versionsContainerKey] == nil {
                meta[ObjectIndex.versionsContainerKey] = PercentEncoding.encode("\u{0}versions\u{0}" + container, safe: "/")
            }
        } else if legacy, meta[ObjectIndex.versionsContainerKey] != nil,
                  (updates["x-versions-location"] ?? nil) != nil || (updates["x-history-location"] ?? nil) != nil {
            throw NimbusError.badRequest("Cannot use the legacy versioned writes feature on a container that has object versioning.")
        }
    }

    /// Whether the answer may be JSON, the only format of a versions listing (swob's
    /// `best_match(['application/json'])` of the Accept header listing_formats.py leaves).
    func acceptsJSON() throws(NimbusError) -> Bool {
        if let f = query("format") { return f.lowercased().sameBytes(as: "json") }
        guard let accept = headers[.accept], !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return true }
        return try Self.mediaRanges(accept).contains { $0.q > 0 && Self.matches($0.type, "application/json") }
    }

    /// Where a versions listing starts: `marker` (an object name) and `version_marker` (a
    /// version of it, or `null`: before all of them), as object_versioning.py `_list_versions`
    /// reads them.
    func versionListingStart() throws(NimbusError) -> ObjectIndex.VersionMarker? {
        let versionMarker = query("version_marker")
        guard let marker = query("marker") else {
            if versionMarker != nil { throw .badRequest("version_marker param requires marker") }
            return nil
        }
        guard let versionMarker else { return .after(marker) }
        if versionMarker.sameBytes(as: "null") { return .before(marker) }
        guard let id = VersionID.normalize(versionMarker) else { throw .badRequest("invalid version_marker param") }
        return .init(name: marker, key: ObjectIndex.versionKey(id))
    }

    /// `GET <container>?versions`: the plain (`null`) objects and every version, delete markers
    /// included, by name and newest first, each with `version_id` and `is_latest`; JSON only.
    /// Like Swift, a page lists up to `limit` current rows and `limit` versions and keeps the
    /// first `limit` of the two merged, so its cost does not grow with the versions elsewhere.
    func versionsListing(_ row: ContainerRow, headers h: HTTPFields) async throws -> Response {
        guard try acceptsJSON() else {
            throw NimbusError(.notAcceptable, "The resource is not available in a format acceptable to your browser.")
        }
        let q = try listingQuery(limit: api.limits.containerListingLimit)
        let start = try versionListingStart()
        if let d = q.delimiter, d.utf8.contains(where: { $0 == 0 || $0 == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            throw NimbusError.badRequest("invalid delimiter param")
        }
        let current = try await index.listObjects(row.account, row.name, q)
        let versions = try await index.listVersions(row.account, row.name, q, from: start)
        let version = target.version
        // Swift's build_listing: sorted by name (a subdir by its own text); equal names keep
        // their order (the plain object, then the versions), also in reverse.
        var items = [(key: String, json: JSONValue)]()
        var subdirs = Set<Name>()
        for entry in current {
            switch entry {
            case .row(let o) where o.versionID == nil:
                var e = Self.listingEntry(o, format: .json, version: version)
                e["version_id"] = "null"
                e["is_latest"] = true
                items.append((o.name, .object(e)))
            case .row: continue
            case .subdir(let d): subdirs.insert(Name(d))
            }
        }
        for entry in versions {
            switch entry {
            case .row(let v):
                var e = Self.listingEntry(v.row, format: .json, version: version)
                e["version_id"] = .string(v.row.timestamp)
                e["is_latest"] = .bool(v.isLatest)
                items.append((v.row.name, .object(e)))
            case .subdir(let d): subdirs.insert(Name(d))
            }
        }
        for d in subdirs { items.append((d.string, ["subdir": .string(d.string)])) }
        let ordered = items.enumerated().sorted { a, b in
            if a.element.key.sameBytes(as: b.element.key) { return a.offset < b.offset }
            return q.reverse ? b.element.key.bytesPrecede(a.element.key) : a.element.key.bytesPrecede(b.element.key)
        }
        let page = ordered.prefix(q.limit).map(\.element.json)
        return .swift(.ok, headers: h, body: JSONValue.array(Array(page)).serializedString(), contentType: "application/json; charset=utf-8")
    }
}
