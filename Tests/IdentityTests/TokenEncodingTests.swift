import Crypto
import Foundation
import NimbusCore
import Testing
@testable import Identity

/// A token has one spelling. Every other spelling of the same bytes is refused, by the sealer and
/// by the validation cache (which is consulted before the sealer).
@Suite struct TokenEncodingTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    /// A sealed token whose byte length leaves unused bits in its last character, and that holds
    /// both URL-safe characters, so that every alternative spelling exists.
    static func awkwardToken(_ sealer: TokenSealer) throws -> String {
        for n in 0..<500 {
            let payload = TokenPayload(userID: String(repeating: "u", count: n % 7 + 1), methods: ["password"], scope: .unscoped,
                                       issuedAt: Date(), expiresAt: Date().addingTimeInterval(60), auditIDs: ["a\(n)"])
            let token = try sealer.seal(payload)
            let bytes = Base64URL.decode(token)!.count
            if bytes % 3 != 0 && token.contains("-") && token.contains("_") { return token }
        }
        throw NimbusError(.internal, "no suitable token")
    }

    @Test func onlyTheCanonicalSpellingOpens() throws {
        let sealer = TokenSealer(keys: [SymmetricKey(size: .bits256)])
        let token = try Self.awkwardToken(sealer)
        #expect(sealer.open(token) != nil)
        // Padding.
        #expect(sealer.open(token + "=") == nil)
        #expect(sealer.open(token + "==") == nil)
        // A last character differing only in bits the decoder drops.
        var chars = Array(token)
        let last = Self.alphabet.firstIndex(of: chars[chars.count - 1])!
        chars[chars.count - 1] = Self.alphabet[last ^ 1]
        let samebytes = String(chars)
        #expect(Base64URL.decode(samebytes) == Base64URL.decode(token), "the variant must decode to the same bytes")
        #expect(sealer.open(samebytes) == nil)
        // The standard alphabet.
        #expect(sealer.open(token.replacingOccurrences(of: "-", with: "+")) == nil)
        #expect(sealer.open(token.replacingOccurrences(of: "_", with: "/")) == nil)
    }

    /// `openstack token revoke -abc…` reads a leading '-' as an option: no token begins with one
    /// (in 3,000 tokens about 47 would, one in 64).
    @Test func noTokenBeginsWithADash() throws {
        let sealer = TokenSealer(keys: [SymmetricKey(size: .bits256)])
        let payload = TokenPayload(userID: "u", methods: ["password"], scope: .unscoped, issuedAt: Date(), expiresAt: Date().addingTimeInterval(60),
                                   auditIDs: ["a"])
        for _ in 0..<3000 {
            let token = try sealer.seal(payload)
            #expect(token.utf8.first != UInt8(ascii: "-"))
            #expect(sealer.open(token) != nil)
        }
    }

    @Test func aCanonicallyEquivalentSpellingMissesTheValidationCache() async throws {
        let f = try await IdentityFixture.make()
        var token: String?
        for _ in 0..<40 {
            let t = try await f.password("demo", "demo-pw", project: "demo").token
            if t.contains("K") { token = t; break }
        }
        let real = try #require(token)
        _ = try await f.service.validate(token: real)
        // KELVIN SIGN is canonically equivalent to "K": equal as a Swift String, not as bytes.
        let kelvin = real.replacingOccurrences(of: "K", with: "\u{212A}", options: .literal)
        #expect(kelvin == real && !kelvin.sameBytes(as: real))
        await #expect(throws: NimbusError.self) { try await f.service.validate(token: kelvin) }
        await #expect(throws: NimbusError.self) { try await f.service.validate(real + "=", allowExpired: false) }
        await f.close()
    }
}
