import NimbusCore

extension CandidateSearch {
    /// `_merge_candidates`: per anchor tree that every group reached, the product of the groups'
    /// candidates (depth-first, anchors in order of first appearance), filtered by group_policy,
    /// same_subtree and the capacity of the consolidated request, without duplicates.
    mutating func merge(_ perGroup: [[GroupRequest]], sharing: Set<Int>) -> [CandidateResult.Request] {
        let groupCount = perGroup.count
        if groupCount == 1 && sharing.isEmpty {
            // One group and no sharing: every candidate is already a whole answer, none repeats.
            return perGroup[0].prefix(maxCandidates).map { CandidateResult.Request(anchor: $0.anchor, parts: $0.parts, mappings: [$0.providers]) }
        }
        var order = [Int]()
        var byAnchor = [Int: [[GroupRequest]]]()
        for (gi, list) in perGroup.enumerated() {
            for r in list {
                if byAnchor[r.anchor] == nil {
                    byAnchor[r.anchor] = Array(repeating: [], count: groupCount)
                    order.append(r.anchor)
                }
                byAnchor[r.anchor]![gi].append(r)
            }
        }
        let granular = query.groups.indices.filter { query.groups[$0].useSameProvider }
        var out = [CandidateResult.Request]()
        var seen = Set<Key>()
        anchors: for anchor in order {
            let lists = byAnchor[anchor]!
            if lists.contains(where: \.isEmpty) { continue }
            var index = [Int](repeating: 0, count: groupCount)
            while true {
                let chosen = (0..<groupCount).map { lists[$0][index[$0]] }
                budget -= groupCount + chosen.reduce(0) { $0 + $1.parts.count }
                if budget < 0 { break anchors }
                if let r = combine(chosen, anchor: anchor, granular: granular) {
                    let key = Key(parts: r.parts.sorted { ($0.provider, $0.rc) < ($1.provider, $1.rc) }, mappings: r.mappings)
                    if seen.insert(key).inserted {
                        out.append(r)
                        if out.count >= maxCandidates { break anchors }
                    }
                }
                var k = groupCount - 1
                while k >= 0 {
                    index[k] += 1
                    if index[k] < lists[k].count { break }
                    index[k] = 0
                    k -= 1
                }
                if k < 0 { break }
            }
        }
        return out
    }

    /// One combination of group candidates as a single request, or nil when it breaks
    /// group_policy=isolate, same_subtree or capacity.
    mutating func combine(_ chosen: [GroupRequest], anchor: Int, granular: [Int]) -> CandidateResult.Request? {
        if query.isolate {
            var used = Set<Int>()
            for gi in granular { used.formUnion(chosen[gi].providers) }
            if used.count != granular.count { return nil }
        }
        for subtree in query.sameSubtrees {
            var ps = Set<Int>()
            for gi in subtree { ps.formUnion(chosen[gi].providers) }
            if !inOneSubtree(ps) { return nil }
        }
        var parts = [Part]()
        var slot = [Int: Int]()   // (provider, class) → index in parts
        for c in chosen {
            for p in c.parts {
                let key = p.provider << 24 | p.rc
                if let i = slot[key] {
                    parts[i].amount += p.amount
                } else {
                    slot[key] = parts.count
                    parts.append(p)
                }
            }
        }
        for p in parts {
            let r = state[p.provider]
            guard let inv = r.inventories[p.rc] else { return nil }
            if r.used(p.rc) + p.amount > inv.capacity || p.amount > inv.maxUnit { return nil }
        }
        return CandidateResult.Request(anchor: anchor, parts: parts, mappings: chosen.map(\.providers))
    }

    /// `_check_same_subtree`: one of the providers is an ancestor of (or is) all the others.
    /// Walking up deep trees is charged to the work bound.
    mutating func inOneSubtree(_ providers: Set<Int>) -> Bool {
        if providers.count <= 1 { return true }
        var common: Set<Int>?
        for p in providers {
            let a = Set(state.ancestors(of: p))
            budget -= a.count
            common = common.map { $0.intersection(a) } ?? a
        }
        return !(common ?? []).isDisjoint(with: providers)
    }
}
