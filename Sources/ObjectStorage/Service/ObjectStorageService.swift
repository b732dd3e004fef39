import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix
import NimbusCore
import NimbusStore
import Synchronization

public struct ObjectStorageSettings: Sendable {
    public var maxFileSize = 5 * 1024 * 1024 * 1024 + 2
    public var replicatorInterval: Duration = .seconds(30)
    public var auditorInterval: Duration = .seconds(60)
    public var expirerInterval: Duration = .seconds(10)
    /// Auditor read rate per device (0: unlimited).
    public var auditBytesPerSecond = 20 * 1024 * 1024
    /// Files newer than this are never judged orphans by the replicator (uploads in flight).
    public var reclaimAge: TimeInterval = 300
    /// Swift's `allow_object_versioning`: the `X-Versions-Enabled` mode (`/info` lists
    /// `object_versioning`). Off, containers' versioning settings are not read, as Swift
    /// without the middleware ignores them.
    public var allowObjectVersioning = true
    /// Container sync: realms, which X-Container-Sync-To values are accepted, the daemon's pace.
    public var containerSync = ContainerSyncSettings()
    public init() {}
}

/// The object layer below the API: the ring, the devices and the index. A PUT streams to the
/// partition's devices, answers only after a write quorum has the object durably on disk, and
/// then commits the index row, which is what makes the object visible. Reads look the object up
/// in the index and serve the first replica with a good checksum.
public final class ObjectStorageService: Sendable {
    public let index: ObjectIndex
    public let settings: ObjectStorageSettings
    public let policies: StoragePolicies
    let logger: Logger
    /// Each storage policy's ring and the devices of its entries.
    private let state: Mutex<[Int: PolicyRing]>
    private let clock = Mutex<Double>(0)

    struct PolicyRing {
        var ring: Ring
        var devices: [Int: any ObjectDevice]
        init(_ ring: Ring, _ devices: [any ObjectDevice]) {
            self.ring = ring
            self.devices = Dictionary(uniqueKeysWithValues: devices.map { ($0.ring.id, $0) })
        }
    }

    /// `rings` holds, for every policy of `policies`, its ring and a device per ring entry.
    public init(index: ObjectIndex, policies: StoragePolicies, rings: [Int: (Ring, [any ObjectDevice])], settings: ObjectStorageSettings, logger: Logger) {
        precondition(policies.all.allSatisfy { rings[$0.index] != nil }, "every storage policy needs a ring")
        self.index = index
        self.settings = settings
        self.logger = logger
        self.policies = policies
        self.state = Mutex(rings.mapValues { PolicyRing($0.0, $0.1) })
    }

    /// A store with policy 0 only.
    public convenience init(index: ObjectIndex, ring: Ring, devices: [any ObjectDevice], settings: ObjectStorageSettings, logger: Logger) {
        self.init(index: index, policies: .single, rings: [0: (ring, devices)], settings: settings, logger: logger)
    }

    /// Policy 0's ring.
    public var ring: Ring { state.withLock { $0[0]!.ring } }
    /// A policy's ring. A container of a policy no longer configured (a `[storage-policy:N]`
    /// section removed instead of deprecated) is Swift's 503, not a crash of the process.
    public func ring(policy: Int) throws(NimbusError) -> Ring {
        guard let r = state.withLock({ $0[policy]?.ring }) else {
            throw NimbusError(.serviceUnavailable, "No policy with index \(policy)")
        }
        return r
    }
    /// The devices of a policy's ring, by ring id.
    public func devices(policy: Int = 0) -> [any ObjectDevice] {
        state.withLock { s -> [any ObjectDevice] in s[policy].map { Array($0.devices.values) } ?? [] }.sorted { $0.ring.id < $1.ring.id }
    }

    /// Installs a policy's new ring (a rebalance, devices added or removed).
    public func replace(ring: Ring, devices: [any ObjectDevice], policy: Int = 0) {
        state.withLock { $0[policy] = PolicyRing(ring, devices) }
    }

    /// A write quorum: a majority of the policy's replicas.
    func quorum(policy: Int) throws(NimbusError) -> Int { try ring(policy: policy).replicas / 2 + 1 }

