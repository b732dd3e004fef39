import NimbusCore
import Synchronization

/// One FIFO async lock per key, created on first use and dropped when no one holds or waits for
/// it: serializes the operations on one instance (or one image download) without making
/// different keys wait for each other.
final class KeyedLock<Key: Hashable & Sendable>: Sendable {
    private struct Entry {
        var lock: AsyncLock
        var users: Int
    }
    private let entries = Mutex<[Key: Entry]>([:])

    func withLock<R>(_ key: Key, _ body: () async throws -> R) async rethrows -> R {
        let lock = entries.withLock { e -> AsyncLock in
            var entry = e[key] ?? Entry(lock: AsyncLock(), users: 0)
            entry.users += 1
            e[key] = entry
            return entry.lock
        }
        defer {
            entries.withLock { e in
                guard var entry = e[key] else { return }
                entry.users -= 1
                e[key] = entry.users == 0 ? nil : entry
            }
        }
        return try await lock.withLock(body)
    }

    /// How many keys have a lock right now (tests: entries are dropped).
    var count: Int { entries.withLock { $0.count } }
}
