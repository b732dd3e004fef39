import NimbusCore

/// Writes the `GET /allocation_candidates` body straight to bytes: at 10,000 providers the
/// answer is megabytes, and building it as `JSONValue` trees (hashing and sorting every key)
/// would cost more than the search.
struct CandidateWriter {
    var out: [UInt8] = []
    let s: PlacementState
    let v: Microversion
    let suffixes: [String]

    init(state: PlacementState, v: Microversion, suffixes: [String]) {
        self.s = state
        self.v = v
        self.suffixes = suffixes
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
        out.append(contentsOf: String(value).utf8)
    }

    mutating func write(_ r: CandidateResult, requestedClasses: Set<Int>) -> [UInt8] {
        out.reserveCapacity(256 + r.requests.count * 160 + r.summaries.count * 260)
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

    /// The providers of a request in order of first use, each with its parts.
    func byProvider(_ req: CandidateResult.Request) -> [(Int, [CandidateResult.Part])] {
        var order = [(Int, [CandidateResult.Part])]()
        for part in req.parts {
            if let i = order.firstIndex(where: { $0.0 == part.provider }) { order[i].1.append(part) } else { order.append((part.provider, [part])) }
        }
        return order
    }

    mutating func resources(_ parts: [CandidateResult.Part]) {
        raw("{")
        for (j, part) in parts.enumerated() {
            if j > 0 { raw(",") }
            string(s.className(part.rc))
            raw(":")
            int(part.amount)
        }
        raw("}")
    }

    mutating func request(_ req: CandidateResult.Request) {
        raw("{\"allocations\":{")
        for (i, (p, parts)) in byProvider(req).enumerated() {
            if i > 0 { raw(",") }
            string(s[p].uuid)
            raw(":{\"resources\":")
            resources(parts)
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
                    string(s[p].uuid)
                }
                raw("]")
            }
            raw("}")
        }
        raw("}")
    }

    mutating func legacyRequest(_ req: CandidateResult.Request) {
        raw("{\"allocations\":[")
        for (i, (p, parts)) in byProvider(req).enumerated() {
            if i > 0 { raw(",") }
            raw("{\"resource_provider\":{\"uuid\":")
            string(s[p].uuid)
            raw("},\"resources\":")
            resources(parts)
            raw("}")
        }
        raw("]}")
    }

    mutating func summary(_ p: Int, requestedClasses: Set<Int>) {
        let r = s[p]
        string(r.uuid)
        raw(":{\"resources\":{")
        var classes = r.inventories.keys.filter { v.atLeast(27) || requestedClasses.contains($0) }
        if classes.count > 1 { classes.sort { s.className($0).bytesPrecede(s.className($1)) } }
        for (i, rc) in classes.enumerated() {
            if i > 0 { raw(",") }
            string(s.className(rc))
            raw(":{\"capacity\":")
            int(r.inventories[rc]!.capacity)
            raw(",\"used\":")
            int(r.used(rc))
            raw("}")
        }
        raw("}")
        if v.atLeast(17) {
            raw(",\"traits\":[")
            var names = r.traits.map { s.traitName($0) }
            if names.count > 1 { names = names.sortedByBytes() }
            for (i, n) in names.enumerated() {
                if i > 0 { raw(",") }
                string(n)
            }
            raw("]")
        }
        if v.atLeast(29) {
            raw(",\"parent_provider_uuid\":")
            if let parent = r.parent { string(s[parent].uuid) } else { raw("null") }
            raw(",\"root_provider_uuid\":")
            string(s[r.root].uuid)
        }
        raw("}")
    }
}
