import NimbusCore

/// Placement's allocation candidate algorithm (objects/allocation_candidate.py and
/// research_context.py) run over the in-memory state: per request group, the providers with
/// capacity for each class (one pass over that class's providers), filtered by traits,
/// aggregates, trees and root traits; then the groups merged per anchor tree (group_policy,
/// same_subtree, consolidated capacity), limited, and summarised.
public struct CandidateSearch {
    let state: PlacementState
    let query: CandidateQuery
    /// Most allocation requests produced (Placement's max_allocation_candidates).
    let maxCandidates: Int
    /// Most combinations examined in products (bounds the work a request can cause).
    var budget: Int
    /// Providers with room for (class, amount, tree): many groups often ask the same.
    var withRoom: [[Int64]: Set<Int>] = [:]

    public init(state: PlacementState, query: CandidateQuery, maxCandidates: Int, maxCombinations: Int) {
        self.state = state
        self.query = query
        self.maxCandidates = max(1, maxCandidates)
        self.budget = maxCombinations
    }

    typealias Part = CandidateResult.Part

    /// One group's candidate: the providers and amounts it uses, under an anchor root.
    struct GroupRequest {
        var anchor: Int
        var parts: [Part]
        var providers: [Int]
    }

    struct Key: Hashable {
        var parts: [Part]
        var mappings: [[Int]]
    }

    public mutating func run() -> CandidateResult {
        if query.matchesNothing || query.groups.isEmpty { return CandidateResult() }
        var anchors: Set<Int>?
        if !query.rootRequired.isEmpty || !query.rootForbidden.isEmpty {
            let roots = rootsWithTraits()
            if roots.isEmpty { return CandidateResult() }
            anchors = roots
        }
        let sharing = state.sharingProviders
        var perGroup = [[GroupRequest]]()
        for g in query.groups {
            guard let found = candidates(for: g, anchors: anchors, sharing: sharing), !found.isEmpty else { return CandidateResult() }
            perGroup.append(found)
        }
        var requests = merge(perGroup, sharing: sharing)
        var summaryRoots: Set<Int>?
        var summaryProviders: Set<Int>?
        if !query.nestedAware && state.hasTrees {
            requests = requests.filter { r in
                let ps = Set(r.parts.map(\.provider))
                return Set(ps.map { state[$0].root }).count == ps.count
            }
            summaryProviders = Set(requests.flatMap { $0.parts.map(\.provider) })
        }
        if let limit = query.limit, limit < requests.count { requests = Array(requests.prefix(limit)) }
        if summaryProviders == nil {
            var roots = Set<Int>()
            roots.reserveCapacity(requests.count)
            for r in requests { for part in r.parts { roots.insert(state[part.provider].root) } }
            summaryRoots = roots
        }
        var result = CandidateResult()
        result.requests = requests
        if let summaryProviders {
            result.summaries = summaryProviders.sorted()
        } else if let roots = summaryRoots, !roots.isEmpty {
            result.summaries = state.hasTrees ? roots.flatMap { state.subtree(of: $0) }.sorted() : roots.sorted()
        }
        return result
    }

    // MARK: per group

    func rootsWithTraits() -> Set<Int> {
        var out = Set<Int>()
        for p in state.providerIndexes where state[p].parent == nil {
            let t = state[p].traits
            if query.rootRequired.isSubset(of: t) && query.rootForbidden.isDisjoint(with: t) { out.insert(p) }
        }
        return out
    }

    func providersWithAny(_ traits: Set<Int>) -> Set<Int> {
        var out = Set<Int>()
        for t in traits { out.formUnion(state.providers(inTrait: t)) }
        return out
    }

    func providersInAny(_ aggregates: Set<Int>) -> Set<Int> {
        var out = Set<Int>()
        for a in aggregates { out.formUnion(state.providers(inAggregate: a)) }
        return out
    }

    /// Roots of the trees that share an aggregate with a sharing provider (its own included).
    func sharingAnchors(_ s: Int) -> Set<Int> {
        var out = Set<Int>()
        for a in state[s].aggregates { for p in state.providers(inAggregate: a) { out.insert(state[p].root) } }
        return out
    }

