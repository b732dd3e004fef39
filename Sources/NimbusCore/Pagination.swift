/// Limit/marker pagination and sorting as OpenStack APIs do it (Nova, Glance, Neutron, Cinder):
/// `?limit=N&marker=<id>&sort_key=k&sort_dir=asc|desc`, answered with a page and, when more
/// remain, a `next` link carrying the last id as the new marker.
public struct PageRequest: Sendable, Equatable {
    public var limit: Int?
    public var marker: String?
    public var sortKeys: [(key: String, ascending: Bool)]

    public static func == (a: PageRequest, b: PageRequest) -> Bool {
        a.limit == b.limit && a.marker == b.marker && a.sortKeys.elementsEqual(b.sortKeys) { $0.key == $1.key && $0.ascending == $1.ascending }
    }

    /// Parses the query; `maxLimit` caps what one page may hold, `allowedSortKeys` guards sort_key.
    public init(limit: String?, marker: String?, sortKeys: [String], sortDirs: [String], allowedSortKeys: Set<String>,
                defaultSort: String, maxLimit: Int = 1000) throws(NimbusError) {
        if let limit {
            guard let n = Int(limit), n >= 0 else { throw .badRequest("Invalid limit '\(limit)': it must be a non-negative integer.") }
            self.limit = min(n, maxLimit)
        } else {
            self.limit = nil
        }
        self.marker = marker
        let keys = sortKeys.flatMap { $0.splitBytes(",").map(String.init) }
        let dirs = sortDirs.flatMap { $0.splitBytes(",").map(String.init) }
        var out = [(key: String, ascending: Bool)]()
        for (i, key) in keys.enumerated() {
            guard allowedSortKeys.contains(key) else { throw .badRequest("Invalid sort key '\(key)'.") }
            let dir = i < dirs.count ? dirs[i].lowercased() : (dirs.last?.lowercased() ?? "asc")
            guard dir == "asc" || dir == "desc" else { throw .badRequest("Invalid sort direction '\(dir)': use asc or desc.") }
            out.append((key, dir == "asc"))
        }
        if out.isEmpty { out = [(defaultSort, true)] }
        self.sortKeys = out
    }

    /// Sorts with `value(item, key)`, then applies marker and limit. A marker that is not in the
    /// collection is a 400, as Nova and Glance answer.
    public func apply<T>(_ items: [T], id: (T) -> String, value: (T, String) -> String) throws(NimbusError) -> (page: [T], more: Bool) {
        let sorted = items.sorted { a, b in
            for (key, ascending) in sortKeys {
                let va = value(a, key), vb = value(b, key)
                if va != vb { return ascending ? va < vb : va > vb }
            }
            return id(a) < id(b)
        }
        var start = 0
        if let marker {
            guard let i = sorted.firstIndex(where: { id($0) == marker }) else { throw .badRequest("Marker \(marker) could not be found.") }
            start = i + 1
        }
        let rest = sorted[start...]
        guard let limit else { return (Array(rest), false) }
        return (Array(rest.prefix(limit)), rest.count > limit)
    }

    /// The `next` link for a page whose last item has id `lastID`: the request URL with the marker replaced.
    public static func nextLink(baseURL: String, query: [(String, String)], lastID: String) -> String {
        var parts = query.filter { $0.0 != "marker" }.map { "\($0.0)=\(percentEncode($0.1))" }
        parts.append("marker=\(percentEncode(lastID))")
        return baseURL + "?" + parts.joined(separator: "&")
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
