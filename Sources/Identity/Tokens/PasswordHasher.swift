import Crypto
import CryptoExtras
import Foundation
import NIOCore
import NIOPosix
import NimbusCore

/// PBKDF2-SHA512 in passlib's modular format (`$pbkdf2-sha512$ROUNDS$SALT$HASH`, adapted base64),
/// so hashes are self-describing and the cost can be raised without invalidating old ones.
/// Hashing runs on NIO's blocking thread pool: it costs tens of milliseconds by design.
public struct PasswordHasher: Sendable {
    public let rounds: Int

    public init(rounds: Int) { self.rounds = max(1000, rounds) }

    /// Hashing gets its own threads: on NIO's shared pool a burst of logins would queue the
    /// database's blocking calls (SQLiteNIO uses that pool) behind 40 ms hashes.
    static let pool: NIOThreadPool = {
        let p = NIOThreadPool(numberOfThreads: System.coreCount)
        p.start()
        return p
    }()

    public func hash(_ password: String) async throws -> String {
        let rounds = self.rounds
        return try await Self.pool.runIfActive {
            var salt = [UInt8](repeating: 0, count: 16)
            for i in salt.indices { salt[i] = UInt8.random(in: 0...255) }
            let key = try Self.derive(password, salt: salt, rounds: rounds)
            return "$pbkdf2-sha512$\(rounds)$\(Self.ab64(salt))$\(Self.ab64(key))"
        }
    }

    public func verify(_ password: String, against stored: String) async throws -> Bool {
        let parts = stored.splitBytes("$")
        guard parts.count == 4, parts[0] == "pbkdf2-sha512", let rounds = Int(parts[1]),
              let salt = Self.unab64(String(parts[2])), let expected = Self.unab64(String(parts[3])) else { return false }
        return try await Self.pool.runIfActive {
            let key = try Self.derive(password, salt: [UInt8](salt), rounds: rounds)
            return ConstantTime.equal(key, [UInt8](expected))
        }
    }

    static func derive(_ password: String, salt: [UInt8], rounds: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(password.utf8), salt: salt, using: .sha512,
                                                    outputByteCount: 64, unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Array($0) }
    }

    static func ab64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: ".").replacingOccurrences(of: "=", with: "")
    }

    static func unab64(_ s: String) -> Data? {
        var t = s.replacingOccurrences(of: ".", with: "+")
        t += String(repeating: "=", count: (4 - t.count % 4) % 4)
        return Data(base64Encoded: t)
    }
}
