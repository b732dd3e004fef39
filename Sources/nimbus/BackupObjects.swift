import BlockStorage
import ComputeNode
import Foundation
import NIOCore
import NimbusCore
import ObjectStorage

/// The backup service's object store, in process: a backup's objects go into the object-store
/// account of the project that owns the backup (`AUTH_<project>`), where Cinder's Swift backup
/// driver puts them with the user's own token (`backup_swift_auth = per_user`). So the owner
/// sees, lists and pays for them like any of their objects, and the account's and container's
/// quotas apply to them.
struct BackupObjects: BackupObjectStore {
    let objects: ObjectStorageService

    static func account(_ project: String) -> String { "AUTH_" + project }

    func container(_ project: String, _ container: String) async throws -> ContainerRow {
        guard let row = try await objects.index.container(Self.account(project), container) else {
            throw NimbusError.notFound("The container \(container) does not exist.")
        }
        return row
    }

    func ensureContainer(project: String, container: String) async throws {
        let account = Self.account(project)
        if try await objects.index.container(account, container) != nil { return }
        _ = try await objects.index.putContainer(account, container, timestamp: objects.timestamp(), policy: objects.policies.defaultPolicy.index) { _ in }
    }

    func put(project: String, container: String, name: String, bytes: [UInt8]) async throws -> String {
        try await objects.checkQuotas(try await self.container(project, container), adding: bytes.count, accountQuotas: true)
        let upload = ObjectStorageService.Upload(account: Self.account(project), container: container, name: name,
                                                 contentType: "application/octet-stream", metadata: [:], contentLength: bytes.count)
        return try await objects.put(upload, body: ByteSlices(bytes: bytes)).etag
    }

    func put(project: String, container: String, name: String, file path: String) async throws -> String {
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        try await objects.checkQuotas(try await self.container(project, container), adding: size, accountQuotas: true)
        let upload = ObjectStorageService.Upload(account: Self.account(project), container: container, name: name,
                                                 contentType: "application/octet-stream", metadata: [:], contentLength: size)
        return try await objects.put(upload, body: FileByteChunks(path: path)).etag
    }

    func read(project: String, container: String, name: String, range: Range<Int>?, _ consume: ([UInt8]) async throws -> Void) async throws {
        guard let row = try await objects.index.object(Self.account(project), container, name) else {
            throw NimbusError.notFound("The backup object \(container)/\(name) does not exist.")
        }
        var wanted = range
        if let r = range {
            let clamped = min(r.lowerBound, row.size)..<min(r.upperBound, row.size)
            if clamped.isEmpty { return }
            wanted = clamped
        }
        let stream = try await objects.open(row, range: wanted)
        do {
            while let chunk = try await stream.next() { try await consume(Array(chunk.readableBytesView)) }
        } catch {
            await stream.close()
            throw error
        }
        await stream.close()
    }

    func list(project: String, container: String, prefix: String, marker: String?, limit: Int) async throws -> [String] {
        let account = Self.account(project)
        guard try await objects.index.container(account, container) != nil else { return [] }
        var q = ListingQuery()
        q.prefix = prefix
        q.marker = marker ?? ""
        q.limit = max(1, min(limit, 10_000))
        return try await objects.index.listObjects(account, container, q).compactMap { entry in
            if case .row(let row) = entry { return row.name }
            return nil
        }
    }

    func delete(project: String, container: String, name: String) async throws {
        _ = try await objects.delete(account: Self.account(project), container: container, name: name)
    }
}

/// Bytes in memory as the 1 MiB buffers an object PUT streams.
struct ByteSlices: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let bytes: [UInt8]

    struct AsyncIterator: AsyncIteratorProtocol {
        let bytes: [UInt8]
        var offset = 0

        mutating func next() async throws -> ByteBuffer? {
            guard offset < bytes.count else { return nil }
            let end = Swift.min(bytes.count, offset + (1 << 20))
            defer { offset = end }
            return ByteBuffer(bytes: bytes[offset..<end])
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes) }
}
