import Foundation
import NimbusCore
import SQLKit

public struct UserInput: Sendable {
    public var name: String?
    public var domainID: String?
    public var password: String??
    public var enabled: Bool?
    public var defaultProjectID: String??
    public var extra: JSONObject = [:]
    public var options: JSONObject?
    public init() {}
}

public struct User: Sendable {
    public var id: String
    public var name: String
    public var domainID: String
    public var enabled: Bool
    public var defaultProjectID: String?
    public var passwordExpiresAt: String?
    public var extra: JSONObject
    public var options: JSONObject
    var passwordHash: String?
}

public struct Group: Sendable {
    public var id: String
    public var name: String
    public var domainID: String
    /// nil for an explicit null (Keystone keeps it); a group created without one has "".
    public var description: String?
    public var extra: JSONObject
}

extension IdentityService {
    static let userColumns = "id, domain_id, name, enabled, default_project_id, password_hash, password_created_at, password_expires_at, extra, options, created_at, last_active_at"

    func makeUser(_ r: UserRecord) -> User {
        User(id: r.id, name: r.name, domainID: r.domainId, enabled: r.enabled, defaultProjectID: r.defaultProjectId,
             passwordExpiresAt: r.passwordExpiresAt, extra: decodeJSONColumn(r.extra), options: decodeJSONColumn(r.options),
             passwordHash: r.passwordHash)
    }

    public func user(_ id: String) async throws -> User? {
        try await db.sql.record(UserRecord.self, "SELECT \(unsafeRaw: Self.userColumns) FROM identity_users WHERE id = \(bind: id)").map(makeUser)
    }

    public func requireUser(_ id: String) async throws -> User {
        guard let u = try await user(id) else { throw NimbusError.notFound("Could not find user: \(id).") }
        return u
    }

    public func user(named name: String, domainID: String) async throws -> User? {
        try await db.sql.record(UserRecord.self, "SELECT \(unsafeRaw: Self.userColumns) FROM identity_users WHERE name = \(bind: name) AND domain_id = \(bind: domainID)").map(makeUser)
    }

    public func listUsers(name: String?, domainID: String?, enabled: Bool?) async throws -> [User] {
        var q = SQLQueryString("SELECT \(unsafeRaw: Self.userColumns) FROM identity_users WHERE 1 = 1")
        if let v = name { q.appendInterpolation(unsafeRaw: " AND name = "); q.appendInterpolation(bind: v) }
        if let v = domainID { q.appendInterpolation(unsafeRaw: " AND domain_id = "); q.appendInterpolation(bind: v) }
        if let v = enabled { q.appendInterpolation(unsafeRaw: " AND enabled = "); q.appendInterpolation(bind: v) }
        // Sorted here: PostgreSQL would order by its collation, not by bytes.
        return try await db.sql.records(UserRecord.self, q).map(makeUser).sortedByBytes(\.name)
    }

