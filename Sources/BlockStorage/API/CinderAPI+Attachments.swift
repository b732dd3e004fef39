import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// The attachments API (`/attachments`, 3.27; `os-complete` 3.44), as Cinder's
/// `v3/attachments.py` answers.
extension CinderAPI {
    func attachmentView(_ a: JSONObject, detail: Bool) -> JSONObject {
        var o: JSONObject = ["id": a["id"] ?? .null, "status": a["attach_status"] ?? .null, "instance": a["instance_uuid"] ?? .null,
                             "volume_id": a["volume_id"] ?? .null]
        if detail {
            // Cinder's view writes an unset time as "".
            for (key, field) in [("attached_at", "attach_time"), ("detached_at", "detach_time")] {
                if case .string(let t)? = a[field] { o[key] = .string(t) } else { o[key] = "" }
            }
            o["attach_mode"] = a["attach_mode"] ?? .null
            o["connection_info"] = a["connection_info"] ?? .null
        }
        return o
    }

    func addAttachmentRoutes(_ t: inout RouteTable) {
        @Sendable func gate(_ v: CinderVersion, _ minor: Int = 27) throws {
            guard v.atLeast(minor) else { throw NimbusError.notFound("The resource could not be found.") }
        }
        for detail in [false, true] {
            route(&t, .get, detail ? "/attachments/detail" : "/attachments") { req, ctx, v in
                try gate(v)
                let c = try self.caller(ctx)
                let q = req.queryString
                let all = self.service.state.all(.attachment).filter { a in
                    guard c.isAdmin || a["project_id"]?.stringValue?.sameBytes(as: c.projectID) == true else { return false }
                    if let vid = q["volume_id"], a["volume_id"]?.stringValue != vid { return false }
                    if let i = q["instance_id"], a["instance_uuid"]?.stringValue != i { return false }
                    if let st = q["status"] ?? q["attach_status"], a["attach_status"]?.stringValue != st { return false }
                    return true
                }
                let (page, _) = try CinderListing(q, keys: ["created_at": "created_at", "id": "id", "volume_id": "volume_id",
                                                            "instance_id": "instance_uuid", "status": "attach_status"]).apply(all)
                return .json(["attachments": .array(page.map { .object(self.attachmentView($0, detail: detail)) })])
            }
        }
        route(&t, .get, "/attachments/{id}") { _, ctx, v in
            try gate(v)
            let c = try self.caller(ctx)
            return .json(["attachment": .object(self.attachmentView(try self.service.attachment(try ctx.parameter("id"), actor: c.actor), detail: true))])
        }
        route(&t, .post, "/attachments") { req, ctx, v in
            try gate(v)
            let c = try self.caller(ctx)
            let o = try Self.member(try await Self.body(req, ctx), "attachment", only: true)
            try CinderInput.only(o, v.atLeast(54) ? ["volume_uuid", "instance_uuid", "connector", "mode"] : ["volume_uuid", "instance_uuid", "connector"],
                                 "attachment")
            guard let vid = o["volume_uuid"]?.stringValue, UUIDText.isUUID(vid) else {
                throw NimbusError.badRequest("Invalid input for field/attribute volume_uuid. 'volume_uuid' is a required property")
            }
            var instance: String?
            if let i = o["instance_uuid"], !i.isNull {
                guard let s = i.stringValue, UUIDText.isUUID(s) else { throw CinderInput.invalid("instance_uuid", i, "is not a 'uuid'") }
                instance = s
            }
            var connector: JSONObject?
            if let cn = o["connector"], !cn.isNull {
                guard case .object(let obj) = cn else { throw CinderInput.invalid("connector", cn, "is not of type 'object', 'null'") }
                connector = obj
            }
            var mode = "rw"
            if let m = o["mode"], !m.isNull {
                guard let ms = m.stringValue, ms == "rw" || ms == "ro" else { throw CinderInput.invalid("mode", m, "is not one of ['rw', 'ro', None]") }
                mode = ms
            }
            let volume = try self.service.volume(vid, actor: c.actor)
            try self.authorize("volume:attachment_create", c, volume)
            let a = try await self.service.createAttachment(volumeID: vid, instance: instance, connector: connector, mode: mode, actor: c.actor)
            return .json(["attachment": .object(self.attachmentView(a, detail: true))])
        }
        route(&t, .put, "/attachments/{id}") { req, ctx, v in
            try gate(v)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let o = try Self.member(try await Self.body(req, ctx), "attachment", only: true)
            guard case .object(let connector)? = o["connector"] else {
                throw NimbusError.badRequest("Invalid input for field/attribute connector. 'connector' is a required property")
            }
            let a = try self.service.attachment(id, actor: c.actor)
            try self.authorize("volume:attachment_update", c, a)
            return .json(["attachment": .object(self.attachmentView(try await self.service.connect(id, connector: connector, actor: c.actor), detail: true))])
        }
        route(&t, .post, "/attachments/{id}/action") { req, ctx, v in
            try gate(v, 44)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            guard body.count == 1, body["os-complete"] != nil else { throw NimbusError.badRequest("There is no such action: \(body.keys.first ?? "")") }
            let a = try self.service.attachment(id, actor: c.actor)
            try self.authorize("volume:attachment_complete", c, a)
            try await self.service.completeAttachment(id, actor: c.actor)
            return .empty(.noContent)
        }
        route(&t, .delete, "/attachments/{id}") { _, ctx, v in
            try gate(v)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            try self.authorize("volume:attachment_delete", c, try self.service.attachment(id, actor: c.actor))
            try await self.service.checkAttachmentDeletionAllowed(volumeID: nil, attachmentID: id)
            try await self.service.deleteAttachment(id, actor: c.actor)
            return .json(["attachments": []])
        }
    }
}
