import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Availability zones, services, scheduler pools, user messages and extensions; and volume
/// transfers (`os-volume-transfer`, `volume-transfers`).
extension CinderAPI {
    /// The extensions this service implements (name, alias, updated, description).
    static let extensions: [(String, String, String, String)] = [
        ("AdminActions", "os-admin-actions", "2012-08-25T00:00:00+00:00", "Enable admin actions."),
        ("AvailabilityZones", "os-availability-zone", "2013-06-27T00:00:00+00:00", "Describe Availability Zones."),
        ("Backups", "backups", "2012-12-12T00:00:00+00:00", "Backups support."),
        ("ExtendedSnapshotAttributes", "os-extended-snapshot-attributes", "2012-06-19T00:00:00+00:00", "Extended SnapshotAttributes support."),
        ("Hosts", "os-hosts", "2011-06-29T00:00:00+00:00", "Admin-only host administration."),
        ("QuotaClasses", "os-quota-class-sets", "2012-03-12T00:00:00+00:00", "Quota classes management support."),
        ("Quotas", "os-quota-sets", "2011-08-08T00:00:00+00:00", "Quota management support."),
        ("SchedulerHints", "OS-SCH-HNT", "2013-04-18T00:00:00+00:00", "Pass arbitrary key/value pairs to the scheduler."),
        ("Scheduler_stats", "scheduler-stats", "2014-09-07T00:00:00+00:00", "Scheduler stats support."),
        ("Services", "os-services", "2012-10-28T00:00:00-00:00", "Services support."),
        ("SnapshotActions", "os-snapshot-actions", "2013-07-16T00:00:00+00:00", "Enable snapshot manager actions."),
        ("TypesExtraSpecs", "os-types-extra-specs", "2011-08-24T00:00:00+00:00", "Type extra specs support."),
        ("TypesManage", "os-types-manage", "2011-08-24T00:00:00+00:00", "Types manage support."),
        ("UsedLimits", "os-used-limits", "2013-10-03T00:00:00+00:00", "Provide data on limited resources that are being used."),
        ("VolumeActions", "os-volume-actions", "2012-05-31T00:00:00+00:00", "Enable volume actions."),
        ("VolumeHostAttribute", "os-vol-host-attr", "2011-11-03T00:00:00+00:00", "Expose host as an attribute of a volume."),
        ("VolumeImageMetadata", "os-vol-image-meta", "2012-12-07T00:00:00+00:00", "Show image metadata associated with the volume."),
        ("VolumeMigStatusAttribute", "os-vol-mig-status-attr", "2013-08-08T00:00:00+00:00", "Expose migration_status as an attribute of a volume."),
        ("VolumeTenantAttribute", "os-vol-tenant-attr", "2011-11-03T00:00:00+00:00", "Expose the internal project_id as an attribute of a volume."),
        ("VolumeTransfer", "os-volume-transfer", "2013-05-29T00:00:00+00:00", "Volume transfer management support."),
        ("VolumeTypeAccess", "os-volume-type-access", "2014-06-26T00:00:00Z", "Volume type access support."),
    ]

