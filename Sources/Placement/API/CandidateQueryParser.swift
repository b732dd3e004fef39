import NimbusCore

/// `GET /allocation_candidates` query → `CandidateQuery` (`lib.RequestGroup.dict_from_request`
/// and `RequestWideParams.from_request`): checked by microversion first, names resolved
/// against the state later (`resolve`).
struct CandidateQueryParser {
    struct Group {
        var suffix: String
        var resources: [(String, Int64)] = []
        var traits = PlacementQuery.Traits()
        var aggregates = PlacementQuery.Aggregates()
        var inTree: String?
    }

    var groups: [Group] = []
    var limit: Int?
    var isolate = false
    var groupPolicyGiven = false
    var rootRequired: [String] = []
    var rootForbidden: [String] = []
    var sameSubtrees: [[String]] = []
    let v: Microversion

    static let prefixes = ["resources", "required", "member_of", "in_tree"]

    /// The (prefix, suffix) of a group key, or nil.
    static func split(_ key: String, v: Microversion) -> (String, String)? {
        for p in prefixes where key.hasBytePrefix(p) {
            if p == "in_tree" && !v.atLeast(31) { continue }
            let suffix = String(key.droppingBytePrefix(p)!)
            if suffix.isEmpty { return (p, "") }
            guard v.atLeast(25) else { return nil }
            let ok = v.atLeast(33) ? PlacementSchemas.isGroupSuffix(suffix)
                : (suffix.utf8.first.map { $0 >= 0x31 && $0 <= 0x39 } ?? false) && suffix.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            return ok ? (p, suffix) : nil
        }
        return nil
    }

    init(_ q: QueryString, v: Microversion) throws {
        self.v = v
        var allowed: Set<String> = []
        if v.atLeast(16) { allowed.insert("limit") }
        if v.atLeast(25) { allowed.insert("group_policy") }
        if v.atLeast(35) { allowed.insert("root_required") }
        if v.atLeast(36) { allowed.insert("same_subtree") }
        var plain: Set<String> = ["resources"]
        if v.atLeast(17) { plain.insert("required") }
        if v.atLeast(21) { plain.insert("member_of") }
        if v.atLeast(31) { plain.insert("in_tree") }
        if v.atLeast(25) {
            let pattern = v.atLeast(33) ? "(\(PlacementSchemas.groupPattern133))?$" : "([1-9][0-9]*)?$"
            try PlacementQuery.checkKeys(q, allowed: allowed, patterns: Self.prefixes.filter { $0 != "in_tree" || v.atLeast(31) }.map { p in
                ("^\(p)\(pattern)", { (k: String) in Self.split(k, v: v)?.0 == p })
            })
        } else {
            try PlacementQuery.checkKeys(q, allowed: allowed.union(plain))
            if !q.contains("resources") { throw NimbusError.badRequest("Invalid query string parameters: 'resources' is a required property") }
        }
        try parseWide(q)
        try parseGroups(q)
    }

    mutating func parseWide(_ q: QueryString) throws {
        if let l = q.all("limit").first {
            guard !l.isEmpty, l.utf8.first != 0x30, l.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw NimbusError.badRequest("Invalid query string parameters: '\(l)' does not match '^[1-9][0-9]*$'")
            }
            limit = Int(l) ?? Int.max
        }
        if let g = q.all("group_policy").first {
            guard g == "none" || g == "isolate" else {
                throw NimbusError.badRequest("Invalid query string parameters: '\(g)' is not one of ['none', 'isolate']")
            }
            groupPolicyGiven = true
            isolate = g == "isolate"
        }
        let roots = q.all("root_required")
        if roots.count > 1 {
            throw NimbusError.placement(.badRequest, "Query parameter 'root_required' may be specified only once.", code: PlacementErrorCode.duplicateQueryKey)
        }
        if let r = roots.first {
            let t = try PlacementQuery.traits([r], v: Microversion(1, 38))
            rootRequired = t.required.flatMap { $0 }
            rootForbidden = t.forbidden
            let conflicts = rootForbidden.filter { rootRequired.containsBytes($0) }
            if !conflicts.isEmpty {
                throw NimbusError.placement(.badRequest, "Conflicting required and forbidden traits found in root_required: \(conflicts.joined(separator: ", "))",
                                            code: PlacementErrorCode.queryBadValue)
            }
        }
        for value in q.all("same_subtree") {
            let suffixes = value.splitBytes(",", omittingEmpty: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if suffixes.contains(where: \.isEmpty) {
                throw NimbusError.placement(.badRequest, "Empty string (unsuffixed group) can not be specified in `same_subtree` ",
                                            code: PlacementErrorCode.queryBadValue)
            }
            var unique = [String]()
            for s in suffixes where !unique.containsBytes(s) { unique.append(s) }
            sameSubtrees.append(unique)
        }
    }

