import NimbusCore

/// Writes the `GET /allocation_candidates` body straight to bytes: at 10,000 providers the
/// answer is megabytes, and building it as `JSONValue` trees (hashing and sorting every key)
/// would cost more than the search.
struct CandidateWriter {
    var out: [UInt8] = []
    let s: PlacementState
    let v: Microversion
    let suffixes: [String]

    /// Each class name as a quoted JSON string, and its rank in byte order.
    let classJSON: [[UInt8]]
    let classRank: [Int]

    init(state: PlacementState, v: Microversion, suffixes: [String]) {
        self.s = state
        self.v = v
        self.suffixes = suffixes
        classJSON = state.classNames.map { name in Array(("\"" + (name ?? "") + "\"").utf8) }
        var rank = [Int](repeating: 0, count: state.classNames.count)
        for (r, i) in state.classNames.indices.sorted(by: { (state.classNames[$0] ?? "").bytesPrecede(state.classNames[$1] ?? "") }).enumerated() {
            rank[i] = r
        }
        classRank = rank
    }

    /// A string known to need no escaping (UUIDs, class and trait names, group suffixes: their
    /// schemas allow only ASCII letters, digits, `_` and `-`), copied in one go.
    mutating func plain(_ text: String) {
        out.append(0x22)
        var t = text
        t.withUTF8 { out.append(contentsOf: $0) }
        out.append(0x22)
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// A JSON string; only `"`, `\\` and control bytes need escaping (UTF-8 passes through).
    mutating func string(_ text: String) {
        out.append(0x22)
        for c in text.utf8 {
            switch c {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
            default: out.append(c)
            }
        }
        out.append(0x22)
    }

    mutating func int(_ value: Int64) {
        if value >= 0 && value < 10 { out.append(0x30 + UInt8(value)); return }
        if value < 0 { out.append(contentsOf: String(value).utf8); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value, count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while n > 0 {
                buf[19 - count] = 0x30 + UInt8(n % 10)
                n /= 10
                count += 1
            }
            out.append(contentsOf: buf[(20 - count)...])
        }
    }

    mutating func write(_ r: CandidateResult, requestedClasses: Set<Int>) -> [UInt8] {
        out.reserveCapacity(1024 + r.requests.count * 220 + r.summaries.count * 320)
        raw("{\"allocation_requests\":[")
        for (i, req) in r.requests.enumerated() {
            if i > 0 { raw(",") }
            v.atLeast(12) ? request(req) : legacyRequest(req)
        }
        raw("],\"provider_summaries\":{")
        for (i, p) in r.summaries.enumerated() {
            if i > 0 { raw(",") }
            summary(p, requestedClasses: requestedClasses)
        }
        raw("}}")
        return out
    }

    /// The providers of a request in order of first use.
    func providerOrder(_ req: CandidateResult.Request) -> [Int] {
        var order = [Int]()
        for part in req.parts where !order.contains(part.provider) { order.append(part.provider) }
        return order
    }

    /// `{"VCPU": 1, …}`: the parts of `provider`.
    mutating func resources(_ parts: [CandidateResult.Part], of provider: Int) {
        raw("{")
        var first = true
        for part in parts where part.provider == provider {
            if !first { raw(",") }
            first = false
            out.append(contentsOf: classJSON[part.rc])
            raw(":")
            int(part.amount)
        }
        raw("}")
    }

    mutating func request(_ req: CandidateResult.Request) {
        raw("{\"allocations\":{")
        for (i, p) in providerOrder(req).enumerated() {
            if i > 0 { raw(",") }
            plain(s[p].uuid)
            raw(":{\"resources\":")
            resources(req.parts, of: p)
            raw("}")
        }
        raw("}")
        if v.atLeast(34) {
            raw(",\"mappings\":{")
            var first = true
            for (g, providers) in req.mappings.enumerated() {
                if !first { raw(",") }
                first = false
                string(suffixes[g])
                raw(":[")
                for (k, p) in providers.enumerated() {
                    if k > 0 { raw(",") }
                    plain(s[p].uuid)
                }
                raw("]")
            }
            raw("}")
        }
        raw("}")
    }

    mutating func legacyRequest(_ req: CandidateResult.Request) {
        raw("{\"allocations\":[")
        for (i, p) in providerOrder(req).enumerated() {
            if i > 0 { raw(",") }
            raw("{\"resource_provider\":{\"uuid\":")
            plain(s[p].uuid)
            raw("},\"resources\":")
            resources(req.parts, of: p)
            raw("}")
        }
        raw("]}")
    }

    mutating func summary(_ p: Int, requestedClasses: Set<Int>) {
        let r = s[p]
        plain(r.uuid)
        raw(":{\"resources\":{")
        var classes = [Int]()
        classes.reserveCapacity(r.inventories.count)
        for rc in r.inventories.keys where v.atLeast(27) || requestedClasses.contains(rc) { classes.append(rc) }
        if classes.count > 1 { classes.sort { classRank[$0] < classRank[$1] } }
        for (i, rc) in classes.enumerated() {
            if i > 0 { raw(",") }
            out.append(contentsOf: classJSON[rc])
            raw(":{\"capacity\":")
            int(r.inventories[rc]!.capacity)
            raw(",\"used\":")
            int(r.used(rc))
            raw("}")
        }
        raw("}")
        if v.atLeast(17) {
            raw(",\"traits\":[")
            if !r.traits.isEmpty {
                var names = r.traits.map { s.traitName($0) }
                if names.count > 1 { names = names.sortedByBytes() }
                for (i, n) in names.enumerated() {
                    if i > 0 { raw(",") }
                    plain(n)
                }
            }
            raw("]")
        }
        if v.atLeast(29) {
            raw(",\"parent_provider_uuid\":")
            if let parent = r.parent { plain(s[parent].uuid) } else { raw("null") }
            raw(",\"root_provider_uuid\":")
            plain(s[r.root].uuid)
        }
        raw("}")
    }
}
