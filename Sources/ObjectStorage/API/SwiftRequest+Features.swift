import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// A static large object's stored manifest: Swift's format (`name`, `hash`, `bytes`,
/// `content_type`, `last_modified`, optional `range`).
struct SLOManifest: Sendable {
    var name: String
    var hash: String
    var bytes: Int
    var contentType: String
    var lastModified: String
    var range: Range<Int>?
    var rangeText: String?

    /// The segment's container and object, split on the first `/` byte (a `/` followed by a
    /// combining mark is one Character, and would move the mark into the container's name).
    var container: (String, String) {
        let n = name.droppingBytePrefix("/") ?? name[...]
        guard let (c, o) = n.splitOnceBytes("/") else { return (String(n), "") }
        return (String(c), String(o))
    }

    /// The bytes this entry contributes to the large object.
    var length: Int { range?.count ?? bytes }

    var json: JSONValue {
        var o: JSONObject = ["name": .string(name), "hash": .string(hash), "bytes": .int(Int64(bytes)),
                                      "content_type": .string(contentType), "last_modified": .string(lastModified)]
        if let rangeText { o["range"] = .string(rangeText) }
        return .object(o)
    }

    static func load(_ row: ObjectRow, service: ObjectStorageService) async throws -> [SLOManifest] {
        guard row.size <= 8 * 1024 * 1024 else { throw NimbusError(.conflict, "The large object manifest is too large.") }
        let stream = try await service.open(row)
        var bytes = [UInt8]()
        while let c = try await stream.next() { bytes += c.readableBytesView }
        await stream.close()
        guard let v = try? JSONValue.parse(bytes), let items = v.arrayValue else { throw NimbusError(.conflict, "The large object manifest is unreadable.") }
        return items.compactMap { item in
            guard let name = item["name"]?.stringValue, let hash = item["hash"]?.stringValue, let bytes = item["bytes"]?.intValue else { return nil }
            var m = SLOManifest(name: name, hash: hash, bytes: Int(bytes), contentType: item["content_type"]?.stringValue ?? "",
                                lastModified: item["last_modified"]?.stringValue ?? "")
            if let r = item["range"]?.stringValue, let parsed = ByteRanges.parse("bytes=" + r, size: Int(bytes))?.first {
                m.range = parsed
                m.rangeText = r
            }
            return m
        }
    }
}

extension SwiftRequest {
    // MARK: SLO