    public func createUser(_ input: UserInput, defaultDomainID: String) async throws -> User {
        guard let name = input.name, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw NimbusError.badRequest("Invalid input for field 'name': 'name' is a required property")
        }
        let domainID = input.domainID ?? defaultDomainID
        guard try await domain(domainID) != nil else { throw NimbusError.notFound("Could not find domain: \(domainID).") }
        if case .some(.some(let pid)) = input.defaultProjectID, try await project(pid) == nil {
            throw NimbusError.notFound("Could not find project: \(pid).")
        }
        var hash: String?
        if case .some(.some(let pw)) = input.password {
            try checkPasswordStrength(pw)
            hash = try await hasher.hash(pw)
        }
        let record = UserRecord(
            id: Identifiers.hex32(), domainId: domainID, name: name, enabled: input.enabled ?? true,
            defaultProjectId: input.defaultProjectID ?? nil, passwordHash: hash, passwordCreatedAt: hash == nil ? nil : nowString,
            passwordExpiresAt: hash == nil ? nil : passwordExpiry(selfService: false, options: input.options ?? [:]),
            extra: encodeJSONColumn(input.extra), options: encodeJSONColumn(Self.mergingOptions([:], input.options)),
            createdAt: nowString, lastActiveAt: nil)
        do {
            try await write { db in
                try await db.insertRecord("identity_users", record)
                if let hash = record.passwordHash { try await Self.recordPasswordHistory(db, userID: record.id, hash: hash, at: record.createdAt) }
            }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Conflict occurred attempting to store user - Duplicate entry found with name \(name) at domain ID \(domainID).")
        }
        return makeUser(record)
    }

    public func updateUser(_ id: String, _ input: UserInput, selfService: Bool = false) async throws -> User {
        guard var r = try await db.sql.record(UserRecord.self, "SELECT \(unsafeRaw: Self.userColumns) FROM identity_users WHERE id = \(bind: id)") else {
            throw NimbusError.notFound("Could not find user: \(id).")
        }
        if let d = input.domainID, !d.sameBytes(as: r.domainId) { throw NimbusError.badRequest("Cannot change the domain_id of a user.") }
        if let n = input.name {
            guard !n.isEmpty else { throw NimbusError.badRequest("Invalid input for field 'name': '' is too short") }
            r.name = n
        }
        let disabling = input.enabled == false && r.enabled
        if let e = input.enabled { r.enabled = e }
        if let pid = input.defaultProjectID {
            if let pid, try await project(pid) == nil { throw NimbusError.notFound("Could not find project: \(pid).") }
            r.defaultProjectId = pid
        }
        var passwordChanged = false
        if let pw = input.password {
            if let pw {
                if !selfService { try checkPasswordStrength(pw) }
                r.passwordHash = try await hasher.hash(pw)
                r.passwordExpiresAt = passwordExpiry(selfService: selfService, options: Self.mergingOptions(decodeJSONColumn(r.options), input.options))
            } else {
                r.passwordHash = nil
                r.passwordExpiresAt = nil
            }
            r.passwordCreatedAt = nowString
            passwordChanged = true
        }
        if !input.extra.isEmpty {
            r.extra = encodeJSONColumn(try Self.mergingExtras(decodeJSONColumn(r.extra), input.extra, nullRemoves: true))
        }
        if let o = input.options { r.options = encodeJSONColumn(Self.mergingOptions(decodeJSONColumn(r.options), o)) }
        let updated = r
        let recordHistory = passwordChanged
        do {
            try await write { db in
                try await db.execute("""
                    UPDATE identity_users SET name = \(bind: updated.name), enabled = \(bind: updated.enabled),
                    default_project_id = \(bind: updated.defaultProjectId), password_hash = \(bind: updated.passwordHash),
                    password_created_at = \(bind: updated.passwordCreatedAt), password_expires_at = \(bind: updated.passwordExpiresAt),
                    extra = \(bind: updated.extra), options = \(bind: updated.options)
                    WHERE id = \(bind: id)
                    """)
                if recordHistory, let hash = updated.passwordHash {
                    try await Self.recordPasswordHistory(db, userID: id, hash: hash, at: updated.passwordCreatedAt ?? "")
                }
            }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Conflict occurred attempting to store user - Duplicate entry found with name \(updated.name) at domain ID \(updated.domainId).")
        }
        if disabling || passwordChanged { try await revoke(.user, id) }
        return makeUser(updated)
    }

    /// The self-service password change: the original password is authenticated as a login is
    /// (Keystone's `change_password` calls `authenticate`), so a locked account is refused and a
    /// wrong original password counts towards the lockout; an expired password may be changed.
    public func changePassword(userID: String, original: String, new: String) async throws {
        guard let record = try await db.sql.record(UserRecord.self, "SELECT \(unsafeRaw: Self.userColumns) FROM identity_users WHERE id = \(bind: userID)") else {
            throw NimbusError.unauthorized("The request you have made requires authentication.")
        }
        let user = makeUser(record)
        try await authenticate(user, password: original, allowExpired: true)
        try await checkSelfServiceChange(user, newPassword: new, passwordCreatedAt: record.passwordCreatedAt)
        var input = UserInput()
        input.password = .some(new)
        _ = try await updateUser(userID, input, selfService: true)
    }

    public func deleteUser(_ id: String) async throws {
        guard try await user(id) != nil else { throw NimbusError.notFound("Could not find user: \(id).") }
        struct TrustID: Decodable { let id: String }
        let trusts = try await db.sql.records(TrustID.self, "SELECT id FROM identity_trusts WHERE trustor_user_id = \(bind: id) OR trustee_user_id = \(bind: id)")
        try await write { db in
            try await db.execute("DELETE FROM identity_trusts WHERE trustor_user_id = \(bind: id) OR trustee_user_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_assignments WHERE actor_type = 'user' AND actor_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_credentials WHERE user_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_users WHERE id = \(bind: id)")
        }
        try await revoke(.user, id)
        for t in trusts { try await revoke(.trust, t.id) }
    }

    // MARK: Groups

    static let groupColumns = "id, domain_id, name, description, has_description, extra"

    func makeGroup(_ r: GroupRecord) -> Group {
        Group(id: r.id, name: r.name, domainID: r.domainId, description: r.hasDescription ? r.description : nil, extra: decodeJSONColumn(r.extra))
    }

    public func group(_ id: String) async throws -> Group? {
        try await db.sql.record(GroupRecord.self, "SELECT \(unsafeRaw: Self.groupColumns) FROM identity_groups WHERE id = \(bind: id)").map(makeGroup)
    }

    public func requireGroup(_ id: String) async throws -> Group {
        guard let g = try await group(id) else { throw NimbusError.notFound("Could not find group: \(id).") }
        return g
    }

    public func listGroups(name: String?, domainID: String?) async throws -> [Group] {
        var q = SQLQueryString("SELECT \(unsafeRaw: Self.groupColumns) FROM identity_groups WHERE 1 = 1")
        if let v = name { q.appendInterpolation(unsafeRaw: " AND name = "); q.appendInterpolation(bind: v) }
        if let v = domainID { q.appendInterpolation(unsafeRaw: " AND domain_id = "); q.appendInterpolation(bind: v) }
        return try await db.sql.records(GroupRecord.self, q).map(makeGroup).sortedByBytes(\.name)
    }

    /// `description`: nil when absent (""), `.some(nil)` for an explicit null.
    public func createGroup(name: String, domainID: String, description: String??, extra: JSONObject) async throws -> Group {
        guard try await domain(domainID) != nil else { throw NimbusError.notFound("Could not find domain: \(domainID).") }
        let r = GroupRecord(id: Identifiers.hex32(), domainId: domainID, name: name, description: (description ?? "") ?? "",
                            hasDescription: description.map { $0 != nil } ?? true, extra: encodeJSONColumn(extra))
        do {
            try await write { db in try await db.insertRecord("identity_groups", r) }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Conflict occurred attempting to store group - Duplicate entry found with name \(name) at domain ID \(domainID).")
        }
        return makeGroup(r)
    }

    public func updateGroup(_ id: String, name: String?, description: String??, domainID: String?, extra: JSONObject) async throws -> Group {
        guard var g = try await group(id) else { throw NimbusError.notFound("Could not find group: \(id).") }
        if let d = domainID, !d.sameBytes(as: g.domainID) { throw NimbusError.badRequest("Cannot change the domain_id of a group.") }
        if let n = name { g.name = n }
        if let d = description { g.description = d }
        g.extra = try Self.mergingExtras(g.extra, extra)
        let updated = g
        try await write { db in
            try await db.execute("""
                UPDATE identity_groups SET name = \(bind: updated.name), description = \(bind: updated.description ?? ""),
                has_description = \(bind: updated.description != nil), extra = \(bind: encodeJSONColumn(updated.extra)) WHERE id = \(bind: id)
                """)
        }
        return updated
    }

    public func deleteGroup(_ id: String) async throws {
        _ = try await requireGroup(id)
        try await write { db in
            try await db.execute("DELETE FROM identity_assignments WHERE actor_type = 'group' AND actor_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_groups WHERE id = \(bind: id)")
        }
    }

    public func addUser(_ userID: String, toGroup groupID: String) async throws {
        _ = try await requireGroup(groupID)
        _ = try await requireUser(userID)
        try await write { db in
            try await db.execute("INSERT INTO identity_memberships (user_id, group_id) VALUES (\(bind: userID), \(bind: groupID)) ON CONFLICT DO NOTHING")
        }
    }

    public func removeUser(_ userID: String, fromGroup groupID: String) async throws {
        _ = try await requireGroup(groupID)
        _ = try await requireUser(userID)
        guard try await isMember(userID, groupID) else {
            throw NimbusError.notFound("User '\(userID)' not found in group '\(groupID)'")
        }
        try await write { db in
            try await db.execute("DELETE FROM identity_memberships WHERE user_id = \(bind: userID) AND group_id = \(bind: groupID)")
        }
    }

    public func isMember(_ userID: String, _ groupID: String) async throws -> Bool {
        try await db.sql.raw("SELECT user_id FROM identity_memberships WHERE user_id = \(bind: userID) AND group_id = \(bind: groupID)").first() != nil
    }

    public func groupIDs(ofUser userID: String) async throws -> [String] {
        struct Row: Decodable { let groupId: String }
        return try await db.sql.records(Row.self, "SELECT group_id FROM identity_memberships WHERE user_id = \(bind: userID)").map(\.groupId)
    }

    public func groups(ofUser userID: String) async throws -> [Group] {
        try await db.sql.records(GroupRecord.self, """
            SELECT g.id, g.domain_id, g.name, g.description, g.has_description, g.extra FROM identity_groups g
            JOIN identity_memberships m ON m.group_id = g.id WHERE m.user_id = \(bind: userID)
            """).map(makeGroup).sortedByBytes(\.name)
    }

    public func users(inGroup groupID: String) async throws -> [User] {
        try await db.sql.records(UserRecord.self, """
            SELECT u.id, u.domain_id, u.name, u.enabled, u.default_project_id, u.password_hash, u.password_created_at,
            u.password_expires_at, u.extra, u.options, u.created_at, u.last_active_at FROM identity_users u
            JOIN identity_memberships m ON m.user_id = u.id WHERE m.group_id = \(bind: groupID)
            """).map(makeUser).sortedByBytes(\.name)
    }
}
