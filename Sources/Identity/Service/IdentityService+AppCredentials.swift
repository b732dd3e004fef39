import Foundation
import NimbusCore
import SQLKit

public struct AccessRule: Sendable, Equatable {
    public var id: String
    public var service: String
    public var path: String
    public var method: String
}

public struct ApplicationCredential: Sendable {
    public var id: String
    public var name: String
    public var userID: String
    public var projectID: String?
    public var system: String?
    public var description: String?
    public var expiresAt: ExactTime?
    public var unrestricted: Bool
    public var roles: [Role]
    public var accessRules: [AccessRule]
    /// Only set in the creation response: it is never stored, only its hash.
    public var secret: String?
}

public struct AppCredentialInput: Sendable {
    public var name: String
    public var secret: String?
    public var description: String?
    public var expiresAt: String?
    public var unrestricted: Bool = false
    public var roles: [(id: String?, name: String?)] = []
    public var accessRules: [(id: String?, service: String?, path: String?, method: String?)] = []
    public init(name: String) { self.name = name }
}

extension IdentityService {
    static let appCredColumns = "id, name, user_id, project_id, system, secret_hash, description, expires_at, unrestricted, roles, access_rules, created_at"

    func appCredentialRecord(_ id: String) async throws -> AppCredentialRecord? {
        try await db.sql.record(AppCredentialRecord.self, "SELECT \(unsafeRaw: Self.appCredColumns) FROM identity_app_credentials WHERE id = \(bind: id)")
    }

    /// A JSON array of ids stored in a text column (roles, access rules).
    static func idList(fromColumn text: String) -> [String] {
        ((try? JSONValue.parse(string: text))?.arrayValue ?? []).compactMap(\.stringValue)
    }

    func makeAppCredential(_ r: AppCredentialRecord, roles: [String: Role], rules: [String: AccessRule]) -> ApplicationCredential {
        let ruleIDs = ((try? JSONValue.parse(string: r.accessRules))?.arrayValue ?? []).compactMap(\.stringValue)
        return ApplicationCredential(
            id: r.id, name: r.name, userID: r.userId, projectID: r.projectId, system: r.system, description: r.description,
            expiresAt: r.expiresAt.flatMap(ExactTime.parse), unrestricted: r.unrestricted, roles: Self.idList(fromColumn: r.roles).compactMap { roles[$0] },
            accessRules: ruleIDs.compactMap { rules[$0] }, secret: nil)
    }

