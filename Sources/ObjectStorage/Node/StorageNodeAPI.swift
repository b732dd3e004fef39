import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NimbusCore

/// The HTTP API a `nimbus storage` node serves to the proxy: its local devices, one operation
/// of `ObjectDevice` per route. Every request must carry the cluster's storage key.
///
///     GET  /storage/<dev>                          partitions (JSON array)
///     GET  /storage/<dev>/<part>                   hashes and their files (JSON object)
///     PUT  /storage/<dev>/<part>/<hash>/<ts>       framed upload, 201 once durable
///     GET  /storage/<dev>/<part>/<hash>/<ts>       bytes (Range: one range), metadata header
///     PUT  /storage/<dev>/<part>/<hash>/<ts>.meta  metadata JSON, 201 once durable
///     GET  /storage/<dev>/<part>/<hash>/<ts>.meta  metadata JSON
///     POST /storage/<dev>/<part>/<hash>/remove     removal JSON, 204
///     GET  /healthcheck                            OK (no key)
public struct StorageNodeAPI: Sendable {
    let devices: [String: LocalDevice]
    let key: [UInt8]
    let logger: Logger

    public init(devices: [LocalDevice], key: String, logger: Logger) {
        self.devices = Dictionary(uniqueKeysWithValues: devices.map { ($0.ring.name, $0) })
        self.key = Array(key.utf8)
        self.logger = logger
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/healthcheck") { _, _ in "OK" }
        let api = self
        router.group("/storage").add(middleware: KeyCheck(key: key))
            .get(":device") { _, c in try await api.partitions(c) }
            .get(":device/:part") { _, c in try await api.list(c) }
            .put(":device/:part/:hash/:file") { r, c in try await api.put(r, c) }
            .get(":device/:part/:hash/:file") { r, c in try await api.get(r, c) }
            .post(":device/:part/:hash/remove") { r, c in try await api.remove(r, c) }
        return router
    }

