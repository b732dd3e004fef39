import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Volumes (`/volumes`), as Cinder's `v3/volumes.py` answers.
extension CinderAPI {
    static let volumeSortKeys: [String: String] = [
        "created_at": "created_at", "updated_at": "updated_at", "id": "id", "display_name": "name", "name": "name", "size": "size",
        "status": "status", "availability_zone": "availability_zone", "bootable": "bootable", "volume_type": "volume_type_id",
        "description": "description", "display_description": "description", "project_id": "project_id", "user_id": "user_id",
    ]
    /// The filters a project user may use (`resource_filters.json`, `volume`).
    static let volumeFilters: Set<String> = ["name", "status", "metadata", "bootable", "migration_status", "availability_zone", "group_id", "size",
                                             "created_at", "updated_at", "consumes_quota"]
    static let pagingParameters: Set<String> = ["limit", "marker", "offset", "sort", "sort_key", "sort_dir", "with_count", "all_tenants", "project_id"]

    /// Which of the attributes Cinder's controller extensions add the caller may see, for
    /// volumes of one project (decided once per project in a list).
    struct ExtendedAttributes {
        var host = false, migration = false, tenant = false, image = false
    }

    func extendedAttributes(_ c: Caller, project: String?) -> ExtendedAttributes {
        ExtendedAttributes(host: allows("volume_extension:volume_host_attribute", c, project: project),
                           migration: allows("volume_extension:volume_mig_status_attribute", c, project: project),
                           tenant: allows("volume_extension:volume_tenant_attribute", c, project: project),
                           image: allows("volume_extension:volume_image_metadata:show", c, project: project))
    }

    /// The detail view. `extended` adds what Cinder's controller extensions add to show and
    /// detail lists only (host, migration, tenant, image metadata).
    func volumeView(_ d: JSONObject, _ v: CinderVersion, _ c: Caller, _ s: VolumeState, extended: Bool, project: String?,
                    attributes: ExtendedAttributes? = nil) -> JSONObject {
        let id = d["id"]?.stringValue ?? ""
        let type = d["volume_type_id"]?.stringValue.flatMap { s[.volumeType, $0] }
        var metadata = d["metadata"]?.objectValue ?? [:]
        for key in ["readonly", "attached_mode"] { if let m = d["admin_metadata"]?[key] { metadata[key] = m } }
        let attachments: [JSONValue] = s.attachments(of: id).filter { $0["attach_status"]?.stringValue == "attached" }.map { a in
            ["id": .string(id), "attachment_id": a["id"] ?? .null, "volume_id": .string(id), "server_id": a["instance_uuid"] ?? .null,
             "host_name": c.isAdmin ? (a["attached_host"] ?? .null) : .null, "device": a["mountpoint"] ?? .null, "attached_at": a["attach_time"] ?? .null]
        }
        var o: JSONObject = [
            "id": .string(id), "status": d["status"] ?? .null, "size": d["size"] ?? .null, "availability_zone": d["availability_zone"] ?? .null,
            "created_at": d["created_at"] ?? .null, "updated_at": d["updated_at"] ?? .null, "name": d["name"] ?? .null,
            "description": d["description"] ?? .null, "volume_type": type?["name"] ?? d["volume_type_id"] ?? .null,
            "snapshot_id": d["snapshot_id"] ?? .null, "source_volid": d["source_volid"] ?? .null, "metadata": .object(metadata),
            "links": links("volumes", id, project: project), "user_id": d["user_id"] ?? .null,
            "bootable": (d["bootable"]?.boolValue ?? false) ? "true" : "false", "encrypted": false,
            "replication_status": d["replication_status"] ?? .null, "consistencygroup_id": .null, "multiattach": d["multiattach"] ?? false,
            "attachments": .array(attachments),
        ]
        if c.isAdmin { o["migration_status"] = d["migration_status"] ?? .null }
        if v.atLeast(13) { o["group_id"] = d["group_id"] ?? .null }
        if v.atLeast(21) && c.isAdmin { o["provider_id"] = .null }
        if v.atLeast(48) {
            o["shared_targets"] = false
            o["service_uuid"] = d["service_uuid"] ?? .null
        }
        if v.atLeast(61) && c.isAdmin { o["cluster_name"] = .null }
        if v.atLeast(63) { o["volume_type_id"] = d["volume_type_id"] ?? .null }
        if v.atLeast(65) { o["consumes_quota"] = true }
        if extended {
            let a = attributes ?? extendedAttributes(c, project: d["project_id"]?.stringValue)
            if a.host { o["os-vol-host-attr:host"] = d["host"] ?? .null }
            if a.migration {
                o["os-vol-mig-status-attr:migstat"] = d["migration_status"] ?? .null
                o["os-vol-mig-status-attr:name_id"] = .null
            }
            if a.tenant { o["os-vol-tenant-attr:tenant_id"] = d["project_id"] ?? .null }
            if a.image, let image = d["volume_image_metadata"] { o["volume_image_metadata"] = image }
        }
        return o
    }

