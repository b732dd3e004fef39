/// A parsed `GET /allocation_candidates` request, with names already resolved to indexes.
public struct CandidateQuery: Sendable {
    public struct Group: Sendable {
        public var suffix: String
        /// False only for the unnumbered group: its resources may come from several providers of
        /// one tree or from sharing providers.
        public var useSameProvider: Bool
        public var resources: [(rc: Int, amount: Int64)] = []
        /// AND of ORs: each set needs one of its traits.
        public var requiredTraits: [Set<Int>] = []
        public var forbiddenTraits: Set<Int> = []
        /// AND of ORs of aggregates (unknown aggregates already dropped).
        public var memberOf: [Set<Int>] = []
        public var forbiddenAggregates: Set<Int> = []
        /// The provider named by `in_tree` (nil: no such parameter).
        public var inTree: Int?

        public init(suffix: String) {
            self.suffix = suffix
            self.useSameProvider = !suffix.isEmpty
        }
    }

    public var groups: [Group] = []
    public var limit: Int?
    public var isolate = false
    public var rootRequired: Set<Int> = []
    public var rootForbidden: Set<Int> = []
    /// Each entry: the indexes into `groups` of one `same_subtree` parameter.
    public var sameSubtrees: [[Int]] = []
    /// 1.29+: results may use several providers of one tree.
    public var nestedAware = true
    /// Set while parsing when a filter names something that does not exist (an aggregate list
    /// with no known aggregate, an unknown `in_tree` provider): the answer is empty.
    public var matchesNothing = false

    public init() {}
}

/// The answer of the candidate search: allocation requests and the providers to summarise.
public struct CandidateResult: Sendable {
    public struct Part: Hashable, Sendable {
        public var provider: Int
        public var rc: Int
        public var amount: Int64
    }

    public struct Request: Sendable {
        public var anchor: Int
        public var parts: [Part]
        /// Per group (same order as the query's groups): the providers it used.
        public var mappings: [[Int]]
    }

    public var requests: [Request] = []
    /// Providers to summarise, in provider order.
    public var summaries: [Int] = []
}
