import Foundation
import Logging
import NimbusCore
import NimbusStore
import Synchronization

/// Limits and knobs of the placement service (`[placement]` options).
public struct PlacementSettings: Sendable {
    /// Most allocation requests one candidates query returns (Placement's max_allocation_candidates).
    public var maxAllocationCandidates = 100_000
    /// Most combinations one candidates query may examine (products of groups and trees).
    public var maxCombinations = 2_000_000
    /// The project and user of consumers written before 1.8 (Placement's incomplete consumer ids).
    public var incompleteConsumerProjectID = "00000000-0000-0000-0000-000000000000"
    public var incompleteConsumerUserID = "00000000-0000-0000-0000-000000000000"

    public init() {}
}

/// The placement rules below HTTP. The whole state lives in memory (`PlacementState`), loaded
/// from SQL at start; reads and the candidate search run on it under a mutex. A write is
/// validated against the state, committed to SQL in one transaction (compare-and-set on every
/// generation it touches), then applied to the state — all under one async lock, so writes of
/// this process are serial and the state always equals the committed database. Writes by other
/// controllers (same PostgreSQL) are noticed by the change counter: before each write, and by
/// `watchChanges` for reads.
public final class PlacementService: Sendable {
    public let settings: PlacementSettings
    let store: PlacementStore
    let state: Mutex<PlacementState>
    let writer = AsyncLock()
    let logger: Logger

    public init(database: Database, settings: PlacementSettings, logger: Logger) async throws {
        self.settings = settings
        self.store = PlacementStore(database: database)
        self.logger = logger
        self.state = Mutex(try await store.load())
    }

    /// Runs `body` on the current state (synchronously, under the mutex: keep it short).
    public func read<R>(_ body: (PlacementState) throws -> R) rethrows -> R {
        try state.withLock { s in try body(s) }
    }

    public func snapshotVersion() -> Int64 { state.withLock { $0.version } }

    /// Validates with `build`, commits, applies; then `then` reads the new state.
    public func write<R>(_ build: (PlacementState) throws -> WriteSet, then: (PlacementState) throws -> R) async throws -> R {
        await writer.lock()
        defer { writer.unlock() }
        try await refreshLocked()
        let w = try state.withLock { s in try build(s) }
        if !w.isEmpty {
            let expected = state.withLock { $0.version } + 1
            let version: Int64
            do {
                version = try await store.commit(w)
            } catch let e as NimbusError {
                throw e
            } catch where Self.isUniqueViolation(error) {
                // Another controller created the same name or id between our check and commit.
                throw NimbusError.concurrentUpdate("Another thread concurrently updated the data. Please retry your update")
            }
            if version == expected {
                state.withLock { $0.apply(w, version: version) }
            } else {
                let fresh = try await store.load()
                state.withLock { $0 = fresh }
            }
        }
        return try state.withLock { s in try then(s) }
    }

    static func isUniqueViolation(_ error: any Error) -> Bool {
        let text = String(reflecting: error)
        return text.contains("UNIQUE constraint") || text.contains("23505") || text.contains("duplicate key")
    }

    /// Reloads the state when the database moved on without us (another controller wrote).
    func refreshLocked() async throws {
        let current = try await store.version()
        if current != state.withLock({ $0.version }) {
            let fresh = try await store.load()
            state.withLock { $0 = fresh }
        }
    }

    /// Polls the change counter every `interval` and reloads on change (several controllers).
    public func watchChanges(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await writer.lock()
            do { try await refreshLocked() } catch { logger.warning("could not read placement changes: \(error)") }
            writer.unlock()
        }
    }

    /// Allocation candidates: the query is resolved against the state (`build`), searched and
    /// rendered under one lock, so indexes cannot go stale in between.
    public func candidates<R>(_ build: (PlacementState) throws -> CandidateQuery,
                              render: (CandidateQuery, CandidateResult, PlacementState) throws -> R) throws -> R {
        try state.withLock { s in
            let query = try build(s)
            var search = CandidateSearch(state: s, query: query, maxCandidates: settings.maxAllocationCandidates,
                                         maxCombinations: settings.maxCombinations)
            return try render(query, search.run(), s)
        }
    }
}