    func addMiscRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/os-availability-zone") { _, _, _ in
            .json(["availabilityZoneInfo": [["zoneName": .string(self.service.settings.availabilityZone), "zoneState": ["available": true]]]])
        }
        route(&t, .get, "/extensions") { _, _, _ in
            .json(["extensions": .array(Self.extensions.map { ["name": .string($0.0), "alias": .string($0.1), "updated": .string($0.2),
                                                                "description": .string($0.3), "links": []] })])
        }
        route(&t, .get, "/extensions/{alias}") { _, ctx, _ in
            let alias = try ctx.parameter("alias")
            guard let e = Self.extensions.first(where: { $0.1 == alias }) else { throw NimbusError.notFound("Extension \(alias) could not be found.") }
            return .json(["extension": ["name": .string(e.0), "alias": .string(e.1), "updated": .string(e.2), "description": .string(e.3), "links": []]])
        }
        route(&t, .get, "/os-services") { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:services:index", c)
            let now = VolumeService.now()
            var services: [JSONObject] = self.service.services().map { svc in
                let disabled = svc["disabled"]?.boolValue ?? false
                var o: JSONObject = ["binary": svc["binary"] ?? .null, "host": svc["host"] ?? .null, "zone": .string(self.service.settings.availabilityZone),
                                     "status": disabled ? "disabled" : "enabled", "state": "up", "updated_at": .string(now),
                                     "disabled_reason": svc["disabled_reason"] ?? .null]
                if svc["binary"]?.stringValue == "cinder-volume" {
                    o["replication_status"] = "disabled"
                    o["active_backend_id"] = .null
                    o["frozen"] = svc["frozen"] ?? false
                    if v.atLeast(49) { o["backend_state"] = "up" }
                }
                if v.atLeast(7) { o["cluster"] = .null }
                return o
            }
            if let h = req.query("host") { services = services.filter { VolumeService.hostMatches($0["host"]?.stringValue ?? "", h) } }
            if let b = req.query("binary") { services = services.filter { $0["binary"]?.stringValue?.sameBytes(as: b) == true } }
            return .json(["services": .array(services.map { .object($0) })])
        }
        route(&t, .put, "/os-services/{action}") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:services:update", c)
            let action = try ctx.parameter("action")
            let body = try await Self.body(req, ctx)
            func text(_ key: String) throws -> String? {
                guard let v = body[key], !v.isNull else { return nil }
                guard let s = v.stringValue, !s.isEmpty, s.unicodeScalars.count <= 255 else { throw CinderInput.invalid(key, v, "is not a valid value") }
                return s
            }
            switch action {
            case "enable", "disable", "disable-log-reason":
                try CinderInput.only(body, action == "disable-log-reason" ? ["host", "binary", "service", "disabled_reason"] : ["host", "binary", "service"],
                                     "body")
                guard let host = try text("host") else { throw NimbusError.badRequest("Missing required element 'host' in request body.") }
                let binary = try text("binary") ?? text("service") ?? ""
                var reason: String?
                if action == "disable-log-reason" {
                    guard let r = body["disabled_reason"], let rs = r.stringValue, !rs.isEmpty, rs.unicodeScalars.count <= 255,
                          rs.trimmingCharacters(in: .whitespaces) == rs else {
                        throw CinderInput.invalid("disabled_reason", body["disabled_reason"] ?? .null, "is not a valid disabled reason")
                    }
                    reason = rs
                }
                let disabled = action != "enable"
                try await self.service.setService(host: host, binary: binary, disabled: disabled, reason: reason)
                var out: JSONObject = ["host": .string(host), "service": body["service"] ?? "", "binary": body["binary"] ?? "",
                                       "status": disabled ? "disabled" : "enabled", "disabled": .bool(disabled)]
                if let reason { out["disabled_reason"] = .string(reason) }
                return .json(.object(out))
            case "freeze", "thaw":
                guard let host = try text("host") else { throw NimbusError.badRequest("Missing required element 'host' in request body.") }
                try await self.service.setFrozen(host: host, action == "freeze")
                return .empty(.ok)
            default:
                throw NimbusError.notFound("Unknown action")
            }
        }
        route(&t, .get, "/os-hosts") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:hosts", c)
            let now = VolumeService.now()
            return .json(["hosts": .array(self.service.services().map { svc in
                ["service-status": "available", "service": svc["binary"] ?? .null, "zone": .string(self.service.settings.availabilityZone),
                 "service-state": svc["disabled"]?.boolValue == true ? "disabled" : "enabled", "host_name": svc["host"] ?? .null, "last-update": .string(now)]
            })])
        }
        route(&t, .get, "/os-hosts/{host}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:hosts", c)
            let host = try ctx.parameter("host")
            guard self.service.services().contains(where: { $0["binary"]?.stringValue == "cinder-volume" && $0["disabled"]?.boolValue != true
                && VolumeService.hostMatches($0["host"]?.stringValue ?? "", host) }) else {
                throw NimbusError.notFound("Host \(host) could not be found.")
            }
            let s = self.service.state
            var perProject = [String: (Int64, Int64, Int64, Int64)]()
            for v in s.all(.volume) { let p = v["project_id"]?.stringValue ?? ""; var e = perProject[p] ?? (0, 0, 0, 0); e.0 += 1; e.1 += v["size"]?.intValue ?? 0; perProject[p] = e }
            for sn in s.all(.snapshot) { let p = sn["project_id"]?.stringValue ?? ""; var e = perProject[p] ?? (0, 0, 0, 0); e.2 += 1; e.3 += sn["volume_size"]?.intValue ?? 0; perProject[p] = e }
            func resource(_ project: String, _ e: (Int64, Int64, Int64, Int64)) -> JSONValue {
                ["resource": ["host": .string(host), "project": .string(project), "volume_count": .string(String(e.0)), "total_volume_gb": .string(String(e.1)),
                              "snapshot_count": .string(String(e.2)), "total_snapshot_gb": .string(String(e.3))]]
            }
            let total = perProject.values.reduce((0, 0, 0, 0)) { ($0.0 + $1.0, $0.1 + $1.1, $0.2 + $1.2, $0.3 + $1.3) }
            return .json(["host": .array([resource("(total)", total)] + perProject.sorted { $0.key.bytesPrecede($1.key) }.map { resource($0.key, $0.value) })])
        }
        route(&t, .get, "/capabilities/{host}") { _, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("volume_extension:capabilities", c)
            let host = try ctx.parameter("host")
            guard VolumeService.hostMatches(self.service.backend.host, host) else { throw NimbusError.notFound("Host \(host) could not be found.") }
            let caps = self.service.capabilities
            return .json(["namespace": .string("OS::Storage::Capabilities::\(host)"), "vendor_name": caps["vendor_name"] ?? .null,
                          "volume_backend_name": caps["volume_backend_name"] ?? .null, "pool_name": .null, "driver_version": caps["driver_version"] ?? .null,
                          "storage_protocol": caps["storage_protocol"] ?? .null, "display_name": .null, "description": .null, "visibility": .null,
                          "replication_targets": [],
                          "properties": ["thin_provisioning": ["title": "Thin Provisioning", "description": "Sets thin provisioning.", "type": "boolean"]]])
        }
        route(&t, .get, "/scheduler-stats/get_pools") { req, ctx, _ in
            let c = try self.caller(ctx)
            try self.authorize("scheduler_extension:scheduler_stats:get_pools", c)
            let host = self.service.backend.host
            var pool: JSONObject = ["name": .string(host)]
            if let d = req.query("detail"), try CinderInput.boolean(.string(d), "detail") {
                let (total, free) = await self.service.backend.capacity()
                var caps = self.service.capabilities
                caps["total_capacity_gb"] = .int(total)
                caps["free_capacity_gb"] = .int(free)
                caps["pool_name"] = .string(host.splitBytes("#").last.map(String.init) ?? "file")
                caps["timestamp"] = .string(VolumeService.now())
                pool["capabilities"] = .object(caps)
            }
            return .json(["pools": [.object(pool)]])
        }
        route(&t, .get, "/messages") { req, ctx, v in
            guard v.atLeast(3) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            try self.authorize("message:get_all", c)
            let all = self.service.state.all(.message).filter { c.isAdmin || $0["project_id"]?.stringValue?.sameBytes(as: c.projectID) == true }
                .filter { m in req.queryString.pairs.allSatisfy { k, value in
                    Self.pagingParameters.contains(k) || !["event_id", "resource_type", "resource_uuid", "message_level", "request_id"].contains(k)
                        || m[k]?.stringValue?.sameBytes(as: value) == true } }
            let (page, _) = try CinderListing(req.queryString, keys: ["created_at": "created_at", "id": "id", "event_id": "event_id",
                                                                      "resource_type": "resource_type", "message_level": "message_level"]).apply(all)
            return .json(["messages": .array(page.map { .object(self.messageView($0, project: ctx.pathParameters["project_id"])) })])
        }
        route(&t, .get, "/messages/{id}") { _, ctx, v in
            guard v.atLeast(3) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let m = try self.service.message(try ctx.parameter("id"), actor: c.actor)
            try self.authorize("message:get", c, m)
            return .json(["message": .object(self.messageView(m, project: ctx.pathParameters["project_id"]))])
        }
        route(&t, .delete, "/messages/{id}") { _, ctx, v in
            guard v.atLeast(3) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            try self.authorize("message:delete", c, try self.service.message(id, actor: c.actor))
            try await self.service.deleteMessage(id, actor: c.actor)
            return .empty(.noContent)
        }
    }

    func messageView(_ m: JSONObject, project: String?) -> JSONObject {
        let id = m["id"]?.stringValue ?? ""
        return ["id": .string(id), "event_id": m["event_id"] ?? .null, "user_message": m["user_message"] ?? .null, "message_level": m["message_level"] ?? .null,
                "created_at": m["created_at"] ?? .null, "guaranteed_until": m["expires_at"] ?? .null, "request_id": m["request_id"] ?? .null,
                "links": links("messages", id, project: project), "resource_type": m["resource_type"] ?? .null, "resource_uuid": m["resource_uuid"] ?? .null]
    }

    // MARK: transfers

    func transferView(_ d: JSONObject, _ v: CinderVersion, detail: Bool, project: String?) -> JSONObject {
        let id = d["id"]?.stringValue ?? ""
        var o: JSONObject = ["id": .string(id), "name": d["name"] ?? .null, "volume_id": d["volume_id"] ?? .null,
                             "links": links("os-volume-transfer", id, project: project)]
        if detail {
            o["created_at"] = d["created_at"] ?? .null
            if v.atLeast(55) { o["no_snapshots"] = d["no_snapshots"] ?? false }
            if v.atLeast(57) {
                o["destination_project_id"] = .null
                o["source_project_id"] = d["project_id"] ?? .null
                o["accepted"] = false
            }
        }
        return o
    }

    func addTransferRoutes(_ t: inout RouteTable) {
        for collection in ["os-volume-transfer", "volume-transfers"] {
            for detail in [false, true] {
                route(&t, .get, "/\(collection)" + (detail ? "/detail" : "")) { req, ctx, v in
                    let c = try self.caller(ctx)
                    try self.authorize("volume:get_all_transfers", c)
                    let allTenants = c.isAdmin && req.query("all_tenants") != nil
                    let all = self.service.state.all(.transfer).filter { allTenants || $0["project_id"]?.stringValue?.sameBytes(as: c.projectID) == true }
                    let (page, _) = try CinderListing(req.queryString, keys: ["created_at": "created_at", "id": "id", "name": "name", "display_name": "name"],
                                                      defaultKey: "created_at", defaultAscending: true).apply(all)
                    return .json(["transfers": .array(page.map { .object(self.transferView($0, v, detail: detail, project: ctx.pathParameters["project_id"])) })])
                }
            }
            route(&t, .get, "/\(collection)/{id}") { _, ctx, v in
                let c = try self.caller(ctx)
                let d = try self.service.transfer(try ctx.parameter("id"), actor: c.actor)
                try self.authorize("volume:get_transfer", c, d)
                return .json(["transfer": .object(self.transferView(d, v, detail: true, project: ctx.pathParameters["project_id"]))])
            }
            route(&t, .post, "/\(collection)") { req, ctx, v in
                let c = try self.caller(ctx)
                let o = try Self.member(try await Self.body(req, ctx), "transfer", only: true)
                try CinderInput.only(o, v.atLeast(55) ? ["volume_id", "name", "no_snapshots"] : ["volume_id", "name"], "transfer")
                guard let vid = o["volume_id"]?.stringValue else {
                    throw NimbusError.badRequest("Invalid input for field/attribute volume_id. 'volume_id' is a required property")
                }
                let name = (try CinderInput.name(o, "name")) ?? nil
                let noSnapshots = try o["no_snapshots"].map { try CinderInput.boolean($0, "no_snapshots") } ?? false
                let volume = try self.service.volume(vid, actor: c.actor)
                try self.authorize("volume:create_transfer", c, volume)
                let (d, key) = try await self.service.createTransfer(volumeID: vid, name: name, noSnapshots: noSnapshots, actor: c.actor)
                var view = self.transferView(d, v, detail: true, project: ctx.pathParameters["project_id"])
                view["auth_key"] = .string(key)
                return .json(["transfer": .object(view)], status: .accepted)
            }
            route(&t, .delete, "/\(collection)/{id}") { _, ctx, _ in
                let c = try self.caller(ctx)
                let id = try ctx.parameter("id")
                try self.authorize("volume:delete_transfer", c, try self.service.transfer(id, actor: c.actor))
                try await self.service.deleteTransfer(id, actor: c.actor)
                return .empty(.accepted)
            }
            route(&t, .post, "/\(collection)/{id}/accept") { req, ctx, v in
                let c = try self.caller(ctx)
                try self.authorize("volume:accept_transfer", c)
                let o = try Self.member(try await Self.body(req, ctx), "accept", only: true)
                try CinderInput.only(o, ["auth_key"], "accept")
                let key: String
                switch o["auth_key"] {
                case .string(let s)?: key = s
                case .int(let i)?: key = String(i)
                default: throw NimbusError.badRequest("Invalid input for field/attribute auth_key. 'auth_key' is a required property")
                }
                let d = try await self.service.acceptTransfer(try ctx.parameter("id"), key: key, actor: c.actor)
                return .json(["transfer": .object(self.transferView(d, v, detail: false, project: ctx.pathParameters["project_id"]))], status: .accepted)
            }
        }
    }
}