    /// A Swift timestamp (`%016.5f` seconds), strictly increasing within this process.
    public func timestamp() -> String {
        let now = (Date().timeIntervalSince1970 * 100_000).rounded(.down) / 100_000
        let t = clock.withLock { last -> Double in
            let t = max(now, last + 0.00001)
            last = t
            return t
        }
        return Self.format(t)
    }

    public static func format(_ t: Double) -> String { String(format: "%016.5f", t) }

    /// Devices of a policy's partition: primaries first, then handoffs.
    func nodes(partition: Int, policy: Int) -> (primaries: [any ObjectDevice], handoffs: [any ObjectDevice]) {
        state.withLock { all in
            guard let s = all[policy] else { return ([], []) }
            return (s.ring.primaries(partition: partition).compactMap { s.devices[$0.id] },
                    s.ring.handoffs(partition: partition).compactMap { s.devices[$0.id] })
        }
    }

    public func location(account: String, container: String, object: String, policy: Int = 0) throws(NimbusError) -> (part: Int, hash: String) {
        let r = try ring(policy: policy)
        let hash = r.hash(account: account, container: container, object: object)
        return (r.partition(forHash: hash), hash)
    }

    // MARK: PUT

    public struct Upload: Sendable {
        public var account: String
        public var container: String
        public var name: String
        public var contentType: String
        public var metadata: [String: String]
        public var deleteAt: Int?
        public var contentLength: Int?
        public var expectedETag: String?
        /// The write's timestamp when a sync peer sent it (`X-Timestamp` with a valid
        /// `X-Container-Sync-Auth`); otherwise now.
        public var timestamp: String?
        public init(account: String, container: String, name: String, contentType: String, metadata: [String: String],
                    deleteAt: Int? = nil, contentLength: Int? = nil, expectedETag: String? = nil) {
            self.account = account; self.container = container; self.name = name; self.contentType = contentType
            self.metadata = metadata; self.deleteAt = deleteAt; self.contentLength = contentLength; self.expectedETag = expectedETag
        }
    }

    /// Streams `body` to the object's devices and commits it. Throws 404 if the container is
    /// missing, 422 on an ETag mismatch, 413 over the size limit, 503 without a write quorum.
    /// In a container with versioning on (`container`, read when not given), the upload is a
    /// new version and the row returned the object's current row, which shows it (`versionID`).
    public func put<S: AsyncSequence>(_ u: Upload, body: S, in container: ContainerRow? = nil) async throws -> ObjectRow where S.Element == ByteBuffer {
        try await putReporting(u, body: body, in: container).row
    }

    /// `put`, and whether the write lost to a stored version with a newer (or the same)
    /// timestamp, e.g. one a sync peer wrote with its clock ahead: the proxy then answers 202,
    /// not 201, as Swift's does when its object servers answer 409.
    public func putReporting<S: AsyncSequence>(_ u: Upload, body: S, in container: ContainerRow? = nil) async throws -> (row: ObjectRow, superseded: Bool) where S.Element == ByteBuffer {
        var c = container
        if c == nil { c = try await index.container(u.account, u.container) }
        guard let c else { throw NimbusError.notFound("The container does not exist.") }
        if settings.allowObjectVersioning, versioning(of: c) == .enabled { return (try await putVersion(u, body: body, policy: c.policy), false) }
        let ts = u.timestamp ?? timestamp()
        let (part, hash) = try location(account: u.account, container: u.container, object: u.name, policy: c.policy)
        let place = Placement(part: part, hash: hash, path: "/\(u.account)/\(u.container)/\(u.name)", policy: c.policy)
        let row = try await store(u, at: place, timestamp: ts, body: body)
        switch try await index.putObject(row) {
        case .stored(let old):
            if old != nil { Task { await self.cleanup(part: part, hash: hash, policy: place.policy, olderThan: ts) } }
        case .superseded:
            // A synced write may carry the very timestamp of the stored version: its files stay
            // (the replicator removes the loser's once they are orphans).
            if u.timestamp == nil { Task { await self.removeVersion(place, timestamp: ts) } }
            return (row, true)
        case .containerMissing:
            Task { await self.removeVersion(place, timestamp: ts) }
            throw NimbusError.notFound("The container does not exist.")
        }
        return (row, false)
    }

