import Foundation
import NIOCore

/// A file's bytes in 1 MiB chunks, each read on a thread of its own (never blocking the
/// cooperative pool), for uploads of snapshots.
public struct FileByteChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let path: String

    public init(path: String) { self.path = path }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        var offset: UInt64 = 0
        var done = false

        public mutating func next() async throws -> ByteBuffer? {
            guard !done else { return nil }
            let (path, offset) = (self.path, self.offset)
            let chunk = try await Blocking.run { try FileIO.read(path, offset: offset, count: 1 << 20) }
            if chunk.isEmpty { done = true; return nil }
            self.offset += UInt64(chunk.count)
            return ByteBuffer(bytes: chunk)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(path: path) }
}