    mutating func candidates(for g: CandidateQuery.Group, anchors: Set<Int>?, sharing: Set<Int>) -> [GroupRequest]? {
        var inAggregates = Set<Int>()
        if !g.memberOf.isEmpty {
            var first = true
            for list in g.memberOf {
                let ps = providersInAny(list)
                inAggregates = first ? ps : inAggregates.intersection(ps)
                first = false
            }
            if inAggregates.isEmpty { return nil }
        }
        let treeRoot = g.inTree.map { state[$0].root }
        var withResource = [Int: Set<Int>]()
        for (rc, amount) in g.resources {
            let key: [Int64] = [Int64(rc), amount, Int64(treeRoot ?? -1)]
            let ps: Set<Int>
            if let known = withRoom[key] {
                ps = known
            } else {
                var found = Set<Int>()
                if let column = state.column(rc) {
                    column.records.withUnsafeBufferPointer { records in
                        column.used.withUnsafeBufferPointer { used in
                            for i in 0..<records.count where records[i].admits(amount, used: used[i]) {
                                let p = column.providers[i]
                                if let treeRoot, state[p].root != treeRoot { continue }
                                found.insert(p)
                            }
                        }
                    }
                    budget -= column.count / 16
                }
                withRoom[key] = found
                ps = found
            }
            if ps.isEmpty { return nil }
            withResource[rc] = ps
        }
        if !g.useSameProvider && (!sharing.isEmpty || state.hasTrees) {
            return treeCandidates(g, withResource: withResource, inAggregates: inAggregates, treeRoot: treeRoot,
                                  anchors: anchors, sharing: sharing)
        }
        return singleCandidates(g, withResource: withResource, inAggregates: inAggregates, anchors: anchors, sharing: sharing)
    }

    /// Groups whose resources all come from one provider (numbered groups, or the unnumbered
    /// one when there are neither trees nor sharing providers).
    func singleCandidates(_ g: CandidateQuery.Group, withResource: [Int: Set<Int>], inAggregates: Set<Int>,
                          anchors: Set<Int>?, sharing: Set<Int>) -> [GroupRequest] {
        var filtered = Set<Int>()
        if !g.requiredTraits.isEmpty {
            var first = true
            for any in g.requiredTraits {
                let ps = providersWithAny(any)
                filtered = first ? ps : filtered.intersection(ps)
                first = false
            }
            if filtered.isEmpty { return [] }
        }
        if !g.memberOf.isEmpty {
            filtered = filtered.isEmpty ? inAggregates : filtered.intersection(inAggregates)
            if filtered.isEmpty { return [] }
        }
        var forbidden = Set<Int>()
        for bad in [g.forbiddenAggregates.isEmpty ? nil : providersInAny(g.forbiddenAggregates),
                    g.forbiddenTraits.isEmpty ? nil : providersWithAny(g.forbiddenTraits)].compactMap({ $0 }) {
            forbidden.formUnion(bad)
            if !filtered.isEmpty {
                filtered.subtract(bad)
                if filtered.isEmpty { return [] }
            }
        }
        var first = true
        for (rc, _) in g.resources {
            let ps = withResource[rc]!
            if first {
                filtered = filtered.isEmpty ? ps.subtracting(forbidden) : filtered.intersection(ps)
                first = false
            } else {
                filtered.formIntersection(ps)
            }
            if filtered.isEmpty { return [] }
        }
        if g.resources.isEmpty { filtered.subtract(forbidden) }
        var out = [GroupRequest]()
        out.reserveCapacity(filtered.count)
        for p in filtered.sorted() {
            let root = state[p].root
            let parts = g.resources.map { Part(provider: p, rc: $0.rc, amount: $0.amount) }
            if anchors?.contains(root) ?? true { out.append(GroupRequest(anchor: root, parts: parts, providers: [p])) }
            if sharing.contains(p) {
                for a in sharingAnchors(p).sorted() where a != root && (anchors?.contains(a) ?? true) {
                    out.append(GroupRequest(anchor: a, parts: parts, providers: [p]))
                }
            }
        }
        return out
    }

    struct TreeCandidate: Hashable {
        var provider: Int
        var root: Int
        var rc: Int
    }