    /// Where an object's (or an object version's) files go: the partition and hash of its
    /// ring path, and that path as the files' trailer records it.
    struct Placement {
        var part: Int
        var hash: String
        var path: String
        var policy: Int
    }

    /// Streams `body` to the devices of `place` and makes it durable on a write quorum; the row
    /// it returns is not committed to the index (nothing is visible yet).
    func store<S: AsyncSequence>(_ u: Upload, at place: Placement, timestamp ts: String, body: S) async throws -> ObjectRow where S.Element == ByteBuffer {
        let (part, hash) = (place.part, place.hash)
        let (primaries, handoffs) = nodes(partition: part, policy: place.policy)
        var writers = [any ObjectWriter]()
        var spare = handoffs.filter { $0.ring.weight > 0 }.makeIterator()
        for device in primaries {
            var candidate: (any ObjectDevice)? = device
            while let d = candidate {
                if let w = try? await d.writer(partition: part, hash: hash, timestamp: ts) { writers.append(w); break }
                candidate = spare.next()
            }
        }
        let quorum = try self.quorum(policy: place.policy)
        guard writers.count >= quorum else {
            for w in writers { await w.abort() }
            throw NimbusError(.serviceUnavailable, "Service Unavailable: not enough storage devices are reachable.")
        }
        var md5 = Insecure.MD5()
        var size = 0
        var alive = writers.map { _ in true }
        do {
            for try await chunk in body {
                size += chunk.readableBytes
                if size > settings.maxFileSize { throw NimbusError(.payloadTooLarge, "Your request is too large.") }
                if let cl = u.contentLength, size > cl { throw NimbusError.badRequest("The request body is longer than its Content-Length.") }
                chunk.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
                for (i, w) in writers.enumerated() where alive[i] {
                    do { try await w.write(chunk) } catch {
                        alive[i] = false
                        logger.warning("object write failed on a replica: \(error)")
                        await w.abort()
                    }
                }
                if alive.filter({ $0 }).count < quorum {
                    throw NimbusError(.serviceUnavailable, "Service Unavailable: too many storage devices failed during the upload.")
                }
            }
            if let cl = u.contentLength, size < cl {
                throw NimbusError(.requestTimeout, "The request body ended before its Content-Length (\(size) of \(cl) bytes).")
            }
        } catch {
            for (i, w) in writers.enumerated() where alive[i] { await w.abort() }
            if let e = error as? NimbusError { throw e }
            if error is ReplicaError { throw NimbusError(.serviceUnavailable, "The server is currently unavailable. Please try again at a later time.") }
            throw NimbusError(.requestTimeout, "The client stopped sending the object.", detail: "\(error)")
        }
        let etag = Hex.encode(md5.finalize())
        if let expected = u.expectedETag, expected.lowercased() != etag {
            for (i, w) in writers.enumerated() where alive[i] { await w.abort() }
            throw NimbusError(.unprocessable, "Unable to process the contained instructions")
        }
        var headers = u.metadata
        headers["content-type"] = u.contentType
        let disk = DiskMetadata(name: place.path, timestamp: ts, size: size, etag: etag, headers: headers)
        let committed = await withTaskGroup(of: Bool.self) { group in
            for (i, w) in writers.enumerated() where alive[i] {
                group.addTask {
                    do { try await w.commit(disk); return true } catch {
                        self.logger.warning("object commit failed on a replica: \(error)")
                        return false
                    }
                }
            }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
        guard committed >= quorum else {
            Task { await self.removeVersion(place, timestamp: ts) }
            throw NimbusError(.serviceUnavailable, "Service Unavailable: the object could not be stored on enough devices.")
        }
        return ObjectRow(account: u.account, container: u.container, name: u.name, timestamp: ts, metaTimestamp: nil, size: size, etag: etag,
                         contentType: u.contentType, metadata: u.metadata, deleteAt: u.deleteAt, part: part, hash: hash, policy: place.policy)
    }

    // MARK: GET

    /// Opens a replica of the indexed version of `row` (a byte range of it when given).
    public func open(_ row: ObjectRow, range: Range<Int>? = nil) async throws -> any ObjectReadStream {
        do {
            return try await openReplica(row, range: range)
        } catch let e as NimbusError where e.kind == .serviceUnavailable {
            // An overwrite or delete may have removed this version between the index read and
            // the file read: then the object changed, which is not a failure.
            let current = row.isVersionRecord ? try await index.version(row.account, row.container, row.name, id: row.timestamp)
                : try await index.object(row.account, row.container, row.name)
            guard let now = current else {
                throw NimbusError.notFound("The resource could not be found.")
            }
            if now.timestamp != row.timestamp {
                throw NimbusError(.conflict, "The object changed while it was being read; retry.")
            }
            throw e
        }
    }

    func openReplica(_ row: ObjectRow, range: Range<Int>?) async throws -> any ObjectReadStream {
        let (primaries, handoffs) = nodes(partition: row.part, policy: row.policy)
        var corrupt = false
        for device in primaries + handoffs {
            do {
                return try await device.read(partition: row.part, hash: row.hash, timestamp: row.timestamp, range: range)
            } catch ReplicaError.corrupt {
                corrupt = true
                logger.error("corrupt replica of \(row.account)/\(row.container)/\(row.name) on \(device.ring.name): quarantined")
            } catch {
                continue
            }
        }
        logger.error("no readable replica of \(row.account)/\(row.container)/\(row.name) (\(row.timestamp))\(corrupt ? "; some were corrupt" : "")")
        throw NimbusError(.serviceUnavailable, "Service Unavailable: no replica of the object could be read.")
    }

    /// Byte ranges of object versions, read one after the other as the consumer asks for bytes
    /// (large-object GETs and server-side copies).
    struct Pieces: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let pieces: [(ObjectRow, Range<Int>)]
        let service: ObjectStorageService

        func makeAsyncIterator() -> Iterator { Iterator(pending: pieces[...], service: service) }

        struct Iterator: AsyncIteratorProtocol {
            var pending: ArraySlice<(ObjectRow, Range<Int>)>
            let service: ObjectStorageService
            var current: (any ObjectReadStream)?

            mutating func next() async throws -> ByteBuffer? {
                while true {
                    if let stream = current {
                        if let chunk = try await stream.next() { return chunk }
                        await stream.close()
                        current = nil
                    }
                    guard let (row, r) = pending.popFirst() else { return nil }
                    let whole = r.lowerBound == 0 && r.upperBound == row.size
                    current = try await service.open(row, range: whole ? nil : r)
                }
            }
        }
    }

