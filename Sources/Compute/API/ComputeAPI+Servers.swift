import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Servers (`/servers`, `/servers/detail`, `/servers/{id}`), as Nova's `servers.py` answers.
extension ComputeAPI {
    func addServerRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/servers", versioned { req, ctx, v in try await self.listServers(req, ctx, v, detail: false) })
        t.get("/v2.1/servers/detail", versioned { req, ctx, v in try await self.listServers(req, ctx, v, detail: true) })
        t.get("/v2.1/servers/{server_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:servers:show", c, target: ["project_id": i.projectID])
            return .json(["server": self.serverView(i, v, c, hosts: try await self.hostsByName(), single: true)])
        })
        t.post("/v2.1/servers", versioned { req, ctx, v in try await self.createServer(req, ctx, v) })
        t.put("/v2.1/servers/{server_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let current = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:servers:update", c, target: ["project_id": current.projectID])
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), NovaSchemas.serverUpdate(v))
            let s = body["server"]!
            let name = s["name"]?.stringValue
            let description: String?? = v.atLeast(19) && s["description"] != nil ? .some(s["description"]!.stringValue) : .none
            let hostname = v.atLeast(90) ? s["hostname"]?.stringValue : nil
            let updated = try await self.service.updateServer(current.id, caller: c.auth, isAdmin: c.isAdmin) { i in
                if let name { i.name = name }
                if let description { i.description = description }
                if let hostname { i.hostname = hostname }
                if let ip = s["accessIPv4"]?.stringValue { i.accessIPv4 = ip }
                if let ip = s["accessIPv6"]?.stringValue { i.accessIPv6 = NovaText.normalizedIPv6(ip) }
            }
            return .json(["server": .object(self.updateView(updated, v, c, hosts: try await self.hostsByName()))])
        })
        t.delete("/v2.1/servers/{server_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let current = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:servers:delete", c, target: ["project_id": current.projectID])
            try await self.service.deleteServer(current.id, caller: c.auth, isAdmin: c.isAdmin, lockOverride: c.isAdmin, requestID: ctx.requestID)
            return .empty(.noContent)
        })
        addServerActionRoutes(&t)
        addSecurityGroupProxyRoutes(&t)
        addExternalEventRoutes(&t)
    }

    func hostsByName() async throws -> [Name: ComputeHost] {
        Dictionary(try await service.hosts.list().map { (Name($0.host), $0) }, uniquingKeysWith: { a, _ in a })
    }

    func createServer(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion) async throws -> Response {
        let c = try caller(ctx)
        try authorize("os_compute_api:servers:create", c)
        let body = try NovaSchemas.validate(try await Self.body(req, ctx), NovaSchemas.serverCreate(v))
        let s = body["server"]!
        var flavorID = ""
        switch s["flavorRef"] {
        case .string(let f)?: flavorID = Self.lastSegment(f)
        case .int(let n)?: flavorID = String(n)
        default: break
        }
        let image = s["imageRef"]?.stringValue.map(Self.lastSegment).flatMap { $0.isEmpty ? nil : $0 }
        var r = ServerRequest(name: s["name"]!.stringValue!, imageID: image, flavorID: flavorID)
        r.keyName = s["key_name"]?.stringValue
        r.userData = s["user_data"]?.stringValue
        r.configDrive = s["config_drive"].flatMap(NovaSchemas.bool) ?? false
        r.metadata = s["metadata"]?.objectValue?.compactMapValues { $0.stringValue } ?? [:]
        if let az = s["availability_zone"]?.stringValue {
            // nova.compute.api parse_availability_zone: `zone`, `zone:host`, `zone:host:node`, `:host`.
            let parts = az.splitBytes(":", maxSplits: 2, omittingEmpty: false).map(String.init)
            r.availabilityZone = parts[0].isEmpty ? nil : parts[0]
            let host = parts.count > 1 && !parts[1].isEmpty ? parts[1] : (parts.count > 2 && !parts[2].isEmpty ? parts[2] : nil)
            if let host {
                try authorize("os_compute_api:servers:create:forced_host", c)
                r.requestedHost = host
            }
        }
        if v.atLeast(74), let host = s["host"]?.stringValue ?? s["hypervisor_hostname"]?.stringValue {
            try authorize("compute:servers:create:requested_destination", c)
            r.requestedHost = host
        }
        let hints = body["os:scheduler_hints"] ?? body["OS-SCH-HNT:scheduler_hints"]
        func uuids(_ v: JSONValue?) -> [String] {
            switch v {
            case .string(let one)?: [one]
            case .array(let many)?: many.compactMap(\.stringValue)
            default: []
            }
        }
        r.sameHost = uuids(hints?["same_host"])
        r.differentHost = uuids(hints?["different_host"])
        r.groupID = hints?["group"]?.stringValue
        r.minCount = s["min_count"].flatMap(NovaSchemas.count) ?? 1
        r.maxCount = s["max_count"].flatMap(NovaSchemas.count) ?? r.minCount
        guard r.minCount <= r.maxCount else { throw NimbusError.badRequest("min_count must be <= max_count") }
        r.description = v.atLeast(19) ? s["description"]?.stringValue : nil
        // Nova keeps tags as a set: each once (compared as bytes), first occurrence first
        var seenTags = Set<Name>()
        r.tags = v.atLeast(52) ? (s["tags"]?.arrayValue?.compactMap { $0.stringValue }.filter { seenTags.insert(Name($0)).inserted } ?? []) : []
        r.hostname = v.atLeast(90) ? s["hostname"]?.stringValue : nil
        if r.hostname != nil, r.maxCount > 1 { throw NimbusError.badRequest("Cannot provide a hostname when creating multiple servers.") }
        r.accessIPv4 = s["accessIPv4"]?.stringValue
        r.accessIPv6 = s["accessIPv6"]?.stringValue.map(NovaText.normalizedIPv6)
        switch s["networks"] {
        case .string("none")?: r.networks = []
        case .string("auto")?, nil: r.networks = nil
        case .array(let list)?:
            r.networks = try list.map { n in
                let uuid = n["uuid"]?.stringValue, port = n["port"]?.stringValue
                if uuid == nil && port == nil {
                    throw NimbusError.badRequest("Bad networks format: network uuid is not in proper format (None)")
                }
                return RequestedNIC(networkID: port == nil ? uuid : nil, portID: port, fixedIP: n["fixed_ip"]?.stringValue, tag: n["tag"]?.stringValue)
            }
            if list.isEmpty { r.networks = nil }
        default: break
        }
        var groupNames = [String]()
        for g in s["security_groups"]?.arrayValue ?? [] {
            if let n = g["name"]?.stringValue, !groupNames.contains(where: { $0.sameBytes(as: n) }) { groupNames.append(n) }
        }
        r.securityGroups = groupNames
        r.blockDevices = try Self.blockDevices(s, imageRef: r.imageID)
        r.multiattachAllowed = v.atLeast(60)
        if !r.blockDevices.isEmpty { try authorize("os_compute_api:servers:create:attach_volume", c) }
        let made = try await service.createServers(r, caller: c.auth, requestID: ctx.requestID)
        if s["return_reservation_id"].flatMap(NovaSchemas.bool) == true {
            return .json(["reservation_id": .string(made.first?.reservationID ?? "")], status: .accepted)
        }
        let first = made[0]
        var view: JSONObject = ["id": .string(first.id), "links": links("servers", first.id), "OS-DCF:diskConfig": "MANUAL",
                                "security_groups": [["name": "default"]]]
        view["adminPass"] = .string(s["adminPass"]?.stringValue ?? Self.password())
        var h = HTTPFields()
        h[.location] = "\(publicURL)/v2.1/servers/\(first.id)"
        return .json(["server": .object(view)], status: .accepted, headers: h)
    }

    /// The request's block device mappings as v2 entries (`_process_bdms_for_create`): a legacy
    /// list is converted as `block_device.from_legacy_mapping` does (the volume named for the root
    /// device `vda` boots; otherwise the image does); `no_device` entries are dropped.
    static func blockDevices(_ s: JSONValue, imageRef: String?) throws -> [BlockDeviceRequest] {
        let v2 = s["block_device_mapping_v2"]?.arrayValue ?? [], legacy = s["block_device_mapping"]?.arrayValue ?? []
        if !v2.isEmpty && !legacy.isEmpty {
            throw NimbusError.badRequest("Using different block_device_mapping syntaxes is not allowed in the same request.")
        }
        func invalid(_ details: String) -> NimbusError { .badRequest("Block Device Mapping is Invalid: \(details)") }
        func noDevice(_ b: JSONValue) -> Bool {
            guard let v = b["no_device"] else { return false }
            return NovaSchemas.bool(v) ?? (v != .null && v != .bool(false) && v != .string(""))
        }
        func size(_ b: JSONValue) -> Int? { b["volume_size"].flatMap(NovaSchemas.count) }
        func deleteOnTermination(_ b: JSONValue) -> Bool { b["delete_on_termination"].flatMap(NovaSchemas.bool) ?? false }
        if !legacy.isEmpty {
            var out = [BlockDeviceRequest]()
            for b in legacy where !noDevice(b) {
                let root = (b["device_name"]?.stringValue).map { name in
                    let bytes = Array(name.utf8)
                    return bytes == Array("vda".utf8) || bytes == Array("/dev/vda".utf8)
                } ?? false
                if let id = b["volume_id"]?.stringValue ?? b["snapshot_id"]?.stringValue {
                    out.append(BlockDeviceRequest(source: b["volume_id"] != nil ? .volume : .snapshot, toVolume: true, uuid: id, volumeSize: size(b),
                                                  bootIndex: root ? 0 : -1, deleteOnTermination: deleteOnTermination(b)))
                } else if b["virtual_name"] != nil {
                    out.append(BlockDeviceRequest(source: .blank, toVolume: false, volumeSize: size(b), bootIndex: -1))
                } else {
                    throw invalid("Unrecognized legacy format.")
                }
            }
            if let imageRef, !out.contains(where: { $0.bootIndex == 0 }) {
                out.insert(BlockDeviceRequest(source: .image, toVolume: false, uuid: imageRef, bootIndex: 0, deleteOnTermination: true), at: 0)
            }
            return out
        }
        var out = [BlockDeviceRequest]()
        for b in v2 where !noDevice(b) {
            guard let source = b["source_type"]?.stringValue.flatMap(BlockDeviceRequest.Source.init(rawValue:)) else {
                throw invalid("Some required fields are missing")
            }
            var boot: Int?
            switch b["boot_index"] {
            case .int(let i)?:
                guard let n = Int(exactly: i) else { throw invalid("Boot index is invalid.") }
                boot = n
            case .string(let t)?:
                guard let n = Int(t) else { throw invalid("Boot index is invalid.") }
                boot = n
            case .double?:   // an integer past 64 bits: Nova takes it, and no boot order starts there
                throw invalid("Boot sequence for the instance and image/block device mapping combination is not valid.")
            default: boot = nil
            }
            // Nova's DiskBus values (its InvalidBDMDiskBus renders the generic message: `msg_fmr`).
            if let bus = b["disk_bus"]?.stringValue, !["fdc", "ide", "sata", "scsi", "usb", "virtio", "xen", "lxc", "uml"].contains(bus) {
                throw NimbusError.badRequest("Block Device Mapping is Invalid.")
            }
            let uuid = b["uuid"]?.stringValue
            if let uuid, source != .blank, !UUIDText.isUUID(uuid) {
                // Nova looks the id up (and fails) rather than refusing its shape.
                throw invalid("failed to get \(source.rawValue) \(uuid).")
            }
            out.append(BlockDeviceRequest(source: source, toVolume: b["destination_type"]?.stringValue == "volume", uuid: uuid,
                                          volumeSize: size(b), bootIndex: boot, deleteOnTermination: deleteOnTermination(b),
                                          tag: b["tag"]?.stringValue, volumeType: b["volume_type"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                                          guestFormat: b["guest_format"]?.stringValue))
        }
        return out
    }

    /// A reference may be a bare id or a URL ending in one.
    static func lastSegment(_ ref: String) -> String { String(ref.splitBytes("/").last ?? ref[...]) }

    /// Nova's generated admin password: 12 characters, no look-alikes.
    static func password() -> String {
        let chars = Array("23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ")
        return String((0..<12).map { _ in chars.randomElement()! })
    }

    func listServers(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion, detail: Bool) async throws -> Response {
        let c = try caller(ctx)
        let q = req.queryString
        try authorize(detail ? "os_compute_api:servers:detail" : "os_compute_api:servers:index", c)
        let allTenants = q["all_tenants"].map { NovaSchemas.strictBool($0) ?? ($0.isEmpty ? true : false) } ?? false
        if allTenants {
            try authorize(detail ? "os_compute_api:servers:detail:get_all_tenants" : "os_compute_api:servers:index:get_all_tenants", c)
        }
        let listing = try ServerListQuery(q, v, isAdmin: c.isAdmin, project: c.projectID)
        var query = listing.repository
        let pageSize = listing.limit ?? 1000
        // The marker is a position only (Nova's get_marker_record): found even when deleted or
        // no longer matching the filters, but only among servers the caller may list.
        var markerRow: Instance?
        if let m = listing.marker {
            guard let found = try await service.instances.get(m),
                  query.projectID.map({ found.projectID.sameBytes(as: $0) }) ?? true else {
                throw NimbusError.badRequest("marker [\(m)] not found")
            }
            markerRow = found
        }
        let rows: [Instance]
        if listing.needsMemory {
            // Filters only the API applies, or another order: the whole (SQL-filtered) set.
            var list = listing.apply(try await service.instances.list(query))
            if let markerRow { list = list.filter { listing.precedes(markerRow, $0) } }
            rows = Array(list.prefix(pageSize + 1))
        } else {
            // The page is cut in SQL: one more row than the page tells whether there are more.
            query.after = markerRow.map { ($0.createdAt, $0.id) }
            query.limit = pageSize + 1
            rows = try await service.instances.list(query)
        }
        let page = Array(rows.prefix(pageSize))
        let hosts = detail ? try await hostsByName() : [:]
        var body: JSONObject = ["servers": .array(page.map { detail ? serverView($0, v, c, hosts: hosts) : serverSummary($0) })]
        if page.count == pageSize, rows.count > page.count || listing.limit != nil, let last = page.last {
            body["servers_links"] = [["rel": "next", "href": .string(nextLink("servers" + (detail ? "/detail" : ""), req, marker: last.id))]]
        }
        return .json(.object(body))
    }

}
