import CArchiveCodecs
import NimbusCore

/// Cinder's `backup_compression_algorithm` for the chunked driver: each object is stored
/// compressed when that makes it smaller (else as it is, `none`), and the metadata names the
/// algorithm per object. Cinder's names: `none`/`off`/`no`, `zlib`/`gzip` (both the zlib format:
/// Cinder imports Python's zlib for either), `bz2`/`bzip2`. `zstd` needs a library this build
/// does not link.
public enum BackupCompression: Sendable, Equatable {
    case none
    case zlib(name: String)
    case bz2(name: String)

    /// The algorithm a name (any ASCII case) means; nil for a name Cinder does not know or
    /// that is not built (`zstd`).
    public init?(name: String) {
        let n = String(decoding: name.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
        switch n {
        case "none", "off", "no": self = .none
        case "zlib", "gzip": self = .zlib(name: n)
        case "bz2", "bzip2": self = .bz2(name: n)
        default: return nil
        }
    }

    /// What the metadata records for an object stored with this algorithm.
    public var name: String {
        switch self {
        case .none: return "none"
        case .zlib(let n), .bz2(let n): return n
        }
    }

    /// The compressed bytes, or nil when they would not be smaller (stored as they are). An
    /// object over 256 KiB whose first 64 KiB do not shrink by 3% is taken as incompressible
    /// without compressing the rest (Cinder compresses every chunk whole and then compares;
    /// random or encrypted data cost a full deflate pass per chunk for nothing).
    func compress(_ data: [UInt8]) -> [UInt8]? {
        guard data.count >= 64 else { return nil }
        if data.count > 256 << 10 {
            let probe = Array(data[0..<(64 << 10)])
            guard let small = pack(probe), small.count * 100 < probe.count * 97 else { return nil }
        }
        return pack(data)
    }

    private func pack(_ data: [UInt8]) -> [UInt8]? {
        switch self {
        case .none:
            return nil
        case .zlib:
            // Python's zlib.compress: the zlib format at the default level (6).
            var out = [UInt8](repeating: 0, count: Int(compressBound(uLong(data.count))))
            var outLength = uLong(out.count)
            let rc = out.withUnsafeMutableBufferPointer { o in
                data.withUnsafeBufferPointer { i in compress2(o.baseAddress, &outLength, i.baseAddress, uLong(data.count), Z_DEFAULT_COMPRESSION) }
            }
            guard rc == Z_OK, Int(outLength) < data.count else { return nil }
            out.removeSubrange(Int(outLength)...)
            return out
        case .bz2:
            // Python's bz2.compress: 900 kB blocks. A result as large as the input is useless.
            var out = [UInt8](repeating: 0, count: data.count - 1)
            var outLength = UInt32(out.count)
            let rc = out.withUnsafeMutableBufferPointer { o in
                data.withUnsafeBufferPointer { i in
                    BZ2_bzBuffToBuffCompress(UnsafeMutableRawPointer(o.baseAddress!).assumingMemoryBound(to: CChar.self), &outLength,
                                             UnsafeMutableRawPointer(mutating: i.baseAddress!).assumingMemoryBound(to: CChar.self),
                                             UInt32(data.count), 9, 0, 0)
                }
            }
            guard rc == BZ_OK else { return nil }  // BZ_OUTBUFF_FULL: not smaller
            out.removeSubrange(Int(outLength)...)
            return out
        }
    }

    /// The `length` bytes an object decompresses to; anything else (a longer or shorter result,
    /// a corrupt stream) is an error, so a crafted object cannot make a restore allocate more
    /// than its recorded length.
    func decompress(_ data: [UInt8], length: Int) throws -> [UInt8] {
        let bad = NimbusError(.internal, "a backup object does not decompress (\(name)) to its recorded \(length) bytes")
        guard !data.isEmpty || self == .none else { throw bad }
        switch self {
        case .none:
            guard data.count == length else { throw bad }
            return data
        case .zlib:
            // One byte of room past `length`: a stream that fills it is longer than recorded.
            var out = [UInt8](repeating: 0, count: length + 1)
            var outLength = uLong(out.count)
            let rc = out.withUnsafeMutableBufferPointer { o in
                data.withUnsafeBufferPointer { i in uncompress(o.baseAddress, &outLength, i.baseAddress, uLong(data.count)) }
            }
            guard rc == Z_OK, Int(outLength) == length else { throw bad }
            out.removeLast()
            return out
        case .bz2:
            var out = [UInt8](repeating: 0, count: length + 1)
            var outLength = UInt32(out.count)
            let rc = out.withUnsafeMutableBufferPointer { o in
                data.withUnsafeBufferPointer { i in
                    BZ2_bzBuffToBuffDecompress(UnsafeMutableRawPointer(o.baseAddress!).assumingMemoryBound(to: CChar.self), &outLength,
                                               UnsafeMutableRawPointer(mutating: i.baseAddress!).assumingMemoryBound(to: CChar.self),
                                               UInt32(data.count), 0, 0)
                }
            }
            guard rc == BZ_OK, Int(outLength) == length else { throw bad }
            out.removeLast()
            return out
        }
    }
}
