import Foundation
import NimbusCore
import Synchronization

/// Nonces seen within oauthlib's 600 s timestamp window, so a signed OAuth request cannot be
/// replayed (Keystone's validator accepts any nonce; RFC 5849 3.3 asks servers to refuse
/// repeats). Bounded: when full, entries older than the window go, and if that frees nothing the
/// request is refused rather than the memory grown. Per process: several controllers each keep
/// their own, so a replay across controllers within the window is not caught.
final class OAuthNonceCache: Sendable {
    static let window: TimeInterval = 600
    static let capacity = 100_000
    private let seen = Mutex<[Name: Date]>([:])

    /// True when `key` (consumer, token, timestamp, nonce) had not been seen; records it.
    func admit(_ key: String, now: Date) -> Bool {
        seen.withLock { seen in
            if seen.count >= Self.capacity {
                let horizon = now.addingTimeInterval(-2 * Self.window)
                seen = seen.filter { $0.value > horizon }
                if seen.count >= Self.capacity { return false }
            }
            return seen.updateValue(now, forKey: Name(key)) == nil
        }
    }
}
