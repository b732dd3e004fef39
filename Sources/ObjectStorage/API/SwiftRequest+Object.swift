import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

extension SwiftRequest {
    /// Object operations need the account's owner, a reader (GET/HEAD), a container ACL, or a
    /// temp URL. Returns the container (nil if it does not exist).
    func authorizeObject(write: Bool) async throws -> ContainerRow? {
        let row = try await index.container(target.account, target.container!)
        if tempURL || syncAuthorized || isOwner || level == .readWrite || (level == .reader && !write) { return row }
        let acl = ContainerACL(row?.metadata[write ? "x-container-write" : "x-container-read"])
        if let auth = context.auth, acl.grants(auth) { return row }
        // Referrer rules (`.r:*`) let anyone read objects, with or without a token (keystoneauth).
        if !write, acl.referrerAllowed(headers[.referer]) { return row }
        throw deny()
    }

    mutating func object() async throws -> Response {
        try await checkTempURL()
        // A COPY's (or X-Copy-From's) version-id names its source's version (copy.py reads the
        // source with the request's query, then drops version-id from the PUT).
        if let raw = versionIDParam, method != HTTPRequest.Method("COPY")!, !(method == .put && headers["x-copy-from"] != nil) {
            return try await objectVersion(raw)
        }
        switch method {
        case .get, .head: return try await getObject()
        case .put: return try await putObject()
        case .post: return try await postObject()
        case .delete: return try await deleteObject()
        case HTTPRequest.Method("COPY")!: return try await copyObject()
        default: throw NimbusError(.methodNotAllowed, "The method is not allowed for this resource.")
        }
    }

    // MARK: GET / HEAD

    /// The visible version of an object: nil when missing or past its X-Delete-At.
    func liveObject(_ account: String, _ container: String, _ name: String) async throws -> ObjectRow? {
        try await service.visibleObject(account, container, name)
    }

    /// `disposition_format`: `<type>; filename="<quote(name, safe=' /')>"; filename*=UTF-8''<quote(name)>`.
    static func disposition(_ type: String, _ name: String) -> String {
        let quoted = PercentEncoding.encode(name, safe: "/")
        let plain = PercentEncoding.encode(name, safe: " /")
        return "\(type); filename=\"\(plain)\"; filename*=UTF-8''\(quoted)"
    }

    /// Whether a Range header has a suffix spec `-N` with N > 0.
    static func hasPositiveSuffix(_ header: String) -> Bool {
        guard let (_, specs) = header.splitOnceBytes("=") else { return false }
        return specs.splitBytes(",").contains { spec in
            let t = spec.trimmingCharacters(in: .whitespaces)
            return (t.droppingBytePrefix("-").flatMap { Int($0) } ?? 0) > 0
        }
    }

    mutating func getObject() async throws -> Response {
        let container = try await authorizeObject(write: false)
        corsContainer = container
        // object_versioning.py tells which version every answer (a 404 too) is about.
        let versioned = container.map { service.versioning(of: $0) != .never } ?? false
        guard container != nil, let row = try await liveObject(target.account, target.container!, target.object!) else {
            if versioned {
                var h = HTTPFields()
                h["X-Object-Version-Id"] = Self.nullVersion
                throw Self.notFound(h)
            }
            throw NimbusError.notFound("The resource could not be found.")
        }
        var response = row.isSymlink && query("symlink") != "get" ? try await getThroughLink(row) : try await serveObject(row)
        if versioned { addVersionHeaders(&response, row) }
        return response
    }

