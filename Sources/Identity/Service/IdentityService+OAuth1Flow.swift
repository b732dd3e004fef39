import Crypto
import Foundation
import NimbusCore
import SQLKit

/// A signed OS-OAUTH1 request as the API saw it: its OAuth parameters, its method and the URIs
/// the client may have signed (the one its Host header names, and the public endpoint's).
public struct OAuth1Call: Sendable {
    let request: OAuth1Request
    let method: String
    let uris: [String]

    init(request: OAuth1Request, method: String, uris: [String]) {
        self.request = request
        self.method = method
        self.uris = uris
    }
}

extension IdentityService {
    /// The checks every signed call shares before its signature is checked.
    func admitOAuth(_ call: OAuth1Call, needsToken: Bool) throws {
        try call.request.checkMandatory(now: now, needsToken: needsToken)
    }

    /// After the signature matched: its nonce is spent (a replay within the window is refused,
    /// by any controller of the database: the spend is a row of `identity_oauth_nonces`). Only
    /// signed requests spend nonces, so nobody can burn another client's or fill the table.
    /// Keystone's validator accepts any nonce; RFC 5849 3.3 asks servers to refuse repeats.
    func spendNonce(_ call: OAuth1Call) async throws {
        let r = call.request
        var digest = SHA256()
        for part in [r.consumerKey ?? "", r.token ?? "", r.timestamp ?? "", r.nonce ?? ""] {
            digest.update(data: Array(part.utf8) + [0])
        }
        let key = Hex.encode(digest.finalize())
        let nowSeconds = Int64(now.timeIntervalSince1970)
        // Past twice the timestamp window no replay could pass the timestamp check anyway.
        let expires = nowSeconds + 2 * Int64(OAuth1Request.timestampWindow)
        let spent = try await db.transaction { db in
            try await db.raw("DELETE FROM identity_oauth_nonces WHERE expires_at < \(bind: nowSeconds)").run()
            return try await db.raw("""
                INSERT INTO identity_oauth_nonces (nonce_key, expires_at) VALUES (\(bind: key), \(bind: expires))
                ON CONFLICT (nonce_key) DO NOTHING RETURNING nonce_key
                """).first() != nil
        }
        guard spent else { throw OAuth1Request.invalid("Nonce already used") }
    }

    /// `POST /v3/OS-OAUTH1/request_token`, signed with the consumer's secret alone.
    func createRequestToken(_ call: OAuth1Call, projectID: String) async throws -> OAuthRequestTokenRecord {
        _ = try await requireProject(projectID)
        guard let consumer = try await consumerRecord(call.request.consumerKey ?? "") else { throw NimbusError.notFound("Consumer not found") }
        try admitOAuth(call, needsToken: false)
        guard call.request.oauth["oauth_callback"] != nil else { throw OAuth1Request.invalid("Missing callback URI") }
        guard call.request.verify(method: call.method, uris: call.uris, consumerSecret: consumer.secret, tokenSecret: "") else {
            throw NimbusError.unauthorized("Invalid signature")
        }
        try await spendNonce(call)
        let r = OAuthRequestTokenRecord(id: Identifiers.hex32(), secret: Identifiers.hex32(), verifier: nil, authorizingUserId: nil,
                                        requestedProjectId: projectID, roleIds: nil, consumerId: consumer.id,
                                        expiresAt: oauthExpiry(settings.oauthRequestTokenDuration, from: now))
        let nowText = nowString, limit = Self.outstandingRequestTokensLimit
        try await write { db in
            // Request tokens need no Keystone token to make: expired ones go, and a consumer may
            // hold only so many at once, so the table cannot be grown without bound.
            try await db.execute("DELETE FROM identity_oauth_request_tokens WHERE consumer_id = \(bind: consumer.id) AND expires_at < \(bind: nowText)")
            let rows = try await db.raw("SELECT COUNT(*) AS n FROM identity_oauth_request_tokens WHERE consumer_id = \(bind: consumer.id)").all()
            if let n = try rows.first?.decode(column: "n", as: Int.self), n >= limit {
                throw NimbusError.forbidden("The consumer has \(limit) outstanding request tokens; exchange or let some expire first.")
            }
            try await db.insertRecord("identity_oauth_request_tokens", r)
        }
        return r
    }

    static let outstandingRequestTokensLimit = 1000

    /// Keystone's verifier alphabet: letters and digits without the easily confused `jiIl1oO0`.
    static let verifierCharacters = Array("abcdefghkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789".utf8)

