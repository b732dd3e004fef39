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
        let start = ContinuousClock.now
        for _ in 0..<count { _ = try await hasher.verify("benchmark password", against: stored) }
        let perHash = (ContinuousClock.now - start) / count
        let ms = Double(perHash.components.attoseconds) / 1e15 + Double(perHash.components.seconds) * 1000
        print(String(format: "KDF alone (PBKDF2-SHA512, %d rounds):  %.1f ms per verify = %.0f verifies/s on one core, %.0f on %d cores",
                     hasher.rounds, ms, 1000 / ms, 1000 / ms * Double(ProcessInfo.processInfo.activeProcessorCount),
                     ProcessInfo.processInfo.activeProcessorCount))
    }
}
