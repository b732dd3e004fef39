import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// One Swift API request: authorization (keystoneauth's rules plus container ACLs and temp
/// URLs), then the account, container or object operation.
struct SwiftRequest {
    let api: SwiftAPI
    let request: Request
    let context: NimbusRequestContext
    let target: SwiftAPI.Target
    /// The caller's rights on the account: keystoneauth's roles, then the account's ACL
    /// (`applyAccountACL`).
    var level: SwiftAccessPolicy.Level
    var service: ObjectStorageService { api.service }
    var index: ObjectIndex { api.service.index }
    var method: HTTPRequest.Method { request.method }
    var headers: HTTPFields { request.headers }
    /// Set when a valid temp URL signature authorizes this request.
    var tempURL = false
    /// What the temp URL's key reaches besides the signed path (segments of a large object):
    /// the account (an account key) or the container (a container key).
    var tempURLScope: TempURLScope = .container
    enum TempURLScope: Sendable { case account, container }
    /// The expiry of the temp URL that authorized this request.
    var tempURLExpires: Int?
    /// The container's metadata, once loaded for CORS.
    var corsContainer: ContainerRow?
    /// Set when a valid `X-Container-Sync-Auth` authorizes this request (container sync).
    var syncAuthorized = false

    init(api: SwiftAPI, request: Request, context: NimbusRequestContext, target: SwiftAPI.Target) {
        self.api = api
        self.request = request
        self.context = context
        self.target = target
        self.level = api.access.level(context.auth, account: target.account)
    }

    var isOwner: Bool { level == .owner || level == .reseller }
    var canReadAccount: Bool { isOwner || level == .reader || level == .readWrite }

    /// A request for `target` with the same caller and the rights the caller has on that
    /// target's account (its account ACL read when it is another account).
    static func make(api: SwiftAPI, request: Request, context: NimbusRequestContext, target: SwiftAPI.Target) async throws -> SwiftRequest {
        var r = SwiftRequest(api: api, request: request, context: context, target: target)
        try await r.applyAccountACL()
        return r
    }

    /// This request aimed at `target` (see `make`); in the same account the rights are the same.
    func sibling(_ target: SwiftAPI.Target) async throws -> SwiftRequest {
        var r = SwiftRequest(api: api, request: request, context: context, target: target)
        if target.account.sameBytes(as: self.target.account) { r.level = level } else { try await r.applyAccountACL() }
        return r
    }

    /// tempauth's account ACL rules (`X-Account-Access-Control`) for a caller whose roles do not
    /// already own the account: `admin` owns it, `read-write` writes below it, `read-only` reads.
    mutating func applyAccountACL() async throws {
        guard level == .other || level == .reader, let auth = context.auth,
              let row = try await index.account(target.account), let acl = AccountACL.stored(row.metadata), let grant = acl.grant(auth) else { return }
        switch grant {
        case .admin: level = .owner
        case .readWrite: level = .readWrite
        case .readOnly: level = .reader
        }
    }

    func deny() -> NimbusError {
        context.auth == nil
            ? .unauthorized("This server could not verify that you are authorized to access the document you requested.")
            : .forbidden("Access was denied to this resource.")
    }

    /// A query value as swob reads it (`parse_qsl`: `+` is a space, names compare as bytes).
    func query(_ name: String) -> String? { request.queryString.last(name) }
    /// Whether the query string names `name`, with or without a value (`?bulk-delete`).
    func hasQuery(_ name: String) -> Bool { request.queryString.contains(name) }

    // MARK: metadata

