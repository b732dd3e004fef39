import Crypto
import Foundation
import NimbusCore
import Testing
@testable import Identity

@Suite struct TokenSealerTests {
    let payload = TokenPayload(userID: "u1", methods: ["password"], scope: .project("p1"), issuedAt: Date(), expiresAt: Date().addingTimeInterval(60),
                               auditIDs: ["a1"])

    @Test func sealsAndOpens() throws {
        let sealer = TokenSealer(keys: [SymmetricKey(size: .bits256)])
        let token = try sealer.seal(payload)
        #expect(sealer.open(token) == payload)
    }

    @Test func rejectsTamperingAndForeignKeys() throws {
        let sealer = TokenSealer(keys: [SymmetricKey(size: .bits256)])
        var token = Array(try sealer.seal(payload))
        token[20] = token[20] == "A" ? "B" : "A"
        #expect(sealer.open(String(token)) == nil)
        let other = TokenSealer(keys: [SymmetricKey(size: .bits256)])
        #expect(other.open(try sealer.seal(payload)) == nil)
        #expect(sealer.open("not-a-token") == nil)
        #expect(sealer.open("") == nil)
    }

    @Test func oldKeysStillOpen() throws {
        let old = SymmetricKey(size: .bits256)
        let token = try TokenSealer(keys: [old]).seal(payload)
        #expect(TokenSealer(keys: [SymmetricKey(size: .bits256), old]).open(token) == payload)
    }
}

@Suite struct PasswordHasherTests {
    @Test func verifiesOnlyTheRightPassword() async throws {
        let hasher = PasswordHasher(rounds: 1000)
        let hash = try await hasher.hash("correct horse")
        #expect(hash.hasPrefix("$pbkdf2-sha512$1000$"))
        #expect(try await hasher.verify("correct horse", against: hash))
        #expect(try await !hasher.verify("correct horsf", against: hash))
        #expect(try await !hasher.verify("x", against: "garbage"))
    }

    @Test func saltsEachHash() async throws {
        let hasher = PasswordHasher(rounds: 1000)
        #expect(try await hasher.hash("pw") != hasher.hash("pw"))
    }
}
