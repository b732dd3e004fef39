/// Rows of the identity tables. JSON-valued columns (`extra`, `options`, `roles`) hold serialized
/// `JSONValue`s; the service layer decodes them.
struct ProjectRecord: Codable, Sendable {
    var id: String
    var name: String
    var domainId: String?
    var parentId: String?
    var isDomain: Bool
    var enabled: Bool
    var description: String
    var hasDescription: Bool
    var extra: String
    var options: String
    var createdAt: String
}

struct UserRecord: Codable, Sendable {
    var id: String
    var domainId: String
    var name: String
    var enabled: Bool
    var defaultProjectId: String?
    var passwordHash: String?
    var passwordCreatedAt: String?
    var passwordExpiresAt: String?
    var extra: String
    var options: String
    var createdAt: String
    var lastActiveAt: String?
}

struct GroupRecord: Codable, Sendable {
    var id: String
    var domainId: String
    var name: String
    var description: String
    var hasDescription: Bool
    var extra: String
}

struct RoleRecord: Codable, Sendable, Equatable {
    var id: String
    var name: String
    /// Empty for global roles (a unique index cannot treat NULLs as equal on both engines).
    var domainId: String
    var description: String
    /// False when the role has no description (Keystone stores NULL and shows null).
    var hasDescription: Bool
    var options: String
    var extra: String
}

struct ImpliedRoleRecord: Codable, Sendable, Hashable {
    var priorRoleId: String
    var impliedRoleId: String
}

struct AssignmentRecord: Codable, Sendable, Hashable {
    var actorType: String   // "user" | "group"
    var actorId: String
    var targetType: String  // "project" | "domain" | "system"
    var targetId: String    // "all" for system
    var roleId: String
    var inherited: Bool
}

struct RegionRecord: Codable, Sendable {
    var id: String
    var description: String
    var parentRegionId: String?
    var extra: String
}

struct ServiceRecord: Codable, Sendable {
    var id: String
    var type: String
    var enabled: Bool
    var extra: String
}

struct EndpointRecord: Codable, Sendable {
    var id: String
    var serviceId: String
    var interface: String
    var url: String
    var regionId: String?
    var enabled: Bool
    var extra: String
}

struct AppCredentialRecord: Codable, Sendable {
    var id: String
    var name: String
    var userId: String
    var projectId: String?
    var system: String?
    var secretHash: String
    var description: String?
    var expiresAt: String?
    var unrestricted: Bool
    var roles: String
    var accessRules: String
    var createdAt: String
}

struct AccessRuleRecord: Codable, Sendable {
    var id: String
    var userId: String
    var service: String
    var path: String
    var method: String
}

struct CredentialRecord: Codable, Sendable {
    var id: String
    var userId: String
    var projectId: String?
    var type: String
    var blob: String
    var extra: String
}

struct RevocationRecord: Codable, Sendable {
    var kind: String
    var value: String
    var issuedBefore: String
    var revokedAt: String
}

struct PolicyRecord: Codable, Sendable {
    var id: String
    var type: String
    var blob: String
    var extra: String
}

struct EndpointGroupRecord: Codable, Sendable {
    var id: String
    var name: String
    var description: String
    /// False when the group has no description (Keystone stores NULL and shows null).
    var hasDescription: Bool
    var filters: String
}

struct TrustRecord: Codable, Sendable {
    var id: String
    var trustorUserId: String
    var trusteeUserId: String
    var projectId: String?
    var impersonation: Bool
    var roles: String
    var expiresAt: String?
    var remainingUses: Int?
    var redelegationCount: Int
    var createdAt: String
}

/// Region ids are '' rather than NULL so the unique indexes cover limits without a region.
struct RegisteredLimitRecord: Codable, Sendable {
    var id: String
    var serviceId: String
    var regionId: String
    var resourceName: String
    var defaultLimit: Int64
    var description: String?
}

struct LimitRecord: Codable, Sendable {
    var id: String
    var projectId: String
    var domainId: String
    var serviceId: String
    var regionId: String
    var resourceName: String
    var resourceLimit: Int64
    var description: String?
}

/// One option of a domain's configuration; `value` is serialized JSON. Sensitive options
/// (`ldap.password`) are stored with `sensitive = true` and never read back through the API.
struct DomainConfigRecord: Codable, Sendable {
    var domainId: String
    var groupName: String
    var optionName: String
    var value: String
    var sensitive: Bool
}

struct OAuthConsumerRecord: Codable, Sendable {
    var id: String
    var description: String?
    var secret: String
    var extra: String
}

/// A request token: unauthorized until a user authorizes it (`authorizing_user_id`, `verifier`,
/// `role_ids` set); exchanged once for an access token, which deletes it.
struct OAuthRequestTokenRecord: Codable, Sendable {
    var id: String
    var secret: String
    var verifier: String?
    var authorizingUserId: String?
    var requestedProjectId: String
    var roleIds: String?
    var consumerId: String
    var expiresAt: String?
}

struct OAuthAccessTokenRecord: Codable, Sendable {
    var id: String
    var secret: String
    var authorizingUserId: String
    var projectId: String
    var roleIds: String
    var consumerId: String
    var expiresAt: String?
}
