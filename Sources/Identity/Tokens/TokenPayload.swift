import Foundation

/// What a token carries. Everything else (names, roles, catalog) is looked up at validation, so a
/// role removed or a project disabled takes effect on existing tokens at once.
public struct TokenPayload: Codable, Sendable, Equatable {
    public enum Scope: Codable, Sendable, Equatable {
        case unscoped
        case project(String)
        case domain(String)
        case system
    }

    public var userID: String
    public var methods: [String]
    public var scope: Scope
    /// Unix seconds with microseconds.
    public var issuedAt: Double
    public var expiresAt: Double
    /// The token's own audit id first, then its parent's (rescoped tokens keep the chain).
    public var auditIDs: [String]
    public var applicationCredentialID: String?
    public var trustID: String?
    /// The OS-OAUTH1 access token a token was issued from (method `oauth1`).
    public var oauthAccessTokenID: String?

    enum CodingKeys: String, CodingKey {
        case userID = "u", methods = "m", scope = "s", issuedAt = "i", expiresAt = "e", auditIDs = "a"
        case applicationCredentialID = "c", trustID = "t", oauthAccessTokenID = "o"
    }

    public init(userID: String, methods: [String], scope: Scope, issuedAt: Date, expiresAt: Date, auditIDs: [String],
                applicationCredentialID: String? = nil, trustID: String? = nil, oauthAccessTokenID: String? = nil) {
        self.userID = userID
        self.methods = methods
        self.scope = scope
        self.issuedAt = (issuedAt.timeIntervalSince1970 * 1_000_000).rounded() / 1_000_000
        self.expiresAt = expiresAt.timeIntervalSince1970.rounded(.down)
        self.auditIDs = auditIDs
        self.applicationCredentialID = applicationCredentialID
        self.trustID = trustID
        self.oauthAccessTokenID = oauthAccessTokenID
    }

    public var issuedDate: Date { Date(timeIntervalSince1970: issuedAt) }
    public var expiresDate: Date { Date(timeIntervalSince1970: expiresAt) }
}