    /// The `X-<kind>-Meta-*` (and `X-Remove-<kind>-Meta-*`) headers of the request, validated
    /// against Swift's limits: name → new value, or nil to remove.
    /// Empty values remove account and container metadata; objects keep them (as Swift does).
    func metadataUpdates(_ kind: String, extra: [String] = []) throws(NimbusError) -> [String: String?] {
        let keepEmpty = kind == "object"
        let prefix = "x-\(kind)-meta-"
        let removePrefix = "x-remove-\(kind)-meta-"
        var out = [String: String?]()
        for field in headers {
            let name = field.name.canonicalName
            if name.hasPrefix(prefix) {
                let key = String(name.dropFirst(prefix.count))
                guard !key.isEmpty else { throw .badRequest("Metadata name cannot be empty") }
                let value = try Self.metadataText(field)
                out[prefix + key] = value.isEmpty && !keepEmpty ? String?.none : value
            } else if name.hasPrefix(removePrefix) {
                let key = String(name.dropFirst(removePrefix.count))
                if !key.isEmpty, out[prefix + key] == nil { out[prefix + key] = String?.none }
            } else if extra.contains(name) {
                let value = try Self.metadataText(field)
                out[name] = value.isEmpty ? String?.none : value
            } else if name.hasPrefix("x-remove-"), extra.contains("x-" + name.dropFirst("x-remove-".count)) {
                out["x-" + String(name.dropFirst("x-remove-".count))] = String?.none
            }
        }
        try Self.checkMetadata(out.compactMapValues { $0 }, prefix: prefix, limits: api.limits)
        return out
    }

    /// A metadata header's value, which must be UTF-8. Swift refuses other bytes for accounts and
    /// containers (`check_metadata`: "Metadata must be valid UTF-8") and keeps them for objects;
    /// Nimbus cannot keep them: NIO's HTTP/1 parser has already turned each such byte into
    /// U+FFFD. Storing that would answer success and give back other bytes, so a value carrying
    /// U+FFFD is refused for objects too (a client that sends a real U+FFFD is refused as well).
    static func metadataText(_ field: HTTPField) throws(NimbusError) -> String {
        let value = field.value
        if value.unicodeScalars.contains("\u{FFFD}") { throw .badRequest("Metadata must be valid UTF-8") }
        return value
    }

    /// Swift's metadata limits, on the request's headers and again, for accounts and
    /// containers, on the metadata as merged (db.py `validate_metadata`): ten POSTs of 90 items
    /// do not leave 900.
    static func checkMetadata(_ meta: [String: String], prefix: String, limits l: SwiftConstraints) throws(NimbusError) {
        var count = 0, size = 0
        for (k, v) in meta where k.hasBytePrefix(prefix) {
            let key = k.dropFirst(prefix.count)
            if key.utf8.count > l.maxMetaNameLength { throw .badRequest("Metadata name too long: \(k); max \(l.maxMetaNameLength)") }
            let valueBytes = v.utf8.count
            if valueBytes > l.maxMetaValueLength { throw .badRequest("Metadata value longer than \(l.maxMetaValueLength): \(k)") }
            count += 1
            size += key.utf8.count + valueBytes
        }
        if count > l.maxMetaCount { throw .badRequest("Too many metadata items; max \(l.maxMetaCount)") }
        if size > l.maxMetaOverallSize { throw .badRequest("Total metadata too large; max \(l.maxMetaOverallSize)") }
    }

    static func apply(_ updates: [String: String?], to meta: inout [String: String]) {
        for (k, v) in updates {
            if let v { meta[k] = v } else { meta[k] = nil }
        }
    }

    static func emit(_ meta: [String: String], into h: inout HTTPFields, only: (String) -> Bool = { _ in true }) {
        for (k, v) in meta.sorted(by: { $0.key.bytesPrecede($1.key) }) where only(k) {
            if let name = HTTPField.Name(k) { h[name] = v }
        }
    }

    // MARK: account

