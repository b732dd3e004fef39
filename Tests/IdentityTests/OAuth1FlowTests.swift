import Crypto
import Foundation
import NimbusCore
import Testing
@testable import Identity

/// The OS-OAUTH1 exchanges through `IdentityService`: request token, authorize, access token,
/// token; single use, role limits, revocation. Requests are signed here as a client signs them.
@Suite struct OAuth1FlowTests {
    static let uri = "http://test/identity/v3/OS-OAUTH1/x"

    /// A request signed with HMAC-SHA1 over `uri` with fresh nonce and current timestamp.
    func call(consumer: String, secret: String, token: String? = nil, tokenSecret: String = "", verifier: String? = nil,
              nonce: String = Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })) throws -> OAuth1Call {
        var fields: [(String, String)] = [("oauth_consumer_key", consumer), ("oauth_signature_method", "HMAC-SHA1"),
                                          ("oauth_timestamp", String(Int(Date().timeIntervalSince1970))), ("oauth_nonce", nonce),
                                          ("oauth_version", "1.0"), ("oauth_callback", "oob")]
        if let token { fields.append(("oauth_token", token)) }
        if let verifier { fields.append(("oauth_verifier", verifier)) }
        let unsigned = OAuth1Request(oauth: [:], signed: fields)
        let key = SymmetricKey(data: Array((OAuth1Request.escape(secret) + "&" + OAuth1Request.escape(tokenSecret)).utf8))
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(unsigned.baseString(method: "POST", uri: Self.uri).utf8), using: key)
        fields.append(("oauth_signature", Data(mac).base64EncodedString()))
        let header = "OAuth " + fields.map { "\($0.0)=\"\(OAuth1Request.escape($0.1))\"" }.joined(separator: ", ")
        return OAuth1Call(request: try #require(try OAuth1Request.parse(authorization: header, query: [])), method: "POST", uris: [Self.uri])
    }

    @Test func fullExchangeLimitsRolesAndRevokes() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        let project = try #require(admin.projectID)
        let member = try #require(try await s.role(named: "member", domainID: nil))
        let (consumer, secret) = try await s.createConsumer(description: "c", extra: [:])
        // A wrong secret is refused; the right one gives a request token.
        await #expect(throws: NimbusError.self) { try await s.createRequestToken(try call(consumer: consumer.id, secret: "wrong"), projectID: project) }
        let replayed = try call(consumer: consumer.id, secret: secret)
        let rt = try await s.createRequestToken(replayed, projectID: project)
        await #expect(throws: NimbusError.self) { try await s.createRequestToken(replayed, projectID: project) }
        // Roles the caller does not hold cannot be lent; delegated callers cannot authorize.
        let unheld = try await s.createRole(name: "unheld", domainID: nil, description: nil, options: [:], extra: [:])
        await #expect(throws: NimbusError.self) { try await s.authorizeRequestToken(rt.id, caller: admin, roles: [(unheld.id, nil)]) }
        var oauthCaller = admin
        oauthCaller.methods = ["oauth1"]
        await #expect(throws: NimbusError.self) { try await s.authorizeRequestToken(rt.id, caller: oauthCaller, roles: [(member.id, nil)]) }
        let verifier = try await s.authorizeRequestToken(rt.id, caller: admin, roles: [(nil, "member")])
        // The verifier and the request token's secret are both needed; the exchange happens once.
        await #expect(throws: NimbusError.self) {
            try await s.createAccessToken(try call(consumer: consumer.id, secret: secret, token: rt.id, tokenSecret: rt.secret, verifier: "abcdefgh"))
        }
        await #expect(throws: NimbusError.self) {
            try await s.createAccessToken(try call(consumer: consumer.id, secret: secret, token: rt.id, tokenSecret: "x", verifier: verifier))
        }
        let access = try await s.createAccessToken(try call(consumer: consumer.id, secret: secret, token: rt.id, tokenSecret: rt.secret, verifier: verifier))
        await #expect(throws: NimbusError.self) {
            try await s.createAccessToken(try call(consumer: consumer.id, secret: secret, token: rt.id, tokenSecret: rt.secret, verifier: verifier))
        }
        // The token holds the lent role (and what it implies), not the admin role.
        let token = try await s.issueToken(methods: ["oauth1"], method: .oauth1(try call(consumer: consumer.id, secret: secret, token: access.id, tokenSecret: access.secret)), scope: .system)
        #expect(token.projectID == project && token.isOAuth)
        #expect(token.roles.contains { $0.name == "member" } && !token.roles.contains { $0.name == "admin" })
        // Rescoping it is refused; deleting the access token ends it.
        await #expect(throws: NimbusError.self) { try await s.issueToken(methods: ["token"], method: .token(token.token), scope: .project(id: project, name: nil, domainID: nil, domainName: nil)) }
        try await s.deleteAccessToken(userID: admin.user.id, id: access.id)
        await #expect(throws: NimbusError.self) { try await s.validate(token.token, allowExpired: false) }
        await f.close()
    }

    @Test func deletingTheConsumerEndsItsTokens() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        let (consumer, secret) = try await s.createConsumer(description: nil, extra: [:])
        let rt = try await s.createRequestToken(try call(consumer: consumer.id, secret: secret), projectID: try #require(admin.projectID))
        let verifier = try await s.authorizeRequestToken(rt.id, caller: admin, roles: [(nil, "reader")])
        let access = try await s.createAccessToken(try call(consumer: consumer.id, secret: secret, token: rt.id, tokenSecret: rt.secret, verifier: verifier))
        let token = try await s.issueToken(methods: ["oauth1"], method: .oauth1(try call(consumer: consumer.id, secret: secret, token: access.id, tokenSecret: access.secret)), scope: .none)
        _ = try await s.validate(token.token, allowExpired: false)
        try await s.deleteConsumer(consumer.id)
        await #expect(throws: NimbusError.self) { try await s.validate(token.token, allowExpired: false) }
        #expect(try await s.listAccessTokens(userID: admin.user.id).isEmpty)
        await f.close()
    }
}
