import CArchiveCodecs
import NIOCore
@testable import ObjectStorage

/// Tar archives built byte by byte, and gzip/bzip2 made with the system libraries, for the
/// archive reader's tests.
enum TarFixture {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// A header block with a valid checksum; `sizeField` replaces the octal size when given.
    static func header(_ name: [UInt8], size: Int, type: UInt8 = UInt8(ascii: "0"), prefix: [UInt8] = [],
                       sizeField: [UInt8]? = nil, corruptChecksum: Bool = false) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        for (i, b) in name.prefix(100).enumerated() { h[i] = b }
        for (i, b) in bytes("0000644").enumerated() { h[100 + i] = b }
        let field = sizeField ?? Array(String(repeating: "0", count: max(0, 11 - String(size, radix: 8).count)).utf8) + bytes(String(size, radix: 8))
        for (i, b) in field.prefix(12).enumerated() { h[124 + i] = b }
        h[156] = type
        for (i, b) in bytes("ustar\u{0}00").enumerated() { h[257 + i] = b }
        for (i, b) in prefix.prefix(155).enumerated() { h[345 + i] = b }
        for i in 148..<156 { h[i] = UInt8(ascii: " ") }
        var sum = h.reduce(0) { $0 + Int($1) }
        if corruptChecksum { sum += 1 }
        let text = bytes(String(repeating: "0", count: max(0, 6 - String(sum, radix: 8).count)) + String(sum, radix: 8))
        for (i, b) in (text + [0, UInt8(ascii: " ")]).enumerated() { h[148 + i] = b }
        return h
    }

    static func padded(_ data: [UInt8]) -> [UInt8] { data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512) }

    static func file(_ name: String, _ data: [UInt8], type: UInt8 = UInt8(ascii: "0")) -> [UInt8] {
        header(bytes(name), size: data.count, type: type) + padded(data)
    }

    static func longName(_ name: [UInt8], type: UInt8 = UInt8(ascii: "L")) -> [UInt8] {
        header(bytes("././@LongLink"), size: name.count + 1, type: type) + padded(name + [0])
    }

    /// A pax header (`x` or `g`) with these records.
    static func pax(_ records: [(String, [UInt8])], type: UInt8 = UInt8(ascii: "x")) -> [UInt8] {
        var payload = [UInt8]()
        for (key, value) in records {
            let body = bytes(" \(key)=") + value + [10]
            var length = body.count + 1
            while String(length).count + body.count != length { length = String(length).count + body.count }
            payload += bytes(String(length)) + body
        }
        return header(bytes("././@PaxHeader"), size: payload.count, type: type) + padded(payload)
    }

    static let end = [UInt8](repeating: 0, count: 1024)
}

enum Compress {
    /// gzip via zlib (`windowBits` 31: the gzip wrapper).
    static func gzip(_ data: [UInt8], level: Int32 = 6) -> [UInt8] {
        deflate(data, windowBits: 31, level: level)
    }

    /// Raw deflate (`windowBits` -15), for hand-made gzip headers.
    static func deflate(_ data: [UInt8], windowBits: Int32 = -15, level: Int32 = 6) -> [UInt8] {
        var z = z_stream()
        precondition(nimbus_deflateInit2(&z, level, windowBits) == Z_OK)
        defer { deflateEnd(&z) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&z, UInt(data.count))) + 64)
        var input = data
        let produced = input.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                z.next_in = inBuf.baseAddress
                z.avail_in = UInt32(inBuf.count)
                z.next_out = outBuf.baseAddress
                z.avail_out = UInt32(outBuf.count)
                precondition(CArchiveCodecs.deflate(&z, Z_FINISH) == Z_STREAM_END)
                return outBuf.count - Int(z.avail_out)
            }
        }
        return Array(out[0..<produced])
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        UInt32(data.withUnsafeBufferPointer { CArchiveCodecs.crc32(0, $0.baseAddress, UInt32($0.count)) })
    }

    static func bzip2(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: data.count + data.count / 100 + 600)
        var length = UInt32(out.count)
        var input = data
        let rc = input.withUnsafeMutableBytes { inBuf in
            out.withUnsafeMutableBytes { outBuf in
                BZ2_bzBuffToBuffCompress(outBuf.baseAddress!.assumingMemoryBound(to: CChar.self), &length,
                                         inBuf.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(inBuf.count), 9, 0, 0)
            }
        }
        precondition(rc == BZ_OK)
        return Array(out[0..<Int(length)])
    }
}

/// What reading an archive gave: each member (path, kind, bytes) and the failure, if any.
struct ReadResult: Equatable {
    struct Entry: Equatable {
        var path: [UInt8]
        var kind: TarMember.Kind
        var data: [UInt8]
        var size: Int
        var pax = PaxFields()
    }
    var entries: [Entry] = []
    var failure: ArchiveFailure?
    /// The paths as text, for readable expectations.
    var paths: [String] { entries.map { String(decoding: $0.path, as: UTF8.self) } }
}

/// Reads the archive sent as `chunks`, every file's content too (up to `maxContent` bytes kept).
func readArchive(_ chunks: [[UInt8]], _ compression: ArchiveCompression = .none, limits: ArchiveLimits = .init(),
                 maxContent: Int = 1 << 20) async -> ReadResult {
    let stream = ArchiveStream(body: chunks.map { ByteBuffer(bytes: $0) }.async, decoder: compression.makeDecoder(), limits: limits)
    let reader = TarReader(stream)
    var result = ReadResult()
    do {
        while let m = try await reader.next() {
            result.entries.append(.init(path: m.path, kind: m.kind, data: [], size: m.size, pax: m.pax))
            if m.kind == .file {
                for try await chunk in reader.content(of: m) where result.entries[result.entries.count - 1].data.count < maxContent {
                    let kept = maxContent - result.entries[result.entries.count - 1].data.count
                    result.entries[result.entries.count - 1].data += chunk.readableBytesView.prefix(kept)
                }
            }
        }
    } catch {
        result.failure = stream.failure ?? (error as? ArchiveFailure)
    }
    return result
}

/// `bytes` cut into pieces at `cuts` (offsets, ascending).
func split(_ bytes: [UInt8], at cuts: [Int]) -> [[UInt8]] {
    var out = [[UInt8]]()
    var from = 0
    for c in cuts where c > from && c < bytes.count {
        out.append(Array(bytes[from..<c]))
        from = c
    }
    out.append(Array(bytes[from...]))
    return out
}