    /// The GET/HEAD answer for `row`, which this request may read. `requestedName` is the
    /// object the client asked for (a symlink's name when `row` is its target): a temp URL's
    /// default Content-Disposition names it, as tempurl.py takes it from the request path.
    func serveObject(_ row: ObjectRow, requestedName: String? = nil) async throws -> Response {
        if query("multipart-manifest") == "get", row.metadata["x-static-large-object"] != nil {
            return try await manifestResponse(row)
        }
        let body = try await ObjectBody.resolve(row, request: self)
        var h = objectHeaders(row, etag: body.etag, length: body.length)
        if row.isStaticLargeObject, query("multipart-manifest") != "get" { h["X-Manifest-Etag"] = row.etag }
        if row.isSymlink { Self.symlinkHeaders(row, into: &h) }
        if tempURL {
            // Temp URL responses carry only X-Object-Meta-Public-* of the user metadata.
            for f in h where f.name.canonicalName.hasPrefix("x-object-meta-") && !f.name.canonicalName.hasPrefix("x-object-meta-public-") {
                h[f.name] = nil
            }
            // tempurl.py: Expires from the URL, and a Content-Disposition built by disposition_format.
            if let expires = tempURLExpires {
                h[HTTPField.Name("Expires")!] = Timestamps.httpDate(Date(timeIntervalSince1970: TimeInterval(expires)))
            }
            let filename = query("filename")
            if hasQuery("inline") {
                h[.contentDisposition] = filename.map { Self.disposition("inline", $0) } ?? "inline"
            } else if let filename {
                h[.contentDisposition] = Self.disposition("attachment", filename)
            } else if row.metadata["content-disposition"] == nil {
                h[.contentDisposition] = Self.disposition("attachment", String((requestedName ?? row.name).splitBytes("/").last ?? ""))
            }
        }
        if body.knownLength == nil {
            // A DLO of more than one listing page (dlo.py): no Content-Length or ETag, the body
            // chunked, ranges not served.
            h[.contentLength] = nil
            h[.eTag] = nil
            if method == .head { return Response(status: .ok, headers: h) }
            let reader = try await body.reader(nil)
            return Response(status: .ok, headers: h, body: body.stream(reader, contentLength: nil, logger: context.logger))
        }
        if let r = try checkConditions(etag: body.etag, lastModified: row.lastModified, headers: h) { return r }
        // Ranges of an empty object are ignored (Swift answers 200 with the empty body).
        // swob: on an empty object only a suffix range (`-N`, N > 0) is satisfiable (200 with
        // the empty body); any other range is a 416.
        var ranges = headers[.range].flatMap { ByteRanges.parse($0, size: body.length) }
        if body.length == 0, let h = headers[.range], ranges?.isEmpty == true, Self.hasPositiveSuffix(h) { ranges = nil }
        if let ranges {
            guard !ranges.isEmpty else {
                var eh = HTTPFields()
                eh[.contentRange] = "bytes */\(body.length)"
                var resp = SwiftErrorRenderer.page(.rangeNotSatisfiable, "The Range requested is not available.")
                resp.headers[.contentRange] = "bytes */\(body.length)"
                return resp
            }
            if ranges.count == 1 {
                let r = ranges[0]
                h[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(body.length)"
                h[.contentLength] = String(r.count)
                if method == .head { return Response(status: .partialContent, headers: h) }
                let reader = try await body.reader([r])
                return Response(status: .partialContent, headers: h, body: body.stream(reader, contentLength: r.count, logger: context.logger))
            }
            let boundary = Identifiers.hex32()
            let ct = h[.contentType] ?? "application/octet-stream"
            let parts = ranges.map { r in
                ("--\(boundary)\r\nContent-Type: \(ct)\r\nContent-Range: bytes \(r.lowerBound)-\(r.upperBound - 1)/\(body.length)\r\n\r\n", r)
            }
            let closing = "\r\n--\(boundary)--"
            let total = parts.enumerated().reduce(0) { acc, p in acc + (p.offset > 0 ? 2 : 0) + p.element.0.utf8.count + p.element.1.count } + closing.utf8.count
            h[.contentType] = "multipart/byteranges;boundary=\(boundary)"
            h[.contentLength] = String(total)
            if method == .head { return Response(status: .partialContent, headers: h) }
            let reader = try await body.reader(ranges)
            return Response(status: .partialContent, headers: h, body: body.multipart(reader, heads: parts.map(\.0), closing: closing, logger: context.logger))
        }
        if method == .head { return Response(status: .ok, headers: h) }
        let reader = try await body.reader(nil)
        return Response(status: .ok, headers: h, body: body.stream(reader, contentLength: body.length, logger: context.logger))
    }

    func objectHeaders(_ row: ObjectRow, etag: String, length: Int) -> HTTPFields {
        var h = HTTPFields()
        h[.contentType] = row.contentType
        h[.contentLength] = String(length)
        h[.eTag] = etag
        h[.lastModified] = HTTPDate.lastModified(row.lastModified)
        h["X-Timestamp"] = row.lastModified
        h[.acceptRanges] = "bytes"
        for (k, v) in row.metadata.sorted(by: { $0.key < $1.key }) {
            if k.hasPrefix("x-object-sysmeta-") { continue }
            if k == "x-static-large-object" { h["X-Static-Large-Object"] = "True"; continue }
            if let name = HTTPField.Name(k) { h[name] = v }
        }
        if let at = row.deleteAt { h["X-Delete-At"] = String(at) }
        return h
    }

    /// If-None-Match, If-Match, If-Modified-Since and If-Unmodified-Since, in the order of swob's
    /// `_get_conditional_response_status`: a 304/412 answer when they say so, nil to go on. The
    /// answer is swob's: the object's headers, no body, `Content-Length: 0`.
    func checkConditions(etag: String, lastModified: String, headers out: HTTPFields) throws -> Response? {
        let bare = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        func matches(_ header: String) -> Bool {
            header.splitBytes(",").contains { t in
                let v = t.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return v.sameBytes(as: "*") || v.sameBytes(as: bare)
            }
        }
        func answer(_ status: HTTPResponse.Status) -> Response {
            var h = out
            h[.contentLength] = "0"
            return Response(status: status, headers: h)
        }
        if let inm = headers[.ifNoneMatch], matches(inm) { return answer(.notModified) }
        if let im = headers[.ifMatch], !matches(im) { return answer(.preconditionFailed) }
        let modified = (Double(lastModified) ?? 0).rounded(.up)
        if let ims = headers[.ifModifiedSince], let d = Timestamps.parseHTTPDate(ims), modified <= d.timeIntervalSince1970 {
            return answer(.notModified)
        }
        if let ius = headers[.ifUnmodifiedSince], let d = Timestamps.parseHTTPDate(ius), modified > d.timeIntervalSince1970 {
            return answer(.preconditionFailed)
        }
        return nil
    }

    // MARK: PUT

    mutating func putObject() async throws -> Response {
        if let copyFrom = headers["x-copy-from"] {
            if let cl = headers[.contentLength], cl != "0" { throw NimbusError.badRequest("Copy requests require a zero byte body") }
            if headers[.transferEncoding] != nil { throw NimbusError.badRequest("Copy requests require a zero byte body") }
            let (c, o) = try Self.splitCopyPath(copyFrom, header: "X-Copy-From")
            let srcAccount = try headers["x-copy-from-account"].map { v throws(NimbusError) in
                guard let d = PercentEncoding.decode(v) else { throw .preconditionFailed("X-Copy-From-Account header is invalid") }
                return d
            } ?? target.account
            return try await copy(from: (srcAccount, c, o), to: (target.account, target.container!, target.object!))
        }
        // symlink.py runs before the proxy: its checks of the body and headers come first.
        var link = headers["x-symlink-target"] != nil ? try await symlinkPut() : nil
        let container = try await authorizeObject(write: true)
        guard let container else { throw NimbusError.notFound("The resource could not be found.") }
        corsContainer = container
        if query("multipart-manifest") == "put" { return try await putManifest(container) }
        if headers["x-static-large-object"] != nil {
            if syncAuthorized { return try await putSyncedManifest(container) }
            throw NimbusError.badRequest("X-Static-Large-Object is a reserved header. To create a static large object add query param multipart-manifest=put.")
        }
        let length = link == nil ? try contentLength() : 0
        var meta = try objectMetadata(base: [:])
        if var checked = link {
            if !syncedStaticLink(&checked) { try await checkStaticLink(&checked) }
            meta.merge(checked.metadata) { $1 }
            link = checked
        }
        let deleteAt = try deleteAtHeader()
        let senderTimestamp = try syncTimestamp()
        if let accepted = try await syncPutSuperseded(senderTimestamp) { return accepted }
        if let inm = headers[.ifNoneMatch] {
            guard inm.trimmingCharacters(in: .whitespaces) == "*" else { throw NimbusError.badRequest("If-None-Match only supports *") }
            if try await liveObject(target.account, target.container!, target.object!) != nil {
                throw NimbusError.preconditionFailed("A precondition for this request was not met.")
            }
        }
        try await checkQuotas(container, adding: length ?? 0)
        try await versionBeforeOverwrite(container)
        var upload = ObjectStorageService.Upload(account: target.account, container: target.container!, name: target.object!,
                                                 contentType: link?.contentType ?? contentType(), metadata: meta, deleteAt: deleteAt, contentLength: length,
                                                 expectedETag: headers[.eTag]?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        upload.expectedETag = upload.expectedETag.flatMap { $0.isEmpty ? nil : $0 }
        upload.timestamp = senderTimestamp
        // A link's body is empty (checked above); the request's was read.
        let (row, superseded) = link == nil ? try await service.putReporting(upload, body: request.body, in: container)
            : try await service.putReporting(upload, body: [ByteBuffer]().async, in: container)
        // A stored version as new or newer (a sync peer's clock ahead): this write lost (Swift's 202).
        if superseded { return .swiftAccepted() }
        var h = HTTPFields()
        h[.eTag] = row.etag
        h[.lastModified] = HTTPDate.lastModified(row.timestamp)
        h["X-Timestamp"] = row.timestamp
        if let id = row.versionID { h["X-Object-Version-Id"] = id }
        return .swift(.created, headers: h)
    }

    func contentLength() throws(NimbusError) -> Int? {
        if let cl = headers[.contentLength] {
            guard let n = Int(cl), n >= 0 else { throw .badRequest("Invalid Content-Length header value") }
            if n > api.limits.maxFileSize { throw NimbusError(.payloadTooLarge, "Your request is too large.") }
            return n
        }
        if let te = headers[.transferEncoding]?.lowercased() {
            guard te == "chunked" else { throw NimbusError(.notImplemented, "Unsupported Transfer-Coding header value specified in Transfer-Encoding header") }
            return nil
        }
        throw NimbusError(.lengthRequired, "Missing Content-Length header.")
    }

    func contentType() -> String {
        if headers["x-detect-content-type"]?.lowercased() == "true" { return MimeTypes.guess(target.object!) }
        if let ct = headers[.contentType], !ct.isEmpty { return ct }
        return MimeTypes.guess(target.object!)
    }

    /// The object server's `allowed_headers`: kept from a PUT, replaced as a whole by a POST.
    static let objectSettings = ["content-encoding", "content-disposition", "x-object-manifest", "content-language", "cache-control", "expires",
                                 "x-robots-tag"]

    /// The object's stored metadata after this request: `base` (nil-valued entries removed) with
    /// the request's user metadata and settings.
    func objectMetadata(base: [String: String]) throws(NimbusError) -> [String: String] {
        var meta = base
        let updates = try metadataUpdates("object", extra: Self.objectSettings)
        Self.apply(updates, to: &meta)
        if let m = meta["x-object-manifest"], updates["x-object-manifest"] != nil {
            // dlo.py _validate_x_object_manifest_header, on the value as sent.
            let parts = m.splitOnceBytes("/")
            guard let parts, !parts.head.isEmpty, !parts.tail.isEmpty, !parts.tail.hasBytePrefix("/"), !m.containsByte("?"), !m.containsByte("&") else {
                throw .badRequest("X-Object-Manifest must be in the format container/prefix")
            }
        }
        return meta
    }

    func deleteAtHeader() throws(NimbusError) -> Int? {
        let now = Int(Date().timeIntervalSince1970)
        let maxAt = 9_999_999_999
        if let after = headers["x-delete-after"] {
            guard let n = Int(after) else { throw .badRequest("Non-integer X-Delete-After") }
            guard n >= 0 else { throw .badRequest("X-Delete-After in past") }
            return min(maxAt, now + min(n, maxAt))
        }
        if let at = headers["x-delete-at"] {
            var n = Int(at)
            if n == nil, let d = Double(at), d.isFinite, abs(d) < 1e12 { n = Int(d) }
            guard let n else { throw .badRequest("Non-integer X-Delete-At") }
            guard n > now else { throw .badRequest("X-Delete-At in past") }
            return min(n, maxAt)
        }
        return nil
    }

    /// Quotas apply to everyone but a reseller admin, who sets the account's.
    func checkQuotas(_ container: ContainerRow, adding bytes: Int) async throws {
        try await service.checkQuotas(container, adding: bytes, accountQuotas: level != .reseller)
    }

    // MARK: POST

    mutating func postObject() async throws -> Response {
        if headers["x-symlink-target"] != nil { throw NimbusError.badRequest("A PUT request is required to set a symlink target") }
        let container = try await authorizeObject(write: true)
        corsContainer = container
        guard container != nil, let row = try await liveObject(target.account, target.container!, target.object!) else {
            throw NimbusError.notFound("The resource could not be found.")
        }
        // POST replaces the user metadata and the allowed headers (a Content-Disposition or
        // X-Object-Manifest it does not send is gone, as in Swift's object server); system
        // metadata and X-Static-Large-Object stay.
        let base = row.metadata.filter { !$0.key.hasBytePrefix("x-object-meta-") && !Self.objectSettings.containsBytes($0.key) }
        let meta = try objectMetadata(base: base)
        // POST replaces the metadata, X-Delete-At included.
        let deleteAt = try deleteAtHeader()
        let ct = headers[.contentType].flatMap { $0.isEmpty ? nil : $0 } ?? row.contentType
        _ = try await service.updateMetadata(row, metadata: meta, contentType: ct, deleteAt: deleteAt)
        // symlink.py `handle_post`: the metadata is applied to the link, and the answer says so.
        if let path = Symlink.path(of: row, version: target.version) { return Self.postedToLink(row, path) }
        return .swiftAccepted()
    }

    // MARK: DELETE

    mutating func deleteObject() async throws -> Response {
        let container = try await authorizeObject(write: true)
        corsContainer = container
        guard let container else { throw NimbusError.notFound("The resource could not be found.") }
        if query("multipart-manifest") == "delete", let row = try await liveObject(target.account, target.container!, target.object!),
           row.metadata["x-static-large-object"] != nil {
            return try await deleteManifest(row)
        }
        if let ts = try syncTimestamp() { return try await syncDelete(timestamp: ts) }
        return try await deleteCurrent(container)
    }

    // MARK: COPY

    mutating func copyObject() async throws -> Response {
        guard let dest = headers["destination"] else { throw NimbusError.preconditionFailed("Destination header required") }
        let (c, o) = try Self.splitCopyPath(dest, header: "Destination")
        let destAccount = try headers["destination-account"].map { v throws(NimbusError) in
            guard let d = PercentEncoding.decode(v) else { throw .preconditionFailed("Destination-Account header is invalid") }
            return d
        } ?? target.account
        return try await copy(from: (target.account, target.container!, target.object!), to: (destAccount, c, o))
    }

    /// `container/object` (optionally with a leading slash, URL-encoded) from X-Copy-From or Destination.
    static func splitCopyPath(_ value: String, header: String) throws(NimbusError) -> (String, String) {
        guard let v = PercentEncoding.decode(value) else { throw .preconditionFailed("\(header) header is invalid") }
        guard !v.utf8.contains(0), v.unicodeScalars.count <= 1024 + 257 else { throw .preconditionFailed("\(header) header is invalid") }
        guard let (c, o) = (v.droppingBytePrefix("/") ?? v[...]).splitOnceBytes("/"), !c.isEmpty, !o.isEmpty else {
            throw .preconditionFailed("\(header) header must be of the form <container name>/<object name>")
        }
        return (String(c), String(o))
    }

    mutating func copy(from src: (String, String, String), to dst: (String, String, String)) async throws -> Response {
        // Read access to the source, as the caller.
        let srcReq = try await sibling(.init(account: src.0, container: src.1, object: src.2))
        _ = try await srcReq.authorizeObject(write: false)
        var dstReq = try await sibling(.init(account: dst.0, container: dst.1, object: dst.2))
        dstReq.tempURL = tempURL && dst.0.sameBytes(as: target.account) && dst.1.sameBytes(as: target.container!) && dst.2.sameBytes(as: target.object!)
        guard let dstContainer = try await dstReq.authorizeObject(write: true) else { throw NimbusError.notFound("The resource could not be found.") }
        let (found, sourceVersion) = try await srcReq.copySource(src.0, src.1, src.2)
        let copyLink = found.isSymlink && query("symlink") == "get"
        let (source, reader) = try await copyLink ? (found, srcReq) : srcReq.throughLinks(found)
        let fresh = headers["x-fresh-metadata"]?.lowercased() == "true"
        var base: [String: String] = fresh ? [:] : source.metadata.filter {
            !$0.key.hasBytePrefix("x-object-sysmeta-") && !$0.key.sameBytes(as: "x-static-large-object") && !$0.key.sameBytes(as: "x-object-manifest")
        }
        if query("multipart-manifest") == "get", source.metadata["x-static-large-object"] != nil {
            base = source.metadata
        }
        if copyLink {
            for (k, v) in source.metadata where k.hasBytePrefix("x-object-sysmeta-symlink-") { base[k] = v }
            // The copy is a symlink PUT: X-Symlink-Target-Account sent with it names the target's account.
            if let account = try symlinkTargetAccount() { base[Symlink.accountKey] = PercentEncoding.encode(account, safe: "/") }
        }
        var meta = try dstReq.objectMetadata(base: base)
        // The copy is a PUT: the merged metadata is checked as `check_object_creation` checks it.
        try Self.checkMetadata(meta, prefix: "x-object-meta-", limits: api.limits)
        // copy.py: with multipart-manifest=get a DLO manifest stays a manifest.
        if query("multipart-manifest") == "get", let m = source.metadata["x-object-manifest"] { meta["x-object-manifest"] = m }
        let deleteAt = try deleteAtHeader()
        var body = query("multipart-manifest") == "get" ? ObjectBody.plain(source, request: reader) : try await ObjectBody.resolve(source, request: reader)
        // copy.py `_get_source_object`: refused before a byte is read when the source (a large
        // object's whole length, or an unknown one) is over the limit.
        guard let total = body.knownLength, total <= api.limits.maxFileSize else { throw NimbusError(.payloadTooLarge, "Your request is too large.") }
        _ = total
        // copy.py: the source GET keeps the request's Range, so a range copies part of the source
        // (an unsatisfiable one is the source's 416).
        if let rh = headers[.range], let ranges = ByteRanges.parse(rh, size: body.length) {
            if ranges.isEmpty {
                if !(body.length == 0 && Self.hasPositiveSuffix(rh)) {
                    var resp = SwiftErrorRenderer.page(.rangeNotSatisfiable, "The Range requested is not available.")
                    resp.headers[.contentRange] = "bytes */\(body.length)"
                    return resp
                }
            } else if ranges.count == 1 {
                body = body.slice(ranges[0])
            } else {
                throw NimbusError.badRequest("A copy of several byte ranges is not supported; copy one range at a time.")
            }
        }
        try await dstReq.checkQuotas(dstContainer, adding: body.length)
        try await dstReq.versionBeforeOverwrite(dstContainer)
        let ct = headers[.contentType].flatMap { $0.isEmpty ? nil : $0 } ?? source.contentType
        let upload = ObjectStorageService.Upload(account: dst.0, container: dst.1, name: dst.2, contentType: ct, metadata: meta,
                                                 deleteAt: deleteAt, contentLength: body.length)
        let (row, superseded) = try await service.putReporting(upload, body: try await body.sequence(), in: dstContainer)
        if superseded { return .swiftAccepted() }
        var h = HTTPFields()
        h[.eTag] = row.etag
        h[.lastModified] = HTTPDate.lastModified(row.timestamp)
        h["X-Timestamp"] = row.timestamp
        h["X-Copied-From"] = PercentEncoding.encode("\(src.1)/\(src.2)", safe: "/")
        h["X-Copied-From-Last-Modified"] = HTTPDate.lastModified(source.lastModified)
        h["X-Copied-From-Account"] = src.0
        if let v = sourceVersion { h["X-Copied-From-Version-Id"] = v }
        if let id = row.versionID { h["X-Object-Version-Id"] = id }
        for (k, v) in row.metadata.sorted(by: { $0.key < $1.key }) where k.hasPrefix("x-object-meta-") {
            if let name = HTTPField.Name(k) { h[name] = v }
        }
        return .swift(.created, headers: h)
    }
}

extension Response {
    func withHeaders(_ extra: HTTPFields) -> Response {
        var r = self
        for f in extra { r.headers[f.name] = f.value }
        return r
    }
}
