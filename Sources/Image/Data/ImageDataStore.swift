import Crypto
import Foundation
import NIOCore
import NIOPosix
import NimbusCore

/// What a store reports once an image's bytes are durably stored.
public struct StoredImageData: Sendable, Equatable {
    public var location: String
    public var size: Int64
    public var md5: String
    public var sha512: String

    public init(location: String, size: Int64, md5: String, sha512: String) {
        self.location = location; self.size = size; self.md5 = md5; self.sha512 = sha512
    }
}

/// Where image bytes live (`file` in the data dir; the object store next). Bytes are streamed in
/// and out, never held whole; a write becomes visible only when it is complete and durable.
public protocol ImageDataStore: Sendable {
    /// The store's id (`file`, …), as `/v2/info/stores` and `stores` name it.
    var id: String { get }
    /// Streams `body` into the store and makes it durable; a failed or cut-off write leaves
    /// nothing behind. Throws 413 past `limit` bytes.
    func write<S: AsyncSequence & Sendable>(imageID: String, body: S, limit: Int64) async throws -> StoredImageData where S.Element == ByteBuffer
    /// The bytes of `range` (or all of them) in chunks.
    func read(location: String, range: Range<Int64>?) async throws -> ImageDataStream
    func delete(location: String) async throws
    /// Every location the store holds, for the sweep at start that removes data no image names
    /// (a crash between storing the bytes and recording them). Empty: the store is not swept.
    func storedLocations() async throws -> [String]
}

/// A read from a store, one chunk at a time. Used by one task.
public final class ImageDataStream: AsyncSequence, @unchecked Sendable {
    public typealias Element = ByteBuffer
    let nextChunk: () async throws -> ByteBuffer?
    let onClose: () -> Void

    public init(next: @escaping () async throws -> ByteBuffer?, close: @escaping () -> Void) {
        self.nextChunk = next
        self.onClose = close
    }

