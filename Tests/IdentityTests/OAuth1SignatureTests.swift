import Foundation
import NimbusCore
import Testing
@testable import Identity

/// RFC 5849 signing as oauthlib checks it, on the RFC's own examples and on hostile headers.
@Suite struct OAuth1SignatureTests {
    /// RFC 5849 section 1.2, the temporary-credentials request.
    static let rfcHeader = """
        OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_signature_method="HMAC-SHA1", \
        oauth_timestamp="137131200", oauth_nonce="wIjqoS", oauth_callback="http%3A%2F%2Fprinter.example.com%2Fready", \
        oauth_signature="74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D"
        """

    @Test func verifiesTheRFCExample() throws {
        let r = try #require(try OAuth1Request.parse(authorization: Self.rfcHeader, query: []))
        let uri = OAuth1Request.baseURI(scheme: "HTTPS", host: "Photos.example.net:443", path: "/initiate")
        #expect(uri == "https://photos.example.net/initiate")
        #expect(r.verify(method: "POST", uris: [uri], consumerSecret: "kd94hf93k423kf44", tokenSecret: ""))
        #expect(!r.verify(method: "POST", uris: [uri], consumerSecret: "kd94hf93k423kf45", tokenSecret: ""))
        #expect(!r.verify(method: "GET", uris: [uri], consumerSecret: "kd94hf93k423kf44", tokenSecret: ""))
        // The signature covers the query too.
        let q = try #require(try OAuth1Request.parse(authorization: Self.rfcHeader, query: [("a", "b")]))
        #expect(!q.verify(method: "POST", uris: [uri], consumerSecret: "kd94hf93k423kf44", tokenSecret: ""))
    }

    @Test func escapesAsRFC5849() {
        #expect(OAuth1Request.escape("a b+c/~é") == "a%20b%2Bc%2F~%C3%A9")
        // A decomposed spelling is other bytes, so another signature.
        #expect(OAuth1Request.escape("e\u{301}") != OAuth1Request.escape("\u{E9}"))
    }

    func request(_ fields: [(String, String)]) throws -> OAuth1Request {
        try #require(try OAuth1Request.parse(authorization: "OAuth " + fields.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ", "), query: []))
    }

    @Test func mandatoryParametersAndFormatsAreChecked() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let key = String(repeating: "a", count: 32)
        let good: [(String, String)] = [("oauth_consumer_key", key), ("oauth_signature_method", "HMAC-SHA1"), ("oauth_signature", "x"),
                                        ("oauth_timestamp", "1800000000"), ("oauth_nonce", "0123abc")]
        try request(good).checkMandatory(now: now, needsToken: false)
        #expect(throws: NimbusError.self) { try request(good).checkMandatory(now: now, needsToken: true) }
        #expect(throws: NimbusError.self) { try request(good).checkMandatory(now: now.addingTimeInterval(601), needsToken: false) }
        for (i, bad) in [("oauth_consumer_key", "A" + key.dropFirst()), ("oauth_signature_method", "PLAINTEXT"),
                         ("oauth_timestamp", "180000000x"), ("oauth_nonce", "nonce!"), ("oauth_timestamp", "18000000000")].enumerated() {
            var fields = good.filter { $0.0 != bad.0 }
            fields.append(bad)
            #expect(throws: NimbusError.self, "case \(i)") { try request(fields).checkMandatory(now: now, needsToken: false) }
        }
        #expect(throws: NimbusError.self) { try request(good + [("oauth_nonce", "1")]) }
        #expect(throws: NimbusError.self) { try OAuth1Request.parse(authorization: "OAuth " + String(repeating: "a", count: 9000), query: []) }
        #expect(try OAuth1Request.parse(authorization: "Basic abc", query: []) == nil)
    }
}