    mutating func putManifest(_ container: ContainerRow) async throws -> Response {
        let buffer = try await request.collectBody(upTo: 8 * 1024 * 1024 + 1, tooLarge: "Manifest File > 8388608 bytes")
        guard buffer.readableBytes <= 8 * 1024 * 1024 else { throw NimbusError(.payloadTooLarge, "Manifest File > 8388608 bytes") }
        guard let parsed = try? JSONValue.parse(buffer.readableBytesView) else { throw NimbusError.badRequest("Manifest must be valid JSON.\n") }
        guard let items = parsed.arrayValue else { throw NimbusError.badRequest("Manifest must be a list.\n") }
        guard !items.isEmpty else { throw NimbusError.badRequest("Manifest must have at least one segment.\n") }
        guard items.count <= 1000 else { throw NimbusError.badRequest("Too many segments; max 1000.\n") }
        var errors = [String]()
        var stored = [SLOManifest]()
        var md5 = Insecure.MD5()
        var total = 0
        for (i, item) in items.enumerated() {
            guard let obj = item.objectValue else { errors.append("Index \(i): not a JSON object"); continue }
            let allowed: Set<Name> = ["path", "etag", "size_bytes", "range"]
            if obj.keys.contains("data") { errors.append("Index \(i): inline data segments are not supported"); continue }
            if let bad = obj.keys.first(where: { !allowed.contains(Name($0)) }) { errors.append("Index \(i): extraneous key \"\(bad)\""); continue }
            guard let path = obj["path"]?.stringValue else { errors.append("Index \(i): \"path\" must be a string"); continue }
            guard let decoded = PercentEncoding.decode(path) else { errors.append("Index \(i): invalid path"); continue }
            guard !decoded.utf8.contains(0), decoded.unicodeScalars.count <= 1300 else { errors.append("Index \(i): invalid path"); continue }
            guard let (cs, os) = (decoded.droppingBytePrefix("/") ?? decoded[...]).splitOnceBytes("/"), !cs.isEmpty, !os.isEmpty else {
                errors.append("Index \(i): path does not refer to an object. Path must be of the form /container/object."); continue
            }
            let c = String(cs), o = String(os)
            var wantSize: Int?
            if let s = obj["size_bytes"], s != .null {
                guard let n = s.intValue.map({ Int($0) }) ?? s.stringValue.flatMap({ Int($0) }), n >= 0 else { errors.append("Index \(i): invalid size_bytes"); continue }
                wantSize = n
            }
            var wantETag: String?
            if let e = obj["etag"], e != .null {
                guard let s = e.stringValue else { errors.append("Index \(i): invalid etag"); continue }
                wantETag = s.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
            }
            let sub = try await sibling(.init(account: target.account, container: c, object: o))
            do { _ = try await sub.authorizeObject(write: false) } catch {
                errors.append("/\(c)/\(o), 403 Forbidden"); continue
            }
            guard var seg = try await liveObject(target.account, c, o) else { errors.append("/\(c)/\(o), 404 Not Found"); continue }
            if seg.isSymlink {
                // slo.py HEADs each segment through the symlink middleware: a link stands for its target.
                do { seg = try await followLinks(from: seg, via: sub, targetEtag: nil, followDynamic: true, location: nil).row } catch let f as SymlinkFailure {
                    errors.append("/\(c)/\(o), \(f.status)"); continue
                }
            }
            let segETag = seg.metadata["x-object-sysmeta-slo-etag"] ?? seg.etag
            let segSize = Int(seg.metadata["x-object-sysmeta-slo-size"] ?? "") ?? seg.size
            if let wantSize, wantSize != segSize { errors.append("/\(c)/\(o), Size Mismatch"); continue }
            if let wantETag, !wantETag.sameBytes(as: segETag) { errors.append("/\(c)/\(o), Etag Mismatch"); continue }
            var entry = SLOManifest(name: "/\(c)/\(o)", hash: segETag, bytes: segSize, contentType: seg.contentType, lastModified: HTTPDate.iso(seg.lastModified))
            var length = segSize
            if let r = obj["range"]?.stringValue {
                guard let parsed = ByteRanges.parse("bytes=" + r, size: segSize), parsed.count == 1 else {
                    errors.append("Index \(i): invalid range"); continue
                }
                entry.range = parsed[0]
                entry.rangeText = "\(parsed[0].lowerBound)-\(parsed[0].upperBound - 1)"
                length = parsed[0].count
                md5.update(data: Array("\(segETag):\(entry.rangeText!);".utf8))
            } else {
                md5.update(data: Array(segETag.utf8))
            }
            if length < 1 && i < items.count - 1 { errors.append("/\(c)/\(o), Too Small; each segment must be at least 1 byte."); continue }
            let (sum, overflow) = total.addingReportingOverflow(length)
            guard !overflow, sum <= api.limits.maxFileSize * 1000 else { errors.append("Index \(i): the large object is too large"); continue }
            total = sum
            stored.append(entry)
        }
        if !errors.isEmpty { throw NimbusError.badRequest("Errors:\n" + errors.joined(separator: "\n")) }
        let sloETag = Hex.encode(md5.finalize())
        if let e = headers[.eTag]?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")), !e.isEmpty, !e.lowercased().sameBytes(as: sloETag) {
            throw NimbusError(.unprocessable, "Unable to process the contained instructions")
        }
        var meta = try objectMetadata(base: [:])
        meta["x-static-large-object"] = "True"
        meta["x-object-sysmeta-slo-etag"] = sloETag
        meta["x-object-sysmeta-slo-size"] = String(total)
        let body = Array(JSONValue.array(stored.map(\.json)).serializedString().utf8)
        try await checkQuotas(container, adding: total)
        try await versionBeforeOverwrite(container)
        let upload = ObjectStorageService.Upload(account: target.account, container: target.container!, name: target.object!,
                                                 contentType: contentType(), metadata: meta, deleteAt: try deleteAtHeader(), contentLength: body.count)
        let (row, superseded) = try await service.putReporting(upload, body: [ByteBuffer(bytes: body)].async, in: container)
        if superseded { return .swiftAccepted() }
        var h = HTTPFields()
        h[.eTag] = "\"\(sloETag)\""
        h[.lastModified] = HTTPDate.lastModified(row.timestamp)
        h["X-Timestamp"] = row.timestamp
        if let id = row.versionID { h["X-Object-Version-Id"] = id }
        return .swift(.created, headers: h)
    }

    func manifestResponse(_ row: ObjectRow) async throws -> Response {
        let manifest = try await SLOManifest.load(row, service: service)
        var h = objectHeaders(row, etag: row.etag, length: 0)
        h[.contentType] = "application/json; charset=utf-8"
        let body: String
        if query("format") == "raw" {
            body = JSONValue.array(manifest.map { m in
                var o: JSONObject = ["path": .string(m.name), "etag": .string(m.hash), "size_bytes": .int(Int64(m.bytes))]
                if let r = m.rangeText { o["range"] = .string(r) }
                return .object(o)
            }).serializedString()
        } else {
            body = JSONValue.array(manifest.map(\.json)).serializedString()
        }
        h[.contentLength] = String(body.utf8.count)
        if method == .head { return Response(status: .ok, headers: h) }
        return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    mutating func deleteManifest(_ row: ObjectRow) async throws -> Response {
        let manifest = try await SLOManifest.load(row, service: service)
        var deleted = 0, notFound = 0
        var errors = [(String, String)]()
        for m in manifest {
            let (c, o) = m.container
            let sub = try await sibling(.init(account: target.account, container: c, object: o))
            do {
                guard let segments = try await sub.authorizeObject(write: true) else { notFound += 1; continue }
                if try await service.deleteObject(account: target.account, container: segments, name: o).deleted { deleted += 1 } else { notFound += 1 }
            } catch let e as NimbusError {
                errors.append((m.name, "\(e.status) \(SwiftErrorRenderer.reason(e.status))"))
            }
        }
        if try await deleteManifestObject(row) { deleted += 1 } else { notFound += 1 }
        return bulkResult(deleted: deleted, notFound: notFound, errors: errors)
    }

    func bulkResult(deleted: Int, notFound: Int, errors: [(String, String)], status: String? = nil, body: String = "") -> Response {
        bulkReport(root: "delete", counts: [("Number Deleted", deleted), ("Number Not Found", notFound)], errors: errors, status: status, body: body)
    }

    /// The bulk middleware's report, in plain text, JSON or XML by `format=` or Accept; the HTTP
    /// status is 200 and the outcome is in "Response Status".
    func bulkReport(root: String, counts: [(String, Int)], errors: [(String, String)], status: String?, body: String = "") -> Response {
        let responseStatus = status ?? (errors.isEmpty ? (root == "delete" ? "200 OK" : "201 Created") : "400 Bad Request")
        // Accept's best match (bulk.py `req.accept.best_match`), or `format=`; else plain text.
        let format = (try? listingFormat()) ?? .plain
        if format == .json {
            var json = JSONObject()
            for (k, n) in counts { json[k] = .int(Int64(n)) }
            json["Response Body"] = .string(body)
            json["Response Status"] = .string(responseStatus)
            json["Errors"] = .array(errors.map { [.string($0.0), .string($0.1)] })
            return .swift(.ok, body: JSONValue.object(json).serializedString(), contentType: "application/json; charset=utf-8")
        }
        if format == .xml {
            func tag(_ k: String) -> String { k.lowercased().replacingBytes(" ", with: "_") }
            var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(root)>"
            for (k, n) in counts { x += "<\(tag(k))>\(n)</\(tag(k))>" }
            x += "<response_body>\(xml(body))</response_body><response_status>\(responseStatus)</response_status><errors>"
            for (n, e) in errors { x += "<object><name>\(xml(n))</name><status>\(xml(e))</status></object>" }
            x += "</errors></\(root)>\n"
            return .swift(.ok, body: x, contentType: "application/xml; charset=utf-8")
        }
        var text = counts.map { "\($0.0): \($0.1)\n" }.joined() + "Response Body: \(body)\nResponse Status: \(responseStatus)\nErrors:\n"
        for (n, e) in errors { text += "\(n), \(e)\n" }
        return .swift(.ok, body: text, contentType: "text/plain; charset=utf-8")
    }

    // MARK: bulk delete

    /// `?bulk-delete`: a text/plain list of `/container/object` and `/container` paths. Objects
    /// go first, then (empty) containers; each path is authorized on its own, and failures are
    /// reported per path in a 200 response, as Swift's bulk middleware does.
    func bulkDelete() async throws -> Response {
        if context.auth == nil { throw deny() }
        if let ct = headers[.contentType], !ct.lowercased().hasBytePrefix("text/plain") {
            return bulkResult(deleted: 0, notFound: 0, errors: [], status: "406 Not Acceptable")
        }
        let buffer = try await request.collectBody(upTo: 10 * 1024 * 1024, tooLarge: "Request Entity Too Large")
        let lines = String(decoding: buffer.readableBytesView, as: UTF8.self).splitBytes("\n").flatMap { $0.splitBytes("\r") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.count <= 10000 else { throw NimbusError(.payloadTooLarge, "Maximum Bulk Deletes: 10000 per request") }
        guard !lines.isEmpty else { return bulkResult(deleted: 0, notFound: 0, errors: [], status: "400 Bad Request", body: "Invalid bulk delete.") }
        var deleted = 0, notFound = 0
        var errors = [(String, String)]()
        var objects = [(String, String, String)]()
        var containers = [(String, String)]()
        for line in lines {
            // bulk.py: a line that is not UTF-8 once unquoted is that line's 412, nothing else.
            guard let decoded = PercentEncoding.decode(line) else { errors.append((line, "412 Precondition Failed")); continue }
            guard !decoded.utf8.contains(0), decoded.unicodeScalars.count <= 1300 else { errors.append((line, "400 Bad Request")); continue }
            let path = decoded.droppingBytePrefix("/") ?? decoded[...]
            let parts = path.splitBytes("/", maxSplits: 1, omittingEmpty: false).map(String.init)
            guard let c = parts.first, !c.isEmpty else { errors.append((line, "400 Bad Request")); continue }
            if parts.count == 2, !parts[1].isEmpty { objects.append((line, c, parts[1])) } else { containers.append((line, c)) }
        }
        func reason(_ e: NimbusError) -> String { "\(e.status) \(SwiftErrorRenderer.reason(e.status))" }
        for (line, c, o) in objects {
            do {
                let sub = try await sibling(.init(account: target.account, container: c, object: o))
                guard let container = try await sub.authorizeObject(write: true) else { notFound += 1; continue }
                if try await service.deleteObject(account: target.account, container: container, name: o).deleted { deleted += 1 } else { notFound += 1 }
            } catch let e as NimbusError {
                errors.append(("/" + (line.droppingBytePrefix("/").map(String.init) ?? line), reason(e)))
            }
        }
        for (line, c) in containers {
            guard isOwner else { errors.append(("/" + (line.droppingBytePrefix("/").map(String.init) ?? line), "403 Forbidden")); continue }
            switch try await index.deleteContainer(target.account, c) {
            case .deleted: deleted += 1
            case .notFound: notFound += 1
            case .notEmpty, .hasVersions: errors.append(("/" + c, "409 Conflict"))
            }
        }
        return bulkResult(deleted: deleted, notFound: notFound, errors: errors)
    }

    // MARK: versioning (X-Versions-Location stack mode, X-History-Location)

    func versionBeforeOverwrite(_ container: ContainerRow) async throws {
        guard let versions = service.versionsContainer(of: container) else { return }
        try await service.archive(account: target.account, container: target.container!, name: target.object!, into: versions)
    }

    // MARK: temp URLs

    /// Validates `temp_url_sig` / `temp_url_expires` (and `temp_url_prefix`) against the
    /// account's and container's temp URL keys. A bad or expired signature is a 401.
    mutating func checkTempURL() async throws {
        let sigText = query("temp_url_sig"), expiresText = query("temp_url_expires")
        if sigText == nil && expiresText == nil { return }
        // Swift (normalize_temp_url_expires): an integer or `%Y-%m-%dT%H:%M:%SZ`, signed as the
        // integer; a missing, unreadable or past value is the same 401 as a bad signature.
        let unauthorized = NimbusError.unauthorized("Temp URL invalid")
        var expires = expiresText.flatMap { Int($0) }
        if expires == nil, let t = expiresText, t.hasSuffix("Z") {
            expires = ISO8601DateFormatter().date(from: t).map { Int($0.timeIntervalSince1970) }
        }
        guard let sig = sigText, !sig.isEmpty, let expires, expires >= Int(Date().timeIntervalSince1970) else { throw unauthorized }
        let methods: [String] = method == .head ? ["HEAD", "GET", "PUT"] : [method.rawValue]
        guard ["GET", "HEAD", "PUT", "POST", "DELETE"].contains(method.rawValue) else { throw unauthorized }
        var keys = [String]()
        if let acct = try await index.account(target.account) {
            keys += ["x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"].compactMap { acct.metadata[$0] }
        }
        let accountKeys = keys.count
        if let c = try await index.container(target.account, target.container!) {
            keys += ["x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"].compactMap { c.metadata[$0] }
        }
        guard !keys.isEmpty else { throw unauthorized }
        let object = target.object!
        var paths = [String]()
        let basePath = "/v1/\(target.account)/\(target.container!)/"
        if let prefix = query("temp_url_prefix") {
            guard object.hasBytePrefix(prefix) else { throw unauthorized }
            paths = ["prefix:" + basePath + prefix, "prefix:/object" + basePath + prefix]
        } else {
            paths = [basePath + object, "/object" + basePath + object]
        }
        let (algorithm, given) = Self.decodeSignature(sig)
        guard let given else { throw unauthorized }
        let messages = methods.flatMap { m in paths.map { p in "\(m)\n\(expires)\n\(p)" } }
        guard let key = Self.matchingKey(given, digestSize: algorithm, keys: keys, messages: messages) else { throw unauthorized }
        // tempurl.py `_clean_disallowed_headers` (CVE-2015-5223): a temp URL that writes may not
        // make the object a pointer to data the URL does not grant.
        if method != .get && method != .head && method != .options {
            for (name, title) in [("x-object-manifest", "X-Object-Manifest"), ("x-symlink-target", "X-Symlink-Target")]
                where headers[HTTPField.Name(name)!] != nil {
                throw NimbusError.badRequest("The header '\(title)' is not allowed in this tempurl")
            }
        }
        tempURL = true
        tempURLScope = key < accountKeys ? .account : .container
        tempURLExpires = expires
    }

    /// The index of the key under which `given` is the HMAC (SHA-1, SHA-256 or SHA-512, by
    /// `digestSize` or the signature's length) of one of `messages`; every pair is computed and
    /// compared in constant time. Temp URLs and form POSTs sign this way.
    static func matchingKey(_ given: [UInt8], digestSize: Int?, keys: [String], messages: [String]) -> Int? {
        var matched: Int?
        for (index, key) in keys.enumerated() {
            let k = SymmetricKey(data: Array(key.utf8))
            for text in messages {
                let message = Array(text.utf8)
                let mac: [UInt8]
                switch digestSize ?? given.count {
                case 20: mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: k))
                case 32: mac = Array(HMAC<SHA256>.authenticationCode(for: message, using: k))
                case 64: mac = Array(HMAC<SHA512>.authenticationCode(for: message, using: k))
                default: return nil
                }
                if ConstantTime.equal(mac, given), matched == nil { matched = index }
            }
        }
        return matched
    }

    /// Hex signatures (the digest told by their length) or `<digest>:<base64>`, read as ASCII
    /// bytes (anything else is no signature).
    static func decodeSignature(_ sig: String) -> (Int?, [UInt8]?) {
        guard sig.utf8.allSatisfy({ $0 < 0x80 }) else { return (nil, nil) }
        if let (digest, encoded) = sig.splitOnceBytes(":") {
            let size: Int? = ["sha1": 20, "sha256": 32, "sha512": 64][String(digest)]
            var b64 = encoded.replacingBytes("-", with: "+").replacingBytes("_", with: "/")
            while b64.utf8.count % 4 != 0 { b64 += "=" }
            guard let size, let data = Data(base64Encoded: b64), data.count == size else { return (nil, nil) }
            return (size, Array(data))
        }
        let hex = Array(sig.utf8)
        guard [40, 64, 128].contains(hex.count) else { return (nil, nil) }
        var out = [UInt8]()
        for i in stride(from: 0, to: hex.count, by: 2) {
            guard let hi = PercentEncoding.hexValue(hex[i]), let lo = PercentEncoding.hexValue(hex[i + 1]) else { return (nil, nil) }
            out.append(hi << 4 | lo)
        }
        return (out.count, out)
    }

    // MARK: CORS

    func allowedOrigin(_ container: ContainerRow?, origin: String) -> Bool {
        guard let allowed = container?.metadata["x-container-meta-access-control-allow-origin"] else { return false }
        return allowed.splitBytes(" ").contains { $0.sameBytes(as: "*") || $0.sameBytes(as: origin) }
    }

    mutating func preflight() async throws -> Response {
        let allowMethods = "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE"
        guard let origin = headers[.origin] else {
            var h = HTTPFields()
            h[.allow] = allowMethods
            return .swift(.ok, headers: h)
        }
        guard let reqMethod = headers[.accessControlRequestMethod],
              allowMethods.splitBytes(",").contains(where: { $0.trimmingCharacters(in: .whitespaces).sameBytes(as: reqMethod.uppercased()) }),
              let c = target.container, let row = try await index.container(target.account, c), allowedOrigin(row, origin: origin) else {
            return SwiftErrorRenderer.page(.unauthorized, "CORS preflight not allowed")
        }
        var h = HTTPFields()
        h[.accessControlAllowOrigin] = row.metadata["x-container-meta-access-control-allow-origin"]?.sameBytes(as: "*") == true ? "*" : origin
        h[.accessControlAllowMethods] = allowMethods
        if let rh = headers[.accessControlRequestHeaders] { h[.accessControlAllowHeaders] = rh }
        if let age = row.metadata["x-container-meta-access-control-max-age"] { h[.accessControlMaxAge] = age }
        h[.allow] = allowMethods
        return .swift(.ok, headers: h)
    }

    /// Adds Access-Control-Allow-Origin and -Expose-Headers to an actual cross-origin response.
    func withCORS(_ response: Response) -> Response {
        guard let origin = headers[.origin], allowedOrigin(corsContainer, origin: origin) else { return response }
        var r = response
        r.headers[.accessControlAllowOrigin] = corsContainer?.metadata["x-container-meta-access-control-allow-origin"]?.sameBytes(as: "*") == true ? "*" : origin
        var expose = ["cache-control", "content-language", "content-type", "expires", "last-modified", "pragma", "etag",
                      "x-timestamp", "x-trans-id", "x-openstack-request-id"]
        expose += response.headers.map { $0.name.canonicalName }.filter { $0.hasPrefix("x-object-meta-") || $0.hasPrefix("x-container-meta-") }
        if let extra = corsContainer?.metadata["x-container-meta-access-control-expose-headers"] {
            expose += extra.splitBytes(" ").map { $0.lowercased() }
        }
        r.headers[.accessControlExposeHeaders] = expose.joined(separator: ", ")
        return r
    }
}

extension Array where Element == ByteBuffer {
    var async: AsyncStream<ByteBuffer> {
        let items = self
        return AsyncStream { c in
            for i in items { c.yield(i) }
            c.finish()
        }
    }
}
