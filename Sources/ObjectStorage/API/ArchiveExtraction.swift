import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore

/// One `PUT …?extract-archive=tar|tar.gz|tar.bz2` run, as bulk.py's `handle_extract_iter`:
/// members are read as the body arrives and each regular file is PUT through the ordinary
/// object PUT (`SwiftRequest.object()`: authorization and ACLs, name checks, metadata, quotas,
/// versioning, replicas and quorum) while its bytes stream out of the archive. At the account
/// level the first path component names the container, created when missing.
struct ArchiveExtraction {
    /// The outcome bulk.py reports: "Response Status" and "Response Body".
    typealias Outcome = (status: String, body: String)

    let request: SwiftRequest
    let reader: TarReader
    /// `<container>[/<prefix>]` as bytes (bulk.py's `extract_base`, trailing slashes removed);
    /// empty at the account level.
    let base: [UInt8]
    private(set) var created = 0
    private(set) var errors = [(String, String)]()
    private var createdContainers = 0
    /// Containers already checked or created (`containers_accessed`).
    private var accessed = Set<Name>()
    private var serverFailed = false

    init(request: SwiftRequest, compression: ArchiveCompression) {
        self.request = request
        self.reader = TarReader(ArchiveStream(body: request.request.body, decoder: compression.makeDecoder()))
        var base = [UInt8]()
        if let c = request.target.container {
            base = Array(c.utf8)
            if let o = request.target.object { base += [UInt8(ascii: "/")] + Array(o.utf8) }
            while base.last == UInt8(ascii: "/") { base.removeLast() }
        }
        self.base = base
    }

    private var api: SwiftAPI { request.api }
    /// bulk.py's `max_path_length`: names in the report are cut to it before quoting.
    private var maxPathLength: Int { api.limits.maxObjectNameLength + api.limits.maxContainerNameLength + 2 }

    mutating func run() async throws -> Outcome {
        do {
            while let member = try await reader.next() {
                if errors.count >= SwiftRequest.maxFailedExtractions { break }
                if let stop = try await extract(member) { return stop }
            }
        } catch let failure as ArchiveFailure {
            switch failure {
            case .invalid(let message): return ("400 Bad Request", "Invalid Tar File: \(message)")
            case .tooLarge(let message): return ("413 Request Entity Too Large", message)
            case .bodyFailed(let detail):
                throw NimbusError(.requestTimeout, "The client stopped sending the archive.", detail: detail)
            case .unavailable(let detail):
                request.context.logger.error("archive extraction: \(detail)")
                return ("500 Internal Server Error", "")
            }
        }
        if !errors.isEmpty { return (serverFailed ? "502 Bad Gateway" : "400 Bad Request", "") }
        if created == 0 { return ("400 Bad Request", "Invalid Tar File: No Valid Files") }
        return ("201 Created", "")
    }

    /// One member: skipped, refused or PUT. Returns an outcome when the whole run stops.
    private mutating func extract(_ member: TarMember) async throws -> Outcome? {
        if member.kind == .other { return nil }
        let slash = UInt8(ascii: "/")
        var path = member.path[...]
        if path.starts(with: [UInt8(ascii: "."), slash]) { path = path.dropFirst(2) }
        path = path.drop { $0 == slash }
        let objectPath = base.isEmpty ? Array(path) : base + [slash] + path
        // A file at the top of the archive names no container: bulk.py skips it.
        guard let split = objectPath.firstIndex(of: slash) else { return nil }
        let name = reportName(objectPath)
        // The destination must be UTF-8 without NUL (`check_utf8`).
        guard !objectPath.contains(0), let text = String(validating: objectPath, as: UTF8.self) else {
            errors.append((name, "412 Precondition Failed"))
            return nil
        }
        guard member.size <= api.limits.maxFileSize else {
            errors.append((name, "413 Request Entity Too Large"))
            return nil
        }
        guard member.kind == .file else {
            errors.append((name, "415 Unsupported Media Type"))  // GNU sparse files are not extracted
            return nil
        }
        let container = String(decoding: objectPath[..<split], as: UTF8.self)
        var containerFailure: (String, String)?
        if !accessed.contains(Name(container)) {
            switch try await ensureContainer(container) {
            case .created:
                createdContainers += 1
                if createdContainers > SwiftRequest.maxContainersPerExtraction {
                    return ("400 Bad Request", "More than \(SwiftRequest.maxContainersPerExtraction) containers to create from tar.")
                }
            case .exists:
                break
            case .failed(let status):
                let path = "/\(request.target.version)/\(request.target.account)/\(container)"
                containerFailure = (reportName(Array(path.utf8)), status)
            }
        }
        let status = try await put(member, objectPath: text)
        accessed.insert(Name(container))
        if (200..<300).contains(status) {
            created += 1
            return nil
        }
        // As bulk.py: a container that could not be made is reported only when the PUT fails.
        if let containerFailure { errors.append(containerFailure) }
        errors.append((name, "\(status) \(SwiftErrorRenderer.reason(status))"))
        if status == 401 { return ("401 Unauthorized", "") }
        if status >= 500 { serverFailed = true }
        return nil
    }

