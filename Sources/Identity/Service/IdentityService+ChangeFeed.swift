import Foundation
import NimbusCore
import SQLKit

/// Several controllers may share one PostgreSQL database. Each keeps its validation caches and
/// revocation list in memory, so each must learn of the others' writes: every identity write
/// also increments a shared counter (`identity_generation`), and every controller polls it. When
/// it moves, the controller loads the new revocation events and starts a new cache generation.
/// Writes made elsewhere therefore take effect here within one poll interval.
extension IdentityService {
    func sharedGeneration() async throws -> Int64 {
        struct Row: Decodable { let value: Int64 }
        return try await db.sql.record(Row.self, "SELECT value FROM identity_generation WHERE name = 'identity'")?.value ?? 0
    }

    /// Runs until the task is cancelled.
    public func watchSharedChanges(every interval: Duration) async {
        var lastSeen = try? await sharedGeneration()
        var lastRevocation = (try? await loadRevocations(after: 0)) ?? 0
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard let current = try? await sharedGeneration(), current != lastSeen else { continue }
            do {
                lastRevocation = try await loadRevocations(after: lastRevocation)
                changed()
                lastSeen = current
            } catch {
                logger.warning("could not read identity changes: \(error)")
            }
        }
    }
}
