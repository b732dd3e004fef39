import Foundation
import NIOCore
import NimbusCore

/// Why a large object's body stopped: a segment went missing or changed, or manifests nest too deep.
struct SegmentError: Error, CustomStringConvertible {
    let description: String
}

/// Reads a large object's segments with the rights of the request that reads the large object:
/// its caller's, or its temp URL's (an account key reaches the whole account, a container key
/// only its container, as tempurl.py's `authorize_same_account` / `authorize_same_container`).
struct SegmentResolver: Sendable {
    let request: SwiftRequest
    var service: ObjectStorageService { request.service }

    func authorize(_ container: String) async throws {
        var sub = try await request.sibling(.init(account: request.target.account, container: container, object: ""))
        sub.tempURL = request.tempURL && (request.tempURLScope == .account || container.sameBytes(as: request.target.container ?? ""))
        _ = try await sub.authorizeObject(write: false)
    }

    /// The segment's row; a segment that is a symlink is read as its target, as Swift's segment
    /// subrequests pass through the symlink middleware (with this request's rights).
    func lookup(_ container: String, _ object: String) async throws -> ObjectRow? {
        guard let row = try await request.liveObject(request.target.account, container, object) else { return nil }
        guard row.isSymlink else { return row }
        let via = try await request.sibling(.init(account: request.target.account, container: container, object: object, version: request.target.version))
        do {
            return try await request.followLinks(from: row, via: via, targetEtag: nil, followDynamic: true, location: nil).row
        } catch let failure as SymlinkFailure {
            throw SegmentError(description: "\(failure.status) while retrieving /\(container)/\(object)")
        }
    }
}

/// The pieces (a segment's row and a byte range within it) of part of a large object, in order,
/// resolved one at a time: a nested manifest is read when the body reaches it, so the work done
/// before the first byte is bounded (one segment per nesting level), whatever the size of the
/// whole. Bounds, as Swift's SLO and DLO middlewares keep them:
/// * manifests nest at most `maxDepth` (10) levels;
/// * after `rateLimitAfter` (10) segments, segments smaller than `rateLimitUnderSize` (1 MiB;
///   for a DLO every segment) are served at most `segmentsPerSecond` (1) a second, so a manifest
///   of a million tiny segments cannot make the server do a million lookups for a million bytes.
struct SegmentCursor {
    enum Item {
        /// An object whose bytes are known (`expand`: a manifest to read as its segments).
        case row(ObjectRow, length: Int, expand: Bool)
        /// A manifest entry: looked up, checked against its recorded hash and size, then read.
        case entry(SLOManifest)
        /// The rest of a DLO's listing, listed when the body reaches it.
        case page(ObjectBody.DLOPage)

        var length: Int {
            switch self {
            case .row(_, let length, _): length
            case .entry(let m): m.length
            case .page: SegmentCursor.unknownLength
            }
        }
    }

    struct Frame {
        var items: [Item]
        var index = 0
        var offset = 0
        /// The bytes wanted, in this frame's coordinates.
        var want: Range<Int>
        var depth: Int
    }

    static let maxDepth = 10
    /// The length a body of unknown length (a DLO past one listing page) is read as.
    static let unknownLength = Int.max / 4
    static let rateLimitAfter = 10
    static let rateLimitUnderSize = 1 << 20
    static let segmentInterval = Duration.seconds(1)

    let resolver: SegmentResolver
    var stack: [Frame]
    /// Rate-limit every segment (DLO) rather than only small ones (SLO).
    let limitEvery: Bool
    /// What the cursors of one request share: the rate limit (Swift counts per request, not per
    /// range) and the manifests already read.
    let budget: Budget

    final class Budget: @unchecked Sendable {
        // Used by one task at a time: the response's writer.
        var limited = 0
        var lastLimited: ContinuousClock.Instant?
        /// Containers whose read access was checked, as bytes: `caf\u{E9}` and `cafe\u{301}` are two.
        var checked = Set<Name>()
        /// Manifests read, by object hash and timestamp (at most `maxManifests`).
        var manifests = [String: [SLOManifest]]()
        static let maxManifests = 64
        init() {}
    }

    init(resolver: SegmentResolver, items: [Item], want: Range<Int>, limitEvery: Bool, budget: Budget = Budget()) {
        self.resolver = resolver
        self.stack = [Frame(items: items, want: want, depth: 0)]
        self.limitEvery = limitEvery
        self.budget = budget
    }

    mutating func next() async throws -> (ObjectRow, Range<Int>)? {
        while let top = stack.indices.last {
            let f = stack[top]
            guard f.index < f.items.count, f.offset < f.want.upperBound else { stack.removeLast(); continue }
            let item = f.items[f.index]
            let start = f.offset
            stack[top].index += 1
            stack[top].offset += item.length
            let lo = max(f.want.lowerBound, start), hi = min(f.want.upperBound, start + item.length)
            guard lo < hi else { continue }
            var within = (lo - start)..<(hi - start)
            let row: ObjectRow
            var expand = false
            switch item {
            case .row(let r, _, let e):
                row = r
                expand = e
            case .entry(let m):
                row = try await segment(m)
                expand = row.isStaticLargeObject
                if let r = m.range { within = (within.lowerBound + r.lowerBound)..<(within.upperBound + r.lowerBound) }
            case .page(let p):
                stack.append(Frame(items: try await nextPage(p), want: 0..<Self.unknownLength, depth: f.depth))
                continue
            }
            if expand {
                guard f.depth < Self.maxDepth else { throw SegmentError(description: "max recursion depth exceeded on large object manifests") }
                stack.append(Frame(items: try await manifest(row).map { .entry($0) }, want: within, depth: f.depth + 1))
                continue
            }
            try await rateLimit(within.count)
            return (row, within)
        }
        return nil
    }

