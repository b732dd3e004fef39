import CArchiveCodecs
import NIOCore

/// bzip2 through the system libbz2. Whatever libbz2 refuses is tarfile's "invalid compressed
/// data" (Python's BZ2Decompressor raises OSError, which tarfile wraps so). A stream that
/// follows another (what pbzip2 and lbzip2 write, and `bunzip2` reads) continues the data;
/// anything else after a stream is ignored, as `bunzip2` ignores trailing garbage.
final class Bzip2Decoder: ArchiveDecoder {
    private enum State: Equatable {
        case decoding
        /// After a stream: how many bytes of the next one's magic ("BZh") have been seen.
        case between(matched: Int)
        case ended
    }

    private static let magic: [UInt8] = Array("BZh".utf8)
    private var state = State.decoding
    private var stream: UnsafeMutablePointer<bz_stream>?
    private var scratch = [UInt8]()

    var ended: Bool { state == .ended }

    deinit { close() }

    func decode(_ input: inout ByteBuffer, into output: inout [UInt8], limit: Int) throws(ArchiveFailure) {
        while input.readableBytes > 0 {
            switch state {
            case .ended:
                return
            case .decoding:
                let bz = try bzStream()
                let (rc, consumed) = input.withUnsafeReadableBytes { run($0, bz, into: &output, limit: limit) }
                input.moveReaderIndex(forwardBy: consumed)
                guard try streamEnded(rc) else { return }
            case .between(let matched):
                let byte = input.readInteger(as: UInt8.self)!
                guard byte == Self.magic[matched] else { state = .ended; return }
                if matched + 1 < Self.magic.count { state = .between(matched: matched + 1); continue }
                // A new stream: its magic goes to a fresh decompressor first.
                state = .decoding
                let bz = try bzStream()
                let (rc, consumed) = Self.magic.withUnsafeBytes { run($0, bz, into: &output, limit: limit) }
                guard consumed == Self.magic.count, try !streamEnded(rc) else { throw .invalid("invalid compressed data") }
            }
        }
    }

    func finish() throws(ArchiveFailure) {}

    /// One `BZ2_bzDecompress` call; returns its result and the bytes it used.
    private func run(_ bytes: UnsafeRawBufferPointer, _ bz: UnsafeMutablePointer<bz_stream>, into output: inout [UInt8],
                     limit: Int) -> (Int32, Int) {
        if scratch.count < limit { scratch = [UInt8](repeating: 0, count: limit) }
        let available = min(bytes.count, Int(UInt32.max))
        var rc: Int32 = BZ_OK
        var produced = 0, consumed = 0
        scratch.withUnsafeMutableBytes { out in
            // Int8 and UInt8 may alias: libbz2's `char *` reads the bytes as they are.
            bz.pointee.next_in = UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.assumingMemoryBound(to: CChar.self)
            bz.pointee.avail_in = UInt32(available)
            bz.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: CChar.self)
            bz.pointee.avail_out = UInt32(limit)
            rc = BZ2_bzDecompress(bz)
            consumed = available - Int(bz.pointee.avail_in)
            produced = limit - Int(bz.pointee.avail_out)
            bz.pointee.next_in = nil
            bz.pointee.next_out = nil
        }
        output.append(contentsOf: scratch[0..<produced])
        return (rc, consumed)
    }

    /// Whether `rc` ends the stream; throws for libbz2's errors.
    private func streamEnded(_ rc: Int32) throws(ArchiveFailure) -> Bool {
        switch rc {
        case BZ_OK:
            return false
        case BZ_STREAM_END:
            close()
            state = .between(matched: 0)
            return true
        case BZ_MEM_ERROR:
            throw .unavailable("libbz2 is out of memory")
        default:
            throw .invalid("invalid compressed data")
        }
    }

    private func bzStream() throws(ArchiveFailure) -> UnsafeMutablePointer<bz_stream> {
        if let stream { return stream }
        let bz = UnsafeMutablePointer<bz_stream>.allocate(capacity: 1)
        bz.initialize(to: bz_stream())
        guard BZ2_bzDecompressInit(bz, 0, 0) == BZ_OK else {
            bz.deallocate()
            throw .unavailable("libbz2 could not be initialised")
        }
        stream = bz
        return bz
    }

    private func close() {
        guard let stream else { return }
        BZ2_bzDecompressEnd(stream)
        stream.deallocate()
        self.stream = nil
    }
}