    deinit { onClose() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: ImageDataStream
        public mutating func next() async throws -> ByteBuffer? { try await stream.nextChunk() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}

/// Images as files under `<root>/<id>`, written to `<root>/tmp/` first, fsync'd and renamed.
public final class FileImageStore: ImageDataStore {
    public let id: String
    static let spill = 4 << 20
    let root: String
    let pool: NIOThreadPool

    public init(root: String, pool: NIOThreadPool, id: String = "file") throws {
        self.id = id
        self.root = root
        self.pool = pool
        try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
        // Uploads cut off by a crash: nothing can be writing at start.
        for f in (try? FileManager.default.contentsOfDirectory(atPath: root + "/tmp")) ?? [] { unlink(root + "/tmp/" + f) }
    }

    func path(_ imageID: String) -> String { "\(root)/\(imageID)" }

    public func write<S: AsyncSequence & Sendable>(imageID: String, body: S, limit: Int64) async throws -> StoredImageData where S.Element == ByteBuffer {
        guard Self.safeName(imageID) else { throw NimbusError.badRequest("invalid image id") }
        let tmp = "\(root)/tmp/\(imageID).\(Identifiers.hex32())"
        let fd = try await pool.runIfActive { () throws -> Int32 in
            let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw NimbusError(.internal, "cannot create \(tmp)", detail: String(cString: strerror(errno))) }
            return fd
        }
        var md5 = Insecure.MD5()
        var sha = SHA512()
        var size: Int64 = 0
        var pending = [UInt8]()
        pending.reserveCapacity(Self.spill + 65536)
        // Writes run in the background, one at a time, while the next chunk is hashed; each is
        // followed by posix_fadvise(DONTNEED), which starts writeback at once, so the fsync at
        // the end has little left to do.
        var inflight: Task<Int64, any Error>?
        let pool = self.pool
        do {
            for try await chunk in body {
                size += Int64(chunk.readableBytes)
                if size > limit { throw NimbusError(.payloadTooLarge, "The incoming image is too large: the limit is \(limit) bytes.") }
                chunk.withUnsafeReadableBytes { md5.update(bufferPointer: $0); sha.update(bufferPointer: $0) }
                pending.append(contentsOf: chunk.readableBytesView)
                if pending.count >= Self.spill {
                    let written = try await inflight?.value ?? 0
                    let bytes = pending
                    pending = []
                    pending.reserveCapacity(Self.spill + 65536)
                    inflight = Task {
                        try await pool.runIfActive {
                            try Self.writeAll(fd, bytes)
                            _ = posix_fadvise(fd, off_t(written), off_t(bytes.count), POSIX_FADV_DONTNEED)
                            return written + Int64(bytes.count)
                        }
                    }
                }
            }
            _ = try await inflight?.value
            inflight = nil
            let bytes = pending
            try await pool.runIfActive {
                try Self.writeAll(fd, bytes)
                guard fsync(fd) == 0 else { throw NimbusError(.internal, "fsync failed", detail: String(cString: strerror(errno))) }
            }
        } catch {
            _ = try? await inflight?.value
            _ = try? await pool.runIfActive { close(fd); unlink(tmp) }
            throw error
        }
        let (final, root) = (path(imageID), self.root)
        try await pool.runIfActive {
            close(fd)
            guard rename(tmp, final) == 0 else {
                unlink(tmp)
                throw NimbusError(.internal, "rename failed", detail: String(cString: strerror(errno)))
            }
            let dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dfd >= 0 { fsync(dfd); close(dfd) }
        }
        return StoredImageData(location: "file://" + path(imageID), size: size, md5: Hex.encode(md5.finalize()), sha512: Hex.encode(sha.finalize()))
    }

    func filePath(_ location: String) throws -> String {
        guard location.hasPrefix("file://" + root + "/") else { throw NimbusError(.internal, "image data not in this store: \(location)") }
        let p = String(location.dropFirst("file://".count))
        guard Self.safeName((p as NSString).lastPathComponent) else { throw NimbusError(.internal, "bad location") }
        return p
    }

    public func read(location: String, range: Range<Int64>?) async throws -> ImageDataStream {
        let p = try filePath(location)
        let fd = try await pool.runIfActive { () throws -> Int32 in
            let fd = open(p, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw NimbusError.notFound("Image data not found in the store.") }
            return fd
        }
        let state = ReadState(fd: fd, offset: range?.lowerBound ?? 0, end: range?.upperBound)
        let pool = self.pool
        return ImageDataStream(next: {
            guard let (fd, offset, count) = state.nextRead() else { return nil }
            let bytes = try await pool.runIfActive { () throws -> [UInt8] in
                var out = [UInt8](repeating: 0, count: count)
                let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(offset)) }
                guard n >= 0 else { throw NimbusError(.internal, "read failed", detail: String(cString: strerror(errno))) }
                out.removeLast(count - n)
                return out
            }
            if bytes.isEmpty { state.finish(); return nil }
            state.advance(bytes.count)
            return ByteBuffer(bytes: bytes)
        }, close: { state.finish() })
    }

    public func delete(location: String) async throws {
        let p = try filePath(location)
        try await pool.runIfActive { _ = unlink(p) }
    }

    public func storedLocations() async throws -> [String] {
        let root = self.root
        return try await pool.runIfActive {
            ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0 != "tmp" && Self.safeName($0) }.map { "file://\(root)/\($0)" }
        }
    }

    static func safeName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s != "." && s != ".." && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; throw NimbusError(.internal, "write failed", detail: String(cString: strerror(errno))) }
                off += n
            }
        }
    }

    /// The descriptor and position of one read; closed once, by whichever ends it first.
    final class ReadState: @unchecked Sendable {
        let lock = NSLock()
        var fd: Int32
        var offset: Int64
        let end: Int64?
        init(fd: Int32, offset: Int64, end: Int64?) { self.fd = fd; self.offset = offset; self.end = end }

        func nextRead() -> (Int32, Int64, Int)? {
            lock.withLock {
                guard fd >= 0 else { return nil }
                let remaining = end.map { $0 - offset } ?? Int64(1 << 20)
                guard remaining > 0 else { close(fd); fd = -1; return nil }
                return (fd, offset, Int(min(remaining, 1 << 20)))
            }
        }

        func advance(_ n: Int) { lock.withLock { offset += Int64(n) } }
        func finish() { lock.withLock { if fd >= 0 { close(fd); fd = -1 } } }
    }
}
