import Foundation
import NimbusCore
import Testing

@Suite struct IdentifiersTests {
    @Test func uuidsAreVersion4InTheirUsualSpellings() {
        var seen = Set<String>()
        for _ in 0..<2_000 {
            let dashed = Identifiers.uuid()
            let parsed = UUID(uuidString: dashed)
            #expect(parsed != nil, "\(dashed) is a UUID")
            #expect(dashed == dashed.lowercased() && dashed.utf8.count == 36)
            let hex = Array(dashed.utf8)
            #expect(hex[14] == UInt8(ascii: "4"), "version 4")
            #expect([UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(hex[19]), "RFC 4122 variant")
            seen.insert(dashed)
            let plain = Identifiers.hex32()
            #expect(plain.utf8.count == 32 && plain.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
            #expect(Identifiers.requestID().hasPrefix("req-"))
        }
        #expect(seen.count == 2_000)
    }
}
