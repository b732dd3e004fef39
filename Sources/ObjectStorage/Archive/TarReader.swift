import NIOCore

/// One member of a tar archive, as bulk.py sees it through Python's tarfile.
struct TarMember: Sendable {
    enum Kind: Sendable, Equatable {
        /// A regular file (`0`, `\0`, `7`): it becomes an object.
        case file
        /// A GNU sparse file (`S`, or pax `GNU.sparse.*` records): not extracted.
        case sparse
        /// Anything else (directories, links, devices, FIFOs, unknown types): skipped.
        case other
    }

    var kind: Kind
    /// The member's path as bytes (it need not be UTF-8; the caller checks).
    var path: [UInt8]
    var size: Int
    /// What its pax records (global ones included) say.
    var pax: PaxFields
}

/// Reads the members of a tar archive from an `ArchiveStream`, as Python's tarfile does in
/// stream mode (`r|`): ustar and GNU headers, GNU long names (`L`), pax extended and global
/// headers (`x`, `g`), the first long name or pax `path` winning as in tarfile's recursion.
/// After a member, its unread data and padding are skipped; the data ending there is
/// tarfile's "unexpected end of data".
///
/// As tarfile: a bad first header is an error ("empty file", "truncated header", "bad
/// checksum", "invalid header"); a bad header later ends the archive; a bad header right after a
/// long name or pax header is an error. Bound: a long name or pax header (and what global pax
/// headers leave for later members, `PaxFields`) may hold `maxExtendedHeaderBytes`.
final class TarReader: @unchecked Sendable {
    let stream: ArchiveStream
    /// Where the next header starts, counted in decoded bytes.
    private var nextHeader = 0
    private var globals = PaxFields()
    private var finished = false

    init(_ stream: ArchiveStream) { self.stream = stream }

    /// The next member, after skipping what is left of the current one; nil at the end.
    func next() async throws(ArchiveFailure) -> TarMember? {
        if finished { return nil }
        let gap = nextHeader - stream.position
        if gap > 0, try await !stream.skip(gap) { throw stream.fail(.invalid("unexpected end of data")) }
        let first = nextHeader == 0
        var longName: [UInt8]?
        var pax = PaxFields()
        var chained = false
        while true {
            let block = try await stream.read(TarHeader.blockSize)
            let header: TarHeader
            do { header = try TarHeader(block) } catch let problem {
                return try end(problem, first: first, chained: chained)
            }
            switch header.type {
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                let payload = try await extendedPayload(header.size)
                if header.type == UInt8(ascii: "L"), longName == nil, pax.path == nil { longName = TarHeader.field(payload[...]) }
            case UInt8(ascii: "x"), UInt8(ascii: "X"), UInt8(ascii: "g"):
                let payload = try await extendedPayload(header.size)
                let records: [(key: [UInt8], value: [UInt8])]
                do { records = try PaxRecords.parse(payload) } catch let problem {
                    return try end(problem, first: first, chained: chained)
                }
                if header.type == UInt8(ascii: "g") {
                    try addGlobals(PaxFields(records))
                } else {
                    // This header's records over the globals; the first header of a chain wins
                    // (tarfile patches the member from the innermost header out).
                    var local = PaxFields(records).over(globals)
                    if longName != nil { local.path = nil }
                    pax = pax.over(local)
                }
            default:
                return try await member(header, longName: longName, pax: pax)
            }
            chained = true
        }
    }

    /// A header that could not be read: the end of the archive, or the error tarfile raises.
    private func end(_ problem: TarHeader.Problem, first: Bool, chained: Bool) throws(ArchiveFailure) -> TarMember? {
        if chained { throw stream.fail(.invalid(problem.message)) }
        if problem == .endOfArchive || !first {
            finished = true
            return nil
        }
        throw stream.fail(.invalid(problem == .empty ? "empty file" : problem.message))
    }

