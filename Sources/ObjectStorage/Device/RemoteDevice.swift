import AsyncAlgorithms
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NimbusCore
import Synchronization

/// The proxy's side of a `nimbus storage` node: one HTTP client per node address, shared by the
/// node's devices. A node that fails at the transport level (refused, reset, timed out) is
/// treated as down for `downFor`, so requests move on to other replicas at once instead of
/// each waiting for their own failure; after that the next request tries it again.
public final class StorageNodeClient: Sendable {
    public let address: String
    let key: String
    let client: HTTPClient
    let downFor: Duration
    private let downUntil = Mutex<ContinuousClock.Instant?>(nil)

    public init(address: String, key: String, client: HTTPClient, downFor: Duration = .seconds(3)) {
        self.address = address
        self.key = key
        self.client = client
        self.downFor = downFor
    }

    func checkUp() throws {
        if let until = downUntil.withLock({ $0 }), ContinuousClock.now < until {
            throw ReplicaError.unavailable("storage node \(address) is down")
        }
    }

    func markDown() { downUntil.withLock { $0 = ContinuousClock.now + downFor } }
    func markUp() { downUntil.withLock { $0 = nil } }

    func request(_ method: HTTPMethod, _ path: String, policy: Int = 0) -> HTTPClientRequest {
        var r = HTTPClientRequest(url: "http://\(address)\(path)")
        r.method = method
        r.headers.add(name: StorageNodeProtocol.keyHeader, value: key)
        if policy != 0 { r.headers.add(name: StorageNodeProtocol.policyHeader, value: String(policy)) }
        return r
    }

    /// Runs a request; transport failures mark the node down and become `unavailable`.
    func execute(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(60)) async throws -> HTTPClientResponse {
        try checkUp()
        do {
            let response = try await client.execute(request, timeout: timeout)
            markUp()
            return response
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            markDown()
            throw ReplicaError.unavailable("storage node \(address): \(error)")
        }
    }

    /// Reads a whole small response body; non-2xx statuses become replica errors. A write
    /// (`stored`) must be answered 201, as a node answers once the file is durable: another
    /// success (an address that is no storage node answering early) is not a stored replica.
    func call(_ request: HTTPClientRequest, limit: Int = 64 << 20, stored: Bool = false) async throws -> ByteBuffer {
        let response = try await execute(request)
        let body: ByteBuffer
        do { body = try await response.body.collect(upTo: limit) } catch {
            throw ReplicaError.unavailable("storage node \(address): \(error)")
        }
        try Self.check(response, body: body)
        if stored, response.status.code != 201 {
            throw ReplicaError.unavailable("storage node \(address) answered \(response.status.code), not 201, to a write")
        }
        return body
    }

    static func check(_ response: HTTPClientResponse, body: ByteBuffer?) throws {
        switch response.status.code {
        case 200..<300: return
        case 404: throw ReplicaError.notFound
        case 409 where response.headers.first(name: StorageNodeProtocol.errorHeader) == "corrupt": throw ReplicaError.corrupt
        default:
            let text = body.map { String(buffer: $0) } ?? ""
            throw ReplicaError.unavailable("storage node answered \(response.status.code) \(text)")
        }
    }
}

/// What the proxy and a storage node agree on besides the paths.
public enum StorageNodeProtocol {
    /// The shared secret every request carries.
    public static let keyHeader = "X-Storage-Key"
    /// A replica's metadata, base64 of its JSON, on GET responses.
    public static let metadataHeader = "X-Object-Metadata"
    /// Why a 409 happened (`corrupt`: the replica failed its checksum and was quarantined).
    public static let errorHeader = "X-Replica-Error"
    /// The storage policy a request is for (absent: policy 0), as Swift's backend requests say it.
    public static let policyHeader = "X-Backend-Storage-Policy-Index"
    /// The largest policy index a node accepts (each one it meets becomes a directory).
    public static let maxPolicyIndex = 9999

    /// Upload frames: `d` + UInt32 length + bytes for data, `c` + UInt32 length + metadata JSON
    /// to commit. A body that ends without a commit frame is discarded by the node.
    static let dataFrame: UInt8 = 0x64
    static let commitFrame: UInt8 = 0x63

    static func frame(_ kind: UInt8, _ payload: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(5 + payload.readableBytes)
        out.writeInteger(kind)
        out.writeInteger(UInt32(payload.readableBytes))
        var p = payload
        out.writeBuffer(&p)
        return out
    }

    static func encode(_ m: DiskMetadata) -> String { Data(m.encoded()).base64EncodedString() }
    static func decode(_ s: String) -> DiskMetadata? { Data(base64Encoded: s).flatMap { DiskMetadata.decode([UInt8]($0)) } }

    static func encode(_ r: Removal) -> ByteBuffer {
        let v: JSONValue
        switch r {
        case .olderThan(let t): v = ["older_than": .string(t)]
        case .timestamp(let t): v = ["timestamp": .string(t)]
        case .files(let f): v = ["files": .array(f.map { .string($0) })]
        }
        return ByteBuffer(bytes: v.serialized())
    }

