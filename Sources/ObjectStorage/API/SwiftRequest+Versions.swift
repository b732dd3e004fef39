import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore

/// The object side of Swift's object versioning (versioned_writes/object_versioning.py):
/// `?version-id=<id>` requests and the `X-Object-Version-Id` headers. Who may do what follows
/// Swift, where a version lives in the hidden versions container, which has no ACLs: reading a
/// version needs read access to the account (not just a container ACL), deleting one write
/// access to the account; `version-id=null` addresses the object itself, with its container's
/// ACLs, and promoting a version (PUT) is a write of the object, also allowed by the write ACL.
extension SwiftRequest {
    /// The `version-id` query value; nil when absent or empty (Swift ignores an empty one), and
    /// for temp URL requests (tempurl.py keeps only its own query parameters).
    var versionIDParam: String? {
        guard !tempURL, let v = query("version-id"), !v.isEmpty else { return nil }
        return v
    }

    static let nullVersion = "null"

    /// The version a `version-id` value names in `container`: `null`, or a normalized id. 400s
    /// as object_versioning.py answers them (before any access check, as there).
    func checkedVersionID(_ raw: String, in container: ContainerRow?) throws(NimbusError) -> String {
        let versioned = container.map { service.versioning(of: $0) != .never } ?? false
        if raw.sameBytes(as: Self.nullVersion) { return Self.nullVersion }
        if !versioned { throw .badRequest("version-aware operations require that the container is versioned") }
        guard let id = VersionID.normalize(raw) else { throw .badRequest("Invalid version parameter") }
        return id
    }

    /// A 404 answer with extra headers (the version ids Swift adds to it).
    static func notFound(_ extra: HTTPFields) -> SwiftReply {
        SwiftReply(response: SwiftErrorRenderer.page(.notFound, "The resource could not be found.").withHeaders(extra))
    }

    /// `?version-id` on an object (COPY and PUT with `X-Copy-From` read it as their source's).
    mutating func objectVersion(_ raw: String) async throws -> Response {
        if method == .post { throw NimbusError.badRequest("POST to a specific version is not allowed") }
        let container = try await index.container(target.account, target.container!)
        corsContainer = container
        let id = try checkedVersionID(raw, in: container)
        switch method {
        case .get, .head:
            let row = try await versionToRead(id, raw: raw)
            var r = row.isSymlink && query("symlink") != "get" ? try await getThroughLink(row) : try await serveObject(row)
            if (200..<300).contains(r.status.code) { r.headers["X-Object-Version-Id"] = raw }
            return r
        case .delete: return try await deleteVersion(id, raw: raw)
        case .put: return try await promoteVersion(id)
        default: throw NimbusError(.methodNotAllowed, "The method is not allowed for this resource.")
        }
    }

    /// The row a read of version `id` (or `null`) of the object serves, authorized; a delete
    /// marker is a 404 that says what it is.
    func versionToRead(_ id: String, raw: String) async throws -> ObjectRow {
        let (account, container, name) = (target.account, target.container!, target.object!)
        if id.sameBytes(as: Self.nullVersion) {
            // The object itself, unless it shows a version (that has an id of its own).
            guard try await authorizeObject(write: false) != nil, let row = try await liveObject(account, container, name), row.versionID == nil else {
                throw NimbusError.notFound("The resource could not be found.")
            }
            return row
        }
        guard canReadAccount else { throw deny() }
        guard let row = try await index.version(account, container, name, id: id) else { throw NimbusError.notFound("The resource could not be found.") }
        if row.contentType.sameBytes(as: ObjectIndex.deleteMarkerContentType) {
            var h = HTTPFields()
            h["X-Object-Version-Id"] = raw
            var reply = Self.notFound(h)
            reply.response.headers[.contentType] = ObjectIndex.deleteMarkerContentType
            throw reply
        }
        return row
    }

    /// `DELETE ?version-id`: `null` deletes the object itself (no delete marker); an id deletes
    /// that version (and the object, when it shows that version).
    mutating func deleteVersion(_ id: String, raw: String) async throws -> Response {
        let (account, container, name) = (target.account, target.container!, target.object!)
        if query("multipart-manifest") == "delete" {
            let row = try await versionToRead(id, raw: raw)
            if row.isStaticLargeObject {
                if !id.sameBytes(as: Self.nullVersion), !(isOwner || level == .readWrite) { throw deny() }
                return try await deleteManifest(row)
            }
        }
        if id.sameBytes(as: Self.nullVersion) {
            guard try await authorizeObject(write: true) != nil else { throw NimbusError.notFound("The resource could not be found.") }
            guard try await service.delete(account: account, container: container, name: name) != nil else {
                throw NimbusError.notFound("The resource could not be found.")
            }
            return .swift(.noContent)
        }
        guard isOwner || level == .readWrite else { throw deny() }
        let result = try await service.deleteVersion(account: account, container: container, name: name, id: id)
        var h = HTTPFields()
        h["X-Object-Version-Id"] = raw
        h["X-Object-Current-Version-Id"] = result.current?.versionID ?? Self.nullVersion
        guard result.deleted != nil else { throw Self.notFound(h) }
        return .swift(.noContent, headers: h)
    }

