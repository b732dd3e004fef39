import Crypto
import NIOCore
import NimbusCore
import Synchronization

/// MD5, SHA-512 and byte count of an image's bytes, taken as they stream past (for stores that
/// consume the body themselves, such as the object store).
public final class ImageDigest: Sendable {
    private let state = Mutex((md5: Insecure.MD5(), sha: SHA512(), size: Int64(0)))

    public init() {}

    func add(_ chunk: ByteBuffer, limit: Int64) throws(NimbusError) {
        let over = state.withLock { s -> Bool in
            s.size += Int64(chunk.readableBytes)
            guard s.size <= limit else { return true }
            chunk.withUnsafeReadableBytes { s.md5.update(bufferPointer: $0); s.sha.update(bufferPointer: $0) }
            return false
        }
        if over { throw NimbusError(.payloadTooLarge, "The incoming image is too large: the limit is \(limit) bytes.") }
    }

    /// (size, md5 hex, sha512 hex) of everything added.
    public func finish() -> (size: Int64, md5: String, sha512: String) {
        state.withLock { s in (s.size, Hex.encode(s.md5.finalize()), Hex.encode(s.sha.finalize())) }
    }
}

/// `base`, hashed into `digest` as it is read; throws 413 past `limit` bytes.
public struct HashingBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    public typealias Element = ByteBuffer
    let base: Base
    let digest: ImageDigest
    let limit: Int64

    public init(_ base: Base, digest: ImageDigest, limit: Int64) {
        self.base = base
        self.digest = digest
        self.limit = limit
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: Base.AsyncIterator
        let digest: ImageDigest
        let limit: Int64

        public mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await inner.next() else { return nil }
            try digest.add(chunk, limit: limit)
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: base.makeAsyncIterator(), digest: digest, limit: limit) }
}