    /// The unnumbered group when trees or sharing providers exist: each class from any provider
    /// of the anchor's tree or from a sharing provider in an aggregate with it.
    mutating func treeCandidates(_ g: CandidateQuery.Group, withResource: [Int: Set<Int>], inAggregates: Set<Int>, treeRoot: Int?,
                                 anchors: Set<Int>?, sharing: Set<Int>) -> [GroupRequest] {
        if !g.requiredTraits.isEmpty && providersWithAny(g.requiredTraits.reduce(into: Set<Int>()) { $0.formUnion($1) }).isEmpty { return [] }
        let badAggregates = g.forbiddenAggregates.isEmpty ? Set<Int>() : providersInAny(g.forbiddenAggregates)
        var all = Set<TreeCandidate>()
        for (rc, _) in g.resources {
            var cands = Set(withResource[rc]!.map { TreeCandidate(provider: $0, root: state[$0].root, rc: rc) })
            var shared = g.memberOf.isEmpty ? sharing : sharing.intersection(inAggregates)
            shared.formIntersection(withResource[rc]!)
            if !shared.isEmpty && treeRoot == nil {
                for s in shared { for a in sharingAnchors(s) { cands.insert(TreeCandidate(provider: s, root: a, rc: rc)) } }
            }
            if let anchors, !anchors.isEmpty { cands = cands.filter { anchors.contains($0.root) } }
            if !g.memberOf.isEmpty { cands = cands.filter { inAggregates.contains($0.provider) || inAggregates.contains($0.root) } }
            if !badAggregates.isEmpty { cands = cands.filter { !badAggregates.contains($0.provider) && !badAggregates.contains($0.root) } }
            if cands.isEmpty { return [] }
            if all.isEmpty {
                all = cands
            } else {
                let trees = Set(all.map(\.root)).intersection(Set(cands.map(\.root)))
                all = all.union(cands).filter { trees.contains($0.root) }
            }
            if all.isEmpty { return [] }
        }
        if (!g.requiredTraits.isEmpty || !g.forbiddenTraits.isEmpty) && sharing.isEmpty {
            all = filterTreesByTraits(all, g)
        }
        var byAnchor = [Int: [Int: [Int]]]()
        for c in all { byAnchor[c.root, default: [:]][c.rc, default: []].append(c.provider) }
        let amounts = Dictionary(g.resources.map { ($0.rc, $0.amount) }, uniquingKeysWith: { a, _ in a })
        var out = [GroupRequest]()
        for anchor in byAnchor.keys.sorted() {
            // Placement deduplicates these across anchors too (a set of requests whose equality
            // ignores the anchor), keeping whichever anchor Python's hash order met first; a
            // request kept under every anchor lets the merge find all valid combinations.
            var seen = Set<[Part]>()
            let lists = byAnchor[anchor]!.sorted { $0.key < $1.key }.map { (rc: $0.key, providers: $0.value.sorted()) }
            var index = [Int](repeating: 0, count: lists.count)
            combos: while true {
                budget -= max(1, lists.count)
                if budget < 0 { break combos }
                let chosen = lists.indices.map { lists[$0].providers[index[$0]] }
                if traitsSatisfied(Set(chosen), g) {
                    let parts = lists.indices.map { Part(provider: chosen[$0], rc: lists[$0].rc, amount: amounts[lists[$0].rc]!) }
                    if seen.insert(parts).inserted {
                        out.append(GroupRequest(anchor: anchor, parts: parts, providers: Array(Set(chosen)).sorted()))
                    }
                }
                var k = lists.count - 1
                while k >= 0 {
                    index[k] += 1
                    if index[k] < lists[k].providers.count { break }
                    index[k] = 0
                    k -= 1
                }
                if k < 0 { break }
            }
        }
        return out
    }

    /// `_get_trees_with_traits`: trees whose providers without forbidden traits collectively
    /// have the required ones.
    func filterTreesByTraits(_ all: Set<TreeCandidate>, _ g: CandidateQuery.Group) -> Set<TreeCandidate> {
        let providers = Set(all.map(\.provider))
        var rootTraits = [Int: Set<Int>]()
        var goodRoots = Set<Int>()
        for p in providers where state[p].traits.isDisjoint(with: g.forbiddenTraits) {
            goodRoots.insert(state[p].root)
            rootTraits[state[p].root, default: []].formUnion(state[p].traits)
        }
        return all.filter { c in
            let realRoot = state[c.provider].root
            guard c.root == realRoot else { return false }
            if g.requiredTraits.isEmpty { return goodRoots.contains(realRoot) }
            guard let have = rootTraits[realRoot] else { return false }
            return g.requiredTraits.allSatisfy { !$0.isDisjoint(with: have) }
        }
    }

    /// `_check_traits_for_alloc_request`: no provider used has a forbidden trait, and together
    /// they have one trait of each required set.
    func traitsSatisfied(_ providers: Set<Int>, _ g: CandidateQuery.Group) -> Bool {
        var have = Set<Int>()
        for p in providers {
            let t = state[p].traits
            if !t.isDisjoint(with: g.forbiddenTraits) { return false }
            have.formUnion(t)
        }
        return g.requiredTraits.allSatisfy { !$0.isDisjoint(with: have) }
    }
}
