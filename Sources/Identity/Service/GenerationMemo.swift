import NimbusCore
import Synchronization

/// Remembers lookups for as long as no identity write has happened (one "generation"), so that
/// issuing and validating tokens does not repeat the same dozen queries for the same user and
/// project. Any committed write starts a new generation and so empties it.
final class GenerationMemo: Sendable {
    private struct Box<T: Sendable>: Sendable { let value: T }
    private struct State {
        var generation: UInt64 = 0
        /// Keyed by bytes: keys embed user text (names in list filters), and two names that are
        /// canonically equivalent but byte-different are two different queries.
        var values: [Name: any Sendable] = [:]
    }

    private let state = Mutex(State())
    static let capacity = 20_000

    func value<T: Sendable>(_ key: String, generation: UInt64, current: () -> UInt64, compute: () async throws -> T) async throws -> T {
        let key = Name(key)
        if let box = state.withLock({ $0.generation == generation ? $0.values[key] : nil }) as? Box<T> { return box.value }
        let v = try await compute()
        // Only remember it if nothing was written meanwhile: otherwise it may describe the old state.
        guard current() == generation else { return v }
        state.withLock { s in
            if s.generation != generation { s = State(generation: generation) }
            if s.values.count < Self.capacity { s.values[key] = Box(value: v) }
        }
        return v
    }
}

extension IdentityService {
    func memoized<T: Sendable>(_ key: String, _ compute: () async throws -> T) async throws -> T {
        try await memo.value(key, generation: generation, current: { self.generation }, compute: compute)
    }
}