    mutating func account() async throws -> Response {
        let acct = target.account
        switch method {
        case .get, .head:
            _ = try listingFormat()  // 406 before anything else, as Swift's listing_formats does
            guard canReadAccount else { throw deny() }
            var h = try await accountHeaders(acct)
            if method == .head { return .swift(.noContent, headers: h, contentType: listingContentType()) }
            let q = try listingQuery(limit: api.limits.accountListingLimit)
            let entries = try await index.listContainers(acct, q)
            return listing(entries, format: try listingFormat(), headers: &h, root: ("account", acct)) { c, fmt in
                switch fmt {
                // account/utils.py lists each container's storage policy by name.
                case .json:
                    var e: JSONObject = ["name": .string(c.name), "count": .int(Int64(c.objectCount)), "bytes": .int(Int64(c.reportedBytes)),
                                         "last_modified": .string(HTTPDate.iso(c.putTimestamp))]
                    if let p = policies.policy(index: c.policy) { e["storage_policy"] = .string(p.name) }
                    return e
                default:
                    var e: JSONObject = ["name": .string(c.name), "count": .string(String(c.objectCount)), "bytes": .string(String(c.reportedBytes)),
                                         "last_modified": .string(HTTPDate.iso(c.putTimestamp))]
                    if let p = policies.policy(index: c.policy) { e["storage_policy"] = .string(p.name) }
                    return e
                }
            }
        case .post:
            if hasQuery("bulk-delete") { return try await bulkDelete() }
            guard isOwner else { throw deny() }
            let policyQuotas = Self.policyQuotaHeaders(policies)
            var updates = try metadataUpdates("account", extra: ["x-account-quota-bytes", "x-account-quota-count"] + policyQuotas.map(\.header))
            for quotaKey in ["x-account-meta-quota-bytes", "x-account-quota-bytes", "x-account-quota-count"] + policyQuotas.map(\.header) where updates.keys.contains(quotaKey) {
                guard level == .reseller else { throw NimbusError.forbidden("Only a reseller admin may set account quotas.") }
                if let v = updates[quotaKey] ?? nil, Int(v) == nil || Int(v)! < 0 { throw NimbusError.badRequest("Invalid quota value \(v)") }
            }
            // account_quotas.py keeps per-policy quotas as system metadata by policy index.
            for q in policyQuotas where updates.keys.contains(q.header) {
                updates[q.key] = updates[q.header]!
                updates[q.header] = nil
            }
            // X-Account-Quota-Bytes (Swift 2.34+) and the older X-Account-Meta-Quota-Bytes are one setting.
            if let v = updates["x-account-quota-bytes"] {
                updates["x-account-meta-quota-bytes"] = v
                updates["x-account-quota-bytes"] = nil
            }
            if let raw = headers["x-account-access-control"] { updates[AccountACL.key] = try Self.accountACLUpdate(raw, limits: api.limits) }
            let u = updates
            let limits = api.limits
            try await index.updateAccountMetadata(acct, timestamp: service.timestamp()) {
                Self.apply(u, to: &$0)
                try Self.checkMetadata($0, prefix: "x-account-meta-", limits: limits)
            }
            return .swift(.noContent, headers: try await accountHeaders(acct))
        case .delete where hasQuery("bulk-delete"):
            return try await bulkDelete()
        default:
            throw NimbusError(.methodNotAllowed, "The method is not allowed for this resource.")
        }
    }

    func accountHeaders(_ acct: String) async throws -> HTTPFields {
        let row = try await index.account(acct)
        let stats = try await index.accountStats(acct)
        var h = HTTPFields()
        h["X-Account-Container-Count"] = String(stats.containers)
        h["X-Account-Object-Count"] = String(stats.objects)
        h["X-Account-Bytes-Used"] = String(stats.bytes)
        let ts = row?.putTimestamp ?? service.timestamp()
        h["X-Timestamp"] = ts
        h["X-Put-Timestamp"] = ts
        // account/utils.py: usage per storage policy that has containers in the account.
        for (policyIndex, s) in try await index.accountPolicyStats(acct) {
            guard let p = policies.policy(index: policyIndex) else { continue }
            h[HTTPField.Name("X-Account-Storage-Policy-\(p.name)-Container-Count")!] = String(s.containers)
            h[HTTPField.Name("X-Account-Storage-Policy-\(p.name)-Object-Count")!] = String(s.objects)
            h[HTTPField.Name("X-Account-Storage-Policy-\(p.name)-Bytes-Used")!] = String(s.bytes)
        }
        for q in Self.policyQuotaHeaders(policies) {
            if let v = row?.metadata[q.key] { h[HTTPField.Name(q.display)!] = v }
        }
        let owner = isOwner
        if let row { Self.emit(row.metadata, into: &h) { !$0.hasBytePrefix("x-account-sysmeta-") && (owner || !$0.containsBytes("temp-url-key")) } }
        // proxy/controllers/account.py `add_acls_from_sys_metadata`, for the account's owners.
        if owner, let raw = row?.metadata[AccountACL.key], let acl = AccountACL.format(raw) { h["X-Account-Access-Control"] = acl }
        if let legacy = row?.metadata["x-account-meta-quota-bytes"] { h["X-Account-Quota-Bytes"] = legacy }
        return h
    }