    private enum ContainerCheck { case created, exists, failed(String) }

    /// bulk.py `create_container`: HEAD the container, PUT it when missing.
    private func ensureContainer(_ container: String) async throws -> ContainerCheck {
        let account = request.target.account
        if container.unicodeScalars.count > api.limits.maxContainerNameLength { return .failed("400 Bad Request") }
        if try await request.index.container(account, container) != nil { return .exists }
        guard request.isOwner || request.level == .readWrite else { return .failed(request.context.auth == nil ? "401 Unauthorized" : "403 Forbidden") }
        do {
            return try await request.index.putContainer(account, container, timestamp: request.service.timestamp(), policy: request.policies.defaultPolicy.index, { _ in }) == .created ? .created : .exists
        } catch let e as NimbusError {
            return .failed("\(e.status) \(SwiftErrorRenderer.reason(e.status))")
        }
    }

    /// PUTs the member as `<account>/<objectPath>` through the ordinary object PUT, its body
    /// read from the archive; returns the PUT's status. A failure of the archive itself while
    /// the PUT read it is thrown.
    private func put(_ member: TarMember, objectPath: String) async throws -> Int {
        let destination = "/\(request.target.version)/\(request.target.account)/\(objectPath)"
        let target: SwiftAPI.Target
        do {
            guard let parsed = try api.parse(decoded: destination), parsed.object != nil else { return 400 }
            target = parsed
        } catch {
            return error.status
        }
        guard let fields = memberHeaders(member) else { return 400 }
        var head = HTTPRequest(method: .put, scheme: nil, authority: nil, path: "/object" + PercentEncoding.encode(destination, safe: "/"))
        head.headerFields = fields
        let body = RequestBody(asyncSequence: reader.content(of: member))
        var sub = SwiftRequest(api: api, request: Request(head: head, body: body), context: request.context, target: target)
        sub.level = request.level
        var status = 500
        do {
            status = try await sub.object().status.code
        } catch let e as NimbusError {
            status = e.status
        } catch let reply as SwiftReply {
            status = reply.response.status.code
        } catch is ReplicaError {
            status = 503
        } catch {
            if reader.stream.failure == nil { throw error }
        }
        if let failure = reader.stream.failure { throw failure }
        return status
    }

    /// The member PUT's headers, as bulk.py builds them: Content-Length, the request's
    /// X-Delete-At/-After and X-Object-Meta-*, then the member's pax xattrs (`user.mime_type`
    /// → Content-Type, `user.meta.*` → X-Object-Meta-*). nil when the xattrs cannot be headers
    /// (a value that is not text, or more of them than any object may have).
    private func memberHeaders(_ member: TarMember) -> HTTPFields? {
        var h = HTTPFields()
        h[.contentLength] = String(member.size)
        for field in request.headers {
            let n = field.name.canonicalName
            if n.sameBytes(as: "x-delete-at") || n.sameBytes(as: "x-delete-after") || n.hasBytePrefix("x-object-meta-") { h.append(field) }
        }
        if member.pax.tooManyXattrs { return nil }
        for (key, value) in member.pax.xattrs.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            guard let header = Self.headerName(forPax: key) else { continue }
            guard !value.contains(where: { ($0 < 32 && $0 != 9) || $0 == 127 }), let text = String(validating: value, as: UTF8.self) else { return nil }
            h[header] = text
        }
        return h
    }

    /// bulk.py `pax_key_to_swift_header`; nil for other keys (and names no header can have).
    static func headerName(forPax key: [UInt8]) -> HTTPField.Name? {
        if PaxFields.mimeTypeKeys.contains(key) { return .contentType }
        for prefix in PaxFields.metaPrefixes where key.starts(with: prefix) {
            guard let rest = String(validating: key.dropFirst(prefix.count), as: UTF8.self) else { return nil }
            return HTTPField.Name("X-Object-Meta-" + rest)
        }
        return nil
    }

    /// A path as bulk.py names it in the report: cut to `max_path_length` bytes, then quoted
    /// (`wsgi_quote`, `/` kept).
    private func reportName(_ path: [UInt8]) -> String {
        PercentEncoding.encode(bytes: path.prefix(maxPathLength), safe: "/")
    }
}
