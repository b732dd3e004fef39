import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import NimbusCore

/// Byte ranges as HTTP `Range: bytes=…` gives them.
enum ByteRanges {
    /// nil: no usable Range header (serve the whole object); []: nothing satisfiable (416).
    static func parse(_ header: String, size: Int) -> [Range<Int>]? {
        let h = header.trimmingCharacters(in: .whitespaces)
        guard h.lowercased().hasPrefix("bytes=") else { return nil }
        var out = [Range<Int>]()
        let specs = h.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
        guard !specs.isEmpty, specs.count <= 100 else { return nil }
        for raw in specs {
            let s = raw.trimmingCharacters(in: .whitespaces)
            guard let dash = s.firstIndex(of: "-") else { return nil }
            let a = s[..<dash], b = s[s.index(after: dash)...]
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
        return out
    }
}

/// What a GET serves: a plain object's bytes, or the concatenation of a large object's
/// segments (DLO: every object under a prefix; SLO: the manifest's list), as segment reads.
struct ObjectBody: Sendable {
    struct Segment: Sendable {
        var row: ObjectRow
        /// The part of the segment object that belongs to the large object.
        var range: Range<Int>
    }

    var segments: [Segment]
    var length: Int
    var etag: String

    static func plain(_ row: ObjectRow) -> ObjectBody {
        ObjectBody(segments: row.size > 0 ? [Segment(row: row, range: 0..<row.size)] : [], length: row.size, etag: row.etag)
    }

    static func resolve(_ row: ObjectRow, request: SwiftRequest, depth: Int = 0) async throws -> ObjectBody {
        if request.query("multipart-manifest") == "get" { return plain(row) }
        // Swift's limit on nested manifests; it also stops manifest cycles.
        guard depth < 10 else { throw NimbusError(.conflict, "Max recursion depth exceeded on large object manifests") }
        if row.metadata["x-static-large-object"] != nil {
            let manifest = try await SLOManifest.load(row, service: request.service)
            var segments = [Segment]()
            var checked = Set<String>()
            for item in manifest {
                let (c, o) = item.container
                if !checked.contains(c) {
                    let sub = SwiftRequest(api: request.api, request: request.request, context: request.context,
                                           target: .init(account: row.account, container: c, object: o))
                    _ = try await sub.authorizeObject(write: false)
                    checked.insert(c)
                }
                guard let seg = try await request.liveObject(row.account, c, o) else {
                    throw NimbusError(.conflict, "A segment of the large object is missing: \(item.name)")
                }
                if seg.metadata["x-static-large-object"] != nil {
                    let nested = try await resolve(seg, request: request, depth: depth + 1)
                    segments += nested.segments
                    guard segments.count <= 100_000 else { throw NimbusError(.conflict, "Too many segments in the large object") }
                    continue
                }
                let r = item.range ?? 0..<seg.size
                if seg.etag != item.hash || r.upperBound > seg.size {
                    throw NimbusError(.conflict, "A segment of the large object changed: \(item.name)")
                }
                if !r.isEmpty { segments.append(Segment(row: seg, range: r)) }
            }
            let etag = "\"" + (row.metadata["x-object-sysmeta-slo-etag"] ?? row.etag) + "\""
            return ObjectBody(segments: segments, length: segments.reduce(0) { $0 + $1.range.count }, etag: etag)
        }
        if let manifest = row.metadata["x-object-manifest"] {
            let decoded = manifest.removingPercentEncoding ?? manifest
            guard let slash = decoded.firstIndex(of: "/") else { return plain(row) }
            let container = String(decoded[..<slash]), prefix = String(decoded[decoded.index(after: slash)...])
            let sub = SwiftRequest(api: request.api, request: request.request, context: request.context,
                                   target: .init(account: row.account, container: container, object: prefix.isEmpty ? "x" : prefix))
            _ = try await sub.authorizeObject(write: false)
            var q = ListingQuery()
            q.prefix = prefix
            let now = Int(Date().timeIntervalSince1970)
            let rows = try await request.index.listObjects(row.account, container, q).compactMap { e -> ObjectRow? in
                if case .row(let r) = e, r.deleteAt.map({ $0 > now }) ?? true { return r }
                return nil
            }
            var md5 = Insecure.MD5()
            for r in rows { md5.update(data: Array(r.etag.utf8)) }
            let segments = rows.filter { $0.size > 0 }.map { Segment(row: $0, range: 0..<$0.size) }
            return ObjectBody(segments: segments, length: segments.reduce(0) { $0 + $1.range.count },
                              etag: "\"" + Hex.encode(md5.finalize()) + "\"")
        }
        return plain(row)
    }

    /// The segment reads covering `range` of the whole body.
    func pieces(_ range: Range<Int>) -> [(ObjectRow, Range<Int>)] {
        var out = [(ObjectRow, Range<Int>)]()
        var offset = 0
        for s in segments {
            let segStart = offset, segEnd = offset + s.range.count
            offset = segEnd
            let lo = max(range.lowerBound, segStart), hi = min(range.upperBound, segEnd)
            guard lo < hi else { continue }
            let within = (s.range.lowerBound + lo - segStart)..<(s.range.lowerBound + hi - segStart)
            out.append((s.row, within))
        }
        return out
    }

    static func write(_ pieces: [(ObjectRow, Range<Int>)], to writer: inout any ResponseBodyWriter, service: ObjectStorageService) async throws {
        for try await chunk in ObjectStorageService.Pieces(pieces: pieces, service: service) { try await writer.write(chunk) }
    }

    func stream(ranges: [Range<Int>]?, service: ObjectStorageService, logger: Logger) -> ResponseBody {
        let pieces = pieces(ranges?.first ?? 0..<length)
        return ResponseBody(contentLength: ranges?.first?.count ?? length) { writer in
            do {
                try await Self.write(pieces, to: &writer, service: service)
                try await writer.finish(nil)
            } catch let e as ReplicaError {
                logger.error("object download aborted: the replica failed: \(e)")
                throw e
            } catch {
                // Usually the client closing the connection mid-download.
                logger.info("object download aborted: \(error)")
                throw error
            }
        }
    }

    func multipart(parts: [(String, Range<Int>)], closing: String, service: ObjectStorageService, logger: Logger) -> ResponseBody {
        let plan = parts.map { ($0.0, pieces($0.1)) }
        return ResponseBody { writer in
            for (i, (head, pieces)) in plan.enumerated() {
                try await writer.write(ByteBuffer(string: (i > 0 ? "\r\n" : "") + head))
                try await Self.write(pieces, to: &writer, service: service)
            }
            try await writer.write(ByteBuffer(string: closing))
            try await writer.finish(nil)
        }
    }

    /// The part `range` of the body (a copy with a Range header).
    func slice(_ range: Range<Int>) -> ObjectBody {
        ObjectBody(segments: pieces(range).map { Segment(row: $0.0, range: $0.1) }, length: range.count, etag: etag)
    }

    /// The whole body as an async sequence (server-side copies): replicas are opened and read
    /// as the consumer asks for bytes, so nothing is read ahead or after it stops.
    func sequence(service: ObjectStorageService) -> ObjectStorageService.Pieces {
        ObjectStorageService.Pieces(pieces: pieces(0..<length), service: service)
    }
}
