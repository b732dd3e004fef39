import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import NimbusCore

/// Byte ranges as HTTP `Range: bytes=…` gives them, with swob's rules (`Range` and
/// `ranges_for_length` in swift/common/swob.py).
enum ByteRanges {
    /// swob's bounds on egregious range requests (RFC 7233 section 6.1): more than 50 ranges,
    /// more than 2 overlapping pairs, or 8 or more ranges out of order are unsatisfiable.
    static let maxRanges = 50
    static let maxOverlaps = 2
    static let maxNonAscending = 8

    /// nil: no usable Range header (serve the whole object); []: nothing satisfiable (416).
    static func parse(_ header: String, size: Int) -> [Range<Int>]? {
        // swob removes every space and tab before reading the header.
        let h = String(String.UnicodeScalarView(header.unicodeScalars.filter { $0 != " " && $0 != "\t" }))
        guard let specsText = h.lowercased().droppingBytePrefix("bytes=") else { return nil }
        var out = [Range<Int>]()
        let specs = specsText.splitBytes(",", omittingEmpty: false)
        guard !specs.isEmpty else { return nil }
        for raw in specs {
            let s = raw.trimmingCharacters(in: .whitespaces)
            guard let (a, b) = s.splitOnceBytes("-") else { return nil }
            if a.isEmpty {
                guard let n = Int(b), n >= 0 else { return nil }
                if n == 0 || size == 0 { continue }
                out.append(max(0, size - n)..<size)
            } else {
                guard let start = Int(a), start >= 0 else { return nil }
                var end = size - 1
                if !b.isEmpty {
                    guard let e = Int(b) else { return nil }
                    if e < start { return nil }
                    end = min(e, size - 1)
                }
                if start >= size { continue }
                out.append(start..<(end + 1))
            }
        }
        return egregious(out) ? [] : out
    }

    static func egregious(_ ranges: [Range<Int>]) -> Bool {
        if ranges.count > maxRanges { return true }
        var overlaps = 0
        for i in ranges.indices {
            for j in ranges.indices where j > i {
                let (s1, e1) = (ranges[i].lowerBound, ranges[i].upperBound), (s2, e2) = (ranges[j].lowerBound, ranges[j].upperBound)
                if (s1 < s2 && s2 < e1) || (s1 < e2 && e2 < e1) || (s2 < s1 && s1 < e2) || (s2 < e1 && e1 < e2) {
                    overlaps += 1
                    if overlaps > maxOverlaps { return true }
                }
            }
        }
        let ascending = zip(ranges, ranges.dropFirst()).allSatisfy { a, b in
            (a.lowerBound, a.upperBound) <= (b.lowerBound, b.upperBound)
        }
        return !ascending && ranges.count >= maxNonAscending
    }
}

/// What a GET serves: a plain object's bytes, or a large object's segments (DLO: every object
/// under a prefix; SLO: the manifest's list, nested manifests included). Length and ETag are
/// known without reading a segment (an SLO's from its manifest's system metadata, as Swift's
/// HEAD answers); segments are resolved only as the body is read (`SegmentCursor`).
struct ObjectBody: Sendable {
    enum Layout: Sendable {
        case plain(ObjectRow)
        /// A static large object: the manifest's segment list is read when the body is.
        case manifest(ObjectRow)
        /// A dynamic large object's segments: the first listing page of its prefix, and where the
        /// next page starts when that one was full (the rest is listed as the body is read).
        case segments([ObjectRow], more: DLOPage?)
    }

    /// The part of a DLO's listing not read yet.
    struct DLOPage: Sendable {
        var account: String
        var container: String
        var prefix: String
        var marker: String
    }

    /// Unknown when a DLO has more segments than one listing page: then, as Swift's DLO
    /// middleware, the answer has no Content-Length (chunked) and ranges are not served.
    var knownLength: Int? {
        if case .segments(_, let more?) = layout { _ = more; return nil }
        return length
    }

    let layout: Layout
    let etag: String
    /// Reads segments with the rights of the request that reads the large object.
    let resolver: SegmentResolver
    /// The part of the whole body this value serves (a copy with a Range takes a part).
    private(set) var window: Range<Int>
    var length: Int { window.count }

    static func plain(_ row: ObjectRow, request: SwiftRequest) -> ObjectBody {
        ObjectBody(layout: .plain(row), etag: row.etag, resolver: SegmentResolver(request: request), window: 0..<row.size)
    }