    /// Volumes the caller lists: their project's, or with `all_tenants` (admin) everyone's.
    func filteredVolumes(_ req: Request, _ v: CinderVersion, _ c: Caller, _ s: VolumeState) throws -> [JSONObject] {
        let q = req.queryString
        let allTenants = c.isAdmin && (q["all_tenants"].map { (try? CinderInput.boolean(.string($0), "all_tenants")) ?? true } ?? false)
        var project: String? = allTenants ? nil : c.projectID
        if c.isAdmin, let p = q["project_id"] { project = p }
        var filters = [(String, String)]()
        for (k, value) in q.pairs where !Self.pagingParameters.contains(k) {
            let base = k.hasByteSuffix("~") && v.atLeast(34) ? String(k.dropLast()) : k
            if !c.isAdmin && !Self.volumeFilters.contains(base) {
                if v.atLeast(31) { throw NimbusError.badRequest("Invalid filters \(k) are found in query options.") }
                continue
            }
            filters.append((k, value))
        }
        var out = [JSONObject]()
        let typeNames = Dictionary(s.all(.volumeType).compactMap { t in t["id"]?.stringValue.map { ($0, t["name"]?.stringValue ?? "") } },
                                   uniquingKeysWith: { a, _ in a })
        candidates: for d in s.all(.volume) {
            if let project, d["project_id"]?.stringValue?.sameBytes(as: project) != true { continue }
            for (k, value) in filters {
                guard Self.volumeMatches(d, k, value, v, typeNames) else { continue candidates }
            }
            out.append(d)
        }
        return out
    }

    static func volumeMatches(_ d: JSONObject, _ key: String, _ value: String, _ v: CinderVersion, _ typeNames: [String: String]) -> Bool {
        if key.hasByteSuffix("~") {
            let field = String(key.dropLast())
            let have = (field == "name" || field == "description") ? d[field]?.stringValue : d[field]?.stringValue
            return have?.lowercased().utf8.contains(subsequence: Array(value.lowercased().utf8)) ?? false
        }
        switch key {
        case "metadata":
            guard let want = PythonLiteral.dictionary(value) else { return false }
            let have = d["metadata"]?.objectValue ?? [:]
            return want.allSatisfy { have[$0.key]?.stringValue?.sameBytes(as: $0.value) == true }
        case "bootable":
            let b = d["bootable"]?.boolValue ?? false
            let lower = value.lowercased()
            return (["true", "1", "yes", "t", "on"].contains(lower) || (!v.atLeast(2) && lower != "false" && lower != "0")) == b
        case "size":
            return d["size"]?.intValue.map(String.init) == value
        case "volume_type":
            guard let t = d["volume_type_id"]?.stringValue else { return false }
            return t == value || typeNames[t].map { $0.sameBytes(as: value) } == true
        case "status", "name", "availability_zone", "migration_status", "description", "user_id", "host", "id", "snapshot_id", "source_volid":
            return d[key]?.stringValue?.sameBytes(as: value) == true
        case "group_id":
            return d["group_id"]?.stringValue?.sameBytes(as: value) ?? value.isEmpty
        case "consumes_quota":
            return ["true", "1"].contains(value.lowercased())
        default:
            return d[key]?.stringValue?.sameBytes(as: value) == true
        }
    }

