import Foundation
import NimbusCore
import SQLKit

/// OS-TRUST: a trustor delegates some of their roles on a project to a trustee, who can then get
/// tokens scoped to the trust (as the trustor when `impersonation` is set).
public struct Trust: Sendable {
    public var id: String
    public var trustorID: String
    public var trusteeID: String
    public var projectID: String?
    public var impersonation: Bool
    public var roles: [Role]
    public var expiresAt: ExactTime?
    public var remainingUses: Int?
    public var redelegationCount: Int
}

public struct TrustInput: Sendable {
    public var trustorID: String
    public var trusteeID: String
    public var projectID: String?
    public var impersonation: Bool
    public var roles: [(id: String?, name: String?)] = []
    public var expiresAt: String?
    public var remainingUses: Int?
    public init(trustorID: String, trusteeID: String, projectID: String?, impersonation: Bool) {
        self.trustorID = trustorID; self.trusteeID = trusteeID; self.projectID = projectID; self.impersonation = impersonation
    }
}

extension IdentityService {
    static let trustColumns = "id, trustor_user_id, trustee_user_id, project_id, impersonation, roles, expires_at, remaining_uses, redelegation_count, created_at"

    func makeTrust(_ r: TrustRecord, roles: [String: Role]) -> Trust {
        Trust(id: r.id, trustorID: r.trustorUserId, trusteeID: r.trusteeUserId, projectID: r.projectId, impersonation: r.impersonation,
              roles: Self.idList(fromColumn: r.roles).compactMap { roles[$0] }, expiresAt: r.expiresAt.flatMap(ExactTime.parse), remainingUses: r.remainingUses,
              redelegationCount: r.redelegationCount)
    }

    func trustRecord(_ id: String) async throws -> TrustRecord? {
        try await db.sql.record(TrustRecord.self, "SELECT \(unsafeRaw: Self.trustColumns) FROM identity_trusts WHERE id = \(bind: id)")
    }

    public func trust(_ id: String) async throws -> Trust {
        guard let r = try await trustRecord(id) else { throw NimbusError.notFound("Could not find trust: \(id).") }
        return makeTrust(r, roles: try await allRoles())
    }

    public func listTrusts(trustorID: String?, trusteeID: String?) async throws -> [Trust] {
        let roles = try await allRoles()
        return try await db.sql.records(TrustRecord.self, "SELECT \(unsafeRaw: Self.trustColumns) FROM identity_trusts ORDER BY created_at")
            .filter { matchesFilter(trustorID, $0.trustorUserId) && matchesFilter(trusteeID, $0.trusteeUserId) }
            .map { makeTrust($0, roles: roles) }
    }

    /// `caller` is who asks: a trust-scoped token may not create trusts (redelegation is not
    /// supported) and no application credential token may (see `forbidApplicationCredential`).
    public func createTrust(_ input: TrustInput, caller: AuthContext? = nil) async throws -> Trust {
        if let caller {
            try forbidApplicationCredential(caller)
            if caller.trust != nil { throw NimbusError.forbidden("Redelegation of trusts is not supported.") }
            if caller.isOAuth { throw NimbusError.forbidden("Cannot create a trust with a token issued via delegation.") }
        }
        _ = try await requireEnabledUser(input.trustorID)
        guard try await user(input.trusteeID) != nil else { throw NimbusError.notFound("Could not find user: \(input.trusteeID).") }
        let expires = try Self.expiration(input.expiresAt)
        if let uses = input.remainingUses, uses <= 0 { throw NimbusError.badRequest("remaining_uses must be a positive integer or null.") }
        var roleIDs = [String]()
        if let projectID = input.projectID {
            _ = try await requireProject(projectID)
            guard !input.roles.isEmpty else { throw NimbusError.badRequest("At least one role must be delegated on a project.") }
            let held = try await effectiveRoles(userID: input.trustorID, scope: .project(projectID))
            for ref in input.roles {
                guard let r = held.first(where: { ref.id.sameBytes(as: $0.id) || ref.name.sameBytes(as: $0.name) }) else {
                    throw NimbusError.forbidden("At least one role should be specified and held by the trustor on the project.")
                }
                roleIDs.append(r.id)
            }
        } else if !input.roles.isEmpty {
            throw NimbusError.forbidden("Roles can only be delegated on a project.")
        }
        let r = TrustRecord(id: Identifiers.hex32(), trustorUserId: input.trustorID, trusteeUserId: input.trusteeID, projectId: input.projectID,
                            impersonation: input.impersonation, roles: JSONValue(roleIDs).serializedString(), expiresAt: expires?.iso,
                            remainingUses: input.remainingUses, redelegationCount: 0, createdAt: nowString)
        try await write { db in try await db.insertRecord("identity_trusts", r) }
        return makeTrust(r, roles: try await allRoles())
    }

    public func deleteTrust(_ id: String) async throws {
        _ = try await trust(id)
        try await write { db in try await db.execute("DELETE FROM identity_trusts WHERE id = \(bind: id)") }
        try await revoke(.trust, id)
    }

    /// Checks a trust may be used by `trusteeID` now, consuming one use if it is limited. The
    /// decrement is one conditional UPDATE, so concurrent requests cannot overspend the uses.
    func consumeTrust(_ id: String, trusteeID: String) async throws -> Trust {
        let t = try await trust(id)
        guard t.trusteeID.sameBytes(as: trusteeID) else { throw NimbusError.forbidden("The user is not the trustee of this trust.") }
        if let e = t.expiresAt, e <= ExactTime(now) { throw NimbusError.unauthorized("The trust has expired.") }
        if t.remainingUses != nil {
            let consumed = try await write { db in
                try await db.raw("UPDATE identity_trusts SET remaining_uses = remaining_uses - 1 WHERE id = \(bind: id) AND remaining_uses > 0 RETURNING id").all().count
            }
            guard consumed == 1 else { throw NimbusError.unauthorized("The trust has no uses left.") }
        }
        return t
    }

    /// A client's expiry time (trusts, application credentials), read as Keystone's
    /// `parse_expiration_date` reads it: exactly, and not in the past.
    static func expiration(_ text: String?) throws -> ExactTime? {
        guard let text else { return nil }
        guard let t = ExactTime.parseExpiration(text) else {
            throw NimbusError.badRequest("Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
        }
        guard t > ExactTime.now else {
            throw NimbusError.badRequest("The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
        }
        return t
    }
}
