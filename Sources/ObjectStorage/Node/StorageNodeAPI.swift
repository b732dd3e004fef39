import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import NimbusCore
import Synchronization

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
///     POST /storage/<dev>/<part>/<hash>/push       push order JSON: copy one file to another
///                                                  node's device (replication node to node)
///     GET  /healthcheck                            OK (no key)
///
/// `X-Backend-Storage-Policy-Index: <n>` picks a storage policy's files (`objects-<n>`); without
/// it, policy 0's.
public struct StorageNodeAPI: Sendable {
    let devices: NodeDevices
    let key: [UInt8]
    let keyText: String
    /// Reaches other nodes for pushes (nil: this node does not push).
    let peers: HTTPClient?
    let logger: Logger

    public init(devices: NodeDevices, key: String, peers: HTTPClient? = nil, logger: Logger) {
        self.devices = devices
        self.key = Array(key.utf8)
        self.keyText = key
        self.peers = peers
        self.logger = logger
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/healthcheck") { _, _ in "OK" }
        let api = self
        router.group("/storage").add(middleware: KeyCheck(key: key))
            .get(":device") { r, c in try await api.partitions(r, c) }
            .get(":device/:part") { r, c in try await api.list(r, c) }
            .put(":device/:part/:hash/:file") { r, c in try await api.put(r, c) }
            .get(":device/:part/:hash/:file") { r, c in try await api.get(r, c) }
            .post(":device/:part/:hash/remove") { r, c in try await api.remove(r, c) }
            .post(":device/:part/:hash/push") { r, c in try await api.push(r, c) }
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

    func device(_ r: Request, _ c: BasicRequestContext) throws -> LocalDevice {
        var policy = 0
        if let v = r.headers[HTTPField.Name(StorageNodeProtocol.policyHeader)!] {
            guard let n = Int(v), (0...StorageNodeProtocol.maxPolicyIndex).contains(n), String(n) == v else {
                throw HTTPError(.badRequest, message: "bad storage policy index")
            }
            policy = n
        }
        guard let name = c.parameters.get("device"), StorageNames.isDevice(name), let d = try devices.device(name, policy: policy) else {
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

    func partitions(_ r: Request, _ c: BasicRequestContext) async throws -> Response {
        let d = try device(r, c)
        return try Self.json(try await d.partitions())
    }

    func list(_ r: Request, _ c: BasicRequestContext) async throws -> Response {
        let d = try device(r, c)
        return try Self.json(try await d.list(partition: try partition(c)))
    }

    func put(_ request: Request, _ c: BasicRequestContext) async throws -> Response {
        let (d, p, h) = (try device(request, c), try partition(c), try hash(c))
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
        let (d, p, h) = (try device(request, c), try partition(c), try hash(c))
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
        let (d, p, h) = (try device(request, c), try partition(c), try hash(c))
        let body = try await request.body.collect(upTo: 1 << 20)
        guard let removal = StorageNodeProtocol.decodeRemoval(Array(body.readableBytesView)) else {
            throw HTTPError(.badRequest, message: "bad removal")
        }
        try await replicaErrors { try await d.remove(partition: p, hash: h, removal) }
        return Response(status: .noContent)
    }
}

extension StorageNodeAPI {
    /// What the replicator asks a node to send to another: one file of a hash (`<ts>.data` or
    /// `<ts>.meta`) to device `device` of the node at `to` (host:port), same partition and policy.
    struct PushOrder: Codable {
        var file: String
        var to: String
        var device: String
    }

    /// Copies one of its files to another node's device, so replicas move node to node and
    /// never through the controller. A `.meta` answers 201 once the peer has it. A `.data`
    /// answers 200 at once and streams a `.` per MiB sent (so no idle timeout cuts a long copy
    /// short), then `ok` once the peer has fsync'd the copy, or `failed: <why>` (the peer then
    /// discards what it got: the upload ends without its commit frame).
    func push(_ request: Request, _ c: BasicRequestContext) async throws -> Response {
        let (d, p, h) = (try device(request, c), try partition(c), try hash(c))
        guard let peers else { throw HTTPError(.notImplemented, message: "this node does not push") }
        let body = try await request.body.collect(upTo: 1 << 16)
        guard let order = try? JSONDecoder().decode(PushOrder.self, from: Data(body.readableBytesView)),
              StorageNames.isFile(order.file), StorageNames.isDevice(order.device), StorageNames.isAddress(order.to) else {
            throw HTTPError(.badRequest, message: "bad push order")
        }
        let ts = String(order.file.dropLast(5))
        let peer = RemoteDevice(ring: RingDevice(id: -1, name: order.device, zone: 0), policy: d.policy,
                                node: StorageNodeClient(address: order.to, key: keyText, client: peers))
        if order.file.hasSuffix(".meta") {
            let m = try await replicaErrors { try await d.readMeta(partition: p, hash: h, timestamp: ts) }
            do { try await peer.writeMeta(partition: p, hash: h, metadata: m) } catch {
                throw HTTPError(.badGateway, message: "push to \(order.to) failed: \(error)")
            }
            return Response(status: .created)
        }
        let stream = try await replicaErrors { try await d.read(partition: p, hash: h, timestamp: ts, range: nil) }
        let writer: any ObjectWriter
        do { writer = try await peer.writer(partition: p, hash: h, timestamp: ts) } catch {
            await stream.close()
            throw HTTPError(.badGateway, message: "push to \(order.to) failed: \(error)")
        }
        let logger = self.logger
        return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody { out in
            var sent = 0, marked = 0
            do {
                while let chunk = try await stream.next() {
                    sent += chunk.readableBytes
                    try await writer.write(chunk)
                    if sent - marked >= 1 << 20 {
                        marked = sent
                        try await out.write(ByteBuffer(string: "."))
                    }
                }
                await stream.close()
                try await writer.commit(stream.metadata)
                logger.info("pushed \(h).\(order.file) (\(sent) bytes) to \(order.device) at \(order.to)")
                try await out.write(ByteBuffer(string: "\nok\n"))
            } catch {
                await stream.close()
                await writer.abort()
                logger.warning("push of \(h).\(order.file) to \(order.device) at \(order.to) failed: \(error)")
                try? await out.write(ByteBuffer(string: "\nfailed: \(error)\n"))
            }
            try await out.finish(nil)
        })
    }
}

/// The devices a storage node serves: one `LocalDevice` per device name and storage policy,
/// made when a policy is first asked for (a node does not know the cluster's policies).
public final class NodeDevices: Sendable {
    let root: String
    let pool: NIOThreadPool
    let names: [String]
    private let made: Mutex<[String: [Int: LocalDevice]]>

    /// `names` are the devices under `dataDir/object/devices`; the policies each already has a
    /// directory for are opened now (so the auditor reaches them).
    public init(dataDir: String, names: [String], pool: NIOThreadPool) throws {
        self.root = dataDir + "/object/devices"
        self.pool = pool
        self.names = names
        var made = [String: [Int: LocalDevice]]()
        for (i, name) in names.enumerated() {
            for policy in LocalDevice.policies(onDeviceAt: "\(dataDir)/object/devices/\(name)") {
                made[name, default: [:]][policy] = try LocalDevice(ring: RingDevice(id: i, name: name, zone: 1), root: "\(dataDir)/object/devices/\(name)",
                                                                   policy: policy, pool: pool)
            }
        }
        self.made = Mutex(made)
    }

    /// The device `name`'s files of `policy`; nil for a device this node does not serve.
    public func device(_ name: String, policy: Int) throws -> LocalDevice? {
        guard let i = names.firstIndex(of: name) else { return nil }
        if let d = made.withLock({ $0[name]?[policy] }) { return d }
        let d = try LocalDevice(ring: RingDevice(id: i, name: name, zone: 1), root: "\(root)/\(name)", policy: policy, pool: pool)
        return made.withLock { m in
            if let other = m[name]?[policy] { return other }
            m[name, default: [:]][policy] = d
            return d
        }
    }

    /// Every device and policy opened so far.
    public var all: [LocalDevice] {
        made.withLock { m in m.keys.sorted().flatMap { name in m[name]!.keys.sorted().map { m[name]![$0]! } } }
    }
}
