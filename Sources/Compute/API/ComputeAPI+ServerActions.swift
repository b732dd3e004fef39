import ComputeNode
import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `POST /servers/{id}/action` (power, pause, suspend, lock, console output), instance actions
/// and server metadata.
extension ComputeAPI {
    func addServerActionRoutes(_ t: inout RouteTable) {
        t.post("/v2.1/servers/{server_id}/action", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            guard case .object(let o) = body, o.count == 1, let (name, args) = o.sortedMembers.first else {
                throw NimbusError.badRequest("There is no such action: \(body.pythonStr)")
            }
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            let target = ["project_id": i.projectID, "user_id": i.userID]
            switch name {
            case "os-start", "os-stop", "pause", "unpause", "suspend", "resume", "reboot":
                let (action, rule) = try Self.powerAction(name, args)
                try self.authorize(rule, c, target: target)
                _ = try await self.service.perform(action, on: i.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "lock":
                try self.authorize("os_compute_api:os-lock-server:lock", c, target: target)
                let reason = v.atLeast(73) ? args["locked_reason"]?.stringValue : nil
                if v.atLeast(73) { _ = try NovaSchemas.validate(body, NovaSchemas.lockV273) }
                try await self.service.setLock(i.id, locked: true, reason: reason, caller: c.auth, isAdmin: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "unlock":
                try self.authorize("os_compute_api:os-lock-server:unlock", c, target: target)
                if i.lockedBy == "admin", !c.isAdmin {
                    try self.authorize("os_compute_api:os-lock-server:unlock:unlock_override", c, target: target)
                }
                try await self.service.setLock(i.id, locked: false, reason: nil, caller: c.auth, isAdmin: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "createImage":
                try self.authorize("os_compute_api:servers:create_image", c, target: ["project_id": i.projectID])
                let valid = try NovaSchemas.validate(body, NovaSchemas.createImage)
                let entity = valid["createImage"]!
                let metadata = entity["metadata"]?.objectValue.map { o in
                    Dictionary(o.sortedMembers.compactMap { k, v in v.stringValue.map { (Name(k), $0) } }, uniquingKeysWith: { a, _ in a })
                } ?? [:]
                if !v.atLeast(39) {
                    try await self.service.checkMetadataItems(metadata.count, project: c.auth.projectID ?? i.projectID, user: c.auth.user.id)
                }
                let name = entity["name"]!.stringValue!.trimmingCharacters(in: .whitespaces)
                let imageID = try await self.service.createImage(i.id, name: name, metadata: metadata, caller: c.auth, isAdmin: c.isAdmin,
                                                                 requestID: ctx.requestID)
                if v.atLeast(45) { return .json(["image_id": .string(imageID)], status: .accepted) }
                var h = HTTPFields()
                h[.location] = "\(self.imageURL)/images/\(imageID)"
                return Response(status: .accepted, headers: h)
            case "createBackup":
                try self.authorize("os_compute_api:os-create-backup", c, target: ["project_id": i.projectID])
                let entity = try NovaSchemas.validate(body, NovaSchemas.createBackup(v))["createBackup"]!
                let metadata = entity["metadata"]?.objectValue.map { o in
                    Dictionary(o.sortedMembers.compactMap { k, v in v.stringValue.map { (Name(k), $0) } }, uniquingKeysWith: { a, _ in a })
                } ?? [:]
                if !v.atLeast(39) {
                    try await self.service.checkMetadataItems(metadata.count, project: c.auth.projectID ?? i.projectID, user: c.auth.user.id)
                }
                // digits past Int's range (Python's ints have none) keep every backup
                let rotation = NovaSchemas.integer(entity["rotation"]!) ?? Int.max
                let name = entity["name"]!.stringValue!.trimmingCharacters(in: .whitespaces)
                let imageID = try await self.service.createBackup(i.id, name: name, backupType: entity["backup_type"]!.stringValue!, rotation: rotation,
                                                                  metadata: metadata, caller: c.auth, isAdmin: c.isAdmin, requestID: ctx.requestID)
                if v.atLeast(45) { return .json(["image_id": .string(imageID)], status: .accepted) }
                var h = HTTPFields()
                // create_backup.py: url_join(application_url, 'images', id), Nova's own proxy URL
                if rotation > 0 { h[.location] = "\(self.publicURL)/v2.1/images/\(imageID)" }
                return Response(status: .accepted, headers: h)
            case "resize":
                try self.authorize("os_compute_api:servers:resize", c, target: target)
                let valid = try NovaSchemas.validate(body, NovaSchemas.resize)
                let flavorID: String
                switch valid["resize"]!["flavorRef"]! {
                case .int(let n): flavorID = String(n)
                case let other: flavorID = Self.lastSegment(other.stringValue ?? "")
                }
                try await self.service.resize(i.id, flavorID: flavorID, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin,
                                              requestID: ctx.requestID)
                return .empty(.accepted)
            case "confirmResize":
                try self.authorize("os_compute_api:servers:confirm_resize", c, target: target)
                try await self.service.confirmResize(i.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.noContent)
            case "revertResize":
                try self.authorize("os_compute_api:servers:revert_resize", c, target: target)
                try await self.service.revertResize(i.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "rebuild":
                try self.authorize("os_compute_api:servers:rebuild", c, target: target)
                let valid = try NovaSchemas.validate(body, NovaSchemas.rebuild(v))["rebuild"]!
                var r = ComputeService.RebuildRequest(imageID: Self.lastSegment(valid["imageRef"]!.stringValue!))
                r.name = valid["name"]?.stringValue
                r.metadata = valid["metadata"]?.objectValue.map { o in
                    Dictionary(o.sortedMembers.compactMap { k, v in v.stringValue.map { (Name(k), $0) } }, uniquingKeysWith: { a, _ in a })
                }
                if v.atLeast(19), let d = valid["description"] { r.description = .some(d.stringValue) }
                if v.atLeast(54), let k = valid["key_name"] { r.keyName = .some(k.stringValue) }
                if v.atLeast(57), let u = valid["user_data"] { r.userData = .some(u.stringValue) }
                if v.atLeast(90) { r.hostname = valid["hostname"]?.stringValue }
                r.accessIPv4 = valid["accessIPv4"]?.stringValue
                r.accessIPv6 = valid["accessIPv6"]?.stringValue.map(NovaText.normalizedIPv6)
                r.preserveEphemeral = valid["preserve_ephemeral"].flatMap(NovaSchemas.bool) ?? false
                r.reimageBootVolume = v.atLeast(93)
                let rebuilt = try await self.service.rebuild(i.id, r, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin,
                                                             requestID: ctx.requestID)
                var view = self.updateView(rebuilt, v, c, hosts: try await self.hostsByName(), rebuild: true)
                view["adminPass"] = .string(valid["adminPass"]?.stringValue ?? Self.password())
                if v.atLeast(57) { view["user_data"] = JSONValue(rebuilt.userData) }
                return .json(["server": .object(view)], status: .accepted)
            case "shelve":
                try self.authorize("os_compute_api:os-shelve:shelve", c, target: target)
                try await self.service.shelve(i.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "shelveOffload":
                try self.authorize("os_compute_api:os-shelve:shelve_offload", c, target: target)
                try await self.service.shelveOffload(i.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "unshelve":
                try self.authorize("os_compute_api:os-shelve:unshelve", c, target: target)
                var zone: String??
                var host: String?
                if v.atLeast(77), case .object(let o) = try NovaSchemas.validate(body, NovaSchemas.unshelve(v))["unshelve"]! {
                    if let z = o["availability_zone"] { zone = .some(z.stringValue) }
                    if let h = o["host"]?.stringValue {
                        try self.authorize("os_compute_api:os-shelve:unshelve_to_host", c, target: target)
                        host = h
                    }
                }
                try await self.service.unshelve(i.id, zone: zone, host: host, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin,
                                                requestID: ctx.requestID)
                return .empty(.accepted)
            case "rescue":
                try self.authorize("os_compute_api:os-rescue", c, target: target)
                let entity = try NovaSchemas.validate(body, NovaSchemas.rescue)["rescue"]!
                let password = entity["adminPass"]?.stringValue
                let image = entity["rescue_image_ref"]?.stringValue
                try await self.service.rescue(i.id, rescueImage: image, allowVolumeBacked: v.atLeast(87), caller: c.auth, isAdmin: c.isAdmin,
                                              lockOverride: c.isAdmin, requestID: ctx.requestID)
                // The guest's password is not set (no agent in the guest); Nova returns the one given or made.
                return .json(["adminPass": .string(password ?? Self.password())])
            case "unrescue":
                try self.authorize("os_compute_api:os-unrescue", c, target: target)
                try await self.service.unrescue(i.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "os-resetState":
                try self.authorize("os_compute_api:os-admin-actions:reset_state", c, target: target)
                let state = try NovaSchemas.validate(body, NovaSchemas.resetState)["os-resetState"]!["state"]!.stringValue!
                try await self.service.resetState(i.id, to: state == "active" ? .active : .error, caller: c.auth, requestID: ctx.requestID)
                return .empty(.accepted)
            case "forceDelete":
                try self.authorize("os_compute_api:os-deferred-delete:force", c, target: target)
                try await self.service.forceDelete(i.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "restore":
                try self.authorize("os_compute_api:os-deferred-delete:restore", c, target: target)
                // Deletes are never deferred here (Nova's reclaim_instance_interval = 0): nothing
                // is ever SOFT_DELETED, so restore finds no server in that state.
                try ComputeService.checkState(i, vm: [.softDeleted], task: [nil], method: "restore")
                return .empty(.accepted)
            case "migrate":
                let valid = try NovaSchemas.validate(body, v.atLeast(56) ? NovaSchemas.migrate : .object(["migrate": .any]))
                let host = v.atLeast(56) ? valid["migrate"]?["host"]?.stringValue : nil
                try self.authorize(host == nil ? "os_compute_api:os-migrate-server:migrate" : "os_compute_api:os-migrate-server:migrate:host", c,
                                   target: ["project_id": i.projectID])
                try await self.service.migrate(i.id, host: host, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "os-migrateLive":
                let entity = try NovaSchemas.validate(body, NovaSchemas.migrateLive(v))["os-migrateLive"]!
                let host = entity["host"]?.stringValue
                try self.authorize(host == nil ? "os_compute_api:os-migrate-server:migrate_live" : "os_compute_api:os-migrate-server:migrate_live:host", c,
                                   target: ["project_id": i.projectID])
                let block = entity["block_migration"]!
                let blockMigration: Bool? = block == .string("auto") ? nil : NovaSchemas.bool(block)
                let force = entity["force"].flatMap(NovaSchemas.bool) ?? false
                if force, host == nil { throw NimbusError.badRequest("Can't force to a non-provided destination") }
                try await self.service.liveMigrate(i.id, host: host, blockMigration: blockMigration, force: force, async: v.atLeast(34),
                                                   caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "evacuate":
                let entity = try NovaSchemas.validate(body, NovaSchemas.evacuate(v))["evacuate"]!
                try self.authorize("os_compute_api:os-evacuate", c, target: target)
                let host = entity["host"]?.stringValue
                let force = v.atLeast(29) ? entity["force"].flatMap(NovaSchemas.bool) ?? false : false
                if force, host == nil { throw NimbusError.badRequest("Can't force to a non-provided destination") }
                if !v.atLeast(14), entity["onSharedStorage"].flatMap(NovaSchemas.bool) == true {
                    if entity["adminPass"] != nil { throw NimbusError.badRequest("admin password can't be changed on existing disk") }
                }
                if let host, !(try await self.service.hosts.list().contains { $0.host.sameBytes(as: host) }) {
                    throw NimbusError.notFound("Compute host \(host) not found.")
                }
                if let host, i.host?.sameBytes(as: host) == true { throw NimbusError.badRequest("The target host can't be the same one.") }
                try await self.service.evacuate(i.id, host: host, force: force, targetStopped: v.atLeast(95), caller: c.auth, requestID: ctx.requestID)
                // The guest's password is not set (no agent in the guest); before 2.14 Nova returns one.
                if !v.atLeast(14) { return .json(["adminPass": .string(entity["adminPass"]?.stringValue ?? Self.password())]) }
                return .empty(.ok)
            case "trigger_crash_dump":
                // a versioned action below its version: Nova's VersionNotFoundForAPIMethod (404)
                guard v.atLeast(17) else { throw NimbusError.notFound("The resource could not be found.") }
                try self.authorize("os_compute_api:servers:trigger_crash_dump", c, target: target)
                _ = try NovaSchemas.validate(body, .object(["trigger_crash_dump": Schema(types: [.null])], required: ["trigger_crash_dump"],
                                                           additionalProperties: false))
                try await self.service.triggerCrashDump(i.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
                return .empty(.accepted)
            case "os-getVNCConsole", "os-getSPICEConsole", "os-getRDPConsole", "os-getSerialConsole":
                return try await self.legacyConsoleAction(name, body, i, c, v)
            case "injectNetworkInfo":
                // Nova's libvirt driver injects nothing (the base driver's no-op); guests here read
                // their network from DHCP and the metadata service, which always show the ports.
                try self.authorize("os_compute_api:os-admin-actions:inject_network_info", c, target: ["project_id": i.projectID])
                _ = try NovaSchemas.validate(body, .object(["injectNetworkInfo": .any], required: ["injectNetworkInfo"], additionalProperties: false))
                if i.locked && !c.isAdmin { throw NimbusError.conflict("Instance \(i.id) is locked") }
                return .empty(.accepted)
            case "addSecurityGroup", "removeSecurityGroup":
                let add = name == "addSecurityGroup"
                try self.authorize("os_compute_api:os-security-groups:\(add ? "add" : "remove")", c, target: ["project_id": i.projectID])
                guard case .object(let o) = args else { throw NimbusError.badRequest("Missing parameter dict") }
                if let extra = o.keys.first(where: { $0 != "name" }) {
                    throw NimbusError.badRequest("Invalid input for field/attribute \(name). Value: \(args.pythonStr). Additional properties are not allowed ('\(extra)' was unexpected)")
                }
                guard let given = o["name"] else { throw NimbusError.badRequest("Security group not specified") }
                guard let group = given.stringValue else {
                    throw NimbusError.badRequest("Invalid input for field/attribute name. Value: \(given.pythonStr). \(given.pythonStr) is not of type 'string'")
                }
                if group.unicodeScalars.allSatisfy(Pattern.pythonSpace) { throw NimbusError.badRequest("Security group name cannot be empty") }
                guard let network = self.service.network else { throw NimbusError.notFound("Security group \(group) is not found for project \(i.projectID)") }
                if add {
                    try await network.addSecurityGroup(group, instance: i.id, project: i.projectID, caller: c.auth)
                } else {
                    try await network.removeSecurityGroup(group, instance: i.id, project: i.projectID, caller: c.auth)
                }
                return .empty(.accepted)
            case "addFixedIp", "removeFixedIp":
                // Nova's multinic actions (2.1 to 2.43; VersionNotFoundForAPIMethod, 404, after):
                // a lock check, then a cast to the compute host, which changes the port and logs a
                // failure; the answer is 202 either way.
                guard !v.atLeast(44) else { throw NimbusError.notFound("The resource could not be found.") }
                let add = name == "addFixedIp"
                try self.authorize("os_compute_api:os-multinic:\(add ? "add" : "remove")", c, target: ["project_id": i.projectID])
                let entity = try NovaSchemas.validate(body, add ? NovaSchemas.addFixedIP : NovaSchemas.removeFixedIP)[name]!
                try await self.service.changeFixedIP(i, add: add ? entity["networkId"].map { $0.stringValue ?? $0.pythonStr } ?? "" : nil,
                                                     remove: add ? nil : entity["address"]?.stringValue ?? "", caller: c.auth, isAdmin: c.isAdmin)
                return .empty(.accepted)
            case "os-getConsoleOutput":
                try self.authorize("os_compute_api:os-console-output", c, target: target)
                let length = try Self.consoleLength(args["length"])
                let text = try await self.service.consoleOutput(i, lines: length)
                return .json(["output": .string(text)])
            default:
                throw NimbusError.badRequest("There is no such action: \(name)")
            }
        })
        t.get("/v2.1/servers/{server_id}/diagnostics", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-server-diagnostics", c, target: ["project_id": i.projectID])
            return .json(Self.diagnosticsView(try await self.service.diagnostics(i), v))
        })
        // Addresses per network, as Nova's ips views show them (version and address only).
        @Sendable func ips(_ i: Instance) -> JSONObject {
            var out = JSONObject()
            for (net, list) in (self.service.network?.addresses(instance: i.id, project: i.projectID) ?? [:]).sortedMembers {
                out[net] = .array((list.arrayValue ?? []).map { a in ["version": a["version"] ?? .null, "addr": a["addr"] ?? .null] })
            }
            return out
        }
        t.get("/v2.1/servers/{server_id}/ips", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:ips:index", c, target: ["project_id": i.projectID])
            return .json(["addresses": .object(ips(i))])
        })
        t.get("/v2.1/servers/{server_id}/ips/{network}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:ips:show", c, target: ["project_id": i.projectID])
            let label = try ctx.parameter("network")
            guard let list = ips(i).first(where: { $0.key.sameBytes(as: label) }) else {
                throw NimbusError.notFound("Instance is not a member of specified network")
            }
            return .json(.object([list.key: list.value]))
        })
        // Interfaces (os-interface): the instance's ports; attach and detach converge on its node.
        @Sendable func interfaceView(_ o: JSONObject, _ v: NovaVersion, _ i: Instance) -> JSONValue {
            var o = o
            if v.atLeast(70) { o["tag"] = JSONValue(o["port_id"]?.stringValue.flatMap { i.interfaceTags[$0] }) }
            return .object(o)
        }
        t.get("/v2.1/servers/{server_id}/os-interface", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-attach-interfaces:list", c, target: ["project_id": i.projectID])
            let list = self.service.network?.interfaces(instance: i.id, project: i.projectID) ?? []
            return .json(["interfaceAttachments": .array(list.map { interfaceView($0, v, i) })])
        })
        t.get("/v2.1/servers/{server_id}/os-interface/{port_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-attach-interfaces:show", c, target: ["project_id": i.projectID])
            let port = try ctx.parameter("port_id")
            guard let o = self.service.network?.interfaces(instance: i.id, project: i.projectID).first(where: { $0["port_id"]?.stringValue == port }) else {
                throw NimbusError.notFound("Instance \(i.id) does not have a port with id \(port)")
            }
            return .json(["interfaceAttachment": interfaceView(o, v, i)])
        })
        t.post("/v2.1/servers/{server_id}/os-interface", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-attach-interfaces:create", c, target: ["project_id": i.projectID])
            let valid = try NovaSchemas.validate(body, NovaSchemas.interfaceAttach(v))
            let a = valid["interfaceAttachment"]
            let net = a?["net_id"]?.stringValue, port = a?["port_id"]?.stringValue
            let ip = a?["fixed_ips"]?.arrayValue?.first?["ip_address"]?.stringValue
            if net != nil && port != nil { throw NimbusError.badRequest("Must not input both network_id and port_id") }
            if ip != nil && net == nil { throw NimbusError.badRequest("Must input network_id when request IP address") }
            let id = try await self.service.attachInterface(i, RequestedNIC(networkID: net, portID: port, fixedIP: ip, tag: a?["tag"]?.stringValue),
                                                            caller: c.auth, lockOverride: c.isAdmin, requestID: ctx.requestID)
            guard let o = self.service.network?.interfaces(instance: i.id, project: i.projectID).first(where: { $0["port_id"]?.stringValue == id }) else {
                throw NimbusError.badRequest("Failed to attach network adapter device to \(i.id)")
            }
            var view = o
            if v.atLeast(70) { view["tag"] = a?["tag"] ?? .null }
            return .json(["interfaceAttachment": .object(view)])
        })
        t.delete("/v2.1/servers/{server_id}/os-interface/{port_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-attach-interfaces:delete", c, target: ["project_id": i.projectID])
            try await self.service.detachInterface(i, port: try ctx.parameter("port_id"), caller: c.auth, lockOverride: c.isAdmin, requestID: ctx.requestID)
            return .empty(.accepted)
        })
        t.get("/v2.1/servers/{server_id}/os-security-groups", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-security-groups:list", c, target: ["project_id": i.projectID])
            return .json(["security_groups": .array(self.service.network?.securityGroupDetails(instance: i.id, project: i.projectID, caller: c.auth) ?? [])])
        })
        // The password a guest agent posted to the metadata service ("" before it posts one).
        t.get("/v2.1/servers/{server_id}/os-server-password", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-server-password:show", c, target: ["project_id": i.projectID])
            return .json(["password": .string(i.password ?? "")])
        })
        t.delete("/v2.1/servers/{server_id}/os-server-password", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-server-password:clear", c, target: ["project_id": i.projectID])
            try await self.service.clearPassword(instance: i.id)
            return .empty(.noContent)
        })
        // 2.78: servers have no NUMA topology (no flavor asks for one), which Nova shows so.
        t.get("/v2.1/servers/{server_id}/topology", versioned { req, ctx, v in
            guard v.atLeast(78) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("compute:server:topology:index", c, target: ["project_id": i.projectID])
            return .json(["nodes": [], "pagesize_kb": .null])
        })
        t.get("/v2.1/servers/{server_id}/os-instance-actions", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin, deleted: v.atLeast(21))
            try self.authorize("os_compute_api:os-instance-actions:list", c, target: ["project_id": i.projectID])
            let list = try await self.service.actions.list(i.id)
            return .json(["instanceActions": .array(list.map { self.actionView($0, v, c, events: false) })])
        })
        t.get("/v2.1/servers/{server_id}/os-instance-actions/{request_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin, deleted: v.atLeast(21))
            try self.authorize("os_compute_api:os-instance-actions:show", c, target: ["project_id": i.projectID])
            let rid = try ctx.parameter("request_id")
            guard let a = try await self.service.actions.list(i.id).first(where: { $0.requestID.sameBytes(as: rid) }) else {
                throw NimbusError.notFound("Action \(rid) not found")
            }
            return .json(["instanceAction": self.actionView(a, v, c, events: true)])
        })
    }

    /// Nova's diagnostics views: 2.48's standard form, before it the libvirt driver's own keys
    /// (`cpu0_time`, `vda_read`, …, `memory` in KiB).
    static func diagnosticsView(_ d: GuestDiagnostics, _ v: NovaVersion) -> JSONValue {
        if v.atLeast(48) {
            var o = JSONObject()
            o["state"] = .string(ComputeService.powerStateName(d.state))
            o["driver"] = "libvirt"   // Nova's schema allows only real drivers; its fake driver says libvirt too
            o["hypervisor"] = .string(d.hypervisor)
            o["hypervisor_os"] = .string(d.hypervisor == "fake" ? "fake-os" : "linux")
            o["uptime"] = .int(Int64(d.uptimeSeconds))
            o["config_drive"] = .bool(d.configDrive)
            o["num_cpus"] = .int(Int64(d.cpuTimes.count))
            o["num_nics"] = .int(Int64(d.nics))
            o["num_disks"] = .int(Int64(d.disks.count))
            let used: JSONValue = d.memoryUsedMB.map { .int(Int64($0)) } ?? .null
            o["memory_details"] = .object(["maximum": .int(Int64(d.memoryMaxMB)), "used": used])
            var cpus = [JSONValue]()
            for (k, t) in d.cpuTimes.enumerated() { cpus.append(.object(["id": .int(Int64(k)), "time": .int(t), "utilisation": .null])) }
            o["cpu_details"] = .array(cpus)
            o["nic_details"] = .array([])
            var disks = [JSONValue]()
            for disk in d.disks {
                disks.append(.object(["read_bytes": .int(disk.readBytes), "read_requests": .int(disk.readRequests), "write_bytes": .int(disk.writeBytes),
                                      "write_requests": .int(disk.writeRequests), "errors_count": .int(disk.errors)]))
            }
            o["disk_details"] = .array(disks)
            return .object(o)
        }
        var o = JSONObject()
        for (k, t) in d.cpuTimes.enumerated() { o["cpu\(k)_time"] = .int(t) }
        for disk in d.disks {
            o[disk.name + "_read_req"] = .int(disk.readRequests)
            o[disk.name + "_read"] = .int(disk.readBytes)
            o[disk.name + "_write_req"] = .int(disk.writeRequests)
            o[disk.name + "_write"] = .int(disk.writeBytes)
            o[disk.name + "_errors"] = .int(disk.errors)
        }
        o["memory"] = .int(Int64(d.memoryMaxMB) * 1024)
        if let used = d.memoryUsedMB { o["memory-rss"] = .int(Int64(used) * 1024) }
        return .object(o)
    }

    static func powerAction(_ name: String, _ args: JSONValue) throws -> (ServerAction, String) {
        switch name {
        case "os-start": return (.start, "os_compute_api:servers:start")
        case "os-stop": return (.stop, "os_compute_api:servers:stop")
        case "pause": return (.pause, "os_compute_api:os-pause-server:pause")
        case "unpause": return (.unpause, "os_compute_api:os-pause-server:unpause")
        case "suspend": return (.suspend, "os_compute_api:os-suspend-server:suspend")
        case "resume": return (.resume, "os_compute_api:os-suspend-server:resume")
        default:
            guard let type = args["type"]?.stringValue?.uppercased(), type == "SOFT" || type == "HARD" else {
                throw NimbusError.badRequest("Invalid input for field/attribute type. Value: \(args["type"]?.pythonStr ?? "None"). 'type' is a required property")
            }
            return (.reboot(hard: type == "HARD"), "os_compute_api:servers:reboot")
        }
    }

    /// `os-getConsoleOutput`'s `length`: an integer (or numeric string) of lines, -1 for all.
    static func consoleLength(_ v: JSONValue?) throws -> Int? {
        guard let v, v != .null else { return nil }
        guard let n = NovaSchemas.integer(v), n >= -1 else {
            throw NimbusError.badRequest("Invalid input for field/attribute length. Value: \(v.pythonStr). \(v.pythonRepr) is not of type 'integer', 'string'")
        }
        return n == -1 ? nil : n
    }

    func actionView(_ a: InstanceAction, _ v: NovaVersion, _ c: Caller, events: Bool) -> JSONValue {
        var o: JSONObject = ["action": .string(a.action), "instance_uuid": .string(a.instanceID), "request_id": .string(a.requestID),
                             "user_id": .string(a.userID), "project_id": .string(a.projectID), "start_time": .string(NovaTime.micros(a.start)),
                             "message": JSONValue(a.message)]
        if v.atLeast(58) { o["updated_at"] = .string(NovaTime.micros(a.updatedAt)) }
        if events, allows("os_compute_api:os-instance-actions:events", c, target: ["project_id": a.projectID]) {
            o["events"] = .array(a.events.map { e in
                var ev: JSONObject = ["event": .string(e.name), "start_time": .string(NovaTime.micros(e.start)),
                                      "finish_time": e.finish.map { .string(NovaTime.micros($0)) } ?? .null, "result": JSONValue(e.result)]
                if c.isAdmin { ev["traceback"] = JSONValue(e.traceback) }
                if v.atLeast(62), c.isAdmin { ev["host"] = JSONValue(e.host) }
                if v.atLeast(62) { ev["hostId"] = .string(e.host.map { Hex.encode(SHA224.hash(Array((a.projectID + $0).utf8))) } ?? "") }
                return .object(ev)
            })
        }
        return .object(o)
    }
}