    func addVolumeRoutes(_ t: inout RouteTable) {
        for detail in [false, true] {
            route(&t, .get, detail ? "/volumes/detail" : "/volumes") { req, ctx, v in
                let c = try self.caller(ctx)
                try self.authorize("volume:get_all", c)
                let s = self.service.state
                let all = try self.filteredVolumes(req, v, c, s)
                let listing = try CinderListing(req.queryString, keys: Self.volumeSortKeys)
                let (page, full) = try listing.apply(all)
                let project = ctx.pathParameters["project_id"]
                var decided = [String: ExtendedAttributes]()
                var body: JSONObject = ["volumes": .array(page.map { d in
                    if detail {
                        let owner = d["project_id"]?.stringValue ?? ""
                        let a = decided[owner] ?? self.extendedAttributes(c, project: owner)
                        decided[owner] = a
                        return .object(self.volumeView(d, v, c, s, extended: true, project: project, attributes: a))
                    }
                    let id = d["id"]?.stringValue ?? ""
                    return ["id": .string(id), "name": d["name"] ?? .null, "links": self.links("volumes", id, project: project)]
                })]
                if full, let last = page.last?["id"]?.stringValue {
                    let path = "/v3" + (project.map { "/" + $0 } ?? "") + (detail ? "/volumes/detail" : "/volumes")
                    body["volumes_links"] = CinderListing.nextLink(base: self.publicURL, path: path, req.queryString, lastID: last)
                }
                if v.atLeast(45), let w = req.query("with_count"), (try? CinderInput.boolean(.string(w), "with_count")) == true {
                    body["count"] = .int(Int64(all.count))
                }
                return .json(.object(body))
            }
        }
        route(&t, .get, "/volumes/summary") { req, ctx, v in
            guard v.atLeast(12) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            try self.authorize("volume:get_all", c)
            let s = self.service.state
            let all = try self.filteredVolumes(req, v, c, s)
            var summary: JSONObject = ["total_count": .int(Int64(all.count)), "total_size": .int(all.reduce(0) { $0 + ($1["size"]?.intValue ?? 0) })]
            if v.atLeast(36) {
                var meta = [String: [String]]()
                for d in all { for (k, val) in d["metadata"]?.objectValue ?? [:] { if let sv = val.stringValue, !(meta[k] ?? []).contains(sv) { meta[k, default: []].append(sv) } } }
                summary["metadata"] = .object(JSONObject(pairs: meta.map { ($0.key, JSONValue($0.value)) }))
            }
            return .json(["volume-summary": .object(summary)])
        }
        route(&t, .get, "/volumes/{id}") { _, ctx, v in
            let c = try self.caller(ctx)
            let d = try self.service.volume(try ctx.parameter("id"), actor: c.actor)
            try self.authorize("volume:get", c, d)
            return .json(["volume": .object(self.volumeView(d, v, c, self.service.state, extended: true, project: ctx.pathParameters["project_id"]))])
        }
        route(&t, .post, "/volumes") { req, ctx, v in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            try CinderInput.only(body, ["volume", "OS-SCH-HNT:scheduler_hints"], "body")
            let o = try Self.member(body, "volume")
            var allowed: Set<String> = ["name", "description", "display_name", "display_description", "volume_type", "metadata", "snapshot_id",
                                        "source_volid", "consistencygroup_id", "size", "availability_zone", "multiattach", "image_id", "imageRef"]
            if v.atLeast(13) { allowed.insert("group_id") }
            if v.atLeast(47) { allowed.insert("backup_id") }
            if v.atLeast(53) { try CinderInput.only(o, allowed, "volume") }
            var r = VolumeCreate()
            r.name = (try CinderInput.name(o, "name") ?? CinderInput.name(o, "display_name")) ?? nil
            r.description = (try CinderInput.name(o, "description") ?? CinderInput.name(o, "display_description")) ?? nil
            if let size = o["size"], !size.isNull { r.sizeGB = try CinderInput.integer(size, "size", 0...Int64(Int32.max)) }
            if let t = try CinderInput.name(o, "volume_type"), let t { r.volumeType = t }
            r.metadata = try CinderInput.metadata(o["metadata"]) ?? [:]
            func uuid(_ key: String) throws -> String? {
                guard let x = o[key], !x.isNull else { return nil }
                guard let s = x.stringValue, UUIDText.isUUID(s) else { throw CinderInput.invalid(key, x, "is not a 'uuid'") }
                return s
            }
            r.snapshotID = try uuid("snapshot_id")
            r.sourceVolumeID = try uuid("source_volid")
            if v.atLeast(47) { r.backupID = try uuid("backup_id") }
            if v.atLeast(13) { r.groupID = try uuid("group_id") }
            if let z = o["availability_zone"], !z.isNull {
                guard let zs = z.stringValue, !zs.isEmpty, zs.utf8.count <= 255 else { throw CinderInput.invalid("availability_zone", z, "is not valid") }
                r.availabilityZone = zs
            }
            if let m = o["multiattach"], !m.isNull, try CinderInput.boolean(m, "multiattach") {
                throw NimbusError.badRequest("multiattach parameter has been removed. The default behavior is to use multiattach enabled volume types. Contact your administrator to create a multiattach enabled volume type and use it to create multiattach volumes.")
            }
            for key in ["imageRef", "image_id"] {
                guard let i = o[key], !i.isNull else { continue }
                guard let s = i.stringValue, s.utf8.count <= 255 else { throw CinderInput.invalid(key, i, "is not of type 'string'") }
                // A URL names the image by its last path segment.
                r.imageID = s.splitBytes("/").last.map(String.init) ?? s
            }
            r.requestID = ctx.requestID
            r.novaImageSnapshots = v.atLeast(46)
            try self.authorize("volume:create", c)
            if r.imageID != nil { try self.authorize("volume:create_from_image", c) }
            let d = try await self.service.createVolume(r, actor: c.actor, caller: c.auth)
            return .json(["volume": .object(self.volumeView(d, v, c, self.service.state, extended: false, project: ctx.pathParameters["project_id"]))],
                         status: .accepted)
        }
        route(&t, .put, "/volumes/{id}") { req, ctx, v in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let o = try Self.member(try await Self.body(req, ctx), "volume", only: true)
            try CinderInput.only(o, ["name", "description", "display_name", "display_description", "metadata"], "volume")
            if o["metadata"]?.isNull == true { throw CinderInput.invalid("metadata", .null, "is not of type 'object'") }
            if v.atLeast(53), o.isEmpty { throw NimbusError.badRequest("Invalid input for field/attribute volume. Value: {}. {} should be non-empty") }
            let name = try CinderInput.name(o, "name") ?? CinderInput.name(o, "display_name")
            let description = try CinderInput.name(o, "description") ?? CinderInput.name(o, "display_description")
            let metadata = try CinderInput.metadata(o["metadata"])
            let current = try self.service.volume(id, actor: c.actor)
            try self.authorize("volume:update", c, current)
            if current["status"]?.stringValue == "maintenance" { throw VolumeFault.invalidVolume("Volume \(id) is in maintenance.") }
            let d = try await self.service.updateVolume(id, name: name, description: description, metadata: metadata, actor: c.actor)
            return .json(["volume": .object(self.volumeView(d, v, c, self.service.state, extended: false, project: ctx.pathParameters["project_id"]))])
        }
        route(&t, .delete, "/volumes/{id}") { req, ctx, v in
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let d = try self.service.volume(id, actor: c.actor)
            try self.authorize("volume:delete", c, d)
            let cascade = try req.query("cascade").map { try CinderInput.boolean(.string($0), "cascade") } ?? false
            var force = false
            if v.atLeast(23), let f = req.query("force") { force = try CinderInput.boolean(.string(f), "force") }
            if force { try self.authorize("volume:force_delete", c, d) }
            try await self.service.deleteVolume(id, cascade: cascade, force: force, actor: c.actor)
            return .empty(.accepted)
        }
        addMetadataRoutes(&t, collection: "volumes", kind: .volume, rules: ("volume:get_volume_metadata", "volume:create_volume_metadata",
                                                                           "volume:update_volume_metadata", "volume:delete_volume_metadata"))
    }

