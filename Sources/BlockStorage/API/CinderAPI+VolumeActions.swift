import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `POST /volumes/{id}/action`: one action per body, as Cinder's volume_actions,
/// admin_actions and v3 volumes controllers answer them.
extension CinderAPI {
    static let volumeStatuses: Set<String> = [
        "creating", "available", "deleting", "error", "error_deleting", "error_managing", "managing", "attaching", "in-use", "detaching",
        "maintenance", "restoring-backup", "error_restoring", "reserved", "awaiting-transfer", "backing-up", "error_backing-up",
        "error_extending", "downloading", "uploading", "retyping", "extending",
    ]

    static let volumeActions: Set<String> = [
        "os-extend", "os-reset_status", "os-force_delete", "os-set_bootable", "os-update_readonly_flag", "os-retype", "revert", "os-reserve",
        "os-unreserve", "os-begin_detaching", "os-roll_detaching", "os-attach", "os-detach", "os-force_detach", "os-volume_upload_image", "os-set_image_metadata",
        "os-unset_image_metadata", "os-show_image_metadata", "os-reimage", "os-initialize_connection", "os-terminate_connection",
    ]

    func addVolumeActionRoutes(_ t: inout RouteTable) {
        route(&t, .post, "/volumes/{id}/action") { req, ctx, v in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            guard body.count == 1, let (action, arg) = body.sortedMembers.first else {
                throw NimbusError.badRequest("Malformed request body")
            }
            // An unknown action is refused before the volume is looked up, as Cinder's dispatcher does.
            guard Self.volumeActions.contains(action) else { throw NimbusError.badRequest("There is no such action: \(action)") }
            let d = try self.service.volume(id, actor: c.actor)
            let a = c.actor
            func object() throws -> JSONObject {
                if arg.isNull { return [:] }
                guard case .object(let o) = arg else { throw CinderInput.invalid(action, arg, "is not of type 'object'") }
                return o
            }
            switch action {
            case "os-extend":
                let o = try object()
                try CinderInput.only(o, ["new_size"], "os-extend")
                guard let n = o["new_size"] else { throw NimbusError.badRequest("Invalid input for field/attribute new_size. 'new_size' is a required property") }
                let size = try CinderInput.integer(n, "new_size", 1...Int64(Int32.max))
                let inUse = d["status"]?.stringValue == "in-use"
                try self.authorize(inUse && v.atLeast(42) ? "volume:extend_attached_volume" : "volume:extend", c, d)
                try await self.service.extendVolume(id, newSize: size, allowInUse: v.atLeast(42), actor: a)
                return .empty(.accepted)
            case "os-reset_status":
                try self.authorize("volume_extension:volume_admin_actions:reset_status", c, d)
                let o = try object()
                try CinderInput.only(o, ["status", "attach_status", "migration_status"], action)
                guard !o.isEmpty else { throw NimbusError.badRequest("Must specify 'status', 'attach_status' or 'migration_status' for update.") }
                var status: String?
                if let sv = o["status"] {
                    guard let st = sv.stringValue?.lowercased(), Self.volumeStatuses.contains(st) else {
                        throw NimbusError.badRequest("Invalid input received: Must specify a valid status")
                    }
                    if st == "deleting" { throw NimbusError.badRequest("Cannot reset-state to deleting") }
                    if st == "in-use", self.service.state.attachments(of: id).isEmpty {
                        throw NimbusError.badRequest("Cannot reset-state to in-use because volume does not have any attachments.")
                    }
                    status = st
                }
                var attach: String?
                if let av = o["attach_status"] {
                    guard let st = av.stringValue?.lowercased(), ["attached", "detached"].contains(st) else {
                        throw NimbusError.badRequest("Invalid input received: Must specify a valid attach status")
                    }
                    attach = st
                }
                var migration: String??
                if let mv = o["migration_status"] {
                    guard let st = mv.stringValue?.lowercased(), ["migrating", "error", "success", "completing", "none", "starting"].contains(st) else {
                        throw NimbusError.badRequest("Invalid input received: Must specify a valid migration status")
                    }
                    migration = .some(st == "none" ? nil : st)
                }
                try await self.service.resetVolumeStatus(id, status: status, attachStatus: attach, migrationStatus: migration, actor: a)
                return .empty(.accepted)
            case "os-force_delete":
                try self.authorize("volume_extension:volume_admin_actions:force_delete", c, d)
                try await self.service.deleteVolume(id, cascade: true, force: true, actor: a)
                return .empty(.accepted)
            case "os-set_bootable":
                try self.authorize("volume:update", c, d)
                let o = try object()
                guard let b = o["bootable"] else { throw NimbusError.badRequest("Invalid input for field/attribute bootable. 'bootable' is a required property") }
                let bootable = try CinderInput.boolean(b, "bootable")
                try await self.service.setVolumeFields(id, actor: a) { vol, _ in vol["bootable"] = .bool(bootable) }
                return .empty(.ok)
            case "os-update_readonly_flag":
                try self.authorize("volume:update_readonly_flag", c, d)
                let o = try object()
                guard let r = o["readonly"] else { throw NimbusError.badRequest("Invalid input for field/attribute readonly. 'readonly' is a required property") }
                let readonly = try CinderInput.boolean(r, "readonly")
                guard d["status"]?.stringValue == "available" else {
                    throw VolumeFault.invalidVolume("Volume \(id) status must be available to update readonly flag, but current status is: \(d["status"]?.stringValue ?? "").")
                }
                try await self.service.setVolumeFields(id, actor: a, allowed: ["available"]) { vol, _ in
                    var admin = vol["admin_metadata"]?.objectValue ?? [:]
                    admin["readonly"] = readonly ? "True" : "False"
                    vol["admin_metadata"] = .object(admin)
                }
                return .empty(.accepted)
            case "os-retype":
                try self.authorize("volume:retype", c, d)
                let o = try object()
                guard let nt = o["new_type"]?.stringValue, !nt.isEmpty else {
                    throw NimbusError.badRequest("Invalid input for field/attribute new_type. 'new_type' is a required property")
                }
                if let p = o["migration_policy"], !p.isNull, !["never", "on-demand"].contains(p.stringValue ?? "") {
                    throw CinderInput.invalid("migration_policy", p, "is not one of ['on-demand', 'never']")
                }
                try await self.service.retype(id, to: nt, actor: a)
                return .empty(.accepted)
            case "revert":
                guard v.atLeast(40) else { throw NimbusError.badRequest("There is no such action: revert") }
                try self.authorize("volume:revert_to_snapshot", c, d)
                let o = try object()
                guard let snap = o["snapshot_id"]?.stringValue else { throw NimbusError.badRequest("Must specify 'snapshot_id'") }
                if self.service.state.snapshots(of: id).isEmpty { throw VolumeFault.invalidVolume("Volume \(id) doesn't have any snapshots.") }
                try await self.service.revert(id, to: snap, actor: a)
                return .empty(.accepted)
            case "os-initialize_connection", "os-terminate_connection":
                let initialize = action == "os-initialize_connection"
                try self.authorize("volume_extension:volume_actions:\(initialize ? "initialize_connection" : "terminate_connection")", c, d)
                let o = try object()
                try CinderInput.only(o, ["connector"], action)
                guard let connectorValue = o["connector"] else {
                    throw NimbusError.badRequest("Invalid input for field/attribute \(action). Value: \(arg.pythonStr). 'connector' is a required property")
                }
                guard case .object(let connector) = connectorValue else { throw CinderInput.invalid("connector", connectorValue, "is not of type 'object'") }
                if let h = connector["host"], !h.isNull, (h.stringValue.map { $0.utf8.count > 255 } ?? true) {
                    throw CinderInput.invalid("host", h, "is not valid")
                }
                if initialize {
                    if d["status"]?.stringValue == "maintenance" { throw VolumeFault.invalidVolume("Volume \(id) is in maintenance.") }
                    let info = try await self.service.initializeConnection(id, connector: connector, actor: a)
                    return .json(["connection_info": .object(info)])
                }
                try await self.service.terminateConnection(id, connector: connector, actor: a)
                return .empty(.accepted)
            case "os-reserve":
                try self.authorize("volume_extension:volume_actions:reserve", c, d)
                let from: Set<String> = d["multiattach"]?.boolValue == true ? ["available", "in-use"] : ["available"]
                try await self.service.transition(id, from: from, to: "attaching", actor: a, action: "reserve")
                return .empty(.accepted)
            case "os-unreserve":
                try self.authorize("volume_extension:volume_actions:unreserve", c, d)
                if d["status"]?.stringValue == "attaching" {
                    let to = self.service.state.attachments(of: id).isEmpty ? "available" : "in-use"
                    try await self.service.transition(id, from: ["attaching"], to: to, actor: a, action: "unreserve")
                }
                return .empty(.accepted)
            case "os-begin_detaching":
                try self.authorize("volume_extension:volume_actions:begin_detaching", c, d)
                guard d["attach_status"]?.stringValue == "attached" else { throw VolumeFault.invalidVolume("Volume must be attached in order to detach.") }
                try await self.service.transition(id, from: ["in-use"], to: "detaching", actor: a, action: "begin detaching")
                return .empty(.accepted)
            case "os-roll_detaching":
                try self.authorize("volume_extension:volume_actions:roll_detaching", c, d)
                try await self.service.rollDetaching(id, actor: a)
                return .empty(.accepted)
            case "os-attach":
                try self.authorize("volume_extension:volume_actions:attach", c, d)
                let o = try object()
                guard let mountpoint = o["mountpoint"]?.stringValue else {
                    throw NimbusError.badRequest("Invalid input for field/attribute mountpoint. 'mountpoint' is a required property")
                }
                let instance = o["instance_uuid"]?.stringValue
                let host = o["host_name"]?.stringValue
                guard (instance == nil) != (host == nil) else { throw NimbusError.badRequest("Invalid request to attach volume to an invalid target") }
                if let instance, !UUIDText.isUUID(instance) { throw NimbusError.badRequest("Invalid request to attach volume to an invalid target") }
                let mode = o["mode"]?.stringValue ?? "rw"
                guard mode == "rw" || mode == "ro" else { throw NimbusError.badRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'") }
                if d["status"]?.stringValue == "maintenance" { throw VolumeFault.invalidVolume("Volume \(id) is in maintenance.") }
                try await self.service.attach(id, instance: instance, host: host, mountpoint: mountpoint, mode: mode, actor: a)
                return .empty(.accepted)
            case "os-detach":
                try self.authorize("volume_extension:volume_actions:detach", c, d)
                let o = try object()
                try await self.service.checkAttachmentDeletionAllowed(volumeID: id, attachmentID: o["attachment_id"]?.stringValue)
                try await self.service.detach(id, attachmentID: o["attachment_id"]?.stringValue, actor: a)
                return .empty(.accepted)
            case "os-force_detach":
                // An admin's roll-back of a bad detach: the connection ends and the attachment
                // goes, whatever the volume's status, unless a server still uses it.
                try self.authorize("volume_extension:volume_admin_actions:force_detach", c, d)
                let o = try object()
                if let connector = o["connector"], !connector.isNull, connector.objectValue == nil {
                    throw NimbusError.badRequest("Invalid input for field/attribute connector. Value: \(connector.pythonStr). \(connector.pythonStr) is not of type 'object', 'null'")
                }
                let attachmentID: String?
                switch o["attachment_id"] {
                case nil, .null?: attachmentID = nil
                case .string(let s)?: attachmentID = s
                case let other?:
                    throw NimbusError.badRequest("Invalid input for field/attribute attachment_id. Value: \(other.pythonStr). \(other.pythonStr) is not of type 'string', 'null'")
                }
                try await self.service.checkAttachmentDeletionAllowed(volumeID: id, attachmentID: attachmentID)
                do {
                    try await self.service.detach(id, attachmentID: attachmentID, actor: a)
                } catch let e as NimbusError where e.kind == .badRequest || e.kind == .notFound {
                    throw NimbusError.badRequest("Error force detaching volume - \(e.kind == .notFound ? "VolumeAttachmentNotFound" : "InvalidVolume"): \(e.message)")
                }
                return .empty(.accepted)
            case "os-volume_upload_image":
                try self.authorize("volume_extension:volume_actions:upload_image", c, d)
                let o = try object()
                guard let nameValue = o["image_name"] else {
                    throw NimbusError.badRequest("Invalid input for field/attribute image_name. 'image_name' is a required property")
                }
                guard let name = nameValue.stringValue, !name.isEmpty, name.unicodeScalars.count <= 255 else {
                    throw CinderInput.invalid("image_name", nameValue, "is not a valid name")
                }
                if let f = o["force"], !f.isNull, try CinderInput.boolean(f, "force"), d["status"]?.stringValue == "in-use" {
                    throw VolumeFault.invalidVolume("Volume \(id) status must be available (uploading in-use volumes is off, as Cinder's enable_force_upload is by default)")
                }
                let diskFormat = o["disk_format"]?.stringValue ?? "raw"
                guard ["raw", "vmdk", "vdi", "qcow2", "vhd", "vhdx", "ploop"].contains(diskFormat) else {
                    throw CinderInput.invalid("disk_format", o["disk_format"] ?? .null, "is not one of ['raw', 'vmdk', 'vdi', 'qcow2', 'vhd', 'vhdx', 'ploop']")
                }
                let containerFormat = o["container_format"]?.stringValue ?? "bare"
                guard ["bare", "ovf", "ova", "docker"].contains(containerFormat) else {
                    throw CinderInput.invalid("container_format", o["container_format"] ?? .null, "is not one of ['bare', 'ovf', 'ova', 'docker']")
                }
                var visibility: String?, protected: Bool?
                if v.atLeast(1) {
                    visibility = o["visibility"]?.stringValue ?? "private"
                    guard ["community", "public", "private", "shared"].contains(visibility!) else {
                        throw CinderInput.invalid("visibility", o["visibility"] ?? .null, "is not one of ['community', 'public', 'private', 'shared']")
                    }
                    if visibility == "public" { try self.authorize("volume_extension:volume_actions:upload_public", c, d) }
                    protected = try o["protected"].map { try CinderInput.boolean($0, "protected") } ?? false
                }
                let (vol, _, imageID) = try await self.service.uploadToImage(id, name: name, diskFormat: diskFormat, containerFormat: containerFormat,
                                                                             visibility: visibility, protected: protected, actor: a)
                let type = vol["volume_type_id"]?.stringValue.flatMap { self.service.state[.volumeType, $0] }
                var out: JSONObject = ["id": .string(id), "updated_at": vol["updated_at"] ?? .null, "status": "uploading",
                                       "display_description": vol["description"] ?? .null, "size": vol["size"] ?? .null,
                                       "volume_type": type.map { t in .object(["id": t["id"] ?? .null, "name": t["name"] ?? .null, "description": t["description"] ?? .null,
                                                                                "is_public": t["is_public"] ?? true, "extra_specs": t["extra_specs"] ?? [:],
                                                                                "qos_specs_id": .null, "created_at": t["created_at"] ?? .null,
                                                                                "updated_at": t["updated_at"] ?? .null, "deleted": false, "deleted_at": .null]) } ?? .null,
                                       "image_id": .string(imageID), "container_format": .string(containerFormat), "disk_format": .string(diskFormat),
                                       "image_name": .string(name)]
                if let visibility { out["visibility"] = .string(visibility) }
                if let protected { out["protected"] = .bool(protected) }
                return .json(["os-volume_upload_image": .object(out)], status: .accepted)
            case "os-set_image_metadata", "os-unset_image_metadata", "os-show_image_metadata":
                return try await self.imageMetadataAction(action, arg, d, c)
            case "os-reimage":
                guard v.atLeast(68) else { throw NimbusError.badRequest("There is no such action: os-reimage") }
                let o = try object()
                try CinderInput.only(o, ["image_id", "reimage_reserved"], action)
                guard let imageValue = o["image_id"] else {
                    throw CinderInput.invalid(action, arg, "'image_id' is a required property")
                }
                guard let image = imageValue.stringValue, UUIDText.isUUID(image) else { throw CinderInput.invalid("image_id", imageValue, "is not a 'uuid'") }
                let reserved = try o["reimage_reserved"].map { try CinderInput.boolean($0, "reimage_reserved") } ?? false
                // Cinder's volume API: the reserved rule when the volume is reserved.
                try self.authorize(d["status"]?.stringValue == "reserved" ? "volume:reimage_reserved" : "volume:reimage", c, d)
                try await self.service.reimage(id, imageID: image, reimageReserved: reserved, actor: a, caller: c.auth)
                return .empty(.accepted)
            default:
                throw NimbusError.badRequest("There is no such action: \(action)")
            }
        }
    }

    /// The actions on a volume's image metadata.
    func imageMetadataAction(_ action: String, _ arg: JSONValue, _ d: JSONObject, _ c: Caller) async throws -> Response {
        let id = d["id"]?.stringValue ?? ""
        switch action {
        case "os-show_image_metadata":
            try authorize("volume_extension:volume_image_metadata:show", c, d)
            return .json(["metadata": d["volume_image_metadata"] ?? [:]])
        case "os-set_image_metadata":
            try authorize("volume_extension:volume_image_metadata:set", c, d)
            guard let m = try CinderInput.metadata(arg["metadata"]) else { throw NimbusError.badRequest("Malformed request body") }
            var result = JSONObject()
            try await service.setVolumeFields(id, actor: c.actor) { vol, _ in
                var image = vol["volume_image_metadata"]?.objectValue ?? [:]
                for (k, v) in m { image[k] = .string(v) }
                vol["volume_image_metadata"] = .object(image)
            }
            result = try service.volume(id, actor: c.actor)["volume_image_metadata"]?.objectValue ?? [:]
            return .json(["metadata": .object(result)])
        default:
            try authorize("volume_extension:volume_image_metadata:remove", c, d)
            guard let key = arg["key"]?.stringValue else { throw NimbusError.badRequest("Malformed request body") }
            guard d["volume_image_metadata"]?[key] != nil else {
                throw NimbusError.notFound("Glance metadata for volume \(id) with key \(key) could not be found.")
            }
            try await service.setVolumeFields(id, actor: c.actor) { vol, _ in
                var image = vol["volume_image_metadata"]?.objectValue ?? [:]
                _ = image.removeValue(forKey: key)
                vol["volume_image_metadata"] = .object(image)
            }
            return .empty(.ok)
        }
    }
}