    static func resolve(_ row: ObjectRow, request: SwiftRequest) async throws -> ObjectBody {
        if request.query("multipart-manifest") == "get" { return plain(row, request: request) }
        let resolver = SegmentResolver(request: request)
        if row.metadata["x-static-large-object"] != nil {
            let etag = "\"" + (row.metadata["x-object-sysmeta-slo-etag"] ?? row.etag) + "\""
            var size = Int(row.metadata["x-object-sysmeta-slo-size"] ?? "")
            if size == nil {
                size = try await SLOManifest.load(row, service: request.service).reduce(0) { $0 + $1.length }
            }
            return ObjectBody(layout: .manifest(row), etag: etag, resolver: resolver, window: 0..<(size ?? 0))
        }
        if let manifest = row.metadata["x-object-manifest"] {
            guard let decoded = PercentEncoding.decode(manifest), let (container, prefix) = decoded.splitOnceBytes("/") else {
                return plain(row, request: request)
            }
            try await resolver.authorize(String(container))
            var q = ListingQuery()
            q.prefix = String(prefix)
            let now = Int(Date().timeIntervalSince1970)
            // One listing page before answering, as Swift's DLO reads one.
            let page = try await request.index.listObjects(row.account, String(container), q)
            let rows = Self.live(page, now: now)
            var md5 = Insecure.MD5()
            for r in rows { md5.update(data: Array(r.etag.utf8)) }
            let segments = rows.filter { $0.size > 0 }
            var more: DLOPage?
            if page.count >= q.limit, case .row(let last)? = page.last {
                more = DLOPage(account: row.account, container: String(container), prefix: String(prefix), marker: last.name)
            }
            return ObjectBody(layout: .segments(segments, more: more), etag: "\"" + Hex.encode(md5.finalize()) + "\"", resolver: resolver,
                              window: 0..<(more == nil ? segments.reduce(0) { $0 + $1.size } : SegmentCursor.unknownLength))
        }
        return plain(row, request: request)
    }

    /// The rows of a listing page that are readable now (not past their X-Delete-At).
    static func live(_ page: [ListingEntry<ObjectRow>], now: Int) -> [ObjectRow] {
        page.compactMap { e -> ObjectRow? in
            if case .row(let r) = e, r.deleteAt.map({ $0 > now }) ?? true { return r }
            return nil
        }
    }

    /// The part `range` of this body (a copy with a Range header).
    func slice(_ range: Range<Int>) -> ObjectBody {
        var b = self
        b.window = (window.lowerBound + range.lowerBound)..<(window.lowerBound + range.upperBound)
        return b
    }

    /// The pieces (segment rows and ranges within them) of `range` of this body, resolved lazily.
    func cursor(_ range: Range<Int>, budget: SegmentCursor.Budget = .init()) -> SegmentCursor {
        let whole = (window.lowerBound + range.lowerBound)..<(window.lowerBound + range.upperBound)
        switch layout {
        case .plain(let row):
            return SegmentCursor(resolver: resolver, items: [.row(row, length: row.size, expand: false)], want: whole, limitEvery: false, budget: budget)
        case .manifest(let row):
            return SegmentCursor(resolver: resolver, items: [.row(row, length: window.upperBound, expand: true)], want: whole, limitEvery: false,
                                 budget: budget)
        case .segments(let rows, let more):
            let items = rows.map { SegmentCursor.Item.row($0, length: $0.size, expand: false) } + (more.map { [.page($0)] } ?? [])
            return SegmentCursor(resolver: resolver, items: items, want: whole, limitEvery: true, budget: budget)
        }
    }

    /// A reader of `ranges` (nil: the whole body) whose first segment is already resolved, so a
    /// missing or changed first segment is a 409 before the response starts (Swift's
    /// `validate_first_segment`); later failures cut the response short, as in Swift.
    func reader(_ ranges: [Range<Int>]?) async throws -> BodyReader {
        let budget = SegmentCursor.Budget()
        var cursors = (ranges ?? [0..<length]).map { cursor($0, budget: budget) }
        var first: (ObjectRow, Range<Int>)?
        if !cursors.isEmpty {
            do { first = try await cursors[0].next() } catch let e as SegmentError {
                throw NimbusError(.conflict, "There was a conflict when trying to complete your request: \(e)")
            }
        }
        return BodyReader(cursors: cursors, first: first, service: resolver.request.service)
    }

    func stream(_ reader: BodyReader, contentLength: Int?, logger: Logger) -> ResponseBody {
        let write: @Sendable (inout any ResponseBodyWriter) async throws -> Void = { writer in
            var reader = reader
            do {
                while let chunk = try await reader.next(part: 0) { try await writer.write(chunk) }
                try await writer.finish(nil)
            } catch {
                await reader.close()
                Self.log(error, logger)
                throw error
            }
        }
        return contentLength.map { ResponseBody(contentLength: $0, write) } ?? ResponseBody(write)
    }

    func multipart(_ reader: BodyReader, heads: [String], closing: String, logger: Logger) -> ResponseBody {
        ResponseBody { writer in
            var reader = reader
            do {
                for (i, head) in heads.enumerated() {
                    try await writer.write(ByteBuffer(string: (i > 0 ? "\r\n" : "") + head))
                    while let chunk = try await reader.next(part: i) { try await writer.write(chunk) }
                }
                try await writer.write(ByteBuffer(string: closing))
                try await writer.finish(nil)
            } catch {
                await reader.close()
                Self.log(error, logger)
                throw error
            }
        }
    }

    static func log(_ error: any Error, _ logger: Logger) {
        switch error {
        case let e as ReplicaError: logger.error("object download aborted: the replica failed: \(e)")
        case let e as SegmentError: logger.error("large object download aborted: \(e)")
        default: logger.info("object download aborted: \(error)")  // usually the client going away
        }
    }

    /// The whole body as an async sequence (server-side copies): segments are resolved and read
    /// as the consumer asks for bytes.
    func sequence() async throws -> BodyReader.Sequence {
        BodyReader.Sequence(reader: try await reader(nil))
    }
}
