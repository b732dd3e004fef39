import CArchiveCodecs
import NIOCore

/// gzip as Python's tarfile reads it in stream mode (`r|gz`, what bulk.py uses): the header is
/// parsed here (its errors are tarfile's: "not a gzip file", "unsupported compression method"),
/// the body is raw deflate (zlib), and the CRC and length trailer are skipped, not checked, as
/// tarfile does. A member that follows another (`cat a.gz b.gz`, which `gzip -d` reads too)
/// continues the data; anything else after a member is ignored, as `gzip -d` ignores trailing
/// garbage.
final class GzipDecoder: ArchiveDecoder {
    private enum State: Equatable {
        case magic1, magic2, method, flags
        case fixed(remaining: Int)              // mtime, extra flags, OS
        case extraLength(low: UInt8?)
        case extra(remaining: Int)
        case name, comment
        case headerCRC(remaining: Int)
        case inflating
        case trailer(remaining: Int)            // CRC-32 and ISIZE
        case nextMember(sawMagic1: Bool)
        case ended
    }

    private static let flagHeaderCRC: UInt8 = 2, flagExtra: UInt8 = 4, flagName: UInt8 = 8, flagComment: UInt8 = 16

    private var state = State.magic1
    private var flags: UInt8 = 0
    private var firstMember = true
    private var stream: UnsafeMutablePointer<z_stream>?
    private var scratch = [UInt8]()

    var ended: Bool { state == .ended }

    deinit {
        if let stream {
            inflateEnd(stream)
            stream.deallocate()
        }
    }

    func decode(_ input: inout ByteBuffer, into output: inout [UInt8], limit: Int) throws(ArchiveFailure) {
        while input.readableBytes > 0 {
            switch state {
            case .ended:
                return
            case .inflating:
                try inflate(&input, into: &output, limit: limit)
                return
            default:
                try step(input.readInteger(as: UInt8.self)!)
            }
        }
    }

    func finish() throws(ArchiveFailure) {
        // tarfile reads the magic and the method with short reads at the end of the data.
        guard firstMember else { return }
        switch state {
        case .magic1, .magic2: throw .invalid("not a gzip file")
        case .method: throw .invalid("unsupported compression method")
        default: return
        }
    }

    /// One byte of a member's header or trailer, or of what follows a member.
    private func step(_ byte: UInt8) throws(ArchiveFailure) {
        switch state {
        case .magic1:
            guard byte == 0x1F else { throw .invalid("not a gzip file") }
            state = .magic2
        case .magic2:
            guard byte == 0x8B else { throw .invalid("not a gzip file") }
            state = .method
        case .method:
            guard byte == 8 else { throw .invalid("unsupported compression method") }
            state = .flags
        case .flags:
            flags = byte
            state = .fixed(remaining: 6)
        case .fixed(let n):
            state = n > 1 ? .fixed(remaining: n - 1) : afterFixed()
        case .extraLength(nil):
            state = .extraLength(low: byte)
        case .extraLength(let low?):
            let length = Int(low) | Int(byte) << 8
            state = length > 0 ? .extra(remaining: length) : afterExtra()
        case .extra(let n):
            state = n > 1 ? .extra(remaining: n - 1) : afterExtra()
        case .name:
            if byte == 0 { state = afterName() }
        case .comment:
            if byte == 0 { state = afterComment() }
        case .headerCRC(let n):
            state = n > 1 ? .headerCRC(remaining: n - 1) : .inflating
        case .trailer(let n):
            state = n > 1 ? .trailer(remaining: n - 1) : .nextMember(sawMagic1: false)
        case .nextMember(false):
            state = byte == 0x1F ? .nextMember(sawMagic1: true) : .ended
        case .nextMember(true):
            if byte == 0x8B {
                firstMember = false
                state = .method
            } else {
                state = .ended
            }
        case .inflating, .ended:
            return
        }
    }

    private func afterFixed() -> State { flags & Self.flagExtra != 0 ? .extraLength(low: nil) : afterExtra() }
    private func afterExtra() -> State { flags & Self.flagName != 0 ? .name : afterName() }
    private func afterName() -> State { flags & Self.flagComment != 0 ? .comment : afterComment() }
    private func afterComment() -> State { flags & Self.flagHeaderCRC != 0 ? .headerCRC(remaining: 2) : .inflating }

    /// One `inflate` call: as much of `input` as makes at most `limit` bytes.
    private func inflate(_ input: inout ByteBuffer, into output: inout [UInt8], limit: Int) throws(ArchiveFailure) {
        let z = try zStream()
        if scratch.count < limit { scratch = [UInt8](repeating: 0, count: limit) }
        var rc: Int32 = Z_OK
        var consumed = 0, produced = 0
        input.withUnsafeReadableBytes { inBytes in
            scratch.withUnsafeMutableBufferPointer { out in
                let available = min(inBytes.count, Int(UInt32.max))
                z.pointee.next_in = UnsafeMutableRawPointer(mutating: inBytes.baseAddress)?.assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_in = UInt32(available)
                z.pointee.next_out = out.baseAddress
                z.pointee.avail_out = UInt32(limit)
                rc = CArchiveCodecs.inflate(z, Z_NO_FLUSH)
                consumed = available - Int(z.pointee.avail_in)
                produced = limit - Int(z.pointee.avail_out)
                z.pointee.next_in = nil
                z.pointee.next_out = nil
            }
        }
        input.moveReaderIndex(forwardBy: consumed)
        output.append(contentsOf: scratch[0..<produced])
        switch rc {
        case Z_OK, Z_BUF_ERROR:
            return
        case Z_STREAM_END:
            inflateReset(z)
            state = .trailer(remaining: 8)
        case Z_MEM_ERROR:
            throw .unavailable("zlib is out of memory")
        default:
            // tarfile wraps zlib.error in ReadError("invalid compressed data").
            throw .invalid("invalid compressed data")
        }
    }

    private func zStream() throws(ArchiveFailure) -> UnsafeMutablePointer<z_stream> {
        if let stream { return stream }
        let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        z.initialize(to: z_stream())
        guard nimbus_inflateInit2(z, -MAX_WBITS) == Z_OK else {
            z.deallocate()
            throw .unavailable("zlib could not be initialised")
        }
        stream = z
        return z
    }
}