    /// The next listing page of a DLO, followed by its continuation when the page was full.
    func nextPage(_ p: ObjectBody.DLOPage) async throws -> [Item] {
        var q = ListingQuery()
        q.prefix = p.prefix
        q.marker = p.marker
        let page = try await resolver.request.index.listObjects(p.account, p.container, q)
        var items = ObjectBody.live(page, now: Int(Date().timeIntervalSince1970)).filter { $0.size > 0 }
            .map { Item.row($0, length: $0.size, expand: false) }
        if page.count >= q.limit, case .row(let last)? = page.last {
            items.append(.page(ObjectBody.DLOPage(account: p.account, container: p.container, prefix: p.prefix, marker: last.name)))
        }
        return items
    }

    /// The object a manifest entry names, as the entry recorded it (hash and size).
    mutating func segment(_ m: SLOManifest) async throws -> ObjectRow {
        let (c, o) = m.container
        if !budget.checked.contains(Name(c)) {
            do { try await resolver.authorize(c) } catch let e as NimbusError {
                // Swift's SegmentedIterable: a segment the reader may not read is a failed segment.
                throw SegmentError(description: "\(e.status) \(SwiftErrorRenderer.reason(e.status)) while retrieving \(m.name)")
            }
            budget.checked.insert(Name(c))
        }
        guard let seg = try await resolver.lookup(c, o) else { throw SegmentError(description: "a segment is missing: \(m.name)") }
        let etag = seg.isStaticLargeObject ? (seg.metadata["x-object-sysmeta-slo-etag"] ?? seg.etag) : seg.etag
        let size = seg.isStaticLargeObject ? (Int(seg.metadata["x-object-sysmeta-slo-size"] ?? "") ?? m.bytes) : seg.size
        guard etag.sameBytes(as: m.hash), (m.range?.upperBound ?? m.bytes) <= size else {
            throw SegmentError(description: "a segment changed: \(m.name)")
        }
        return seg
    }

    /// A nested manifest's entries, read once per request.
    func manifest(_ row: ObjectRow) async throws -> [SLOManifest] {
        let key = row.hash + row.timestamp
        if let cached = budget.manifests[key] { return cached }
        let m = try await SLOManifest.load(row, service: resolver.service)
        if budget.manifests.count < Budget.maxManifests { budget.manifests[key] = m }
        return m
    }

    func rateLimit(_ bytes: Int) async throws {
        guard limitEvery || bytes < Self.rateLimitUnderSize else { return }
        budget.limited += 1
        guard budget.limited > Self.rateLimitAfter else { return }
        let now = ContinuousClock.now
        if let last = budget.lastLimited, last + Self.segmentInterval > now {
            try await Task.sleep(until: last + Self.segmentInterval, clock: .continuous)
        }
        budget.lastLimited = ContinuousClock.now
    }
}

/// The bytes of a body's ranges, read piece by piece from the cursors: one replica stream open
/// at a time, nothing read ahead of the consumer.
struct BodyReader: Sendable {
    private var cursors: [SegmentCursorBox]
    private var pending: (ObjectRow, Range<Int>)?
    private let service: ObjectStorageService
    private var current: (any ObjectReadStream)?
    private var part = 0

    init(cursors: [SegmentCursor], first: (ObjectRow, Range<Int>)?, service: ObjectStorageService) {
        self.cursors = cursors.map(SegmentCursorBox.init)
        self.pending = first
        self.service = service
    }

    /// The next chunk of part `part` (nil at its end).
    mutating func next(part wanted: Int) async throws -> ByteBuffer? {
        precondition(wanted == part || wanted == part + 1)
        if wanted != part {
            part = wanted
            pending = nil
        }
        guard part < cursors.count else { return nil }
        while true {
            if let stream = current {
                if let chunk = try await stream.next() { return chunk }
                await stream.close()
                current = nil
            }
            let piece: (ObjectRow, Range<Int>)
            if let p = pending {
                piece = p
                pending = nil
            } else {
                guard let p = try await cursors[part].next() else { return nil }
                piece = p
            }
            let (row, r) = piece
            current = try await service.open(row, range: r.lowerBound == 0 && r.upperBound == row.size ? nil : r)
        }
    }

    mutating func close() async {
        await current?.close()
        current = nil
    }

    /// The whole of part 0 as an async sequence of buffers.
    struct Sequence: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let reader: BodyReader
        func makeAsyncIterator() -> Iterator { Iterator(reader: reader) }
        struct Iterator: AsyncIteratorProtocol {
            var reader: BodyReader
            mutating func next() async throws -> ByteBuffer? { try await reader.next(part: 0) }
        }
    }
}

/// A cursor kept in a reference so a `BodyReader` can be copied into a response body closure.
final class SegmentCursorBox: @unchecked Sendable {
    // Used by one task at a time: the response body writer or the copy that reads it.
    var cursor: SegmentCursor
    init(_ cursor: SegmentCursor) { self.cursor = cursor }
    func next() async throws -> (ObjectRow, Range<Int>)? { try await cursor.next() }
}

extension ObjectRow {
    var isStaticLargeObject: Bool { metadata["x-static-large-object"] != nil }
}