    // MARK: container

    /// A container GET or HEAD (a listing) needs the account's readers, a group of the read
    /// ACL, or `.rlistings` with an allowed referrer. Returns the container (nil if missing).
    func authorizeListing() async throws -> ContainerRow? {
        let row = try await index.container(target.account, target.container!)
        if !canReadAccount {
            let acl = ContainerACL(row?.metadata["x-container-read"])
            let allowed = (context.auth.map { acl.grants($0) } ?? false) || (acl.listings && acl.referrerAllowed(headers[.referer]))
            guard allowed else { throw deny() }
        }
        return row
    }

    mutating func container() async throws -> Response {
        let acct = target.account, name = target.container!
        switch method {
        case .put:
            guard isOwner || level == .readWrite else { throw deny() }
            let updates = try containerUpdates()
            let (enabled, limits) = (versionsEnabledUpdate(), api.limits)
            let requested = try requestedStoragePolicy()
            let result = try await index.putContainer(acct, name, timestamp: service.timestamp(),
                                                      policy: (requested ?? service.policies.defaultPolicy).index, requestedPolicy: requested?.index) {
                let before = $0
                Self.apply(updates, to: &$0)
                try Self.applyVersioning(enabled, updates: updates, container: name, to: &$0)
                try Self.checkSyncVersioning(enabled, updates: updates, before: before)
                try Self.checkMetadata($0, prefix: "x-container-meta-", limits: limits)
            }
            switch result {
            case .created: return .swift(.created)
            case .updated: return .swiftAccepted()
            // container/server.py: an existing container keeps its policy.
            case .policyConflict: throw NimbusError.conflict("There was a conflict when trying to complete your request.")
            }
        case .post:
            guard isOwner || level == .readWrite else { throw deny() }
            let updates = try containerUpdates()
            let (enabled, limits) = (versionsEnabledUpdate(), api.limits)
            let found = try await index.updateContainerMetadata(acct, name) {
                let before = $0
                Self.apply(updates, to: &$0)
                try Self.applyVersioning(enabled, updates: updates, container: name, to: &$0)
                try Self.checkSyncVersioning(enabled, updates: updates, before: before)
                try Self.checkMetadata($0, prefix: "x-container-meta-", limits: limits)
            }
            guard found else { throw NimbusError.notFound("The resource could not be found.") }
            return .swift(.noContent)
        case .delete:
            guard isOwner || level == .readWrite else { throw deny() }
            switch try await index.deleteContainer(acct, name) {
            case .deleted: return .swift(.noContent)
            case .notFound: throw NimbusError.notFound("The resource could not be found.")
            case .notEmpty: throw NimbusError.conflict("There was a conflict when trying to complete your request.")
            case .hasVersions: throw NimbusError.conflict("Delete all versions before deleting container.")
            }
        case .get, .head:
            _ = try listingFormat()
            let row = try await authorizeListing()
            guard let row else { throw NimbusError.notFound("The resource could not be found.") }
            corsContainer = row
            var h = containerHeaders(row)
            if method == .head { return .swift(.noContent, headers: h, contentType: listingContentType()) }
            if hasQuery("versions"), service.settings.allowObjectVersioning { return try await versionsListing(row, headers: h) }
            let q = try listingQuery(limit: api.limits.containerListingLimit)
            let entries = try await index.listObjects(acct, name, q)
            let fmt = try listingFormat()
            let version = target.version
            return listing(entries, format: fmt, headers: &h, root: ("container", name)) { o, fmt in
                var e = Self.listingEntry(o, format: fmt, version: version)
                // object_versioning.py: a current row that shows a version is listed with the
                // version's size and ETag and a `symlink_path` that names it.
                if fmt == .json, let id = o.versionID {
                    e["symlink_path"] = .string(PercentEncoding.encode("/\(version)/\(o.account)/\(o.container)/\(o.name)", safe: "/") + "?version-id=\(id)")
                    e["version_symlink"] = true
                }
                return e
            }
        default:
            throw NimbusError(.methodNotAllowed, "The method is not allowed for this resource.")
        }
    }

