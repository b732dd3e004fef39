import NIOCore

/// The decompressed bytes of an archive upload, decoded as the request body arrives and only as
/// fast as they are read: one body chunk of compressed input and `decodeStepBytes` (plus what a
/// header read asks for) of output are held at a time, whatever the archive's size.
///
/// Used by one task. The first failure sticks: every later read throws it, so the extraction
/// sees a failure that happened while an object PUT was reading a member.
final class ArchiveStream: @unchecked Sendable {
    let limits: ArchiveLimits
    private let nextChunk: () async throws -> ByteBuffer?
    private let decoder: (any ArchiveDecoder)?
    /// Compressed bytes received and not decoded yet.
    private var input = ByteBuffer()
    private var bodyEnded = false
    /// Decoded bytes not read yet: `buffer[start...]`.
    private var buffer = [UInt8]()
    private var start = 0
    /// Decoded bytes read (or skipped) so far: the offset tar headers are counted from.
    private(set) var position = 0
    private(set) var receivedBytes = 0
    private(set) var decodedBytes = 0
    private(set) var failure: ArchiveFailure?

    init<Body: AsyncSequence>(body: Body, decoder: (any ArchiveDecoder)?, limits: ArchiveLimits = .init()) where Body.Element == ByteBuffer {
        var iterator = body.makeAsyncIterator()
        self.nextChunk = { try await iterator.next() }
        self.decoder = decoder
        self.limits = limits
    }

    private var available: Int { buffer.count - start }

    /// The next `count` bytes; fewer only where the data ends.
    func read(_ count: Int) async throws(ArchiveFailure) -> [UInt8] {
        while available < count {
            guard try await fill() else { break }
        }
        let n = min(count, available)
        let out = Array(buffer[start..<(start + n)])
        consume(n)
        return out
    }

    /// Up to `max` of the next bytes (what is decoded already, or the next step); nil at the end.
    func chunk(max: Int) async throws(ArchiveFailure) -> ByteBuffer? {
        if available == 0 {
            guard try await fill() else { return nil }
        }
        let n = min(max, available)
        let out = ByteBuffer(bytes: buffer[start..<(start + n)])
        consume(n)
        return out
    }

    /// Skips `count` bytes; false when the data ends first.
    func skip(_ count: Int) async throws(ArchiveFailure) -> Bool {
        var left = count
        while left > 0 {
            if available == 0 {
                guard try await fill() else { return false }
            }
            let n = min(left, available)
            consume(n)
            left -= n
        }
        return true
    }

    /// Records `failure` (the first one stays) and returns what every later read will throw.
    func fail(_ failure: ArchiveFailure) -> ArchiveFailure {
        if self.failure == nil { self.failure = failure }
        return self.failure!
    }

    private func consume(_ n: Int) {
        start += n
        position += n
    }

    /// Decodes more bytes into the buffer; false at the end of the data.
    private func fill() async throws(ArchiveFailure) -> Bool {
        if let failure { throw failure }
        compact()
        guard let decoder else {
            while let chunk = try await receive() {
                if chunk.readableBytes > 0 {
                    buffer.append(contentsOf: chunk.readableBytesView)
                    decodedBytes += chunk.readableBytes
                    return true
                }
            }
            return false
        }
        while true {
            if input.readableBytes > 0, !decoder.ended {
                let before = buffer.count, unused = input.readableBytes
                do { try decoder.decode(&input, into: &buffer, limit: limits.decodeStepBytes) } catch { throw fail(error) }
                decodedBytes += buffer.count - before
                try checkExpansion()
                if buffer.count > before { return true }
                // zlib and libbz2 always use input they are given room to decode; guard anyway.
                if input.readableBytes == unused, !decoder.ended { throw fail(.invalid("invalid compressed data")) }
                continue
            }
            if decoder.ended { return false }
            guard let chunk = try await receive() else {
                do { try decoder.finish() } catch { throw fail(error) }
                return false
            }
            input = chunk
        }
    }

    private func receive() async throws(ArchiveFailure) -> ByteBuffer? {
        if bodyEnded { return nil }
        do {
            guard let chunk = try await nextChunk() else {
                bodyEnded = true
                return nil
            }
            receivedBytes += chunk.readableBytes
            return chunk
        } catch {
            throw fail(.bodyFailed("\(error)"))
        }
    }

    /// A compressed archive may expand to `expansionAllowanceBytes`, and past that to
    /// `maxExpansionRatio` times the compressed bytes received.
    private func checkExpansion() throws(ArchiveFailure) {
        guard decodedBytes > limits.expansionAllowanceBytes,
              decodedBytes / limits.maxExpansionRatio > receivedBytes else { return }
        throw fail(.tooLarge("The archive expands to more than \(limits.maxExpansionRatio) times its compressed size "
                             + "(past \(limits.expansionAllowanceBytes) bytes)."))
    }

    private func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 1 << 16 {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