    /// `PUT /v3/OS-OAUTH1/authorize/{id}`: the caller lends roles they hold on the requested
    /// project; a delegated token (trust, application credential, OAuth) may not.
    public func authorizeRequestToken(_ id: String, caller: AuthContext, roles: [(id: String?, name: String?)]) async throws -> String {
        if caller.trust != nil || caller.applicationCredentialID != nil || caller.isOAuth {
            throw NimbusError.forbidden("Cannot authorize a request token with a token issued via delegation.")
        }
        guard let token = try await requestTokenRecord(id) else { throw NimbusError.notFound("Request token not found") }
        if Self.isExpired(token.expiresAt, now: now) { throw NimbusError.unauthorized("Request token is expired") }
        var wanted = Set<Name>()
        for r in roles {
            if let rid = r.id { wanted.insert(Name(rid)); continue }
            guard let name = r.name, let role = try await role(named: name, domainID: nil) else {
                throw NimbusError.notFound("Could not find role: \(r.name ?? "").")
            }
            wanted.insert(Name(role.id))
        }
        let held = Set(try await effectiveRoles(userID: caller.user.id, scope: .project(token.requestedProjectId)).map { Name($0.id) })
        guard wanted.isSubset(of: held) else { throw NimbusError.unauthorized("authorizing user does not have role required") }
        let verifier = String(decoding: (0..<8).map { _ in Self.verifierCharacters.randomElement()! }, as: UTF8.self)
        let roleIDs = encodeJSONArray(wanted.map(\.string).sortedByBytes())
        let userID = caller.user.id
        try await write { db in
            try await db.execute("""
                UPDATE identity_oauth_request_tokens SET authorizing_user_id = \(bind: userID), verifier = \(bind: verifier),
                role_ids = \(bind: roleIDs) WHERE id = \(bind: id)
                """)
        }
        return verifier
    }

    /// `POST /v3/OS-OAUTH1/access_token`: signed with the consumer's and the request token's
    /// secrets, with the verifier; spends the request token (once, even under concurrency).
    func createAccessToken(_ call: OAuth1Call) async throws -> OAuthAccessTokenRecord {
        let r = call.request
        guard let tokenID = r.token, !tokenID.isEmpty else { throw NimbusError.badRequest("Expecting to find oauth_token in request.") }
        guard let verifier = r.verifier, !verifier.isEmpty else { throw NimbusError.badRequest("Expecting to find oauth_verifier in request.") }
        guard let token = try await requestTokenRecord(tokenID) else { throw NimbusError.notFound("Request token not found") }
        if Self.isExpired(token.expiresAt, now: now) { throw NimbusError.unauthorized("Request token is expired") }
        try admitOAuth(call, needsToken: true)
        guard verifier.utf8.count == 8, verifier.utf8.allSatisfy(Self.verifierCharacters.contains) else { throw OAuth1Request.invalid("Invalid verifier format") }
        guard let consumer = try await consumerRecord(r.consumerKey ?? "") else { throw NimbusError.unauthorized("Provided consumer does not exist.") }
        guard consumer.id.sameBytes(as: token.consumerId) else { throw NimbusError.unauthorized("Provided consumer key does not match stored consumer key.") }
        guard let stored = token.verifier, ConstantTime.equal(Array(stored.utf8), Array(verifier.utf8)) else {
            throw NimbusError.unauthorized("Provided verifier does not match stored verifier")
        }
        guard r.verify(method: call.method, uris: call.uris, consumerSecret: consumer.secret, tokenSecret: token.secret) else {
            throw NimbusError.unauthorized("Invalid signature")
        }
        try await spendNonce(call)
        guard let userID = token.authorizingUserId, let roleIDs = token.roleIds else {
            throw NimbusError.unauthorized("Request Token does not have an authorizing user id.")
        }
        let access = OAuthAccessTokenRecord(id: Identifiers.hex32(), secret: Identifiers.hex32(), authorizingUserId: userID,
                                            projectId: token.requestedProjectId, roleIds: roleIDs, consumerId: consumer.id,
                                            expiresAt: oauthExpiry(settings.oauthAccessTokenDuration, from: now))
        try await write { db in
            let spent = try await db.raw("DELETE FROM identity_oauth_request_tokens WHERE id = \(bind: tokenID) RETURNING id").all()
            guard !spent.isEmpty else { throw NimbusError.unauthorized("Request token not found") }
            try await db.insertRecord("identity_oauth_access_tokens", access)
        }
        return access
    }

    /// The `oauth1` authentication method: a request signed with an access token's secrets.
    func authenticateOAuth(_ call: OAuth1Call) async throws -> OAuthAccessTokenRecord {
        guard let tokenID = call.request.token, !tokenID.isEmpty else { throw NimbusError.badRequest("Expecting to find oauth_token in request.") }
        guard let access = try await accessTokenRecord(tokenID) else { throw NimbusError.notFound("Access token not found") }
        if Self.isExpired(access.expiresAt, now: now) { throw NimbusError.unauthorized("Access token is expired") }
        do {
            try admitOAuth(call, needsToken: true)
        } catch {
            throw NimbusError.unauthorized("Could not validate the access token")
        }
        guard let consumer = try await consumerRecord(call.request.consumerKey ?? ""), consumer.id.sameBytes(as: access.consumerId),
              call.request.verify(method: call.method, uris: call.uris, consumerSecret: consumer.secret, tokenSecret: access.secret) else {
            throw NimbusError.unauthorized("Could not validate the access token")
        }
        do { try await spendNonce(call) } catch { throw NimbusError.unauthorized("Could not validate the access token") }
        return access
    }
}

extension AuthContext {
    /// Tokens from an OAuth1 access token carry the `oauth1` method and nothing else.
    var isOAuth: Bool { methods.containsBytes("oauth1") }
}

func encodeJSONArray(_ ids: [String]) -> String { JSONValue.array(ids.map { .string($0) }).serializedString() }