    static func decodeRemoval(_ bytes: [UInt8]) -> Removal? {
        guard case .object(let o)? = try? JSONValue.parse(bytes) else { return nil }
        if case .string(let t)? = o["older_than"], StorageNames.isTimestamp(t) { return .olderThan(t) }
        if case .string(let t)? = o["timestamp"], StorageNames.isTimestamp(t) { return .timestamp(t) }
        if case .array(let a)? = o["files"] {
            let names = a.compactMap { v -> String? in if case .string(let s) = v { return s }; return nil }
            guard names.count == a.count, names.allSatisfy(StorageNames.isFile) else { return nil }
            return .files(names)
        }
        return nil
    }
}

/// The shapes of names a storage node accepts in paths, so that nothing from a request can
/// reach outside a device's directory.
public enum StorageNames {
    static func isHash(_ s: some StringProtocol) -> Bool {
        s.utf8.count == 32 && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `%016.5f` seconds: ten digits, a dot, five digits.
    static func isTimestamp(_ s: some StringProtocol) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 16, u[10] == 0x2E else { return false }
        return u.enumerated().allSatisfy { $0.offset == 10 || (0x30...0x39).contains($0.element) }
    }

    static func isFile(_ s: String) -> Bool {
        (s.hasSuffix(".data") || s.hasSuffix(".meta")) && isTimestamp(s.dropLast(5))
    }

    /// A node's `host:port` (a name, an IPv4 address or a bracketed IPv6 one), as push orders
    /// name the peer.
    static func isAddress(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count <= 262, let colon = u.lastIndex(of: 0x3A), colon > 0,
              let port = Int(String(decoding: u[(colon + 1)...], as: UTF8.self)), (1...65535).contains(port),
              u[(colon + 1)...].allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
        return u[..<colon].allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
            || $0 == 0x2D || $0 == 0x2E || $0 == 0x3A || $0 == 0x5B || $0 == 0x5D }
    }

    public static func isDevice(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s != "." && s != ".."
            && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }
    }
}

/// A device of a `nimbus storage` node, reached over HTTP.
public final class RemoteDevice: ObjectDevice {
    public let ring: RingDevice
    public let policy: Int
    let node: StorageNodeClient

    public init(ring: RingDevice, policy: Int = 0, node: StorageNodeClient) {
        self.ring = ring
        self.policy = policy
        self.node = node
    }

    func request(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest { node.request(method, path, policy: policy) }

    func path(_ partition: Int? = nil, _ hash: String? = nil, _ file: String? = nil) -> String {
        var p = "/storage/\(ring.name)"
        if let partition { p += "/\(partition)" }
        if let hash { p += "/\(hash)" }
        if let file { p += "/\(file)" }
        return p
    }

    public func writer(partition: Int, hash: String, timestamp: String) async throws -> any ObjectWriter {
        try node.checkUp()
        return RemoteWriter(node: node, path: path(partition, hash, timestamp), policy: policy)
    }

    public func read(partition: Int, hash: String, timestamp: String, range: Range<Int>?) async throws -> any ObjectReadStream {
        var request = self.request(.GET, path(partition, hash, timestamp))
        if let range { request.headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound - 1)") }
        let response = try await node.execute(request)
        guard (200..<300).contains(response.status.code) else {
            let body = try? await response.body.collect(upTo: 1 << 16)
            try StorageNodeClient.check(response, body: body)
            throw ReplicaError.unavailable("unexpected status \(response.status.code)")
        }
        guard let meta = response.headers.first(name: StorageNodeProtocol.metadataHeader).flatMap(StorageNodeProtocol.decode),
              let length = response.headers.first(name: "content-length").flatMap(Int.init) else {
            throw ReplicaError.unavailable("storage node \(node.address) sent a response without object metadata")
        }
        return RemoteReadStream(metadata: meta, length: length, body: response.body, address: node.address)
    }

    public func writeMeta(partition: Int, hash: String, metadata: DiskMetadata) async throws {
        var request = self.request(.PUT, path(partition, hash, metadata.timestamp + ".meta"))
        request.body = .bytes(ByteBuffer(bytes: metadata.encoded()))
        _ = try await node.call(request, stored: true)
    }

    public func readMeta(partition: Int, hash: String, timestamp: String) async throws -> DiskMetadata {
        let body = try await node.call(self.request(.GET, path(partition, hash, timestamp + ".meta")))
        guard let m = DiskMetadata.decode(body.readableBytesView) else { throw ReplicaError.corrupt }
        return m
    }

    public func remove(partition: Int, hash: String, _ which: Removal) async throws {
        var request = self.request(.POST, path(partition, hash, "remove"))
        request.body = .bytes(StorageNodeProtocol.encode(which))
        _ = try await node.call(request)
    }

    public func list(partition: Int) async throws -> [String: HashState] {
        let body = try await node.call(self.request(.GET, path(partition)))
        return try JSONDecoder().decode([String: HashState].self, from: Data(body.readableBytesView))
    }

    public func partitions() async throws -> [Int] {
        let body = try await node.call(self.request(.GET, path()))
        return try JSONDecoder().decode([Int].self, from: Data(body.readableBytesView))
    }

    /// Has this device's node send one of its files (`<ts>.data` or `<ts>.meta`) of a hash to
    /// `target` on another node, directly (see `StorageNodeAPI.push`). `size` bounds the wait.
    public func push(partition: Int, hash: String, file: String, size: Int, to target: RemoteDevice) async throws {
        var request = self.request(.POST, path(partition, hash, "push"))
        let order = try JSONEncoder().encode(["file": file, "to": target.node.address, "device": target.ring.name])
        request.body = .bytes(ByteBuffer(bytes: order))
        // A whole-request deadline of a minute plus 1 MB/s for the bytes; the node's progress
        // marks keep the connection from idling out meanwhile.
        let response = try await node.execute(request, timeout: .seconds(60 + Int64(size / 1_000_000)))
        guard (200..<300).contains(response.status.code) else {
            let body = try? await response.body.collect(upTo: 1 << 16)
            try StorageNodeClient.check(response, body: body)
            throw ReplicaError.unavailable("push answered \(response.status.code)")
        }
        var tail = [UInt8]()
        do {
            for try await chunk in response.body {
                tail += chunk.readableBytesView
                if tail.count > 4096 { tail.removeFirst(tail.count - 4096) }
            }
        } catch {
            throw ReplicaError.unavailable("storage node \(node.address) broke off a push: \(error)")
        }
        if response.status.code == 201 { return }
        let text = String(decoding: tail, as: UTF8.self)
        guard text.hasSuffix("\nok\n") else {
            throw ReplicaError.unavailable("push from \(node.address) to \(target.node.address): \(text.splitBytes("\n").last ?? "no answer")")
        }
    }

    /// Storage nodes audit their own devices.
    public func audit(bytesPerSecond: Int) async throws -> (checked: Int, quarantined: Int) { (0, 0) }
}

/// Streams one upload to a node as framed chunks. `write` returns once the HTTP client has
/// taken the chunk (one chunk in flight: the node's pace is the upload's pace); `commit` sends
/// the metadata and waits for the node's 201, which the node gives after its fsyncs.
final class RemoteWriter: ObjectWriter, Sendable {
    let channel = AsyncChannel<ByteBuffer>()
    let task: Task<Void, any Error>
    let failure: FirstError