    /// A container listing's entry for `o` (its SLO size and ETag, and for JSON its symlink
    /// fields), as the container server and the SLO and symlink middlewares make it.
    static func listingEntry(_ o: ObjectRow, format fmt: ListingFormat, version: String) -> JSONObject {
        let etag = o.metadata["x-object-sysmeta-slo-etag"] ?? o.etag
        var e: JSONObject = ["name": .string(o.name), "hash": .string(etag), "content_type": .string(o.contentType),
                             "last_modified": .string(HTTPDate.iso(o.lastModified))]
        let bytes = Int(o.metadata["x-object-sysmeta-slo-size"] ?? "") ?? o.size
        e["bytes"] = fmt == .json ? .int(Int64(bytes)) : .string(String(bytes))
        if o.metadata["x-static-large-object"] != nil, fmt == .json { e["slo_etag"] = .string("\"\(etag)\"") }
        if fmt == .json, o.versionID == nil || o.isVersionRecord { Self.addSymlinkFields(o, version: version, to: &e) }
        return e
    }

    static let containerSettings = ["x-container-read", "x-container-write", "x-versions-location", "x-history-location",
                                    "x-container-sync-to", "x-container-sync-key"]

    /// What only the account's owners may set or see on a container (the proxy's
    /// `swift_owner_headers`).
    static let ownerOnlySettings = ["x-container-read", "x-container-write", "x-container-sync-to", "x-container-sync-key",
                                    "x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"]

    /// tempauth's check of `X-Account-Access-Control` (400 with its message when it is not an
    /// ACL it accepts); the value to store, or nil (an empty header) to remove the ACL.
    static func accountACLUpdate(_ raw: String, limits: SwiftConstraints) throws -> String? {
        if raw.utf8.count > limits.maxHeaderSize { throw NimbusError.badRequest("Header value too long: x-account-access-control") }
        if let error = AccountACL.parse(raw).error {
            let body = "X-Account-Access-Control invalid: \(error)\n\nInput: \(raw)\n"
            throw SwiftReply(response: SwiftErrorRenderer.plain(.badRequest, body, contentType: "text/plain; charset=UTF-8"))
        }
        return raw.isEmpty ? nil : raw
    }

    func containerUpdates() throws(NimbusError) -> [String: String?] {
        var u = try metadataUpdates("container", extra: Self.containerSettings)
        for k in ["x-container-read", "x-container-write"] {
            if let v = u[k] ?? nil {
                let acl = ContainerACL(v)
                if let bad = acl.invalid.first { throw .badRequest("Invalid designator \(bad) in ACL") }
                if k == "x-container-write", !acl.referrers.isEmpty || acl.listings { throw .badRequest("Referrers not allowed in write ACL: \(v)") }
                u[k] = acl.cleaned.joined(separator: ",")
            }
        }
        for k in ["x-container-meta-quota-bytes", "x-container-meta-quota-count"] {
            if let v = u[k] ?? nil, Int(v) == nil || Int(v)! < 0 { throw .badRequest(k.hasSuffix("bytes") ? "Invalid bytes quota." : "Invalid count quota.") }
        }
        // versioned_writes/legacy.py `container_request` and constraints.py `check_container_format`.
        if (u["x-versions-location"] ?? nil) != nil && (u["x-history-location"] ?? nil) != nil {
            throw .badRequest("Only one of x-versions-location or x-history-location may be specified")
        }
        for k in ["x-versions-location", "x-history-location"] {
            if let v = u[k] ?? nil {
                guard let d = PercentEncoding.decode(v), !d.utf8.contains(0) else { throw .preconditionFailed("Invalid UTF8 or contains NULL") }
                if d.isEmpty { throw .preconditionFailed("Container name cannot be empty") }
                if d.containsByte("/") { throw .preconditionFailed("Container name cannot contain slashes") }
                u[k] = d
                // Setting one mode clears the other, as Swift does.
                u[k == "x-versions-location" ? "x-history-location" : "x-versions-location"] = String?.none
            }
        }
        // The proxy drops `swift_owner_headers` from a request that does not own the account.
        if !isOwner { for k in Self.ownerOnlySettings { u[k] = nil } }
        try checkSyncTo(u)
        return u
    }