    mutating func parseGroups(_ q: QueryString) throws {
        for item in q.items {
            guard let (prefix, suffix) = Self.split(item.key, v: v) else { continue }
            var i = groups.firstIndex { $0.suffix.sameBytes(as: suffix) } ?? -1
            if i < 0 { groups.append(Group(suffix: suffix)); i = groups.count - 1 }
            switch prefix {
            case "resources": groups[i].resources = try PlacementQuery.resources(item.value ?? "")
            case "required": groups[i].traits = try PlacementQuery.traits(q.all(item.key), v: v)
            case "member_of": groups[i].aggregates = try PlacementQuery.memberOf(q.all(item.key), suffix: suffix, v: v)
            default: groups[i].inTree = try PlacementQuery.inTree(item.value ?? "")
            }
        }
        if v.atLeast(36) {
            let resourceless = groups.filter { $0.resources.isEmpty }.map(\.suffix)
            if resourceless.count == groups.count {
                throw NimbusError.placement(.badRequest, "There must be at least one resources or resources[$S] parameter.",
                                            code: PlacementErrorCode.queryMissingValue)
            }
            let inSubtrees = sameSubtrees.flatMap { $0 }
            let bad = resourceless.filter { !inSubtrees.containsBytes($0) }
            if !bad.isEmpty {
                throw NimbusError.placement(.badRequest, "Resourceless suffixed group request should be specified in `same_subtree` query param: bad group(s) - [\(bad.map { "'\($0)'" }.joined(separator: ", "))].",
                                            code: PlacementErrorCode.queryBadValue)
            }
            let unknown = inSubtrees.filter { s in !groups.contains { $0.suffix.sameBytes(as: s) } }
            if !unknown.isEmpty {
                throw NimbusError.placement(.badRequest, "Real suffixes should be specified in `same_subtree`: [\(unknown.map { "'\($0)'" }.joined(separator: ", "))] not found in [\(groups.map { "'\($0.suffix)'" }.joined(separator: ", "))].",
                                            code: PlacementErrorCode.queryBadValue)
            }
        } else {
            let orphanTraits = groups.filter { !$0.traits.required.isEmpty && $0.resources.isEmpty }.map { "required\($0.suffix)" }
            if !orphanTraits.isEmpty {
                throw NimbusError.badRequest("All traits parameters must be associated with resources.  Found the following orphaned traits keys: \(orphanTraits.joined(separator: ", "))")
            }
            let orphanAggs = groups.filter { $0.resources.isEmpty && (!$0.aggregates.required.isEmpty || !$0.aggregates.forbidden.isEmpty) }.map { "member_of\($0.suffix)" }
            if !orphanAggs.isEmpty {
                throw NimbusError.badRequest("All member_of parameters must be associated with resources. Found the following orphaned member_of keys: \(orphanAggs.joined(separator: ", "))")
            }
            if !groups.allSatisfy({ !$0.resources.isEmpty }) { throw NimbusError.badRequest("All request groups must specify resources.") }
            if groups.isEmpty { throw NimbusError.badRequest("At least one request group (`resources` or `resources{$S}`) is required.") }
        }
        if v.atLeast(22) {
            var conflicts = [String]()
            for g in groups {
                for any in g.traits.required where any.allSatisfy({ g.traits.forbidden.containsBytes($0) }) {
                    conflicts.append("required\(g.suffix): (\(any.sortedByBytes().joined(separator: ", ")))")
                }
            }
            if !conflicts.isEmpty {
                throw NimbusError.badRequest("Conflicting required and forbidden traits found in the following traits keys: \(conflicts.sortedByBytes().joined(separator: ", "))")
            }
        }
        if !groupPolicyGiven && groups.filter({ !$0.suffix.isEmpty }).count > 1 {
            throw NimbusError.badRequest("The \"group_policy\" parameter is required when specifying more than one \"resources{N}\" parameter.")
        }
    }

    /// Names to indexes. Unknown classes and traits are a 400; unknown aggregates and
    /// providers make the answer empty, as in Placement.
    func resolve(_ s: PlacementState) throws -> CandidateQuery {
        var query = CandidateQuery()
        query.limit = limit
        query.isolate = isolate
        query.nestedAware = v.atLeast(29)
        var missingTraits = [String]()
        let trait = { (n: String) -> Int? in
            if let t = s.trait(n) { return t }
            if !missingTraits.containsBytes(n) { missingTraits.append(n) }
            return nil
        }
        query.rootRequired = Set(rootRequired.compactMap(trait))
        query.rootForbidden = Set(rootForbidden.compactMap(trait))
        for g in groups {
            var out = CandidateQuery.Group(suffix: g.suffix)
            for (name, amount) in g.resources {
                guard let rc = s.resourceClass(name) else {
                    throw NimbusError.badRequest("Invalid resource class in resources parameter: No such resource class \(name).")
                }
                out.resources.append((rc, amount))
            }
            out.requiredTraits = g.traits.required.map { Set($0.compactMap(trait)) }
            out.forbiddenTraits = Set(g.traits.forbidden.compactMap(trait))
            for list in g.aggregates.required {
                let known = Set(list.compactMap { s.aggregate($0) })
                if known.isEmpty { query.matchesNothing = true }
                out.memberOf.append(known)
            }
            out.forbiddenAggregates = Set(g.aggregates.forbidden.compactMap { s.aggregate($0) })
            if let t = g.inTree {
                if let p = s.provider(uuid: t) { out.inTree = p } else { query.matchesNothing = true }
            }
            query.groups.append(out)
        }
        if !missingTraits.isEmpty { throw NimbusError.badRequest("No such trait(s): \(missingTraits.sortedByBytes().joined(separator: ", ")).") }
        query.sameSubtrees = sameSubtrees.map { list in list.compactMap { s in groups.firstIndex { $0.suffix.sameBytes(as: s) } } }
        return query
    }
}
