import Foundation
import NimbusCore
import SQLKit

public struct OAuthConsumer: Sendable {
    public var id: String
    public var description: String?
    public var extra: JSONObject
}

/// OS-OAUTH1's stored objects: consumers, request tokens, access tokens (Keystone's oauth1 SQL
/// backend). The signed flows that create tokens are in `IdentityService+OAuth1Flow`.
extension IdentityService {
    /// When a request or access token made now expires (`duration` 0: never, as in Keystone).
    func oauthExpiry(_ duration: TimeInterval, from now: Date) -> String? {
        duration > 0 ? Timestamps.micros(now.addingTimeInterval(duration)) : nil
    }

    func makeConsumer(_ r: OAuthConsumerRecord) -> OAuthConsumer {
        OAuthConsumer(id: r.id, description: r.description, extra: decodeJSONColumn(r.extra))
    }

    func consumerRecord(_ id: String) async throws -> OAuthConsumerRecord? {
        try await db.sql.record(OAuthConsumerRecord.self, "SELECT id, description, secret, extra FROM identity_oauth_consumers WHERE id = \(bind: id)")
    }

    public func requireConsumer(_ id: String) async throws -> OAuthConsumer {
        guard let r = try await consumerRecord(id) else { throw NimbusError.notFound("Consumer not found") }
        return makeConsumer(r)
    }

    public func listConsumers() async throws -> [OAuthConsumer] {
        try await db.sql.records(OAuthConsumerRecord.self, "SELECT id, description, secret, extra FROM identity_oauth_consumers ORDER BY id").map(makeConsumer)
    }

    /// The secret is returned here only: no later read shows it.
    public func createConsumer(description: String?, extra: JSONObject) async throws -> (OAuthConsumer, secret: String) {
        let r = OAuthConsumerRecord(id: Identifiers.hex32(), description: description, secret: Identifiers.hex32(), extra: encodeJSONColumn(extra))
        try await write { db in try await db.insertRecord("identity_oauth_consumers", r) }
        return (makeConsumer(r), r.secret)
    }

    public func updateConsumer(_ id: String, description: String??, extra: JSONObject) async throws -> OAuthConsumer {
        var c = try await requireConsumer(id)
        if let d = description { c.description = d }
        c.extra = try Self.mergingExtras(c.extra, extra)
        let u = c
        try await write { db in
            try await db.execute("""
                UPDATE identity_oauth_consumers SET description = \(bind: u.description), extra = \(bind: encodeJSONColumn(u.extra)) WHERE id = \(bind: id)
                """)
        }
        return u
    }

    /// Deleting a consumer deletes its request and access tokens, so every token made from them
    /// fails validation from now on (the write starts a new validation generation).
    public func deleteConsumer(_ id: String) async throws {
        _ = try await requireConsumer(id)
        try await write { db in
            try await db.execute("DELETE FROM identity_oauth_request_tokens WHERE consumer_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_oauth_access_tokens WHERE consumer_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_oauth_consumers WHERE id = \(bind: id)")
        }
    }

    static let requestTokenColumns = "id, secret, verifier, authorizing_user_id, requested_project_id, role_ids, consumer_id, expires_at"
    static let accessTokenColumns = "id, secret, authorizing_user_id, project_id, role_ids, consumer_id, expires_at"

    func requestTokenRecord(_ id: String) async throws -> OAuthRequestTokenRecord? {
        try await db.sql.record(OAuthRequestTokenRecord.self, "SELECT \(unsafeRaw: Self.requestTokenColumns) FROM identity_oauth_request_tokens WHERE id = \(bind: id)")
    }

    func accessTokenRecord(_ id: String) async throws -> OAuthAccessTokenRecord? {
        try await db.sql.record(OAuthAccessTokenRecord.self, "SELECT \(unsafeRaw: Self.accessTokenColumns) FROM identity_oauth_access_tokens WHERE id = \(bind: id)")
    }

    func requireAccessToken(_ id: String) async throws -> OAuthAccessTokenRecord {
        guard let r = try await accessTokenRecord(id) else { throw NimbusError.notFound("Access token not found") }
        return r
    }

    func listAccessTokens(userID: String) async throws -> [OAuthAccessTokenRecord] {
        try await db.sql.records(OAuthAccessTokenRecord.self, """
            SELECT \(unsafeRaw: Self.accessTokenColumns) FROM identity_oauth_access_tokens WHERE authorizing_user_id = \(bind: userID) ORDER BY id
            """)
    }

    /// Keystone answers 401 "User IDs do not match" when the token is another user's.
    func deleteAccessToken(userID: String, id: String) async throws {
        let t = try await requireAccessToken(id)
        guard t.authorizingUserId.sameBytes(as: userID) else { throw NimbusError.unauthorized("User IDs do not match") }
        try await write { db in try await db.execute("DELETE FROM identity_oauth_access_tokens WHERE id = \(bind: id)") }
    }

    static func isExpired(_ expiresAt: String?, now: Date) -> Bool {
        guard let e = expiresAt.flatMap(ExactTime.parse) else { return false }
        return e <= ExactTime(now)
    }
}
