import ArgumentParser
import Foundation
import Identity

/// Times the password KDF alone, so the identity benchmark can show how close token issue by
/// password comes to the KDF's own cost.
struct BenchKDF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-kdf", abstract: "Time the password hash (for benchmarks).", shouldDisplay: false)

    @Option(help: "PBKDF2 rounds (default: the configured identity.password_hash_rounds).")
    var rounds: Int?

    @Option(help: "Hashes to time.")
    var count = 20

    func run() async throws {
        let config = try NimbusConfiguration(file: nil, overrides: [:])
        let hasher = PasswordHasher(rounds: rounds ?? config.values.int("identity", "password_hash_rounds"))
        let stored = try await hasher.hash("benchmark password")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // One at a time: the cost of one verify.
        var start = ContinuousClock.now
        for _ in 0..<count { _ = try await hasher.verify("benchmark password", against: stored) }
        let single = Self.seconds(ContinuousClock.now - start) / Double(count)
        // As many at once as there are cores: the throughput ceiling for password logins.
        start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<(count * cores) { group.addTask { _ = try await hasher.verify("benchmark password", against: stored) } }
            try await group.waitForAll()
        }
        let parallel = Double(count * cores) / Self.seconds(ContinuousClock.now - start)
        print(String(format: "KDF alone (PBKDF2-SHA512, %d rounds):  %.1f ms per verify; %.1f verifies/s with %d in parallel",
                     hasher.rounds, single * 1000, parallel, cores))
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
