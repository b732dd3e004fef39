import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Import tasks in the SQL store (table `image_tasks`).
extension ImageRepository {
    static let taskColumns = "id, image_id, type, status, owner, user_id, request_id, input, result, message, created_at, updated_at, expires_at"

    static func decodeTask(_ row: any SQLRow) throws -> ImageTask {
        let date = { (c: String) throws -> Date in Date(timeIntervalSince1970: TimeInterval(try row.decode(column: c, as: Int64.self))) }
        let input = (try? JSONValue.parse(Array(try row.decode(column: "input", as: String.self).utf8))) ?? .object([:])
        var t = ImageTask(id: try row.decode(column: "id", as: String.self), imageID: try row.decode(column: "image_id", as: String.self),
                          owner: try row.decode(column: "owner", as: String?.self), userID: try row.decode(column: "user_id", as: String?.self),
                          requestID: try row.decode(column: "request_id", as: String?.self), input: input, now: try date("created_at"))
        t.type = try row.decode(column: "type", as: String.self)
        t.status = ImageTask.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .failure
        t.result = try row.decode(column: "result", as: String?.self).flatMap { try? JSONValue.parse(Array($0.utf8)) }
        t.message = try row.decode(column: "message", as: String.self)
        t.updatedAt = try date("updated_at")
        t.expiresAt = try row.decode(column: "expires_at", as: Int64?.self).map { Date(timeIntervalSince1970: TimeInterval($0)) }
        return t
    }

    static func json(_ v: JSONValue) -> String { String(decoding: v.serialized(), as: UTF8.self) }

    public func insertTask(_ t: ImageTask) async throws {
        try await database.sql.raw("""
            INSERT INTO image_tasks (\(unsafeRaw: Self.taskColumns)) VALUES (\(bind: t.id), \(bind: t.imageID), \(bind: t.type), \(bind: t.status.rawValue),
            \(bind: t.owner), \(bind: t.userID), \(bind: t.requestID), \(bind: Self.json(t.input)), \(bind: t.result.map(Self.json)), \(bind: t.message),
            \(bind: Self.seconds(t.createdAt)), \(bind: Self.seconds(t.updatedAt)), \(bind: t.expiresAt.map(Self.seconds)))
            """).run()
    }

    public func updateTask(_ t: ImageTask) async throws {
        try await database.sql.raw("""
            UPDATE image_tasks SET status = \(bind: t.status.rawValue), result = \(bind: t.result.map(Self.json)), message = \(bind: t.message),
            updated_at = \(bind: Self.seconds(t.updatedAt)), expires_at = \(bind: t.expiresAt.map(Self.seconds)) WHERE id = \(bind: t.id)
            """).run()
    }

    public func task(_ id: String) async throws -> ImageTask? {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.taskColumns) FROM image_tasks WHERE id = \(bind: id)").first().map(Self.decodeTask)
    }

    /// The image's tasks that have not expired, oldest first.
    public func tasks(of imageID: String, now: Date) async throws -> [ImageTask] {
        try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.taskColumns) FROM image_tasks WHERE image_id = \(bind: imageID)
            AND (expires_at IS NULL OR expires_at > \(bind: Self.seconds(now))) ORDER BY created_at, id
            """).all().map(Self.decodeTask)
    }

    /// Tasks a crash interrupted.
    public func unfinishedTasks() async throws -> [ImageTask] {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.taskColumns) FROM image_tasks WHERE status IN ('pending', 'processing') ORDER BY created_at")
            .all().map(Self.decodeTask)
    }
}

extension ImageRepository {
    /// Every task that has not expired (the tasks API lists them; they are few: each expires
    /// 48 hours after it ends).
    public func allTasks(now: Date) async throws -> [ImageTask] {
        try await database.sql.raw("""
            SELECT \(unsafeRaw: Self.taskColumns) FROM image_tasks WHERE expires_at IS NULL OR expires_at > \(bind: Self.seconds(now))
            """).all().map(Self.decodeTask)
    }
}