    /// Copies an object version's bytes and metadata to another name in the same account.
    public func copy(_ row: ObjectRow, toContainer container: String, name: String) async throws {
        let upload = Upload(account: row.account, container: container, name: name, contentType: row.contentType,
                            metadata: row.metadata, deleteAt: row.deleteAt, contentLength: row.size)
        _ = try await put(upload, body: Pieces(pieces: row.size > 0 ? [(row, 0..<row.size)] : [], service: self))
    }

    /// Container and account quotas (`X-Container-Meta-Quota-Bytes/-Count`, the account's
    /// `Quota-Bytes/-Count`) for adding an object of `bytes`; 413 when one would be exceeded.
    public func checkQuotas(_ container: ContainerRow, adding bytes: Int, accountQuotas: Bool) async throws {
        let exceeded = NimbusError(.payloadTooLarge, "Upload exceeds quota.")
        if let q = container.metadata["x-container-meta-quota-bytes"].flatMap(Int.init), container.reportedBytes + bytes > q { throw exceeded }
        if let q = container.metadata["x-container-meta-quota-count"].flatMap(Int.init), container.objectCount + 1 > q { throw exceeded }
        guard accountQuotas, let account = try await index.account(container.account) else { return }
        let bytesQuota = account.metadata["x-account-meta-quota-bytes"].flatMap(Int.init)
        let countQuota = account.metadata["x-account-quota-count"].flatMap(Int.init)
        if bytesQuota != nil || countQuota != nil {
            let stats = try await index.accountStats(container.account)
            if let q = bytesQuota, stats.bytes + bytes > q { throw exceeded }
            if let q = countQuota, stats.objects + 1 > q { throw exceeded }
        }
        // account_quotas.py: the quotas of the container's storage policy.
        let policyBytes = account.metadata["x-account-sysmeta-quota-bytes-policy-\(container.policy)"].flatMap(Int.init)
        let policyCount = account.metadata["x-account-sysmeta-quota-count-policy-\(container.policy)"].flatMap(Int.init)
        if policyBytes != nil || policyCount != nil {
            let stats = try await index.accountPolicyStats(container.account)[container.policy] ?? (0, 0, 0)
            let policyExceeded = NimbusError(.payloadTooLarge, "Upload exceeds policy quota.")
            if let q = policyBytes, stats.bytes + bytes > q { throw policyExceeded }
            if let q = policyCount, stats.objects + 1 > q { throw policyExceeded }
        }
    }