    struct KeyCheck: RouterMiddleware {
        let key: [UInt8]
        func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
            guard let given = request.headers[HTTPField.Name(StorageNodeProtocol.keyHeader)!],
                  ConstantTime.equal(Array(given.utf8), key) else {
                throw HTTPError(.unauthorized, message: "missing or wrong storage key")
            }
            return try await next(request, context)
        }
    }

    // MARK: parameters

    func device(_ c: BasicRequestContext) throws -> LocalDevice {
        guard let name = c.parameters.get("device"), StorageNames.isDevice(name), let d = devices[name] else {
            throw HTTPError(.notFound, message: "no such device on this node")
        }
        return d
    }

    func partition(_ c: BasicRequestContext) throws -> Int {
        guard let s = c.parameters.get("part"), let p = Int(s), p >= 0, p < 1 << 24 else { throw HTTPError(.badRequest, message: "bad partition") }
        return p
    }

    func hash(_ c: BasicRequestContext) throws -> String {
        guard let h = c.parameters.get("hash"), StorageNames.isHash(h) else { throw HTTPError(.badRequest, message: "bad hash") }
        return h
    }

    static func json(_ value: some Encodable) throws -> Response {
        let data = try JSONEncoder().encode(value)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Replica errors as the statuses `StorageNodeClient.check` maps back.
    func replicaErrors<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as ReplicaError {
            switch e {
            case .notFound: throw HTTPError(.notFound)
            case .corrupt: throw HTTPError(.conflict, headers: [HTTPField.Name(StorageNodeProtocol.errorHeader)!: "corrupt"], message: "replica failed its checksum and was quarantined")
            case .unavailable(let why): throw HTTPError(.serviceUnavailable, message: why)
            }
        }
    }

    // MARK: handlers

    func partitions(_ c: BasicRequestContext) async throws -> Response {
        let d = try device(c)
        return try Self.json(try await d.partitions())
    }

    func list(_ c: BasicRequestContext) async throws -> Response {
        let d = try device(c)
        return try Self.json(try await d.list(partition: try partition(c)))
    }

    func put(_ request: Request, _ c: BasicRequestContext) async throws -> Response {
        let (d, p, h) = (try device(c), try partition(c), try hash(c))
        guard let file = c.parameters.get("file") else { throw HTTPError(.badRequest) }
        if file.hasSuffix(".meta") {
            let ts = String(file.dropLast(5))
            guard StorageNames.isTimestamp(ts) else { throw HTTPError(.badRequest, message: "bad timestamp") }
            let body = try await request.body.collect(upTo: 1 << 20)
            guard let m = DiskMetadata.decode(body.readableBytesView), m.timestamp == ts else { throw HTTPError(.badRequest, message: "bad metadata") }
            try await replicaErrors { try await d.writeMeta(partition: p, hash: h, metadata: m) }
            return Response(status: .created)
        }
        guard StorageNames.isTimestamp(file) else { throw HTTPError(.badRequest, message: "bad timestamp") }
        let writer = try await d.writer(partition: p, hash: h, timestamp: file)
        var pending = ByteBuffer()
        var committed = false
        do {
            for try await chunk in request.body {
                guard !committed else { throw HTTPError(.badRequest, message: "data after the commit frame") }
                var chunk = chunk
                pending.writeBuffer(&chunk)
                while let kind: UInt8 = pending.getInteger(at: pending.readerIndex),
                      let length: UInt32 = pending.getInteger(at: pending.readerIndex + 1),
                      pending.readableBytes >= 5 + Int(length) {
                    pending.moveReaderIndex(forwardBy: 5)
                    let payload = pending.readSlice(length: Int(length))!
                    switch kind {
                    case StorageNodeProtocol.dataFrame:
                        try await writer.write(payload)
                    case StorageNodeProtocol.commitFrame:
                        guard let m = DiskMetadata.decode(payload.readableBytesView), m.timestamp == file else {
                            throw HTTPError(.badRequest, message: "bad metadata")
                        }
                        try await writer.commit(m)
                        committed = true
                    default:
                        throw HTTPError(.badRequest, message: "bad frame")
                    }
                }
                pending.discardReadBytes()
            }
        } catch {
            if !committed { await writer.abort() }
            throw error
        }
        guard committed, pending.readableBytes == 0 else {
            if !committed { await writer.abort() }
            throw HTTPError(.badRequest, message: "the upload ended without a commit")
        }
        return Response(status: .created)
    }

    func get(_ request: Request, _ c: BasicRequestContext) async throws -> Response {
        let (d, p, h) = (try device(c), try partition(c), try hash(c))
        guard let file = c.parameters.get("file") else { throw HTTPError(.badRequest) }
        if file.hasSuffix(".meta") {
            let ts = String(file.dropLast(5))
            guard StorageNames.isTimestamp(ts) else { throw HTTPError(.badRequest, message: "bad timestamp") }
            let m = try await replicaErrors { try await d.readMeta(partition: p, hash: h, timestamp: ts) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: m.encoded())))
        }
        guard StorageNames.isTimestamp(file) else { throw HTTPError(.badRequest, message: "bad timestamp") }
        var range: Range<Int>?
        if let header = request.headers[.range] {
            guard let r = Self.parseRange(header) else { throw HTTPError(.badRequest, message: "only one bytes=a-b range") }
            range = r
        }
        let stream = try await replicaErrors { try await d.read(partition: p, hash: h, timestamp: file, range: range) }
        let logger = self.logger
        var headers: HTTPFields = [.contentType: "application/octet-stream"]
        headers[HTTPField.Name(StorageNodeProtocol.metadataHeader)!] = StorageNodeProtocol.encode(stream.metadata)
        return Response(status: range == nil ? .ok : .partialContent, headers: headers, body: ResponseBody(contentLength: stream.length) { writer in
            do {
                while let chunk = try await stream.next() { try await writer.write(chunk) }
                await stream.close()
                try await writer.finish(nil)
            } catch {
                await stream.close()
                // Ending the response short closes the connection: the proxy sees a failed read.
                logger.warning("storage node: read of \(h)/\(file) broke off: \(error)")
                throw error
            }
        })
    }

    static func parseRange(_ s: String) -> Range<Int>? {
        guard s.hasPrefix("bytes=") else { return nil }
        let parts = s.dropFirst(6).splitBytes("-", omittingEmpty: false)
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, b >= a else { return nil }
        return a..<(b + 1)
    }

    func remove(_ request: Request, _ c: BasicRequestContext) async throws -> Response {
        let (d, p, h) = (try device(c), try partition(c), try hash(c))
        let body = try await request.body.collect(upTo: 1 << 20)
        guard let removal = StorageNodeProtocol.decodeRemoval(Array(body.readableBytesView)) else {
            throw HTTPError(.badRequest, message: "bad removal")
        }
        try await replicaErrors { try await d.remove(partition: p, hash: h, removal) }
        return Response(status: .noContent)
    }
}
