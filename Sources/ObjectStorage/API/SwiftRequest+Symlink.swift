import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore

/// A finished answer thrown from deep in a request (an error that carries headers of its own,
/// such as a symlink's `Content-Location`); `SwiftAPI.handle` sends it as it is.
struct SwiftReply: Error {
    var response: Response
}

/// Swift's symlink middleware (swift/common/middleware/symlink.py): a zero-byte object whose
/// system metadata names a target; GET and HEAD answer with the target.
enum Symlink {
    /// `symloop_max`: links followed in a row before a 409.
    static let symloopMax = 2
    /// The target as `<container>/<object>`, percent-quoted as Swift stores it.
    static let targetKey = "x-object-sysmeta-symlink-target"
    /// The target's account, quoted; absent when the link's own account is meant.
    static let accountKey = "x-object-sysmeta-symlink-target-account"
    /// Static links: the target's ETag and size when the link was made.
    static let etagKey = "x-object-sysmeta-symlink-target-etag"
    static let bytesKey = "x-object-sysmeta-symlink-target-bytes"
    /// A static link to an SLO: the SLO's ETag, shown as `slo_etag` in listings.
    static let sloEtagKey = "x-object-sysmeta-symlink-target-slo-etag"
    static let emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"
    static let formMessage = "X-Symlink-Target header must be of the form <container name>/<object name>"

    /// Where a link points: the target, and its path as Swift reports it (`Content-Location`,
    /// `Location`, listings' `symlink_path`): `/<version>/<account>/<container>/<object>`, quoted.
    struct Path {
        var target: SwiftAPI.Target
        var location: String
    }

    /// The target of a stored link; nil when the row is not a link (or its value is unusable).
    static func path(of row: ObjectRow, version: String) -> Path? {
        guard let quoted = row.metadata[targetKey], let decoded = PercentEncoding.decode(quoted),
              let (container, object) = decoded.splitOnceBytes("/"), !container.isEmpty, !object.isEmpty else { return nil }
        let quotedAccount = row.metadata[accountKey] ?? PercentEncoding.encode(row.account, safe: "/")
        guard let account = PercentEncoding.decode(quotedAccount), !account.isEmpty else { return nil }
        return Path(target: .init(account: account, container: String(container), object: String(object), version: version),
                    location: "/\(version)/\(quotedAccount)/\(quoted)")
    }

    /// swob's `normalize_etag`: one pair of surrounding quotes removed.
    static func normalizeEtag(_ value: String?) -> String? {
        guard let v = value, !v.isEmpty else { return nil }
        if v.utf8.count >= 2, v.hasBytePrefix("\""), v.hasByteSuffix("\"") { return String(v.utf8.dropFirst().dropLast())! }
        return v
    }

    /// Python's `%r` of a str, as the middleware's messages print ETags.
    static func repr(_ s: String) -> String {
        s.containsByte("'") && !s.containsByte("\"") ? "\"\(s)\"" : "'\(s.replacingBytes("'", with: "\\'"))'"
    }
}

/// Why following a link failed; `response` renders it as a GET of the link answers it.
enum SymlinkFailure: Error {
    /// The target does not exist (404 at `location`).
    case missing(location: String)
    /// The target may not be read (401/403) by this request.
    case refused(NimbusError, location: String)
    /// 409: ETags that disagree, or too many links in a row.
    case conflict(String, location: String?)

    /// The status line, as Swift's segment and bulk errors print it ("404 Not Found").
    var status: String {
        switch self {
        case .missing: "404 Not Found"
        case .refused(let e, _): "\(e.status) \(SwiftErrorRenderer.reason(e.status))"
        case .conflict: "409 Conflict"
        }
    }

    func response() -> Response {
        switch self {
        case .missing(let location):
            return SwiftErrorRenderer.page(.notFound, "The resource could not be found.").withHeaders(Self.location(location))
        case .refused(let error, let location):
            return SwiftErrorRenderer.render(HTTPResponse.Status(code: error.status), error.message).withHeaders(Self.location(location))
        case .conflict(let message, let location):
            return SwiftErrorRenderer.plain(.conflict, message, contentType: "text/plain").withHeaders(location.map(Self.location) ?? [:])
        }
    }

    static func location(_ value: String) -> HTTPFields {
        var h = HTTPFields()
        h[.contentLocation] = value
        return h
    }
}

extension ObjectRow {
    var isSymlink: Bool { metadata[Symlink.targetKey] != nil }
}

extension SwiftRequest {
    /// The request aimed at a link's target, with this request's rights: its token, or its temp
    /// URL within the key's scope (a container key reaches only its container, an account key
    /// only its account: tempurl.py's `authorize_same_container` / `authorize_same_account`).
    func linkRequest(_ target: SwiftAPI.Target) async throws -> SwiftRequest {
        if tempURL {
            let sameAccount = target.account.sameBytes(as: self.target.account)
            guard sameAccount, tempURLScope == .account || (target.container ?? "").sameBytes(as: self.target.container ?? "") else {
                throw NimbusError.unauthorized("This server could not verify that you are authorized to access the document you requested.")
            }
        }
        var sub = try await sibling(target)
        if tempURL {
            sub.tempURL = true
            sub.tempURLScope = tempURLScope
            sub.tempURLExpires = tempURLExpires
        }
        return sub
    }

