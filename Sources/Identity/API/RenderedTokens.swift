import NIOCore
import NimbusCore
import Synchronization

/// The encoded bodies of validated tokens, each kept for one identity generation: a token
/// validated again before any identity write answers with the same bytes, without building its
/// view or the catalog again (which cost more than everything else on that request).
///
/// Keyed by the token's bytes and whether the catalog is included. At most `capacity` bodies
/// (a catalog body is about 5 KB, so a few MB at most); when full, the cache starts over.
final class RenderedTokens: Sendable {
    struct Key: Hashable, Sendable {
        let token: Name
        let catalog: Bool
    }

    private struct State {
        var generation: UInt64 = 0
        var bodies: [Key: ByteBuffer] = [:]
    }

    private let state = Mutex(State())
    static let capacity = 1_024

    func body(_ key: Key, generation: UInt64) -> ByteBuffer? {
        state.withLock { $0.generation == generation ? $0.bodies[key] : nil }
    }

    /// Remembers `body` if it was rendered in `generation` and that is still the newest one.
    func remember(_ key: Key, _ body: ByteBuffer, generation: UInt64, current: UInt64) {
        guard generation == current else { return }
        state.withLock { s in
            if s.generation != generation || s.bodies.count >= Self.capacity { s = State(generation: generation) }
            s.bodies[key] = body
        }
    }
}
