import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// An instance action (`os-instance-actions`): one per API request that changes a server, with
/// the events of the work it caused (`compute__do_build_and_run_instance` …).
public struct InstanceAction: Sendable, Equatable {
    public struct Event: Sendable, Equatable {
        public var name: String
        public var start: Date
        public var finish: Date?
        public var result: String?
        public var host: String?
        public var traceback: String?
    }

    public var id: String
    public var instanceID: String
    public var action: String
    public var requestID: String
    public var projectID: String
    public var userID: String
    public var message: String?
    public var start: Date
    public var finish: Date?
    public var updatedAt: Date
    public var events: [Event]
}

public struct ActionRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = "id, instance_id, action, request_id, project_id, user_id, message, start_time, finish_time, updated_at, events"

    static func decode(_ row: any SQLRow) throws -> InstanceAction {
        let events = (try? JSONValue.parse(Array(try row.decode(column: "events", as: String.self).utf8)))?.arrayValue ?? []
        return InstanceAction(
            id: try row.decode(column: "id", as: String.self), instanceID: try row.decode(column: "instance_id", as: String.self),
            action: try row.decode(column: "action", as: String.self), requestID: try row.decode(column: "request_id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self), userID: try row.decode(column: "user_id", as: String.self),
            message: try row.decode(column: "message", as: String?.self), start: Micros.date(try row.decode(column: "start_time", as: Int64.self)),
            finish: try row.decode(column: "finish_time", as: Int64?.self).map(Micros.date),
            updatedAt: Micros.date(try row.decode(column: "updated_at", as: Int64.self)),
            events: events.map { e in
                InstanceAction.Event(name: e["name"]?.stringValue ?? "", start: Micros.date(e["start"]?.intValue ?? 0),
                                     finish: e["finish"]?.intValue.map(Micros.date), result: e["result"]?.stringValue,
                                     host: e["host"]?.stringValue, traceback: e["traceback"]?.stringValue)
            })
    }

    static func encode(_ events: [InstanceAction.Event]) -> String {
        JSONValue.array(events.map { e in
            ["name": .string(e.name), "start": .int(Micros.of(e.start)), "finish": e.finish.map { .int(Micros.of($0)) } ?? .null,
             "result": JSONValue(e.result), "host": JSONValue(e.host), "traceback": JSONValue(e.traceback)]
        }).serializedString()
    }

    /// Records the start of an action on `instance`.
    @discardableResult
    public func start(_ instance: Instance, action: String, requestID: String, caller: AuthContext) async throws -> InstanceAction {
        try await start(instance, action: action, requestID: requestID, projectID: caller.projectID ?? instance.projectID, userID: caller.user.id)
    }

    /// Records the start of an action a service asked for (`userID` of `projectID`).
    @discardableResult
    public func start(_ instance: Instance, action: String, requestID: String, projectID: String, userID: String) async throws -> InstanceAction {
        let now = Date()
        let a = InstanceAction(id: Identifiers.uuid(), instanceID: instance.id, action: action, requestID: requestID,
                               projectID: projectID, userID: userID, message: nil, start: now, finish: nil,
                               updatedAt: now, events: [])
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO compute_instance_actions (\(unsafeRaw: Self.columns)) VALUES (\(bind: a.id), \(bind: a.instanceID), \(bind: a.action),
                \(bind: a.requestID), \(bind: a.projectID), \(bind: a.userID), \(bind: a.message), \(bind: Micros.of(a.start)), \(bind: nil as Int64?),
                \(bind: Micros.of(a.updatedAt)), '[]')
                """).run()
        }
        return a
    }

    /// The instance's latest action named `action` that has not finished.
    func latestOpen(_ instanceID: String, action: String?) async throws -> InstanceAction? {
        let filter: SQLQueryString = action.map { "AND action = \(bind: $0)" } ?? ""
        return try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instance_actions WHERE instance_id = \(bind: instanceID) AND finish_time IS NULL \(filter)
            ORDER BY start_time DESC, id DESC LIMIT 1
            """).first().map(Self.decode)
    }

    /// Finishes every open action `action` of the instance, with event `name` ended `result`.
    public func finishOpen(_ instanceID: String, action: String, name: String, host: String?, result: String) async throws {
        let now = Date()
        try await database.transaction { db in
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM compute_instance_actions WHERE instance_id = \(bind: instanceID) AND finish_time IS NULL
                AND action = \(bind: action)
                """).all()
            for row in rows {
                var a = try Self.decode(row)
                if let i = a.events.lastIndex(where: { $0.name == name && $0.finish == nil }) {
                    a.events[i].finish = now
                    a.events[i].result = result
                } else {
                    a.events.append(.init(name: name, start: now, finish: now, result: result, host: host, traceback: nil))
                }
                try await db.raw("""
                    UPDATE compute_instance_actions SET events = \(bind: Self.encode(a.events)), finish_time = \(bind: Micros.of(now)),
                    updated_at = \(bind: Micros.of(now)) WHERE id = \(bind: a.id)
                    """).run()
            }
        }
    }

    /// Adds or finishes an event of the instance's latest open action (`action`, or any).
    public func event(_ instanceID: String, action: String? = nil, name: String, host: String?, result: String? = nil,
                      traceback: String? = nil, finishAction: Bool = false, message: String? = nil) async throws {
        guard let open = try await latestOpen(instanceID, action: action) else { return }
        let now = Date()
        try await database.transaction { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_instance_actions WHERE id = \(bind: open.id)").first() else { return }
            var a = try Self.decode(row)
            if let i = a.events.lastIndex(where: { $0.name == name && $0.finish == nil }) {
                if result != nil {
                    a.events[i].finish = now
                    a.events[i].result = result
                    a.events[i].traceback = traceback
                }
            } else {
                a.events.append(.init(name: name, start: now, finish: result == nil ? nil : now, result: result, host: host, traceback: traceback))
            }
            if finishAction { a.finish = now }
            if let message { a.message = message }
            try await db.raw("""
                UPDATE compute_instance_actions SET events = \(bind: Self.encode(a.events)), finish_time = \(bind: a.finish.map(Micros.of)),
                message = \(bind: a.message), updated_at = \(bind: Micros.of(now)) WHERE id = \(bind: a.id)
                """).run()
        }
    }

    /// The instance's actions, newest first.
    public func list(_ instanceID: String) async throws -> [InstanceAction] {
        try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.columns) FROM compute_instance_actions WHERE instance_id = \(bind: instanceID) ORDER BY start_time DESC, id DESC
            """).all().map(Self.decode)
    }
}
