import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `os-volume_attachments`, as Nova's `VolumeAttachmentController` answers: tags from 2.70,
/// `delete_on_termination` from 2.79, `attachment_id`/`bdm_uuid` (and no `id`) from 2.89.
extension ComputeAPI {
    /// The create response of 2.79–2.100 keeps `id` and has no attachment ids (Nova's
    /// `create_response_v279`): `forCreate` renders it so.
    func volumeAttachmentView(_ v: Instance.AttachedVolume, _ i: Instance, _ requested: NovaVersion, forCreate: Bool = false) -> JSONValue {
        let version = forCreate && requested.atLeast(89) ? NovaVersion(minor: 88) : requested
        // No device yet: attached while the server was offloaded (Nova's null until the unshelve).
        var o: JSONObject = ["serverId": .string(i.id), "volumeId": .string(v.volumeID), "device": v.device.isEmpty ? .null : .string(v.device)]
        if !version.atLeast(89) { o["id"] = .string(v.volumeID) }
        if version.atLeast(70) { o["tag"] = JSONValue(v.tag) }
        if version.atLeast(79) { o["delete_on_termination"] = .bool(v.deleteOnTermination) }
        if version.atLeast(89) {
            o["attachment_id"] = .string(v.attachmentID)
            o["bdm_uuid"] = .string(v.attachmentID)
        }
        return .object(o)
    }