    /// Keyed by id: access rule ids are hex we generated (a client-given id is only looked up).
    func accessRuleMap(userID: String) async throws -> [String: AccessRule] {
        let rows = try await db.sql.records(AccessRuleRecord.self, "SELECT id, user_id, service, path, method FROM identity_access_rules WHERE user_id = \(bind: userID)")
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.id, AccessRule(id: $0.id, service: $0.service, path: $0.path, method: $0.method)) })
    }

    public func listAppCredentials(userID: String, name: String?) async throws -> [ApplicationCredential] {
        let roles = try await allRoles()
        let rules = try await accessRuleMap(userID: userID)
        return try await db.sql.records(AppCredentialRecord.self, "SELECT \(unsafeRaw: Self.appCredColumns) FROM identity_app_credentials WHERE user_id = \(bind: userID) ORDER BY name")
            .filter { matchesFilter(name, $0.name) }
            .map { makeAppCredential($0, roles: roles, rules: rules) }
    }

    public func appCredential(userID: String, id: String) async throws -> ApplicationCredential {
        guard let r = try await appCredentialRecord(id), r.userId.sameBytes(as: userID) else {
            throw NimbusError.notFound("Could not find Application Credential: \(id).")
        }
        return makeAppCredential(r, roles: try await allRoles(), rules: try await accessRuleMap(userID: userID))
    }

    func resolveAppCredential(id: String?, name: String?, userID: String?, userName: String?, userDomainID: String?, userDomainName: String?) async throws -> AppCredentialRecord {
        if let id {
            guard let r = try await appCredentialRecord(id) else { throw NimbusError.unauthorized() }
            return r
        }
        guard let name else { throw NimbusError.badRequest("Expecting to find id or name in application_credential.") }
        let user = try await resolveUser(id: userID, name: userName, domainID: userDomainID, domainName: userDomainName)
        guard let r = try await db.sql.record(AppCredentialRecord.self,
            "SELECT \(unsafeRaw: Self.appCredColumns) FROM identity_app_credentials WHERE user_id = \(bind: user.id) AND name = \(bind: name)") else {
            throw NimbusError.unauthorized()
        }
        return r
    }

    /// Creates an application credential for the caller's current scope, limited to roles the
    /// caller holds there.
    public func createAppCredential(_ input: AppCredentialInput, caller: AuthContext) async throws -> ApplicationCredential {
        try forbidTrustScoped(caller)
        try await requireUnrestricted(caller, "managing additional application credentials")
        let held = caller.roles
        var chosen = [AuthContext.Role]()
        if input.roles.isEmpty {
            chosen = held
        } else {
            for ref in input.roles {
                guard let r = held.first(where: { ref.id.sameBytes(as: $0.id) || ref.name.sameBytes(as: $0.name) }) else {
                    throw NimbusError.badRequest("Invalid application credential: roles requested are not held by the user on the project.")
                }
                chosen.append(r)
            }
        }
        let expires = try Self.expiration(input.expiresAt)
        // An empty secret is generated too (Keystone: `if not app_cred_data.get('secret')`).
        let secret = input.secret.flatMap { $0.isEmpty ? nil : $0 } ?? Base64URL.encode((0..<48).map { _ in UInt8.random(in: 0...255) })
        let hash = try await hasher.hash(secret)
        var ruleIDs = [String]()
        var newRules = [AccessRuleRecord]()
        let existing = try await accessRuleMap(userID: caller.user.id)
        for rule in input.accessRules {
            if let id = rule.id {
                guard existing[id] != nil else { throw NimbusError.notFound("Could not find access rule: \(id).") }
                ruleIDs.append(id)
            } else {
                guard let service = rule.service, let path = rule.path, let method = rule.method else {
                    throw NimbusError.badRequest("Invalid input for field 'access_rules': each rule needs service, path and method.")
                }
                if let match = existing.values.first(where: { $0.service.sameBytes(as: service) && $0.path.sameBytes(as: path) && $0.method.sameBytes(as: method) }) {
                    ruleIDs.append(match.id)
                } else {
                    let r = AccessRuleRecord(id: Identifiers.hex32(), userId: caller.user.id, service: service, path: path, method: method)
                    newRules.append(r)
                    ruleIDs.append(r.id)
                }
            }
        }
        let record = AppCredentialRecord(
            id: Identifiers.hex32(), name: input.name, userId: caller.user.id, projectId: caller.projectID,
            system: caller.isSystemScoped ? "all" : nil, secretHash: hash, description: input.description,
            expiresAt: expires?.isoNoZone, unrestricted: input.unrestricted,
            roles: JSONValue(chosen.map(\.id)).serializedString(), accessRules: JSONValue(ruleIDs).serializedString(), createdAt: nowString)
        let rulesToInsert = newRules
        do {
            try await write { db in
                for r in rulesToInsert { try await db.insertRecord("identity_access_rules", r) }
                try await db.insertRecord("identity_app_credentials", record)
            }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Conflict occurred attempting to store application_credential - Duplicate entry found with name \(input.name).")
        }
        var cred = makeAppCredential(record, roles: try await allRoles(), rules: try await accessRuleMap(userID: caller.user.id))
        cred.secret = secret
        return cred
    }

    public func deleteAppCredential(userID: String, id: String, caller: AuthContext? = nil) async throws {
        if let caller {
            try forbidTrustScoped(caller)
            try await requireUnrestricted(caller, "managing additional application credentials")
        }
        _ = try await appCredential(userID: userID, id: id)
        try await write { db in try await db.execute("DELETE FROM identity_app_credentials WHERE id = \(bind: id)") }
        try await revoke(.appCredential, id)
    }

    public func listAccessRules(userID: String) async throws -> [AccessRule] {
        try await accessRuleMap(userID: userID).values.sortedByBytes(\.id)
    }

    public func accessRule(userID: String, id: String) async throws -> AccessRule {
        guard let r = try await accessRuleMap(userID: userID)[id] else { throw NimbusError.notFound("Could not find access rule: \(id).") }
        return r
    }

    public func deleteAccessRule(userID: String, id: String) async throws {
        _ = try await accessRule(userID: userID, id: id)
        let inUse = try await db.sql.records(AppCredentialRecord.self, "SELECT \(unsafeRaw: Self.appCredColumns) FROM identity_app_credentials WHERE user_id = \(bind: userID)")
            .contains { Self.idList(fromColumn: $0.accessRules).containsBytes(id) }
        if inUse { throw NimbusError.forbidden("Cannot delete access rule \(id): it is in use by an application credential.") }
        try await write { db in try await db.execute("DELETE FROM identity_access_rules WHERE id = \(bind: id)") }
    }
}