    func containerHeaders(_ row: ContainerRow) -> HTTPFields {
        var h = HTTPFields()
        h["X-Container-Object-Count"] = String(row.objectCount)
        h["X-Container-Bytes-Used"] = String(row.reportedBytes)
        h["X-Timestamp"] = row.putTimestamp
        h["X-Put-Timestamp"] = row.putTimestamp
        h[.lastModified] = HTTPDate.lastModified(row.putTimestamp)
        if let p = policies.policy(index: row.policy) { h["X-Storage-Policy"] = p.name }
        h[.acceptRanges] = "bytes"
        let owner = isOwner
        Self.emit(row.metadata, into: &h) { k in
            !k.hasBytePrefix("x-container-sysmeta-")
                && (owner || !(k.sameBytes(as: "x-container-read") || k.sameBytes(as: "x-container-write") || k.hasBytePrefix("x-container-sync")
                               || k.containsBytes("temp-url-key")))
        }
        if service.settings.allowObjectVersioning, let enabled = row.metadata[ObjectIndex.versionsEnabledKey] { h["X-Versions-Enabled"] = enabled }
        return h
    }

    // MARK: listings

    enum ListingFormat { case plain, json, xml }

    /// `listing_formats.py get_listing_content_type`: `format=` (an unknown one is plain) wins;
    /// otherwise the best match of Accept among text/plain, application/json, application/xml and
    /// text/xml (q-values, wildcards; no header: plain); nothing acceptable is a 406.
    func listingFormat() throws(NimbusError) -> ListingFormat {
        if let f = query("format")?.lowercased() {
            switch f {
            case "json": return .json
            case "xml": return .xml
            default: return .plain
            }
        }
        guard let accept = headers[.accept], !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return .plain }
        let offers: [(String, ListingFormat)] = [("text/plain", .plain), ("application/json", .json), ("application/xml", .xml), ("text/xml", .xml)]
        for r in try Self.mediaRanges(accept) where r.q > 0 {
            for (offer, format) in offers where Self.matches(r.type, offer) { return format }
        }
        throw NimbusError(.notAcceptable, "The resource is not available in a format acceptable to your browser.")
    }

    /// An Accept header's media ranges, best first (q, then fewer wildcards, then order).
    static func mediaRanges(_ accept: String) throws(NimbusError) -> [(type: String, q: Double)] {
        var ranges = [(type: String, q: Double, globs: Int, index: Int)]()
        for (i, item) in accept.splitBytes(",").enumerated() {
            let parts = item.splitBytes(";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first, !type.isEmpty else { continue }
            let halves = type.splitBytes("/", omittingEmpty: false)
            guard halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty else { throw .badRequest("Invalid Accept header") }
            var q = 1.0
            for p in parts.dropFirst() {
                guard let qv = p.droppingBytePrefix("q=") else { continue }
                guard let v = Double(qv), v >= 0, v <= 1 else { throw .badRequest("Invalid Accept header") }
                q = v
            }
            ranges.append((type, q, type.utf8.filter { $0 == UInt8(ascii: "*") }.count, i))
        }
        ranges.sort { ($0.q, -$0.globs, -$0.index) > ($1.q, -$1.globs, -$1.index) }
        return ranges.map { ($0.type, $0.q) }
    }

    /// Whether a media range (`*/*`, `application/*`, …) covers the media type `offer`.
    static func matches(_ range: String, _ offer: String) -> Bool {
        let want = range.splitBytes("/"), has = offer.splitBytes("/")
        return (want[0].sameBytes(as: "*") || want[0].sameBytes(as: has[0])) && (want[1].sameBytes(as: "*") || want[1].sameBytes(as: has[1]))
    }

    func listingContentType() -> String {
        switch (try? listingFormat()) ?? .plain {
        case .json: "application/json; charset=utf-8"
        case .xml: "application/xml; charset=utf-8"
        case .plain: "text/plain; charset=utf-8"
        }
    }

    func listingQuery(limit max: Int) throws(NimbusError) -> ListingQuery {
        var q = ListingQuery()
        q.limit = max
        // Swift ignores a limit that is not a non-negative integer.
        if let l = query("limit"), let n = Int(l), n >= 0 {
            if n > max { throw .preconditionFailed("Maximum limit is \(max)") }
            q.limit = n
        }
        q.marker = query("marker") ?? ""
        q.endMarker = query("end_marker") ?? ""
        q.prefix = query("prefix") ?? ""
        if let d = query("delimiter"), !d.isEmpty {
            guard d.unicodeScalars.count == 1, d.unicodeScalars.first!.value <= 254 else { throw .preconditionFailed("Bad delimiter") }
            q.delimiter = d
        }
        if let path = query("path") {
            // Swift's legacy `path=` listing: the direct children of a pseudo-directory.
            q.prefix = path.isEmpty || path.hasByteSuffix("/") ? path : path + "/"
            q.delimiter = "/"
        }
        q.reverse = ["true", "1", "yes", "on", "t", "y"].contains((query("reverse") ?? "").lowercased())
        return q
    }

    func listing<Row: Sendable>(_ entries: [ListingEntry<Row>], format: ListingFormat, headers h: inout HTTPFields, root: (String, String),
                                _ fields: (Row, ListingFormat) -> JSONObject) -> Response {
        switch format {
        case .plain:
            if entries.isEmpty { return .swift(.noContent, headers: h, contentType: "text/plain; charset=utf-8") }
            var s = ""
            for e in entries {
                switch e {
                case .row(let r): s += (fields(r, .plain)["name"]?.stringValue ?? "") + "\n"
                case .subdir(let d): s += d + "\n"
                }
            }
            return .swift(.ok, headers: h, body: s, contentType: "text/plain; charset=utf-8")
        case .json:
            let items: [JSONValue] = entries.map { e in
                switch e {
                case .row(let r): return .object(fields(r, .json))
                case .subdir(let d): return ["subdir": .string(d)]
                }
            }
            return .swift(.ok, headers: h, body: JSONValue.array(items).serializedString(), contentType: "application/json; charset=utf-8")
        case .xml:
            let item = root.0 == "account" ? "container" : "object"
            let order = root.0 == "account" ? ["name", "count", "bytes", "last_modified"] : ["name", "hash", "bytes", "content_type", "last_modified"]
            var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(root.0) name=\"\(xml(root.1))\">"
            for e in entries {
                switch e {
                case .row(let r):
                    let f = fields(r, .xml)
                    // listing_formats.py: an account's container names its storage policy after the fixed fields.
                    let optional = root.0 == "account" ? ["storage_policy"].filter { f[$0] != nil } : []
                    s += "<\(item)>" + (order + optional).map { k in "<\(k)>\(xml(f[k]?.stringValue ?? ""))</\(k)>" }.joined() + "</\(item)>"
                case .subdir(let d):
                    s += "<subdir name=\"\(xml(d))\"><name>\(xml(d))</name></subdir>"
                }
            }
            s += "</\(root.0)>"
            let textXML = query("format") == nil && (headers[.accept]?.lowercased().containsBytes("text/xml") ?? false)
            return .swift(.ok, headers: h, body: s, contentType: textXML ? "text/xml; charset=utf-8" : "application/xml; charset=utf-8")
        }
    }

    /// XML text and attribute escaping, scalar by scalar (a `<` followed by a combining mark
    /// is still a `<`).
    func xml(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            switch c {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            default: out.append(c)
            }
        }
        return String(out)
    }
}

extension NimbusError {
    static func preconditionFailed(_ m: String) -> NimbusError { .init(.preconditionFailed, m) }
}
