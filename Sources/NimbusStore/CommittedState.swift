import Foundation
import Logging
import NimbusCore
import Synchronization

/// A service state kept whole in memory and in a `DocumentStore`: what it records as changed
/// since `beginChanges()` is what a commit writes.
public protocol DocumentState: Sendable {
    var version: Int64 { get set }
    mutating func beginChanges()
    var hasChanges: Bool { get }
}

/// The published state of a service and its single writer: each write runs on a copy, commits
/// the copy's changes with the state's version as a compare-and-set, then publishes it (a
/// conflict with another controller's commit reloads and runs the write again). Readers take
/// the published value without waiting. Listeners are told after every commit or reload.
public final class CommittedState<S: DocumentState>: Sendable {
    public typealias Load = @Sendable () async throws -> S
    public typealias Commit = @Sendable (S) async throws -> Int64
    private let current: Mutex<S>
    private let writeLock = AsyncLock()
    private let load: Load
    private let commit: Commit
    private let storedVersion: @Sendable () async throws -> Int64
    private let listeners = Mutex<[@Sendable (Int64) -> Void]>([])
    private let waiters = Mutex<[UInt64: CheckedContinuation<Void, Never>]>([:])
    private let nextWaiter = Atomic<UInt64>(0)
    let logger: Logger
    let name: String

    /// Loads the stored state; `name` is for messages ("network", "block storage").
    public init(name: String, logger: Logger, version: @escaping @Sendable () async throws -> Int64, load: @escaping Load,
                commit: @escaping Commit) async throws {
        self.name = name
        self.logger = logger
        self.storedVersion = version
        self.load = load
        self.commit = commit
        self.current = Mutex(try await load())
        listeners.withLock { $0.append({ [weak self] _ in self?.wakeWaiters() }) }
    }

    public var value: S { current.withLock { $0 } }

    public func onCommit(_ f: @escaping @Sendable (Int64) -> Void) { listeners.withLock { $0.append(f) } }

    /// Runs `body` on a copy of the state and commits what it changed. `check` runs first on
    /// every attempt, under the write lock.
    public func write<R: Sendable>(check: ((S) throws -> Void)? = nil, _ body: (inout S) throws -> R) async throws -> R {
        try await writeLock.withLock {
            for attempt in 0..<5 {
                var s = current.withLock { $0 }
                try check?(s)
                s.beginChanges()
                let result = try body(&s)
                if !s.hasChanges { return result }
                do {
                    s.version = try await commit(s)
                } catch is DocumentStore.Conflict {
                    logger.debug("\(name) state changed under this write (attempt \(attempt)); reloading")
                    let fresh = try await load()
                    current.withLock { $0 = fresh }
                    continue
                }
                s.beginChanges()
                let published = s
                current.withLock { $0 = published }
                let version = s.version
                for f in listeners.withLock({ $0 }) { f(version) }
                return result
            }
            throw NimbusError(.serviceUnavailable, "The \(name) state kept changing; try again.")
        }
    }

    /// Reloads whenever another controller committed (several controllers on one PostgreSQL),
    /// checking every `interval`; listeners are told after a reload.
    public func watchChanges(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            do {
                guard try await storedVersion() != value.version else { continue }
                let version = try await writeLock.withLock {
                    let s = try await load()
                    current.withLock { $0 = s }
                    return s.version
                }
                for f in listeners.withLock({ $0 }) { f(version) }
            } catch {
                logger.warning("could not read \(name) changes: \(error)")
            }
        }
    }

    /// Returns once the state's version is no longer `since` (a commit here or a reload of
    /// another controller's), or after `timeout`. A waiting call is a suspended task, not a loop.
    public func waitForChange(since: Int64, timeout: Duration) async {
        if value.version != since { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.nextCommit(since: since) }
            await group.next()
            group.cancelAll()
        }
    }

    private func nextCommit(since: Int64) async {
        let id = nextWaiter.add(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                waiters.withLock { $0[id] = c }
                // A commit between the caller's check and this registration, or a cancellation
                // before it, must not leave the wait hanging.
                if value.version != since || Task.isCancelled, let c = waiters.withLock({ $0.removeValue(forKey: id) }) { c.resume() }
            }
        } onCancel: {
            if let c = waiters.withLock({ $0.removeValue(forKey: id) }) { c.resume() }
        }
    }

    private func wakeWaiters() {
        let all = waiters.withLock { w in
            defer { w = [:] }
            return Array(w.values)
        }
        for c in all { c.resume() }
    }
}
