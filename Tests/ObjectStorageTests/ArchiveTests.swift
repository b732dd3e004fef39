import NIOCore
import Testing
@testable import ObjectStorage

/// The streaming archive reader (`?extract-archive`): tar as Python's tarfile reads it in stream
/// mode, gzip and bzip2 decoded a bounded step at a time.
@Suite struct ArchiveTests {
    typealias T = TarFixture

    /// A small archive with each kind of header the reader handles.
    static let sample: [UInt8] = {
        let long = String(repeating: "x", count: 150)
        var tar = T.header(T.bytes("c1/"), size: 0, type: UInt8(ascii: "5"))
        tar += T.file("c1/a.txt", T.bytes("hello"))
        tar += T.longName(T.bytes("c1/" + long))
        tar += T.file("ignored-short-name", T.bytes("long"))
        tar += T.pax([("path", T.bytes("c1/pax/\u{E9}t\u{E9}/"))])
        tar += T.file("ignored-pax-name", [UInt8](repeating: 7, count: 600))
        tar += T.header(T.bytes("c1/link"), size: 0, type: UInt8(ascii: "2"))
        // A hard link's size field is not followed by data in tarfile.
        tar += T.header(T.bytes("c1/hard"), size: 9, type: UInt8(ascii: "1"))
        tar += T.header(T.bytes("b.txt"), size: 3, prefix: T.bytes("c2/deep")) + T.padded(T.bytes("abc"))
        tar += T.file("c2/empty", [])
        tar += T.end
        return tar
    }()

    static let samplePaths = ["c1/", "c1/a.txt", "c1/" + String(repeating: "x", count: 150), "c1/pax/\u{E9}t\u{E9}",
                              "c1/link", "c1/hard", "c2/deep/b.txt", "c2/empty"]

    func expectSample(_ r: ReadResult, _ comment: Comment? = nil) {
        #expect(r.failure == nil, comment)
        #expect(r.paths == Self.samplePaths, comment)
        #expect(r.entries.map(\.kind) == [.other, .file, .file, .file, .other, .other, .file, .file], comment)
        #expect(r.entries.map(\.data) == [[], T.bytes("hello"), T.bytes("long"), [UInt8](repeating: 7, count: 600), [], [], T.bytes("abc"), []], comment)
    }

    @Test func plainTarSplitAtEveryByte() async {
        let tar = Self.sample
        expectSample(await readArchive([tar]))
        for cut in 1..<tar.count { expectSample(await readArchive(split(tar, at: [cut])), "cut at \(cut)") }
        expectSample(await readArchive(tar.map { [$0] }), "one byte at a time")
    }

    @Test func gzipSplitAtEveryByte() async {
        let gz = Compress.gzip(Self.sample)
        for cut in 1..<gz.count { expectSample(await readArchive(split(gz, at: [cut]), .gzip), "cut at \(cut)") }
        expectSample(await readArchive(gz.map { [$0] }, .gzip), "one byte at a time")
    }

