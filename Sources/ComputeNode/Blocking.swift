import Foundation

/// Runs blocking system calls (process waits, socket I/O with QEMU, fsync) on a thread of their
/// own, off Swift's cooperative pool and NIO's event loops. Calls are per instance operation and
/// short, so a thread per call costs little and cannot starve a shared pool.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let thread = Thread { c.resume(with: Result { try body() }) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}