    /// A GET/HEAD of `path` as a subrequest: authorized as this request, the live row.
    func fetchLinked(_ path: Symlink.Path) async throws -> (SwiftRequest, ObjectRow) {
        do {
            let sub = try await linkRequest(path.target)
            guard try await sub.authorizeObject(write: false) != nil,
                  let row = try await sub.liveObject(path.target.account, path.target.container!, path.target.object!) else {
                throw SymlinkFailure.missing(location: path.location)
            }
            return (sub, row)
        } catch let e as NimbusError {
            throw SymlinkFailure.refused(e, location: path.location)
        }
    }

    /// symlink.py `_recursive_get_head`, from `row` (read through `via`): links are followed
    /// (dynamic ones only when `followDynamic`) at most `symloopMax` times; a static link's
    /// ETag must match the next link's or the final object's.
    func followLinks(from start: ObjectRow, via: SwiftRequest, targetEtag initialEtag: String?, followDynamic: Bool,
                     location initialLocation: String?) async throws -> (row: ObjectRow, request: SwiftRequest, location: String?) {
        var row = start, req = via, targetEtag = initialEtag, location = initialLocation, loops = 0
        while row.isSymlink {
            let linkEtag = row.metadata[Symlink.etagKey]
            guard linkEtag != nil || followDynamic else { break }
            if let expected = targetEtag, !expected.sameBytes(as: linkEtag ?? row.etag) {
                throw SymlinkFailure.conflict("X-Symlink-Target-Etag headers do not match", location: location)
            }
            if loops >= Symlink.symloopMax {
                throw SymlinkFailure.conflict("Too many levels of symbolic links, maximum allowed is \(Symlink.symloopMax)", location: nil)
            }
            guard let next = Symlink.path(of: row, version: target.version) else { break }
            location = next.location
            loops += 1
            targetEtag = linkEtag
            (req, row) = try await fetchLinked(next)
        }
        if let expected = targetEtag, !expected.sameBytes(as: row.etag) {
            throw SymlinkFailure.conflict("Object Etag \(Symlink.repr(row.etag)) does not match X-Symlink-Target-Etag header \(Symlink.repr(expected))",
                                          location: location)
        }
        return (row, req, location)
    }

    /// GET/HEAD of a link: the target's answer, with `Content-Location` naming it.
    func getThroughLink(_ link: ObjectRow) async throws -> Response {
        do {
            let end = try await followLinks(from: link, via: self, targetEtag: nil, followDynamic: true, location: nil)
            var response = try await end.request.serveObject(end.row, requestedName: target.object)
            if let location = end.location { response.headers[.contentLocation] = location }
            return response
        } catch let failure as SymlinkFailure {
            return failure.response()
        }
    }

    /// What reading `row` through this request reaches: the row itself, or a link's target and
    /// the request that may read it (a COPY of a link copies its target). A failure is the
    /// answer a GET of the link would give.
    func throughLinks(_ row: ObjectRow) async throws -> (ObjectRow, SwiftRequest) {
        guard row.isSymlink else { return (row, self) }
        do {
            let end = try await followLinks(from: row, via: self, targetEtag: nil, followDynamic: true, location: nil)
            return (end.row, end.request)
        } catch let failure as SymlinkFailure {
            throw SwiftReply(response: failure.response())
        }
    }

    /// `?symlink=get` answers: the link's own headers, its system metadata as `X-Symlink-*`.
    static func symlinkHeaders(_ row: ObjectRow, into h: inout HTTPFields) {
        let names = [(Symlink.targetKey, "X-Symlink-Target"), (Symlink.accountKey, "X-Symlink-Target-Account"),
                     (Symlink.etagKey, "X-Symlink-Target-Etag"), (Symlink.bytesKey, "X-Symlink-Target-Bytes")]
        for (key, name) in names { if let v = row.metadata[key] { h[HTTPField.Name(name)!] = v } }
    }

    /// A listing entry's `symlink_path` (and, for static links, `symlink_etag`, `symlink_bytes`
    /// and an SLO target's `slo_etag`), as the middleware adds them to JSON listings.
    static func addSymlinkFields(_ row: ObjectRow, version: String, to entry: inout JSONObject) {
        guard let path = Symlink.path(of: row, version: version) else { return }
        entry["symlink_path"] = .string(path.location)
        if let etag = row.metadata[Symlink.etagKey] {
            entry["symlink_etag"] = .string(etag)
            entry["symlink_bytes"] = .int(Int64(row.metadata[Symlink.bytesKey].flatMap { Int($0) } ?? 0))
        }
        if let slo = row.metadata[Symlink.sloEtagKey] { entry["slo_etag"] = .string("\"\(slo)\"") }
    }
}