    func addVolumeAttachmentRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/servers/{server_id}/os-volume_attachments", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-volumes-attachments:index", c, target: ["project_id": i.projectID])
            // Nova's `common.limited`: `limit` 0 or absent means all; `offset` a non-negative integer.
            if v.atLeast(75), let extra = req.queryString.pairs.first(where: { !["limit", "offset"].contains($0.0) }) {
                throw NimbusError.badRequest("Invalid input for query parameters \(extra.0). Additional properties are not allowed ('\(extra.0)' was unexpected)")
            }
            var list = i.volumes
            if let o = req.query("offset") {
                guard let offset = Int(o) else { throw NimbusError.badRequest("offset param must be an integer") }
                guard offset >= 0 else { throw NimbusError.badRequest("offset param must be positive") }
                list = Array(list.dropFirst(offset))
            }
            if let l = req.query("limit") {
                guard let limit = Int(l) else { throw NimbusError.badRequest("limit param must be an integer") }
                guard limit >= 0 else { throw NimbusError.badRequest("limit param must be positive") }
                if limit > 0 { list = Array(list.prefix(limit)) }
            }
            return .json(["volumeAttachments": .array(list.map { self.volumeAttachmentView($0, i, v) })])
        })
        t.get("/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-volumes-attachments:show", c, target: ["project_id": i.projectID])
            let vid = try ctx.parameter("volume_id")
            guard let a = i.volumes.first(where: { $0.volumeID == vid }) else {
                throw NimbusError.notFound("Volume \(vid) is not attached to the instance \(i.id)")
            }
            return .json(["volumeAttachment": self.volumeAttachmentView(a, i, v)])
        })
        t.post("/v2.1/servers/{server_id}/os-volume_attachments", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-volumes-attachments:create", c, target: ["project_id": i.projectID])
            if let extra = body.objectValue?.keys.first(where: { $0 != "volumeAttachment" }) {
                throw NimbusError.badRequest("Invalid input for field/attribute body. Additional properties are not allowed ('\(extra)' was unexpected)")
            }
            guard case .object(let a)? = body["volumeAttachment"] else {
                throw NimbusError.badRequest("Invalid input for field/attribute volumeAttachment. 'volumeAttachment' is a required property")
            }
            var allowed: Set<String> = ["volumeId", "device"]
            if v.atLeast(49) { allowed.insert("tag") }
            if v.atLeast(79) { allowed.insert("delete_on_termination") }
            if let extra = a.keys.first(where: { !allowed.contains($0) }) {
                throw NimbusError.badRequest("Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('\(extra)' was unexpected)")
            }
            guard let vid = a["volumeId"]?.stringValue, UUIDText.isUUID(vid) else {
                throw NimbusError.badRequest("Invalid input for field/attribute volumeId. Value: \(a["volumeId"]?.pythonStr ?? "None"). is not a 'uuid'")
            }
            var device: String?
            if let d = a["device"], !d.isNull {
                guard let s = d.stringValue, Self.isDeviceName(s) else {
                    throw NimbusError.badRequest("Invalid input for field/attribute device. Value: \(d.pythonStr). does not match '(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$'")
                }
                device = s
            }
            var tag: String?
            if let tv = a["tag"], !tv.isNull {
                guard let ts = tv.stringValue else { throw NimbusError.badRequest("Invalid input for field/attribute tag. Value: \(tv.pythonStr). \(tv.pythonStr) is not of type 'string'") }
                do throws(SchemaViolation) { try NovaSchemas.tag.validate(.string(ts)) } catch {
                    throw NimbusError.badRequest("Invalid input for field/attribute tag. Value: \(ts). \(error.message)")
                }
                tag = ts
            }
            var deleteOnTermination = false
            if let d = a["delete_on_termination"] {
                do { try NovaSchemas.boolean.validate(d) } catch {
                    throw NimbusError.badRequest("Invalid input for field/attribute delete_on_termination. Value: \(d.pythonStr). \(d.pythonStr) is not of type 'boolean', 'string'")
                }
                deleteOnTermination = d.boolValue ?? ["true", "1", "on", "yes"].contains(d.stringValue?.lowercased() ?? "")
            }
            if (i.vmState == .shelved || i.vmState == .shelvedOffloaded) && !v.atLeast(20) {
                throw NimbusError.conflict("Cannot 'attach_volume' instance \(i.id) while it is in vm_state \(i.vmState.rawValue)")
            }
            let made = try await self.service.attachVolume(i, volumeID: vid, device: device, tag: tag, deleteOnTermination: deleteOnTermination,
                                                           caller: c.auth, lockOverride: c.isAdmin, requestID: ctx.requestID,
                                                           multiattachAllowed: v.atLeast(60))
            return .json(["volumeAttachment": self.volumeAttachmentView(made, i, v, forCreate: true)])
        })
        // Nova's update: before 2.85 only a swap (Cinder's call during a volume migration); from
        // 2.85 `delete_on_termination` changes, the other fields must be as they are, and a
        // different `volumeId` is a swap too. Nimbus never migrates volumes, so a swap is 409.
        t.put("/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            let id = try ctx.parameter("volume_id")
            if let extra = body.objectValue?.keys.first(where: { $0 != "volumeAttachment" }) {
                throw NimbusError.badRequest("Invalid input for field/attribute body. Additional properties are not allowed ('\(extra)' was unexpected)")
            }
            guard case .object(let a)? = body["volumeAttachment"] else {
                throw NimbusError.badRequest("Invalid input for field/attribute volumeAttachment. 'volumeAttachment' is a required property")
            }
            var allowed: Set<String> = ["volumeId"]
            if v.atLeast(49) { allowed.insert("tag") }
            if v.atLeast(79) { allowed.insert("delete_on_termination") }
            if v.atLeast(85) { allowed.formUnion(["device", "serverId", "id"]) }
            if let extra = a.keys.first(where: { !allowed.contains($0) }) {
                throw NimbusError.badRequest("Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('\(extra)' was unexpected)")
            }
            guard let vid = a["volumeId"]?.stringValue, UUIDText.isUUID(vid) else {
                throw NimbusError.badRequest("Invalid input for field/attribute volumeId. Value: \(a["volumeId"]?.pythonStr ?? "None"). is not a 'uuid'")
            }
            var deleteOnTermination: Bool?
            if let d = a["delete_on_termination"] {
                do { try NovaSchemas.boolean.validate(d) } catch {
                    throw NimbusError.badRequest("Invalid input for field/attribute delete_on_termination. Value: \(d.pythonStr). \(d.pythonStr) is not of type 'boolean', 'string'")
                }
                deleteOnTermination = NovaSchemas.bool(d)
            }
            let onlySwap = !v.atLeast(85), swap = onlySwap || !vid.sameBytes(as: id)
            if swap {
                try self.authorize("os_compute_api:os-volumes-attachments:swap", c, target: [:])
            } else {
                try self.authorize("os_compute_api:os-volumes-attachments:update", c, target: ["project_id": i.projectID])
            }
            if !onlySwap {
                guard let current = i.volumes.first(where: { $0.volumeID.sameBytes(as: id) }) else {
                    throw NimbusError.notFound("No volume Block Device Mapping with id \(id).")
                }
                if let x = a["id"], x.stringValue.map({ !$0.sameBytes(as: id) }) ?? true { throw NimbusError.badRequest("The id property is not mutable") }
                if let x = a["serverId"], x.stringValue.map({ !$0.sameBytes(as: i.id) }) ?? true {
                    throw NimbusError.badRequest("The serverId property is not mutable")
                }
                if let x = a["device"], x.stringValue.map({ !$0.sameBytes(as: current.device) }) ?? true {
                    throw NimbusError.badRequest("The device property is not mutable")
                }
                if let x = a["tag"], x.stringValue != current.tag { throw NimbusError.badRequest("The tag property is not mutable") }
                if let deleteOnTermination {
                    try await self.service.setDeleteOnTermination(i, volumeID: id, deleteOnTermination)
                }
            }
            if swap {
                guard try await self.service.volumes?.volume(id, caller: c.auth) != nil else {
                    throw NimbusError.notFound("Volume \(id) could not be found.")
                }
                throw NimbusError.conflict("volume \(id) is not migrating; this API should only be called by Cinder")
            }
            return .empty(.accepted)
        })
        t.delete("/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-volumes-attachments:delete", c, target: ["project_id": i.projectID])
            if (i.vmState == .shelved || i.vmState == .shelvedOffloaded) && !v.atLeast(20) {
                throw NimbusError.conflict("Cannot 'detach_volume' instance \(i.id) while it is in vm_state \(i.vmState.rawValue)")
            }
            try await self.service.detachVolume(i, volumeID: try ctx.parameter("volume_id"), caller: c.auth, lockOverride: c.isAdmin, requestID: ctx.requestID)
            return .empty(.accepted)
        })
    }
}

extension ComputeAPI {
    /// Nova's device name pattern `^(/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$`.
    static func isDeviceName(_ s: String) -> Bool {
        guard let rest = s.droppingBytePrefix("/dev/") else { return false }
        let b = Array(rest.utf8)
        func lower(_ x: UInt8) -> Bool { (97...122).contains(x) }
        // The prefix groups are all optional letters: the name is letters then digits, at least one letter.
        var i = 0
        while i < b.count, lower(b[i]) { i += 1 }
        guard i > 0, i <= 8 else { return false }
        while i < b.count, (48...57).contains(b[i]) { i += 1 }
        return i == b.count && b.count <= 12
    }
}