    // MARK: POST and DELETE

    /// Replaces an object's metadata: `.meta` files on the replicas (quorum), then the index.
    public func updateMetadata(_ row: ObjectRow, metadata: [String: String], contentType: String, deleteAt: Int?) async throws -> ObjectRow {
        let ts = timestamp()
        var headers = metadata
        headers["content-type"] = contentType
        let disk = DiskMetadata(name: "/\(row.account)/\(row.container)/\(row.name)", timestamp: ts, size: row.size, etag: row.etag, headers: headers)
        let (primaries, handoffs) = nodes(partition: row.part, policy: row.policy)
        let written = await withTaskGroup(of: Bool.self) { group in
            for d in primaries + handoffs {
                group.addTask { (try? await d.writeMeta(partition: row.part, hash: row.hash, metadata: disk)) != nil }
            }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
        guard try written >= quorum(policy: row.policy) else { throw NimbusError(.serviceUnavailable, "Service Unavailable: metadata could not be stored on enough devices.") }
        guard let updated = try await index.updateObjectMetadata(row, metaTimestamp: ts, metadata: metadata, contentType: contentType, deleteAt: deleteAt) else {
            throw NimbusError.notFound("The object was changed or deleted meanwhile.")
        }
        return updated
    }

    /// Deletes an object: the index row first (the commit point), then its files.
    @discardableResult
    public func delete(account: String, container: String, name: String, onlyTimestamp: String? = nil) async throws -> ObjectRow? {
        guard let old = try await index.deleteObject(account, container, name, onlyTimestamp: onlyTimestamp) else { return nil }
        // A row that shows an object version reads the version's files, which stay with it.
        if old.versionID != nil { return old }
        removeFiles(of: old)
        return old
    }

    /// Removes the files of a row the index no longer names (a deleted or replaced version).
    func removeFiles(of old: ObjectRow) {
        // Only the deleted version's files: a PUT racing with this DELETE may already have
        // installed a newer version, which its index commit is about to make visible.
        let files = [old.timestamp + ".data"] + (old.metaTimestamp.map { [$0 + ".meta"] } ?? [])
        Task {
            let (primaries, handoffs) = self.nodes(partition: old.part, policy: old.policy)
            for d in primaries + handoffs { try? await d.remove(partition: old.part, hash: old.hash, .files(files)) }
        }
    }

    /// Removes files of `hash` older than `timestamp` from every device that may hold them.
    func cleanup(part: Int, hash: String, policy: Int, olderThan timestamp: String) async {
        let (primaries, handoffs) = nodes(partition: part, policy: policy)
        for d in primaries + handoffs {
            try? await d.remove(partition: part, hash: hash, .olderThan(timestamp))
        }
    }

    /// Removes the files of one write (`timestamp`) at `place` from every device that may hold them.
    func removeVersion(_ place: Placement, timestamp: String) async {
        let (primaries, handoffs) = nodes(partition: place.part, policy: place.policy)
        for d in primaries + handoffs {
            try? await d.remove(partition: place.part, hash: place.hash, .timestamp(timestamp))
        }
    }
}
