import NIOCore

/// Why an archive stopped being read.
enum ArchiveFailure: Error, Equatable, Sendable {
    /// The archive or its compression is not valid: tarfile's message, which bulk.py reports as
    /// "Invalid Tar File: <message>" with a 400.
    case invalid(String)
    /// The decompressed data outgrew `ArchiveLimits` (a decompression bomb): a 413.
    case tooLarge(String)
    /// Reading the request body failed (the client went away).
    case bodyFailed(String)
    /// The decompressor could not be set up (out of memory).
    case unavailable(String)
}

/// Bounds on the work one archive can cause, on top of each object PUT's own (size, quotas).
struct ArchiveLimits: Sendable {
    /// Decompressed bytes any compressed archive may expand to.
    var expansionAllowanceBytes = 256 << 20
    /// Past the allowance, the decompressed bytes may be at most this many times the compressed
    /// bytes received so far. gzip's own limit is about 1,032; ordinary data compresses 2–20×.
    var maxExpansionRatio = 100
    /// The largest GNU long name or pax header a member may have, and the most all global pax
    /// records may hold together.
    var maxExtendedHeaderBytes = 1 << 20
    /// Decompressed bytes made per decoder call, and the largest piece of a member handed on.
    var decodeStepBytes = 256 << 10
}

/// A streaming decompressor: compressed bytes in as they arrive, a bounded amount out per call.
protocol ArchiveDecoder: AnyObject {
    /// Decodes from `input` (moving its reader index past what was used) and appends at most
    /// `limit` bytes to `output`. Every call with input either uses some of it, adds output or
    /// ends the stream.
    func decode(_ input: inout ByteBuffer, into output: inout [UInt8], limit: Int) throws(ArchiveFailure)
    /// The request body has ended: throws when what came is not this format at all.
    func finish() throws(ArchiveFailure)
    /// Whether the compressed data has ended; what follows it in the body is not read.
    var ended: Bool { get }
}

/// The archive formats bulk.py accepts: `extract-archive=tar`, `tar.gz` or `tar.bz2`, in any
/// case and with dots around (`extract_type.lower().strip('.')`).
enum ArchiveCompression: Sendable, Equatable {
    case none, gzip, bzip2

    init?(query value: String) {
        // Only ASCII letters lowercase to t, a, r, g, z or b (Python's `lower`), so an ASCII
        // lowercase of the bytes is the same test.
        var bytes = value.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }[...]
        while bytes.first == UInt8(ascii: ".") { bytes.removeFirst() }
        while bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        switch Array(bytes) {
        case Array("tar".utf8): self = .none
        case Array("tar.gz".utf8): self = .gzip
        case Array("tar.bz2".utf8): self = .bzip2
        default: return nil
        }
    }

    func makeDecoder() -> (any ArchiveDecoder)? {
        switch self {
        case .none: nil
        case .gzip: GzipDecoder()
        case .bzip2: Bzip2Decoder()
        }
    }
}