    @Test func gzipHeaderWithEveryOptionalField() async {
        // FHCRC | FEXTRA | FNAME | FCOMMENT, then raw deflate, CRC-32 and ISIZE.
        var gz: [UInt8] = [0x1F, 0x8B, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3]
        gz += [5, 0] + T.bytes("extra") + T.bytes("name.tar") + [0] + T.bytes("a comment") + [0] + [0xAB, 0xCD]
        gz += Compress.deflate(Self.sample)
        let crc = Compress.crc32(Self.sample), size = UInt32(Self.sample.count)
        gz += (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) } + (0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) }
        for cut in 1..<40 { expectSample(await readArchive(split(gz, at: [cut, cut + 1, cut + 7]), .gzip), "cut at \(cut)") }
    }

    @Test func bzip2SplitAtEveryByte() async {
        let bz = Compress.bzip2(Self.sample)
        for cut in 1..<bz.count { expectSample(await readArchive(split(bz, at: [cut]), .bzip2), "cut at \(cut)") }
        expectSample(await readArchive(bz.map { [$0] }, .bzip2), "one byte at a time")
    }

    @Test func concatenatedStreamsContinueAndTrailingGarbageIsIgnored() async {
        let half = 512 * 4
        let (a, b) = (Array(Self.sample[..<half]), Array(Self.sample[half...]))
        expectSample(await readArchive([Compress.gzip(a) + Compress.gzip(b) + T.bytes("garbage")], .gzip))
        expectSample(await readArchive([Compress.bzip2(a) + Compress.bzip2(b) + T.bytes("BZ garbage")], .bzip2))
        // After the end of the archive nothing is read, valid or not.
        expectSample(await readArchive([Self.sample + T.bytes("not tar at all")]))
    }

    @Test func namesAreBytes() async {
        // Not UTF-8, and a precomposed and a decomposed spelling: kept apart, as given.
        let latin1: [UInt8] = T.bytes("c/caf") + [0xE9]
        let tar = T.header(latin1, size: 1) + T.padded([1]) + T.file("c/caf\u{E9}", [2]) + T.file("c/cafe\u{301}", [3]) + T.end
        let r = await readArchive([tar])
        #expect(r.failure == nil)
        #expect(r.entries.map(\.path) == [latin1, T.bytes("c/caf\u{E9}"), T.bytes("c/cafe\u{301}")])
        #expect(r.entries.map(\.data) == [[1], [2], [3]])
    }

    // MARK: corrupt and truncated input: tarfile's messages

    @Test func firstHeaderProblemsAreErrors() async {
        #expect(await readArchive([]).failure == .invalid("empty file"))
        #expect(await readArchive([Array(Self.sample.prefix(100))]).failure == .invalid("truncated header"))
        let badSum = T.header(T.bytes("c/a"), size: 1, corruptChecksum: true) + T.padded([1]) + T.end
        #expect(await readArchive([badSum]).failure == .invalid("bad checksum"))
        let badSize = T.header(T.bytes("c/a"), size: 1, sizeField: T.bytes("12x")) + T.padded([1]) + T.end
        #expect(await readArchive([badSize]).failure == .invalid("invalid header"))
        // All zeros: an empty archive, no error (bulk.py then reports "No Valid Files").
        #expect(await readArchive([T.end]) == ReadResult())
    }

    @Test func signedChecksumsAreAccepted() async {
        // Some tars (Sun, NeXT) sum signed bytes; tarfile accepts either sum.
        let header = Self.rechecksum(T.header(T.bytes("c/caf\u{E9}"), size: 1), signed: true)
        let r = await readArchive([header + T.padded([1]) + T.end])
        #expect(r.failure == nil)
        #expect(r.paths == ["c/caf\u{E9}"])
    }

    @Test func laterHeaderProblemsEndTheArchive() async {
        let first = T.file("c/a", T.bytes("one"))
        let bad = T.header(T.bytes("c/b"), size: 1, corruptChecksum: true) + T.padded([2]) + T.file("c/c", [3])
        let r = await readArchive([first + bad + T.end])
        #expect(r.failure == nil)
        #expect(r.paths == ["c/a"])
        // Cut inside the second header, or right at its start: the end, as for tarfile.
        #expect(await readArchive([first + Array(bad.prefix(100))]).paths == ["c/a"])
        #expect(await readArchive([first]).failure == nil)
    }

    @Test func truncatedDataIsUnexpectedEnd() async {
        // Bytes that do not compress, so half the gzip is about half the data.
        var seed: UInt32 = 12345
        let data = (0..<4000).map { _ in seed = seed &* 1_103_515_245 &+ 12345; return UInt8(truncatingIfNeeded: seed >> 16) }
        let tar = T.file("c/a", data) + T.end
        for cut in [600, 512 + 4000, 512 + 4020] {
            let r = await readArchive([Array(tar.prefix(cut))])
            #expect(r.failure == .invalid("unexpected end of data"), "cut at \(cut)")
        }
        let gz = Compress.gzip(tar)
        #expect(await readArchive([Array(gz.prefix(gz.count / 2))], .gzip).failure == .invalid("unexpected end of data"))
    }

    @Test func corruptCompressionIsInvalidCompressedData() async {
        #expect(await readArchive([], .gzip).failure == .invalid("not a gzip file"))
        #expect(await readArchive([[0x1F]], .gzip).failure == .invalid("not a gzip file"))
        #expect(await readArchive([Self.sample], .gzip).failure == .invalid("not a gzip file"))
        #expect(await readArchive([[0x1F, 0x8B, 7, 0]], .gzip).failure == .invalid("unsupported compression method"))
        var gz = Compress.gzip(Self.sample)
        gz[10] = 0xFF  // the first deflate block: a reserved block type
        #expect(await readArchive([gz], .gzip).failure == .invalid("invalid compressed data"))
        #expect(await readArchive([Self.sample], .bzip2).failure == .invalid("invalid compressed data"))
        var bz = Compress.bzip2(Self.sample)
        bz[bz.count / 2] ^= 0x55
        #expect(await readArchive([bz], .bzip2).failure == .invalid("invalid compressed data"))
        #expect(await readArchive([], .bzip2).failure == .invalid("empty file"))
    }

    // MARK: hostile headers

    @Test func extendedHeadersAreBounded() async {
        let limits = ArchiveLimits()
        let size40: [UInt8] = [0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]  // 2^40, GNU base-256
        let huge = T.header(T.bytes("././@LongLink"), size: 0, type: UInt8(ascii: "L"), sizeField: size40) + T.end
        #expect(await readArchive([huge]).failure == .invalid("extended header of \(1 << 40) bytes (at most \(limits.maxExtendedHeaderBytes))"))
        let bigPax = T.header(T.bytes("pax"), size: limits.maxExtendedHeaderBytes + 1, type: UInt8(ascii: "x"))
        #expect(await readArchive([bigPax]).failure != nil)
        // Many global records, each within bounds, together over them.
        let value = [UInt8](repeating: 0x61, count: 600 << 10)
        let g = UInt8(ascii: "g")
        let globals = T.pax([("path", value)], type: g) + T.pax([("SCHILY.xattr.user.meta.b", value)], type: g) + T.file("c/a", [1]) + T.end
        // Records no member uses are dropped as they are read: they add up to nothing.
        let unused = T.pax([("a", value)], type: g) + T.pax([("b", value)], type: g) + T.file("c/a", [1]) + T.end
        #expect(await readArchive([unused]).paths == ["c/a"])
        #expect(await readArchive([globals]).failure == .invalid("global pax headers of more than \(limits.maxExtendedHeaderBytes) bytes"))
    }

    @Test func firstExtendedHeaderOfAChainWins() async {
        let file = T.file("c/own", [1])
        #expect(await readArchive([T.longName(T.bytes("c/long")) + T.pax([("path", T.bytes("c/pax"))]) + file + T.end]).paths == ["c/long"])
        #expect(await readArchive([T.pax([("path", T.bytes("c/pax"))]) + T.longName(T.bytes("c/long")) + file + T.end]).paths == ["c/pax"])
        // A global path names every member after it (tarfile applies global records to each).
        #expect(await readArchive([T.pax([("path", T.bytes("c/global"))], type: UInt8(ascii: "g")) + file + file + T.end]).paths == ["c/global", "c/global"])
        let meta = { (k: String, v: String) in ("SCHILY.xattr.user.meta." + k, T.bytes(v)) }
        let chain = T.pax([meta("a", "1")]) + T.pax([meta("a", "2"), meta("b", "3"), ("mtime", T.bytes("1"))]) + file + T.end
        let r = await readArchive([chain])
        #expect(r.entries.first?.pax.xattrs == [T.bytes("SCHILY.xattr.user.meta.a"): T.bytes("1"), T.bytes("SCHILY.xattr.user.meta.b"): T.bytes("3")])
        let many = T.pax((0...PaxFields.maxXattrs).map { meta("k\($0)", "v") }) + file + T.end
        #expect(await readArchive([many]).entries.first?.pax.tooManyXattrs == true)
    }

    @Test func extendedHeaderFollowedByNothingIsAnError() async {
        #expect(await readArchive([T.longName(T.bytes("c/long"))]).failure == .invalid("empty header"))
        #expect(await readArchive([T.longName(T.bytes("c/long")) + T.end]).failure == .invalid("end of file header"))
        let zeroLength = T.header(T.bytes("pax"), size: 8, type: UInt8(ascii: "x")) + T.padded(T.bytes("0 a=b\n")) + T.end
        #expect(await readArchive([zeroLength]).failure == .invalid("invalid header"))
    }

    @Test func sizesAsTarfileReadsThem() async {
        // GNU base-256, larger than any Int: clamped, then the data ends too soon.
        let base256: [UInt8] = [0x80] + [UInt8](repeating: 0xFF, count: 11)
        let r = await readArchive([T.header(T.bytes("c/big"), size: 0, sizeField: base256) + T.end])
        #expect(r.entries.map(\.size) == [TarHeader.hugeSize])
        #expect(r.failure == .invalid("unexpected end of data"))
        // Negative sizes are refused (tarfile accepts them and then fails by the value).
        let negative: [UInt8] = [0xFF] + [UInt8](repeating: 0xFF, count: 11)
        #expect(await readArchive([T.header(T.bytes("c/neg"), size: 0, sizeField: negative) + T.end]).failure == .invalid("invalid header"))
        #expect(await readArchive([T.header(T.bytes("c/neg"), size: 0, sizeField: T.bytes("-1")) + T.end]).failure == .invalid("invalid header"))
        // Python's int(s, 8): spaces, a 0o prefix, underscores between digits.
        let octal = T.header(T.bytes("c/o"), size: 0, sizeField: T.bytes(" 0o1_1 ")) + T.padded([UInt8](repeating: 5, count: 9)) + T.end
        #expect(await readArchive([octal]).entries.map(\.data) == [[UInt8](repeating: 5, count: 9)])
        // A pax size replaces the header's; one that is not a number is 0.
        let paxSize = T.pax([("size", T.bytes("4"))]) + T.header(T.bytes("c/p"), size: 1) + T.padded(T.bytes("abcd")) + T.file("c/q", [9]) + T.end
        #expect(await readArchive([paxSize]).entries.map(\.data) == [T.bytes("abcd"), [9]])
        let paxJunk = T.pax([("size", T.bytes("lots"))]) + T.header(T.bytes("c/p"), size: 0) + T.file("c/q", [9]) + T.end
        #expect(await readArchive([paxJunk]).entries.map(\.data) == [[], [9]])
    }

    @Test func sparseAndUnknownMembers() async {
        var sparse = T.header(T.bytes("c/sparse"), size: 3, type: UInt8(ascii: "S"))
        sparse[482] = 1  // one extension block follows
        sparse = Self.rechecksum(sparse) + [UInt8](repeating: 0, count: 512) + T.padded([1, 2, 3])
        let unknown = T.file("c/volume", T.bytes("data"), type: UInt8(ascii: "V"))
        let paxSparse = T.pax([("GNU.sparse.major", T.bytes("1")), ("GNU.sparse.minor", T.bytes("0"))]) + T.file("c/p", [1])
        let r = await readArchive([sparse + unknown + paxSparse + T.file("c/last", [4]) + T.end])
        #expect(r.failure == nil)
        #expect(r.paths == ["c/sparse", "c/volume", "c/p", "c/last"])
        #expect(r.entries.map(\.kind) == [.sparse, .other, .sparse, .file])
    }

    static func rechecksum(_ block: [UInt8], signed: Bool = false) -> [UInt8] {
        var h = block
        for i in 148..<156 { h[i] = UInt8(ascii: " ") }
        let sum = String(h.reduce(0) { $0 + (signed ? Int(Int8(bitPattern: $1)) : Int($1)) }, radix: 8)
        for (i, b) in (Array(String(repeating: "0", count: 6 - sum.count).utf8) + Array(sum.utf8) + [0, 32]).enumerated() { h[148 + i] = b }
        return h
    }

    // MARK: bombs

    @Test func gzipBombStopsAtTheBound() async {
        let limits = ArchiveLimits(expansionAllowanceBytes: 1 << 20, maxExpansionRatio: 100, decodeStepBytes: 64 << 10)
        let zeros = [UInt8](repeating: 0, count: 32 << 20)
        let bomb = Compress.gzip(T.header(T.bytes("c/zeros"), size: zeros.count) + zeros + T.end, level: 9)
        #expect(bomb.count < 64 << 10)
        let r = await readArchive(split(bomb, at: Array(stride(from: 4096, to: bomb.count, by: 4096))), .gzip, limits: limits, maxContent: 0)
        guard case .tooLarge = r.failure else { Issue.record("no bound: \(String(describing: r.failure))"); return }
        // The same archive is fine where the ratio allows it.
        let loose = ArchiveLimits(expansionAllowanceBytes: 1 << 20, maxExpansionRatio: 2000)
        #expect(await readArchive([bomb], .gzip, limits: loose, maxContent: 0).failure == nil)
    }

    @Test func bzip2BombStopsAtTheBound() async {
        let limits = ArchiveLimits(expansionAllowanceBytes: 1 << 20, maxExpansionRatio: 100)
        let zeros = [UInt8](repeating: 0, count: 16 << 20)
        let bomb = Compress.bzip2(T.header(T.bytes("c/zeros"), size: zeros.count) + zeros + T.end)
        let r = await readArchive([bomb], .bzip2, limits: limits, maxContent: 0)
        guard case .tooLarge = r.failure else { Issue.record("no bound: \(String(describing: r.failure))"); return }
    }

    @Test func decodedBytesPerStepAreBounded() async throws {
        // One tiny input chunk that expands a lot: each read decodes at most one step.
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        let gz = Compress.gzip(T.header(T.bytes("c/z"), size: zeros.count) + zeros + T.end, level: 9)
        let limits = ArchiveLimits(decodeStepBytes: 4096)
        let stream = ArchiveStream(body: [gz].map { ByteBuffer(bytes: $0) }.async, decoder: GzipDecoder(), limits: limits)
        _ = try await stream.read(512)
        #expect(stream.decodedBytes <= 4096)
        let chunk = try await stream.chunk(max: 1 << 20)
        #expect(chunk?.readableBytes ?? 0 <= 4096)
        #expect(stream.decodedBytes <= 2 * 4096)
    }

    // MARK: formats and names

    @Test func formatsBulkAccepts() {
        #expect(ArchiveCompression(query: "tar") == ArchiveCompression.none)
        #expect(ArchiveCompression(query: "TAR.GZ") == .gzip)
        #expect(ArchiveCompression(query: ".tar.bz2.") == .bzip2)
        for bad in ["", "tgz", "tar.xz", "gz", "tar.gz ", "t\u{0430}r"] { #expect(ArchiveCompression(query: bad) == nil, "\(bad)") }
    }

    @Test func paxXattrHeaders() {
        #expect(ArchiveExtraction.headerName(forPax: T.bytes("SCHILY.xattr.user.mime_type")) == .contentType)
        #expect(ArchiveExtraction.headerName(forPax: T.bytes("LIBARCHIVE.xattr.user.meta.Color"))?.canonicalName == "x-object-meta-color")
        #expect(ArchiveExtraction.headerName(forPax: T.bytes("SCHILY.xattr.user.other")) == nil)
        #expect(ArchiveExtraction.headerName(forPax: T.bytes("SCHILY.xattr.user.meta.bad name")) == nil)
        #expect(ArchiveExtraction.headerName(forPax: T.bytes("mtime")) == nil)
    }

    @Test func pythonIntegers() {
        #expect(TarHeader.pythonInteger(T.bytes("0000644 "), radix: 8) == 0o644)
        #expect(TarHeader.pythonInteger(T.bytes(""), radix: 8) == 0)
        #expect(TarHeader.pythonInteger(T.bytes("0o_7"), radix: 8) == 7)
        #expect(TarHeader.pythonInteger(T.bytes("+7"), radix: 8) == 7)
        for bad in ["8", "7__7", "_7", "7_", "0x7", "7 7", "\u{E9}"] { #expect(TarHeader.pythonInteger(T.bytes(bad), radix: 8) == nil, "\(bad)") }
        #expect(TarHeader.pythonInteger(T.bytes(String(repeating: "7", count: 40)), radix: 8) == TarHeader.hugeSize)
    }
}
