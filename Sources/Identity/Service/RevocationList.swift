import Foundation
import NimbusCore
import SQLKit
import Synchronization

/// Revocation events held in memory (and persisted in `identity_revocations`): a token is revoked
/// when its audit id is listed, or when one of the users it stands for, its project, domain,
/// trust or application credential has an event newer than the token's issue time.
///
/// The users a token stands for are, as in Keystone's revoke model (`ALTERNATIVES['user_id']` and
/// the SQL driver's `_list_token_events`), its own user, and for a trust-scoped token both the
/// trustor and the trustee: a password change or a disabled account on either end ends the
/// delegation, whether or not the token impersonates the trustor.
final class RevocationList: Sendable {
    enum Kind: String, Sendable { case audit, user, project, domain, appCredential = "app_credential", trust }

    private let entries = Mutex<[Name: Date]>([:])

    private static func key(_ kind: Kind, _ value: String) -> Name { Name(kind.rawValue + ":" + value) }

    func add(_ kind: Kind, _ value: String, issuedBefore: Date) {
        entries.withLock { e in
            let k = Self.key(kind, value)
            if let existing = e[k], existing >= issuedBefore { return }
            e[k] = issuedBefore
        }
    }

    /// `userIDs`: every user the token stands for (its user; a trust's trustor and trustee; an
    /// application credential's owner).
    func isRevoked(_ payload: TokenPayload, userIDs: [String], projectDomainID: String?, userDomainID: String?) -> Bool {
        let issued = payload.issuedDate
        return entries.withLock { e in
            func hit(_ kind: Kind, _ value: String?) -> Bool {
                guard let value, let before = e[Self.key(kind, value)] else { return false }
                return issued <= before
            }
            if payload.auditIDs.contains(where: { e[Self.key(.audit, $0)] != nil }) { return true }
            if userIDs.contains(where: { hit(.user, $0) }) { return true }
            if hit(.appCredential, payload.applicationCredentialID) || hit(.trust, payload.trustID) { return true }
            if hit(.domain, userDomainID) || hit(.domain, projectDomainID) { return true }
            switch payload.scope {
            case .project(let id): return hit(.project, id)
            case .domain(let id): return hit(.domain, id)
            default: return false
            }
        }
    }

}

extension IdentityService {
    /// Loads revocation events newer than `after` (all of them at start); returns the highest id seen.
    @discardableResult
    func loadRevocations(after: Int64 = 0) async throws -> Int64 {
        struct Row: Decodable { let id: Int64; let kind: String; let value: String; let issuedBefore: String }
        let rows = try await db.sql.records(Row.self, "SELECT id, kind, value, issued_before FROM identity_revocations WHERE id > \(bind: after) ORDER BY id")
        for r in rows {
            guard let kind = RevocationList.Kind(rawValue: r.kind), let before = Timestamps.parse(r.issuedBefore) else { continue }
            revocations.add(kind, r.value, issuedBefore: before)
        }
        return rows.last?.id ?? after
    }

    /// Records a revocation inside the caller's transaction; the in-memory list is updated by `applyRevocation`
    /// once the transaction commits.
    static func persistRevocation(_ db: any SQLDatabase, _ kind: RevocationList.Kind, _ value: String, at date: Date) async throws {
        let stamp = Timestamps.micros(date)
        try await db.insertRecord("identity_revocations", RevocationRecord(kind: kind.rawValue, value: value, issuedBefore: stamp, revokedAt: stamp))
    }

    func revoke(_ kind: RevocationList.Kind, _ value: String) async throws {
        // The bound is one microsecond past now so that a token issued in this same instant is covered.
        let at = Date(timeIntervalSince1970: (now.timeIntervalSince1970 * 1_000_000).rounded(.up) / 1_000_000 + 0.000001)
        try await db.transaction { db in
            try await Self.persistRevocation(db, kind, value, at: at)
            try await Self.bumpSharedGeneration(db)
        }
        // In memory first, then a new generation: a validation racing with this cannot cache the
        // revoked token under the new generation.
        revocations.add(kind, value, issuedBefore: at)
        changed()
    }
}
