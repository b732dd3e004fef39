import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore

extension SwiftRequest {
    /// What a symlink PUT stores besides the usual object metadata (symlink.py `handle_put`).
    struct SymlinkPut {
        /// The link's system metadata.
        var metadata: [String: String]
        var path: Symlink.Path
        /// `X-Symlink-Target-Etag` (quotes removed): a static link.
        var etag: String?
        /// The link's Content-Type: as sent; else a static link's target's; else
        /// `application/symlink`.
        var contentType: String?
    }

    /// symlink.py `handle_put` and `_validate_and_prep_request_headers`: the body must be empty
    /// (a chunked one is read to find out) and the headers well formed. Returns what to store.
    func symlinkPut() async throws -> SymlinkPut {
        let bodyError = NimbusError.badRequest("Symlink requests require a zero byte body")
        if let length = try contentLength() {
            if length != 0 { throw bodyError }
        } else {
            // Chunked: only the first non-empty piece is read; its first byte settles it.
            for try await piece in request.body where piece.readableBytes > 0 { throw bodyError }
        }
        guard let decoded = PercentEncoding.decode(headers["x-symlink-target"] ?? ""), !decoded.utf8.contains(0) else {
            throw NimbusError.preconditionFailed(Symlink.formMessage)
        }
        if decoded.hasBytePrefix("/") {
            throw SwiftReply(response: SwiftErrorRenderer.plain(.preconditionFailed, Symlink.formMessage, contentType: "text/plain"))
        }
        guard let (container, object) = decoded.splitOnceBytes("/"), !container.isEmpty, !object.isEmpty else {
            throw NimbusError.preconditionFailed(Symlink.formMessage)
        }
        let quotedTarget = PercentEncoding.encode("\(container)/\(object)", safe: "/")
        var metadata = [Symlink.targetKey: quotedTarget]
        var account = target.account
        if let a = try symlinkTargetAccount() {
            account = a
            metadata[Symlink.accountKey] = PercentEncoding.encode(a, safe: "/")
        }
        if account.sameBytes(as: target.account), container.sameBytes(as: target.container!), object.sameBytes(as: target.object!) {
            throw NimbusError.badRequest("Symlink cannot target itself")
        }
        let etag = Symlink.normalizeEtag(headers["x-symlink-target-etag"])
        if let etag, etag.utf8.contains(where: { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            throw NimbusError.badRequest("Bad X-Symlink-Target-Etag format")
        }
        let quotedAccount = metadata[Symlink.accountKey] ?? PercentEncoding.encode(target.account, safe: "/")
        let path = Symlink.Path(target: .init(account: account, container: String(container), object: String(object), version: target.version),
                                location: "/\(target.version)/\(quotedAccount)/\(quotedTarget)")
        var contentType = headers[.contentType].flatMap { $0.isEmpty ? nil : $0 }
        if etag == nil, contentType == nil { contentType = "application/symlink" }
        return SymlinkPut(metadata: metadata, path: path, etag: etag, contentType: contentType)
    }

    /// `X-Symlink-Target-Account`, unquoted and checked as constraints.py
    /// `check_account_format` checks it; nil when not sent.
    func symlinkTargetAccount() throws(NimbusError) -> String? {
        guard let raw = headers["x-symlink-target-account"] else { return nil }
        guard let a = PercentEncoding.decode(raw), !a.utf8.contains(0) else { throw .preconditionFailed("Invalid UTF8 or contains NULL") }
        if a.isEmpty { throw .preconditionFailed("Account name cannot be empty") }
        if a.containsByte("/") { throw .preconditionFailed("Account name cannot contain slashes") }
        return a
    }

    /// symlink.py `_validate_etag_and_update_sysmeta`: a static link's target must exist (409),
    /// be readable by this request, and have the given ETag (static links on the way are
    /// followed, dynamic ones are not). Records the target's size and, by default, its type.
    func checkStaticLink(_ link: inout SymlinkPut) async throws {
        guard let etag = link.etag else { return }
        let end: (row: ObjectRow, request: SwiftRequest, location: String?)
        do {
            let (req, row) = try await fetchLinked(link.path)
            end = try await followLinks(from: row, via: req, targetEtag: etag, followDynamic: false, location: link.path.location)
        } catch SymlinkFailure.missing(let location) {
            throw SwiftReply(response: SwiftErrorRenderer.plain(.conflict, "X-Symlink-Target does not exist", contentType: "text/plain")
                .withHeaders(SymlinkFailure.location(location)))
        } catch SymlinkFailure.refused(let error, _) {
            // status_map[status](request=req): the status's standard page.
            var standard = error
            standard.message = SwiftErrorRenderer.standard[error.status] ?? error.message
            throw standard
        } catch let failure as SymlinkFailure {
            throw SwiftReply(response: failure.response())
        }
        let target = end.row
        link.metadata[Symlink.etagKey] = etag
        link.metadata[Symlink.bytesKey] = target.metadata["x-object-sysmeta-slo-size"] ?? String(target.size)
        if let slo = target.metadata["x-object-sysmeta-slo-etag"] { link.metadata[Symlink.sloEtagKey] = slo }
        if link.contentType == nil { link.contentType = target.contentType }
    }

    /// symlink.py `handle_post`: a POST to a link is applied to the link, and answered with a
    /// 307 to the target (never followed by Swift).
    static func postedToLink(_ row: ObjectRow, _ path: Symlink.Path) -> Response {
        var h = HTTPFields()
        h[.location] = path.location
        if let etag = row.metadata[Symlink.etagKey] { h["X-Symlink-Target-Etag"] = etag }
        return .swift(.temporaryRedirect, headers: h,
                      body: "The requested POST was applied to a symlink. POST directly to the target to apply requested metadata.")
    }
}
