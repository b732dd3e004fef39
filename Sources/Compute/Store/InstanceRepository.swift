import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Instances in SQL. Columns hold what lists filter and sort on; `doc` (JSON) holds the rest
/// (the flavor copy, metadata, tags, user data, fault, the desired state). Deleted instances keep
/// their row (`deleted`), as Nova's soft-deleted rows do, for `deleted=true` listings and usage.
public struct InstanceRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = """
        id, project_id, user_id, name, hostname, description, image_id, flavor, key_name, vm_state, task_state, power_state, host, node, \
        availability_zone, locked, locked_reason, launched_at, terminated_at, created_at, updated_at, deleted_at, deleted, reservation_id, \
        launch_index, doc
        """

    static func decode(_ row: any SQLRow) throws -> Instance {
        let flavorDoc = try JSONValue.parse(Array(try row.decode(column: "flavor", as: String.self).utf8))
        var i = Instance(id: try row.decode(column: "id", as: String.self), projectID: try row.decode(column: "project_id", as: String.self),
                         userID: try row.decode(column: "user_id", as: String.self), name: try row.decode(column: "name", as: String.self),
                         flavor: FlavorDocument.decode(flavorDoc), now: Micros.date(try row.decode(column: "created_at", as: Int64.self)))
        i.hostname = try row.decode(column: "hostname", as: String.self)
        i.description = try row.decode(column: "description", as: String?.self)
        i.imageID = try row.decode(column: "image_id", as: String?.self)
        i.keyName = try row.decode(column: "key_name", as: String?.self)
        i.vmState = VMState(rawValue: try row.decode(column: "vm_state", as: String.self)) ?? .error
        i.taskState = try row.decode(column: "task_state", as: String?.self).flatMap(TaskState.init)
        i.powerState = try row.decode(column: "power_state", as: Int.self)
        i.host = try row.decode(column: "host", as: String?.self)
        i.node = try row.decode(column: "node", as: String?.self)
        i.availabilityZone = try row.decode(column: "availability_zone", as: String?.self)
        i.locked = try row.decode(column: "locked", as: Bool.self)
        i.lockedReason = try row.decode(column: "locked_reason", as: String?.self)
        i.launchedAt = try row.decode(column: "launched_at", as: Int64?.self).map(Micros.date)
        i.terminatedAt = try row.decode(column: "terminated_at", as: Int64?.self).map(Micros.date)
        i.updatedAt = Micros.date(try row.decode(column: "updated_at", as: Int64.self))
        i.deletedAt = try row.decode(column: "deleted_at", as: Int64?.self).map(Micros.date)
        i.deleted = try row.decode(column: "deleted", as: Bool.self)
        i.reservationID = try row.decode(column: "reservation_id", as: String.self)
        i.launchIndex = try row.decode(column: "launch_index", as: Int.self)
        InstanceDocument.apply(try JSONValue.parse(Array(try row.decode(column: "doc", as: String.self).utf8)), to: &i)
        return i
    }

    /// A server group the new instances join, with the user's `server_group_members` limit.
    public struct GroupJoin: Sendable {
        public var groupID: String
        public var user: String
        public var limit: Int
        public init(groupID: String, user: String, limit: Int) { self.groupID = groupID; self.user = user; self.limit = limit }
    }

    /// Inserts the instances and, with `group`, makes them members of it in the same
    /// transaction: 403 when the user's live members of the group would pass the limit, 400
    /// when the group is gone; nothing is written then.
    public func insert(_ instances: [Instance], group: GroupJoin? = nil) async throws {
        try await database.transaction { db in
            for i in instances { try await Self.write(db, i, insert: true) }
            guard let g = group else { return }
            for i in instances {
                if g.limit >= 0, try await ServerGroupRepository.memberCount(db, groupID: g.groupID, user: g.user) + 1 > g.limit {
                    throw NimbusError.forbidden("Quota exceeded, too many servers in group")
                }
                guard try await ServerGroupRepository.insertMember(db, groupID: g.groupID, instanceID: i.id) else {
                    throw NimbusError.badRequest("Instance group \(g.groupID) could not be found.")
                }
            }
        }
    }

    static func write(_ db: any SQLDatabase, _ i: Instance, insert: Bool) async throws {
        let flavor = FlavorDocument.encode(i.flavor).serializedString()
        let doc = InstanceDocument.encode(i).serializedString()
        if insert {
            try await db.raw("""
                INSERT INTO compute_instances (\(unsafeRaw: columns)) VALUES (\(bind: i.id), \(bind: i.projectID), \(bind: i.userID), \(bind: i.name),
                \(bind: i.hostname), \(bind: i.description), \(bind: i.imageID), \(bind: flavor), \(bind: i.keyName), \(bind: i.vmState.rawValue),
                \(bind: i.taskState?.rawValue), \(bind: i.powerState), \(bind: i.host), \(bind: i.node), \(bind: i.availabilityZone), \(bind: i.locked),
                \(bind: i.lockedReason), \(bind: i.launchedAt.map(Micros.of)), \(bind: i.terminatedAt.map(Micros.of)), \(bind: Micros.of(i.createdAt)),
                \(bind: Micros.of(i.updatedAt)), \(bind: i.deletedAt.map(Micros.of)), \(bind: i.deleted), \(bind: i.reservationID),
                \(bind: i.launchIndex), \(bind: doc))
                """).run()
        } else {
            try await db.raw("""
                UPDATE compute_instances SET name = \(bind: i.name), hostname = \(bind: i.hostname), description = \(bind: i.description),
                image_id = \(bind: i.imageID), flavor = \(bind: flavor), key_name = \(bind: i.keyName), vm_state = \(bind: i.vmState.rawValue),
                task_state = \(bind: i.taskState?.rawValue), power_state = \(bind: i.powerState), host = \(bind: i.host), node = \(bind: i.node),
                availability_zone = \(bind: i.availabilityZone), locked = \(bind: i.locked), locked_reason = \(bind: i.lockedReason),
                launched_at = \(bind: i.launchedAt.map(Micros.of)), terminated_at = \(bind: i.terminatedAt.map(Micros.of)),
                updated_at = \(bind: Micros.of(i.updatedAt)), deleted_at = \(bind: i.deletedAt.map(Micros.of)), deleted = \(bind: i.deleted),
                doc = \(bind: doc) WHERE id = \(bind: i.id)
                """).run()
        }
    }

    public func get(_ id: String) async throws -> Instance? {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE id = \(bind: id)").first().map(Self.decode)
    }

    /// One read-modify-write of the current row in a transaction (locked on PostgreSQL; SQLite
    /// serializes writers), so concurrent changes (an API action and an agent report) are not
    /// lost. `change` may throw to refuse (a state check); nil when there is no such instance.
    public func modify(_ id: String, _ change: @escaping @Sendable (inout Instance) throws -> Void) async throws -> Instance? {
        let lock = database.engine == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE id = \(bind: id)\(unsafeRaw: lock)").first() else {
                return nil
            }
            var i = try Self.decode(row)
            try change(&i)
            i.updatedAt = max(Date(), i.updatedAt)
            try await Self.write(db, i, insert: false)
            return i
        }
    }

    /// Instances a listing may show, newest first (Nova's default `created_at desc`), filtered
    /// by the columns; the API applies the rest.
    public struct Query: Sendable {
        public var projectID: String?
        public var userID: String?
        public var host: String?
        public var includeDeleted = false
        public var onlyDeleted = false
        public var changesSince: Date?
        public var reservationID: String?
        /// Only instances after this one in the listing order (a page's marker).
        public var after: (createdAt: Date, id: String)?
        /// At most this many rows.
        public var limit: Int?
        /// Only this instance (is it visible to the query?).
        public var id: String?
        public init() {}
    }

    public func list(_ q: Query) async throws -> [Instance] {
        var sql = SQLQueryString("SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE 1 = 1")
        if let p = q.projectID { sql.appendInterpolation(" AND project_id = \(bind: p)" as SQLQueryString) }
        if let u = q.userID { sql.appendInterpolation(" AND user_id = \(bind: u)" as SQLQueryString) }
        if let h = q.host { sql.appendInterpolation(" AND host = \(bind: h)" as SQLQueryString) }
        if let r = q.reservationID { sql.appendInterpolation(" AND reservation_id = \(bind: r)" as SQLQueryString) }
        if q.onlyDeleted { sql.appendInterpolation(" AND deleted = \(bind: true)" as SQLQueryString) }
        else if !q.includeDeleted { sql.appendInterpolation(" AND deleted = \(bind: false)" as SQLQueryString) }
        if let since = q.changesSince { sql.appendInterpolation(" AND updated_at >= \(bind: Micros.of(since))" as SQLQueryString) }
        if let id = q.id { sql.appendInterpolation(" AND id = \(bind: id)" as SQLQueryString) }
        if let a = q.after {
            let t = Micros.of(a.createdAt)
            sql.appendInterpolation(" AND (created_at < \(bind: t) OR (created_at = \(bind: t) AND id < \(bind: a.id)))" as SQLQueryString)
        }
        sql.appendInterpolation(" ORDER BY created_at DESC, id DESC" as SQLQueryString)
        if let l = q.limit { sql.appendInterpolation(" LIMIT \(bind: max(0, l))" as SQLQueryString) }
        return try await database.sql.raw(sql).all().map(Self.decode)
    }

    /// Instances placed on `host` that are not deleted (what its compute node converges).
    public func assigned(to host: String) async throws -> [Instance] {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE host = \(bind: host) AND deleted = \(bind: false)")
            .all().map(Self.decode)
    }

    /// Live instances that have volume `volumeID` (Nova's `BlockDeviceMappingList.get_by_volume`);
    /// volume ids are UUIDs, so the text search finds the candidates and the documents decide.
    public func holding(volume volumeID: String) async throws -> [Instance] {
        guard UUIDText.isUUID(volumeID) else { return [] }
        return try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE deleted = \(bind: false) AND doc LIKE \(bind: "%" + volumeID + "%")
            """).all().map(Self.decode).filter { i in i.volumes.contains { $0.volumeID.sameBytes(as: volumeID) } }
    }

    /// Live instances in a task (the conductor's block device pass).
    public func inTask(_ task: TaskState) async throws -> [Instance] {
        try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instances WHERE task_state = \(bind: task.rawValue) AND deleted = \(bind: false)
            ORDER BY created_at
            """).all().map(Self.decode)
    }

    /// Deleted instances whose host has not destroyed their guest yet (a local delete while the
    /// host was down leaves the task `deleting`).
    public func deletedWhileDown(host: String) async throws -> [Instance] {
        try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instances
            WHERE host = \(bind: host) AND deleted = \(bind: true) AND task_state = \(bind: TaskState.deleting.rawValue)
            """).all().map(Self.decode)
    }

    /// Live instances, cores and RAM a project (and user) holds: what quotas count.
    public func usage(project: String, user: String? = nil) async throws -> (instances: Int, cores: Int, ramMB: Int) {
        var q = Query()
        q.projectID = project
        q.userID = user
        let live = try await list(q)
        return (live.count, live.reduce(0) { $0 + $1.flavor.vcpus }, live.reduce(0) { $0 + $1.flavor.memoryMB })
    }
}