    /// `PUT ?version-id=<id>` with an empty body: the object shows that version again.
    mutating func promoteVersion(_ id: String) async throws -> Response {
        guard !id.sameBytes(as: Self.nullVersion) else { throw NimbusError.badRequest("Invalid version parameter") }
        let bodyError = SwiftReply(response: SwiftErrorRenderer.plain(.badRequest, "PUT version-id requests require a zero byte body",
                                                                     contentType: "text/plain"))
        if headers[.transferEncoding]?.lowercased() == "chunked" {
            for try await piece in request.body where piece.readableBytes > 0 { throw bodyError }
        } else if let cl = headers[.contentLength] {
            if Int(cl) != 0 { throw bodyError }
        } else {
            throw NimbusError(.lengthRequired, "Content-Length header required.")
        }
        guard let container = try await authorizeObject(write: true) else { throw NimbusError.notFound("The resource could not be found.") }
        let row: ObjectRow
        do {
            row = try await service.promote(account: target.account, container: container, name: target.object!, id: id, deleteAt: try deleteAtHeader())
        } catch let e as NimbusError where e.message == "The specified version does not exist" {
            throw SwiftReply(response: SwiftErrorRenderer.plain(.notFound, e.message, contentType: "text/plain"))
        }
        var h = HTTPFields()
        h[.eTag] = row.etag
        h[.lastModified] = HTTPDate.lastModified(row.timestamp)
        h["X-Object-Version-Id"] = id
        return .swift(.created, headers: h)
    }

    /// The version headers of an answer about the object in a container that has (or had)
    /// versioning: which version it shows (`null`: a plain object, or none), and for a version
    /// the `Content-Location` that addresses it.
    func addVersionHeaders(_ response: inout Response, _ row: ObjectRow?) {
        response.headers["X-Object-Version-Id"] = row?.versionID ?? Self.nullVersion
        guard let row, let id = row.versionID, response.headers[.contentLocation] == nil, query("symlink") != "get" else { return }
        response.headers[.contentLocation] = PercentEncoding.encode("/\(target.version)/\(row.account)/\(row.container)/\(row.name)", safe: "/")
            + "?version-id=\(id)"
    }

    /// DELETE of the object (no `version-id`): a delete marker with versioning on, else the
    /// object itself (the legacy modes act as they do).
    func deleteCurrent(_ container: ContainerRow) async throws -> Response {
        let result = try await service.deleteObject(account: target.account, container: container, name: target.object!)
        var h = HTTPFields()
        if let marker = result.markerID { h["X-Object-Version-Id"] = marker }
        guard result.deleted else { throw Self.notFound(h) }
        return .swift(.noContent, headers: h)
    }

    /// The source of a COPY (or `X-Copy-From`) as read by this request, which may name a
    /// version of it; and the `X-Copied-From-Version-Id` Swift reports for it.
    func copySource(_ account: String, _ container: String, _ name: String) async throws -> (ObjectRow, String?) {
        let row = try await index.container(account, container)
        let versioned = row.map { service.versioning(of: $0) != .never } ?? false
        guard let raw = versionIDParam else {
            guard let found = try await liveObject(account, container, name) else { throw NimbusError.notFound("The resource could not be found.") }
            return (found, versioned ? found.versionID ?? Self.nullVersion : nil)
        }
        let id = try checkedVersionID(raw, in: row)
        return (try await versionToRead(id, raw: raw), raw)
    }
}

extension SwiftRequest {
    /// The last step of `?multipart-manifest=delete`: the manifest itself — the version read
    /// (`version-id`), a delete marker in a container with versioning on, else the row read
    /// (not a newer one written meanwhile).
    func deleteManifestObject(_ row: ObjectRow) async throws -> Bool {
        let (account, container, name) = (target.account, target.container!, target.object!)
        if row.isVersionRecord {
            return try await service.deleteVersion(account: account, container: container, name: name, id: row.timestamp).deleted != nil
        }
        if versionIDParam?.sameBytes(as: Self.nullVersion) != true, let c = try await index.container(account, container),
           service.versioning(of: c) == .enabled {
            return try await service.deleteObject(account: account, container: c, name: name).deleted
        }
        return try await service.delete(account: account, container: container, name: name, onlyTimestamp: row.timestamp) != nil
    }
}
