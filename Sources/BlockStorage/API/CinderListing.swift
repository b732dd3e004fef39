import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Cinder's list paging (`cinder/api/common.py`): `sort=key[:dir],…` or the deprecated
/// `sort_key`/`sort_dir`, `limit` (capped at 1,000), `marker`, `offset`, with `created_at` and
/// `id` as tie-breakers, and the `next` link when a page is full.
struct CinderListing {
    var sortKeys: [(key: String, ascending: Bool)]
    var limit: Int?
    var marker: String?
    var offset: Int

    /// `keys` maps the API's sort key names to document fields.
    init(_ q: QueryString, keys: [String: String], defaultKey: String = "created_at", defaultAscending: Bool = false) throws {
        var pairs = [(String, String?)]()
        if let sort = q["sort"] {
            if q["sort_key"] != nil || q["sort_dir"] != nil {
                throw NimbusError.badRequest("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.")
            }
            for item in sort.splitBytes(",") {
                let parts = item.splitBytes(":", omittingEmpty: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count <= 2, let k = parts.first, !k.isEmpty else { throw NimbusError.badRequest("Invalid sort key") }
                pairs.append((k, parts.count == 2 ? parts[1] : nil))
            }
        } else if let k = q["sort_key"] {
            let ks = k.splitBytes(",").map { $0.trimmingCharacters(in: .whitespaces) }
            let ds = (q["sort_dir"] ?? "").splitBytes(",").map { $0.trimmingCharacters(in: .whitespaces) }
            for (i, key) in ks.enumerated() { pairs.append((key, i < ds.count ? ds[i] : (ds.first ?? nil))) }
        } else if let d = q["sort_dir"] {
            pairs.append((defaultKey, d))
        }
        var sort = [(key: String, ascending: Bool)]()
        for (k, d) in pairs {
            let name = k == "name" ? "display_name" : k
            guard let field = keys[name] ?? keys[k] else { throw NimbusError.badRequest("Invalid input received: Invalid sort key \(k)") }
            let dir = (d ?? (pairs.first?.1 ?? "desc")).lowercased()
            guard dir == "asc" || dir == "desc" else { throw NimbusError.badRequest("Unknown sort direction, must be 'desc' or 'asc'") }
            sort.append((field, dir == "asc"))
        }
        if sort.isEmpty { sort = [(keys[defaultKey] ?? defaultKey, defaultAscending)] }
        let firstAscending = sort[0].ascending
        for tie in ["created_at", "id"] where !sort.contains(where: { $0.key == tie }) { sort.append((tie, firstAscending)) }
        sortKeys = sort
        if let l = q["limit"] {
            guard let n = Int(l) else { throw NimbusError.badRequest("limit param must be an integer") }
            guard n >= 0 else { throw NimbusError.badRequest("limit param must be positive") }
            limit = min(n, CinderAPI.maxLimit)
        }
        marker = q["marker"]
        if let o = q["offset"] {
            guard let n = Int(o) else { throw NimbusError.badRequest("offset param must be an integer") }
            guard n >= 0 else { throw NimbusError.badRequest("offset param must be positive") }
            offset = n
        } else {
            offset = 0
        }
    }

    static func compare(_ a: JSONValue?, _ b: JSONValue?) -> Int {
        switch (a, b) {
        case (.int(let x)?, .int(let y)?): return x < y ? -1 : (x == y ? 0 : 1)
        case (.string(let x)?, .string(let y)?): return x.sameBytes(as: y) ? 0 : (x.bytesPrecede(y) ? -1 : 1)
        case (.bool(let x)?, .bool(let y)?): return x == y ? 0 : (!x ? -1 : 1)
        case (nil, nil), (.null?, .null?), (nil, .null?), (.null?, nil): return 0
        case (nil, _), (.null?, _): return -1
        case (_, nil), (_, .null?): return 1
        default: return 0
        }
    }

    /// The page, and whether a next link is due (the page is full).
    func apply(_ docs: [JSONObject]) throws -> (page: [JSONObject], full: Bool) {
        let sorted = docs.sorted { a, b in
            for (k, asc) in sortKeys {
                let c = Self.compare(a[k], b[k])
                if c != 0 { return asc ? c < 0 : c > 0 }
            }
            return false
        }
        var start = 0
        if let marker {
            guard let i = sorted.firstIndex(where: { $0["id"]?.stringValue == marker }) else {
                throw NimbusError.notFound("Marker \(marker) could not be found.")
            }
            start = i + 1
        }
        start = min(sorted.count, start + offset)
        let cap = limit ?? CinderAPI.maxLimit
        let page = Array(sorted[start..<min(sorted.count, start + cap)])
        return (page, !page.isEmpty && page.count >= cap)
    }

    /// The request's URL with `marker` set to the page's last id (re-requestable as is).
    static func nextLink(base: String, path: String, _ q: QueryString, lastID: String) -> JSONValue {
        var pairs = q.pairs.filter { $0.0 != "marker" }
        pairs.append(("marker", lastID))
        let query = pairs.map { PercentEncoding.encode($0.0) + "=" + PercentEncoding.encode($0.1) }.joined(separator: "&")
        return [["rel": "next", "href": .string(base + path + "?" + query)]]
    }
}

/// Python literals as Cinder's filters read them (`ast.literal_eval`): enough for the
/// `metadata={'k': 'v'}` dictionaries clients send.
enum PythonLiteral {
    static func dictionary(_ text: String) -> [String: String]? {
        var bytes = Array(text.utf8)[...]
        func skip() { while let b = bytes.first, b == 32 || b == 9 || b == 10 { bytes = bytes.dropFirst() } }
        func string() -> String? {
            skip()
            guard let q = bytes.first, q == 39 || q == 34 else { return nil }
            bytes = bytes.dropFirst()
            var out = [UInt8]()
            while let b = bytes.first {
                bytes = bytes.dropFirst()
                if b == q { return String(decoding: out, as: UTF8.self) }
                if b == 92, let n = bytes.first { out.append(n); bytes = bytes.dropFirst(); continue }
                out.append(b)
            }
            return nil
        }
        skip()
        guard bytes.first == 123 else { return nil }
        bytes = bytes.dropFirst()
        var d = [String: String]()
        skip()
        if bytes.first == 125 { return d }
        while true {
            guard let k = string() else { return nil }
            skip()
            guard bytes.first == 58 else { return nil }
            bytes = bytes.dropFirst()
            guard let v = string() else { return nil }
            d[k] = v
            skip()
            if bytes.first == 44 { bytes = bytes.dropFirst(); skip(); if bytes.first == 125 { return d }; continue }
            if bytes.first == 125 { return d }
            return nil
        }
    }
}
