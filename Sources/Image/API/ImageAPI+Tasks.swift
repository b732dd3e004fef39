import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// The deprecated `/v2/tasks` API (admin-only by `tasks_api_access`, as in Glance).
extension ImageAPI {
    static func legacyTask(_ t: ImageTask, detail: Bool) -> JSONValue {
        var o: JSONObject = ["id": .string(t.id), "type": .string(t.type), "status": .string(t.status.rawValue), "owner": t.owner.map { .string($0) } ?? .null,
                             "created_at": MetadefViews.date(t.createdAt), "updated_at": MetadefViews.date(t.updatedAt),
                             "self": .string("/v2/tasks/\(t.id)"), "schema": "/v2/schemas/task"]
        if let e = t.expiresAt { o["expires_at"] = MetadefViews.date(e) }
        guard detail else { return .object(o) }
        o["input"] = t.input
        o["result"] = t.result ?? .null
        o["message"] = .string(t.message)
        if !t.imageID.isEmpty { o["image_id"] = .string(t.imageID) }
        if let r = t.requestID { o["request_id"] = .string(r) }
        if let u = t.userID { o["user_id"] = .string(u) }
        return .object(o)
    }

    func addTaskRoutes(_ t: inout RouteTable) {
        t.get("/v2/tasks") { req, ctx in
            let c = try self.caller(ctx)
            try self.authorize("tasks_api_access", c, self.projectTarget(c))
            let pairs = req.queryString.pairs
            let (page, more) = try await self.service.legacyTasks(try ImageService.TaskListing(query: pairs), caller: c.image)
            let rest = pairs.filter { $0.0 != "marker" }
            var body: JSONObject = ["tasks": .array(page.map { Self.legacyTask($0, detail: false) }), "schema": "/v2/schemas/tasks",
                                    "first": .string("/v2/tasks" + Self.query(rest))]
            if more, let last = page.last { body["next"] = .string("/v2/tasks" + Self.query(rest + [("marker", last.id)])) }
            return .json(.object(body))
        }
        t.post("/v2/tasks") { req, ctx in
            let c = try self.caller(ctx)
            try self.authorize("tasks_api_access", c, self.projectTarget(c))
            let body = try await Self.metadefBody(req, ctx)
            let caller = ImageService.ImportCaller(projectID: c.image.projectID, userID: c.auth.user.id, requestID: ctx.requestID)
            let task = try await self.service.createLegacyTask(body, caller: caller)
            var h = HTTPFields()
            h[.location] = "/v2/tasks/\(task.id)"
            return .json(Self.legacyTask(task, detail: true), status: .created, headers: h)
        }
        t.get("/v2/tasks/{task_id}") { req, ctx in
            let c = try self.caller(ctx)
            try self.authorize("tasks_api_access", c, self.projectTarget(c))
            return .json(Self.legacyTask(try await self.service.legacyTask(try Self.nonEmpty(ctx, "task_id"), caller: c.image), detail: true))
        }
        t.delete("/v2/tasks/{task_id}") { req, ctx in
            let c = try self.caller(ctx)
            try self.authorize("tasks_api_access", c, self.projectTarget(c))
            throw NimbusError(.methodNotAllowed, "This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.")
        }
    }
}
