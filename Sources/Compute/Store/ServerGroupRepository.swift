import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Server groups and their members in SQL. Members are rows keyed by group and instance; a
/// member whose instance is deleted stays a row (as Nova's `instance_group_member` does) but is
/// never returned, counted or shown.
///
/// For the scheduler: `group(_:)` gives the policy, the rule and the live members; `hosts(of:)`
/// the hosts those members run on. For server create: `addMember(groupID:instanceID:)`, or
/// `ComputeService.addServerGroupMember` to check the `server_group_members` quota first.
public struct ServerGroupRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = "id, project_id, user_id, name, policy, rules, created_at"

    static func decode(_ row: any SQLRow) throws -> ServerGroup {
        let rules = (try? JSONValue.parse(Array(try row.decode(column: "rules", as: String.self).utf8))) ?? [:]
        return ServerGroup(id: try row.decode(column: "id", as: String.self), projectID: try row.decode(column: "project_id", as: String.self),
                           userID: try row.decode(column: "user_id", as: String.self), name: try row.decode(column: "name", as: String.self),
                           policy: ServerGroup.Policy(rawValue: try row.decode(column: "policy", as: String.self)) ?? .affinity,
                           maxServerPerHost: rules["max_server_per_host"]?.intValue.map { Int($0) },
                           createdAt: Micros.date(try row.decode(column: "created_at", as: Int64.self)))
    }

    /// Live members (instance not deleted) of `groups`, oldest first.
    func members(_ db: any SQLDatabase, of groups: [String]) async throws -> [Name: [String]] {
        guard !groups.isEmpty else { return [:] }
        var sql = SQLQueryString("""
            SELECT m.group_id, m.instance_id FROM compute_server_group_members m JOIN compute_instances i ON i.id = m.instance_id
            WHERE i.deleted = \(bind: false) AND m.group_id IN (
            """)
        for (n, g) in groups.enumerated() { sql.appendInterpolation(n == 0 ? "\(bind: g)" as SQLQueryString : ", \(bind: g)") }
        sql.appendInterpolation(") ORDER BY m.created_at, m.instance_id" as SQLQueryString)
        var out = [Name: [String]]()
        for row in try await db.raw(sql).all() {
            out[Name(try row.decode(column: "group_id", as: String.self)), default: []].append(try row.decode(column: "instance_id", as: String.self))
        }
        return out
    }

    func withMembers(_ db: any SQLDatabase, _ groups: [ServerGroup]) async throws -> [ServerGroup] {
        var out = groups
        for batch in stride(from: 0, to: out.count, by: 500) {
            let slice = out[batch..<min(out.count, batch + 500)]
            let members = try await members(db, of: slice.map(\.id))
            for i in slice.indices { out[i].members = members[Name(out[i].id)] ?? [] }
        }
        return out
    }

    public func create(_ g: ServerGroup) async throws {
        var rules: JSONObject = [:]
        if let m = g.maxServerPerHost { rules["max_server_per_host"] = .int(Int64(m)) }
        let doc = JSONValue.object(rules).serializedString()
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO compute_server_groups (\(unsafeRaw: Self.columns), updated_at) VALUES (\(bind: g.id), \(bind: g.projectID),
                \(bind: g.userID), \(bind: g.name), \(bind: g.policy.rawValue), \(bind: doc), \(bind: Micros.of(g.createdAt)), \(bind: nil as Int64?))
                """).run()
        }
    }

    /// The group with its live members; nil when there is none.
    public func group(_ id: String) async throws -> ServerGroup? {
        guard let row = try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_server_groups WHERE id = \(bind: id)").first() else {
            return nil
        }
        return try await withMembers(database.sql, [try Self.decode(row)]).first
    }

    /// The group a live instance belongs to (Nova allows one), with its members.
    public func group(ofInstance instanceID: String) async throws -> ServerGroup? {
        guard let row = try await database.sql.raw("""
            SELECT group_id FROM compute_server_group_members WHERE instance_id = \(bind: instanceID) ORDER BY created_at LIMIT 1
            """).first() else { return nil }
        return try await group(try row.decode(column: "group_id", as: String.self))
    }

    /// Groups of one project (nil: every project), oldest first, with their live members.
    public func list(project: String?) async throws -> [ServerGroup] {
        var sql = SQLQueryString("SELECT \(unsafeRaw: Self.columns) FROM compute_server_groups")
        if let project { sql.appendInterpolation(" WHERE project_id = \(bind: project)" as SQLQueryString) }
        sql.appendInterpolation(" ORDER BY created_at, id" as SQLQueryString)
        let groups = try await database.sql.raw(sql).all().map(Self.decode)
        return try await withMembers(database.sql, groups)
    }

    /// Deletes the group and its member rows; false when there was none.
    public func delete(_ id: String) async throws -> Bool {
        try await database.transaction { db in
            try await db.raw("DELETE FROM compute_server_group_members WHERE group_id = \(bind: id)").run()
            return try await db.raw("DELETE FROM compute_server_groups WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }

    /// Server groups of a project (and user): what the `server_groups` quota counts.
    public func count(project: String, user: String? = nil) async throws -> Int {
        var sql = SQLQueryString("SELECT COUNT(*) AS n FROM compute_server_groups WHERE project_id = \(bind: project)")
        if let user { sql.appendInterpolation(" AND user_id = \(bind: user)" as SQLQueryString) }
        return try await database.sql.raw(sql).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Adds an instance to a group (idempotent). False when the group does not exist.
    @discardableResult
    public func addMember(groupID: String, instanceID: String) async throws -> Bool {
        try await database.transaction { db in
            try await Self.insertMember(db, groupID: groupID, instanceID: instanceID)
        }
    }

    static func insertMember(_ db: any SQLDatabase, groupID: String, instanceID: String) async throws -> Bool {
        guard try await db.raw("SELECT id FROM compute_server_groups WHERE id = \(bind: groupID)").first() != nil else { return false }
        try await db.raw("""
            INSERT INTO compute_server_group_members (group_id, instance_id, created_at) VALUES (\(bind: groupID), \(bind: instanceID),
            \(bind: Micros.of(Date()))) ON CONFLICT (group_id, instance_id) DO NOTHING
            """).run()
        return true
    }

    /// Live members of the group owned by `user` (what `server_group_members` counts).
    static func memberCount(_ db: any SQLDatabase, groupID: String, user: String) async throws -> Int {
        try await db.raw("""
            SELECT COUNT(*) AS n FROM compute_server_group_members m JOIN compute_instances i ON i.id = m.instance_id
            WHERE m.group_id = \(bind: groupID) AND i.deleted = \(bind: false) AND i.user_id = \(bind: user)
            """).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public enum MemberAddition: Sendable, Equatable { case added, overQuota, noSuchGroup }

    /// Adds a member unless the user's live members in the group already reach `limit` (-1:
    /// unlimited). Counted and inserted in one transaction.
    public func addMember(groupID: String, instanceID: String, user: String, limit: Int) async throws -> MemberAddition {
        try await database.transaction { db in
            if limit >= 0, try await Self.memberCount(db, groupID: groupID, user: user) + 1 > limit { return .overQuota }
            return try await Self.insertMember(db, groupID: groupID, instanceID: instanceID) ? .added : .noSuchGroup
        }
    }

    /// Removes an instance from its groups (e.g. when a build is abandoned).
    public func removeMember(instanceID: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM compute_server_group_members WHERE instance_id = \(bind: instanceID)").run()
        }
    }

    /// The hosts the group's live members run on, with how many members each (affinity filters).
    public func hosts(of groupID: String) async throws -> [Name: Int] {
        var out = [Name: Int]()
        let rows = try await database.sql.raw("""
            SELECT i.host FROM compute_server_group_members m JOIN compute_instances i ON i.id = m.instance_id
            WHERE m.group_id = \(bind: groupID) AND i.deleted = \(bind: false) AND i.host IS NOT NULL
            """).all()
        for row in rows { out[Name(try row.decode(column: "host", as: String.self)), default: 0] += 1 }
        return out
    }
}
