import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NimbusCore

/// The destination container of a sync, reached over HTTP with requests signed as Swift's
/// container-sync daemon signs them (`_update_sync_to_headers`).
struct ContainerSyncPeer: Sendable {
    let target: ContainerSyncTarget
    let userKey: String
    let client: HTTPClient
    let timeout: Duration

    struct Failure: Error { var status: Int }

    /// The object's URL and the path its signature covers (the URL's path as sent).
    func location(_ name: String) -> (url: String, path: String) {
        let quoted = PercentEncoding.encode(name, safe: "/")
        let base = URLComponents(string: target.url)?.percentEncodedPath ?? ""
        return (target.url + "/" + quoted, base + "/" + quoted)
    }

    func headers(_ method: String, _ name: String, timestamp: String) -> HTTPHeaders {
        var h = HTTPHeaders()
        h.add(name: "X-Timestamp", value: timestamp)
        if let realm = target.realm, let realmKey = target.realmKey {
            let nonce = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let sig = ContainerSyncRealms.signature(method: method, path: location(name).path, timestamp: timestamp, nonce: nonce,
                                                    realmKey: realmKey, userKey: userKey)
            h.add(name: "X-Container-Sync-Auth", value: "\(realm) \(nonce) \(sig)")
        } else {
            h.add(name: "X-Container-Sync-Key", value: userKey)
        }
        return h
    }

    var timeAmount: TimeAmount { .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000) }

    func run(_ method: HTTPMethod, _ name: String, timestamp: String, query: String = "", extra: HTTPHeaders = [:],
             body: HTTPClientRequest.Body? = nil) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: location(name).url + query)
        request.method = method
        request.headers = headers(method.rawValue, name, timestamp: timestamp)
        request.headers.add(contentsOf: extra)
        if let body { request.body = body }
        let response = try await client.execute(request, timeout: timeAmount)
        // Only the status matters; read (a bounded part of) the body so the connection is reused.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return response
    }

    /// The destination's X-Timestamp of the object, nil when it has none (404).
    func headTimestamp(_ name: String, timestamp: String) async throws -> String? {
        // `symlink=get`: a link's own timestamp, not its target's (the signature covers the path only).
        let r = try await run(.HEAD, name, timestamp: timestamp, query: "?symlink=get")
        if r.status.code == 404 { return nil }
        guard (200..<300).contains(Int(r.status.code)) else { throw Failure(status: Int(r.status.code)) }
        return r.headers.first(name: "X-Timestamp").flatMap { SwiftRequest.normalizedTimestamp($0) }
    }

    func delete(_ name: String, timestamp: String) async throws -> Int {
        Int(try await run(.DELETE, name, timestamp: timestamp).status.code)
    }

    /// PUTs the object read from `body` with its content type, metadata and timestamp.
    func put(_ row: ObjectRow, timestamp: String, body: any ObjectReadStream) async throws -> Int {
        var h = HTTPHeaders()
        h.add(name: "Content-Type", value: row.contentType)
        h.add(name: "Content-Length", value: String(row.size))
        h.add(name: "ETag", value: row.etag)
        for (k, v) in row.metadata.sorted(by: { $0.key.bytesPrecede($1.key) }) where Self.synced(k) { h.add(name: k, value: v) }
        // A symlink is sent as one (its target from the system metadata, already quoted).
        let link = [("X-Symlink-Target", Symlink.targetKey), ("X-Symlink-Target-Account", Symlink.accountKey),
                    ("X-Symlink-Target-Etag", Symlink.etagKey), ("X-Symlink-Target-Bytes", Symlink.bytesKey)]
        for (header, key) in link { if let v = row.metadata[key] { h.add(name: header, value: v) } }
        if let at = row.deleteAt { h.add(name: "X-Delete-At", value: String(at)) }
        let stream = HTTPClientRequest.Body.stream(ReadStreamSequence(stream: body), length: .known(Int64(row.size)))
        return Int(try await run(.PUT, row.name, timestamp: timestamp, extra: h, body: stream).status.code)
    }

    /// The object's metadata a PUT carries: user metadata, the headers the object server
    /// keeps and an SLO manifest's mark; not system metadata (the receiving proxy would drop it).
    static func synced(_ key: String) -> Bool {
        key.hasBytePrefix("x-object-meta-") || SwiftRequest.objectSettings.containsBytes(key) || key.sameBytes(as: "x-static-large-object")
    }
}

/// An object replica's stream as the AsyncSequence a request body reads.
struct ReadStreamSequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let stream: any ObjectReadStream
    func makeAsyncIterator() -> Iterator { Iterator(stream: stream) }
    struct Iterator: AsyncIteratorProtocol {
        let stream: any ObjectReadStream
        mutating func next() async throws -> ByteBuffer? { try await stream.next() }
    }
}
