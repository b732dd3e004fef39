import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// Container sync on the receiving side (Swift's container_sync middleware) and the checks of
/// `X-Container-Sync-To` on container PUT/POST.
extension SwiftRequest {
    var syncSettings: ContainerSyncSettings { service.settings.containerSync }

    /// `X-Container-Sync-Auth: <realm> <nonce> <signature>`: valid when the signature is the
    /// realm key's (or key2's) HMAC of the request with the container's sync key. A valid one
    /// authorizes the request on that container's objects without a token and keeps the
    /// sender's X-Timestamp; an invalid one is the middleware's 401.
    mutating func checkContainerSyncAuth(_ header: String) async throws {
        // Python's str.split(): on runs of whitespace bytes.
        let parts = header.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map { String(decoding: $0, as: UTF8.self) }
        var valid = false
        if parts.count == 3, let realmKey = syncSettings.realms.key(parts[0]),
           let userKey = try await index.container(target.account, target.container!)?.metadata["x-container-sync-key"], !userKey.isEmpty {
            let path = PercentEncoding.encode("/object" + (PercentEncoding.decode(context.rawPath) ?? ""), safe: "/")
            let ts = headers["x-timestamp"] ?? "0"
            let keys = [realmKey] + (syncSettings.realms.key2(parts[0]).map { [$0] } ?? [])
            for key in keys {
                let expected = ContainerSyncRealms.signature(method: method.rawValue, path: path, timestamp: ts, nonce: parts[1], realmKey: key, userKey: userKey)
                if ContainerSyncRealms.constantTimeEqual(parts[2], expected) { valid = true }
            }
        }
        guard valid else {
            var r = SwiftErrorRenderer.plain(.unauthorized, "X-Container-Sync-Auth header not valid; contact cluster operator for support.", contentType: "text/plain")
            r.headers[.wwwAuthenticate] = "SwiftContainerSync realm=\"\(target.account)\""
            throw SwiftReply(response: r)
        }
        syncAuthorized = true
    }

    /// The sender's X-Timestamp (normalized as Swift's `Timestamp`) of a sync request; nil for
    /// other requests (gatekeeper drops a client's X-Timestamp) or when none was sent.
    func syncTimestamp() throws(NimbusError) -> String? {
        guard syncAuthorized, let raw = headers["x-timestamp"] else { return nil }
        guard let t = Self.normalizedTimestamp(raw) else {
            throw .badRequest("X-Timestamp should be a UNIX timestamp float value; was \(ContainerSyncTarget.pythonRepr(raw))")
        }
        return t
    }

    /// Swift's `Timestamp`: a decimal float (not Swift's hex form `0x10`), rounded to 10 µs,
    /// then refused when negative or not below 10^10 s (`timestamp too large`), so the text
    /// always has `%016.5f`'s sixteen characters and compares as the time does.
    static func normalizedTimestamp(_ raw: String) -> String? {
        let text = raw.trimmingCharacters(in: .whitespaces)
        guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2E || $0 == 0x2B || $0 == 0x2D || $0 == 0x65 || $0 == 0x45 }),
              let d = Double(text), d.isFinite else { return nil }
        var units = (d * 100_000).rounded()
        if units == 0 { units = 0 }  // -0.0 (from "-0.000001") prints with a sign
        guard units >= 0, units < 1_000_000_000_000_000 else { return nil }
        return ObjectStorageService.format(units / 100_000)
    }

    /// A synced PUT older than (or as old as) the stored object: the object server's 409,
    /// which the proxy answers as 202.
    func syncPutSuperseded(_ timestamp: String?) async throws -> Response? {
        guard let timestamp, let current = try await index.object(target.account, target.container!, target.object!),
              current.timestamp >= timestamp else { return nil }
        return .swiftAccepted()
    }

    /// A synced DELETE: removes the object only when it is older than the sender's timestamp.
    func syncDelete(timestamp: String) async throws -> Response {
        switch try await service.deleteFromSync(account: target.account, container: target.container!, name: target.object!, timestamp: timestamp) {
        case .deleted: return .swift(.noContent)
        case .notFound: throw NimbusError.notFound("The resource could not be found.")
        case .newer: throw NimbusError.conflict("There was a conflict when trying to complete your request.")
        }
    }

    /// `validate_sync_to` on an owner's X-Container-Sync-To (400 with Swift's message).
    func checkSyncTo(_ updates: [String: String?]) throws(NimbusError) {
        guard let value = updates["x-container-sync-to"] ?? nil else { return }
        if case .failure(let e) = ContainerSyncTarget.validate(value, rules: syncSettings.rules, realms: syncSettings.realms) {
            throw .badRequest(e.message)
        }
    }

    /// Container sync and object versioning exclude each other (container_sync.py and
    /// object_versioning.py refuse either on a container with the other).
    static func checkSyncVersioning(_ enabled: Bool?, updates: [String: String?], before: [String: String]) throws {
        if (updates["x-container-sync-to"] ?? nil) != nil, before[ObjectIndex.versionsContainerKey] != nil {
            throw NimbusError.badRequest("Cannot configure container sync on a container with object versioning configured.")
        }
        if enabled != nil, before["x-container-sync-to"] != nil {
            throw NimbusError.badRequest("Cannot enable object versioning on a container configured as source of container syncing.")
        }
    }
}

extension ObjectStorageService {
    /// A DELETE from a sync peer (see `ObjectIndex.deleteObject(syncTimestamp:)`), then the files.
    public func deleteFromSync(account: String, container: String, name: String, timestamp: String) async throws -> ObjectIndex.SyncDeleteResult {
        let result = try await index.deleteObject(account, container, name, syncTimestamp: timestamp)
        if case .deleted(let old) = result, old.versionID == nil { removeFiles(of: old) }
        return result
    }
}

extension SwiftAPI {
    /// container_sync.py `register_info`: each realm with clusters, the current one marked.
    func containerSyncRealmsInfo() -> JSONObject {
        let sync = service.settings.containerSync
        var out = JSONObject()
        for (name, realm) in sync.realms.realms.sorted(by: { $0.key < $1.key }) where !realm.clusters.isEmpty {
            var clusters = JSONObject()
            for cluster in realm.clusters.keys.sorted() {
                let current = sync.current.map { $0.realm.sameBytes(as: name.string) && $0.cluster.sameBytes(as: cluster.string) } ?? false
                let entry: JSONValue = current ? ["current": true] : [:]
                clusters[cluster.string] = entry
            }
            out[name.string] = ["clusters": .object(clusters)]
        }
        return out
    }
}
