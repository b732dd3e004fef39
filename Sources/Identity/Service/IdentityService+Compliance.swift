import Foundation
import NimbusCore
import SQLKit

/// Password policy and account lockout (Keystone's security compliance): password history,
/// minimum age, expiry, strength regex, change on first use, lockout after failed attempts.
extension IdentityService {
    var security: SecurityCompliance { settings.security }

    /// When a password set now expires: at once for an admin-set password that must be changed on
    /// first use, after `password_expires_days` otherwise, or never.
    func passwordExpiry(selfService: Bool, options: JSONObject) -> String? {
        if !selfService && security.changePasswordUponFirstUse && options["ignore_change_password_upon_first_use"] != .bool(true) {
            return Timestamps.micros(now)
        }
        guard security.passwordExpiresDays > 0, options["ignore_password_expiry"] != .bool(true) else { return nil }
        return Timestamps.micros(now.addingTimeInterval(TimeInterval(security.passwordExpiresDays) * 86_400))
    }

    func checkPasswordStrength(_ password: String) throws {
        guard let pattern = security.passwordRegex, !pattern.isEmpty else { return }
        // Keystone uses `re.match`: the pattern must match at the start of the password.
        guard let regex = try? NSRegularExpression(pattern: pattern),
              regex.firstMatch(in: password, options: .anchored, range: NSRange(password.startIndex..., in: password)) != nil else {
            throw NimbusError.badRequest("The password does not meet the requirements: \(security.passwordRegexDescription ?? pattern)")
        }
    }

    /// Self-service changes may not reuse the last `unique_last_password_count` passwords, nor
    /// come sooner than `minimum_password_age` days after the last change.
    func checkSelfServiceChange(_ user: User, newPassword: String, passwordCreatedAt: String?) async throws {
        try checkPasswordStrength(newPassword)
        if security.minimumPasswordAgeDays > 0, user.options["ignore_password_expiry"] != .bool(true),
           let set = passwordCreatedAt.flatMap(Timestamps.parse),
           set.addingTimeInterval(TimeInterval(security.minimumPasswordAgeDays) * 86_400) > now {
            throw NimbusError.badRequest("You cannot change your password at this time due to the minimum password age.")
        }
        guard security.uniqueLastPasswordCount > 0 else { return }
        struct Row: Decodable { let passwordHash: String }
        let recent = try await db.sql.records(Row.self, """
            SELECT password_hash FROM identity_password_history WHERE user_id = \(bind: user.id) ORDER BY id DESC LIMIT \(bind: security.uniqueLastPasswordCount)
            """)
        for r in recent where try await hasher.verify(newPassword, against: r.passwordHash) {
            throw NimbusError.badRequest("The new password cannot be identical to one of the last \(security.uniqueLastPasswordCount) passwords.")
        }
    }

    static func recordPasswordHistory(_ db: any SQLDatabase, userID: String, hash: String, at: String) async throws {
        try await db.execute("INSERT INTO identity_password_history (user_id, password_hash, created_at) VALUES (\(bind: userID), \(bind: hash), \(bind: at))")
    }

    // MARK: Lockout

    struct FailureRow: Decodable { let failures: Int; let lastFailureAt: String }

    func lockoutApplies(_ user: User) -> Bool {
        security.lockoutFailureAttempts > 0 && user.options["ignore_lockout_failure_attempts"] != .bool(true)
    }

    /// Throws when the account is locked; returns whether failures are on record (to clear on success).
    @discardableResult
    func checkNotLockedOut(_ user: User) async throws -> Bool {
        guard lockoutApplies(user),
              let row = try await db.sql.record(FailureRow.self, "SELECT failures, last_failure_at FROM identity_auth_failures WHERE user_id = \(bind: user.id)") else {
            return false
        }
        if row.failures >= security.lockoutFailureAttempts, let last = Timestamps.parse(row.lastFailureAt),
           last.addingTimeInterval(security.lockoutDuration) > now {
            throw NimbusError.unauthorized("The account is locked for user: \(user.id).")
        }
        return true
    }

    /// Counts a failed password; failures older than the lockout window start a new count. These
    /// rows do not change what any token means, so they do not start a new generation.
    func recordAuthFailure(_ user: User) async throws {
        guard lockoutApplies(user) else { return }
        let stamp = nowString
        let expired = Timestamps.micros(now.addingTimeInterval(-security.lockoutDuration))
        try await db.transaction { db in
            try await db.execute("""
                INSERT INTO identity_auth_failures (user_id, failures, last_failure_at) VALUES (\(bind: user.id), 1, \(bind: stamp))
                ON CONFLICT (user_id) DO UPDATE SET
                failures = CASE WHEN identity_auth_failures.last_failure_at < \(bind: expired) THEN 1 ELSE identity_auth_failures.failures + 1 END,
                last_failure_at = \(bind: stamp)
                """)
        }
    }

    func clearAuthFailures(_ user: User) async throws {
        guard lockoutApplies(user) else { return }
        try await db.transaction { db in try await db.execute("DELETE FROM identity_auth_failures WHERE user_id = \(bind: user.id)") }
    }

    func checkPasswordNotExpired(_ user: User) throws {
        guard user.options["ignore_password_expiry"] != .bool(true), let e = user.passwordExpiresAt.flatMap(Timestamps.parse), e <= now else { return }
        throw NimbusError.unauthorized("The password is expired and needs to be changed for user: \(user.id).")
    }
}