    /// The first error of an upload, set by whichever side sees it first.
    final class FirstError: Sendable {
        private let value = Mutex<(any Error)?>(nil)
        func set(_ e: any Error) { value.withLock { if $0 == nil { $0 = e } } }
        func get() -> (any Error)? { value.withLock { $0 } }
    }

    init(node: StorageNodeClient, path: String, policy: Int) {
        let channel = self.channel
        let failure = FirstError()
        self.failure = failure
        var request = node.request(.PUT, path, policy: policy)
        request.body = .stream(channel, length: .unknown)
        task = Task {
            do {
                _ = try await node.call(request, stored: true)
            } catch {
                failure.set(error)
                channel.finish()
                throw error
            }
        }
    }

    private func check() throws {
        if let e = failure.get() { throw e }
    }

    func write(_ chunk: ByteBuffer) async throws {
        try check()
        await channel.send(StorageNodeProtocol.frame(StorageNodeProtocol.dataFrame, chunk))
        try check()
    }

    func commit(_ metadata: DiskMetadata) async throws {
        try check()
        await channel.send(StorageNodeProtocol.frame(StorageNodeProtocol.commitFrame, ByteBuffer(bytes: metadata.encoded())))
        channel.finish()
        try await task.value
    }

    func abort() async {
        failure.set(CancellationError())
        task.cancel()
        channel.finish()
        _ = try? await task.value
    }
}

/// A GET response body from a node. Used by one task at a time.
final class RemoteReadStream: ObjectReadStream, @unchecked Sendable {
    let metadata: DiskMetadata
    let length: Int
    var iterator: HTTPClientResponse.Body.AsyncIterator?
    var received = 0
    let address: String

    init(metadata: DiskMetadata, length: Int, body: HTTPClientResponse.Body, address: String) {
        self.metadata = metadata
        self.length = length
        self.iterator = body.makeAsyncIterator()
        self.address = address
    }

    func next() async throws -> ByteBuffer? {
        guard var it = iterator else { return nil }
        let chunk: ByteBuffer?
        do { chunk = try await it.next() } catch {
            iterator = nil
            throw ReplicaError.unavailable("storage node \(address) broke off a read: \(error)")
        }
        iterator = it
        guard let chunk else {
            iterator = nil
            // A node that finds a bad checksum at the end of a stream closes the connection
            // early; a short body is a failed read, never a truncated object.
            if received != length { throw ReplicaError.corrupt }
            return nil
        }
        received += chunk.readableBytes
        return chunk
    }

    func close() async { iterator = nil }
}