    /// A long name's or pax header's blocks (tarfile reads them whole, padding included).
    private func extendedPayload(_ size: Int) async throws(ArchiveFailure) -> [UInt8] {
        let limit = stream.limits.maxExtendedHeaderBytes
        guard size <= limit else {
            throw stream.fail(.invalid("extended header of \(size) bytes (at most \(limit))"))
        }
        return try await stream.read(Self.blocks(size))
    }

    private func addGlobals(_ records: PaxFields) throws(ArchiveFailure) {
        globals = records.over(globals)
        let limit = stream.limits.maxExtendedHeaderBytes
        guard globals.byteCount <= limit else { throw stream.fail(.invalid("global pax headers of more than \(limit) bytes")) }
    }

    /// The member a header describes, with what extended headers before it said.
    private func member(_ header: TarHeader, longName: [UInt8]?, pax local: PaxFields) async throws(ArchiveFailure) -> TarMember {
        let pax = local.over(globals)
        var kind: TarMember.Kind
        var hasData: Bool
        switch header.type {
        case UInt8(ascii: "0"), UInt8(ascii: "7"):
            (kind, hasData) = (.file, true)
        case 0:
            // Old tar marks a directory by the trailing slash of a regular file's name.
            (kind, hasData) = header.name.last == UInt8(ascii: "/") ? (.other, false) : (.file, true)
        case UInt8(ascii: "S"):
            (kind, hasData) = (.sparse, true)
            try await skipSparseExtensions(header)
        case UInt8(ascii: "1")...UInt8(ascii: "6"):
            (kind, hasData) = (.other, false)
        default:
            // tarfile skips the data of types it does not know.
            (kind, hasData) = (.other, true)
        }
        if kind == .file, pax.sparse { kind = .sparse }
        var path = header.name
        if !header.prefix.isEmpty, ![UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "S")].contains(header.type) {
            path = header.prefix + [UInt8(ascii: "/")] + header.name
        }
        if let p = pax.path { path = Array(p.reversed().drop { $0 == UInt8(ascii: "/") }.reversed()) }
        if let longName { path = longName }
        // tarfile: a pax size that is not a number is 0.
        let size = pax.size.map { max(0, TarHeader.pythonInteger($0, radix: 10) ?? 0) } ?? header.size
        nextHeader = stream.position + (hasData ? Self.blocks(size) : 0)
        return TarMember(kind: kind, path: path, size: size, pax: pax)
    }

    private func skipSparseExtensions(_ header: TarHeader) async throws(ArchiveFailure) {
        var extended = header.sparseExtended
        while extended {
            let block = try await stream.read(TarHeader.blockSize)
            guard block.count == TarHeader.blockSize else { throw stream.fail(.invalid("unexpected end of data")) }
            extended = block[504] != 0
        }
    }

    /// `size` rounded up to whole blocks.
    static func blocks(_ size: Int) -> Int { (size + TarHeader.blockSize - 1) / TarHeader.blockSize * TarHeader.blockSize }

    /// The current member's bytes, as an object PUT reads them.
    func content(of member: TarMember) -> TarMemberBody { TarMemberBody(stream: stream, size: member.size) }
}

/// A member's bytes as an `AsyncSequence` of chunks; the archive ending before `size` bytes is a
/// failure of the whole archive ("unexpected end of data"), which the stream keeps.
final class TarMemberBody: AsyncSequence, @unchecked Sendable {
    typealias Element = ByteBuffer
    let stream: ArchiveStream
    private(set) var remaining: Int

    init(stream: ArchiveStream, size: Int) {
        self.stream = stream
        self.remaining = size
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: TarMemberBody
        mutating func next() async throws -> ByteBuffer? {
            guard body.remaining > 0 else { return nil }
            guard let chunk = try await body.stream.chunk(max: Swift.min(body.remaining, body.stream.limits.decodeStepBytes)) else {
                throw body.stream.fail(.invalid("unexpected end of data"))
            }
            body.remaining -= chunk.readableBytes
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}