    /// `/<collection>/{id}/metadata[/{key}]` for volumes and snapshots.
    func addMetadataRoutes(_ t: inout RouteTable, collection: String, kind: VolumeKind, rules: (get: String, create: String, update: String, delete: String)) {
        @Sendable func load(_ ctx: NimbusRequestContext, _ c: Caller) throws -> JSONObject {
            let id = try ctx.parameter("id")
            return kind == .volume ? try service.volume(id, actor: c.actor) : try service.snapshot(id, actor: c.actor)
        }
        route(&t, .get, "/\(collection)/{id}/metadata") { _, ctx, _ in
            let c = try self.caller(ctx)
            let d = try load(ctx, c)
            try self.authorize(rules.get, c, d)
            return .json(["metadata": d["metadata"] ?? [:]])
        }
        for replace in [false, true] {
            route(&t, replace ? .put : .post, "/\(collection)/{id}/metadata") { req, ctx, _ in
                let c = try self.caller(ctx)
                let d = try load(ctx, c)
                try self.authorize(replace ? rules.update : rules.create, c, d)
                let body = try await Self.body(req, ctx)
                guard let m = try CinderInput.metadata(body["metadata"]) else { throw NimbusError.badRequest("Malformed request body") }
                let result = try await self.service.changeMetadata(kind, try ctx.parameter("id"), set: m, replace: replace, actor: c.actor)
                return .json(["metadata": .object(result)])
            }
        }
        route(&t, .get, "/\(collection)/{id}/metadata/{key}") { _, ctx, _ in
            let c = try self.caller(ctx)
            let d = try load(ctx, c)
            try self.authorize(rules.get, c, d)
            let key = try ctx.parameter("key")
            guard let value = d["metadata"]?[key] else {
                throw NimbusError.notFound("\(kind == .volume ? "Volume" : "Snapshot") \(d["id"]?.stringValue ?? "") has no metadata with key \(key).")
            }
            return .json(["meta": .object(JSONObject(pairs: [(key, value)]))])
        }
        route(&t, .put, "/\(collection)/{id}/metadata/{key}") { req, ctx, _ in
            let c = try self.caller(ctx)
            let d = try load(ctx, c)
            try self.authorize(rules.update, c, d)
            let key = try ctx.parameter("key")
            let body = try await Self.body(req, ctx)
            guard let meta = try CinderInput.metadata(body["meta"], "meta") else { throw NimbusError.badRequest("Malformed request body") }
            guard meta.count == 1 else { throw NimbusError.badRequest("Request body contains too many items") }
            guard meta[key] != nil else { throw NimbusError.badRequest("Request body and URI mismatch") }
            _ = try await self.service.changeMetadata(kind, try ctx.parameter("id"), set: meta, replace: false, actor: c.actor)
            return .json(["meta": .object(JSONObject(pairs: meta.map { ($0.key, .string($0.value)) }))])
        }
        route(&t, .delete, "/\(collection)/{id}/metadata/{key}") { _, ctx, _ in
            let c = try self.caller(ctx)
            let d = try load(ctx, c)
            try self.authorize(rules.delete, c, d)
            _ = try await self.service.changeMetadata(kind, try ctx.parameter("id"), set: [:], replace: false, delete: try ctx.parameter("key"), actor: c.actor)
            return .empty(.ok)
        }
    }
}
