import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Generic volume groups, as Cinder's `v3/group_types.py` (3.11), `group_specs.py`,
/// `groups.py` (3.13; create-from-src 3.14, reset_status 3.20) and `group_snapshots.py` (3.14;
/// reset_status 3.19) answer, with their views.
extension CinderAPI {
    static let groupSortKeys: [String: String] = ["created_at": "created_at", "updated_at": "updated_at", "id": "id", "name": "name", "status": "status"]
    static let groupSnapshotSortKeys: [String: String] = ["created_at": "created_at", "id": "id", "name": "name", "status": "status", "group_id": "group_id"]
    static let groupTypeSortKeys: [String: String] = ["id": "id", "name": "name", "created_at": "created_at", "is_public": "is_public", "description": "description"]
    /// Cinder's resource_filters.json: what non-admins may filter groups and group snapshots by.
    static let groupFilters: Set<String> = ["name", "status"]
    static let groupSnapshotFilters: Set<String> = ["status", "group_id"]

    static func notFoundBelow(_ v: CinderVersion, _ minor: Int) throws {
        guard v.atLeast(minor) else { throw NimbusError.notFound("The resource could not be found.") }
    }

    func groupTypeView(_ t: JSONObject, _ c: Caller) -> JSONObject {
        var o: JSONObject = ["id": t["id"] ?? .null, "name": t["name"] ?? .null, "description": t["description"] ?? .null, "is_public": t["is_public"] ?? true]
        if allows("group:access_group_types_specs", c) { o["group_specs"] = t["group_specs"] ?? [:] }
        return o
    }

    func groupView(_ g: JSONObject, _ v: CinderVersion, _ c: Caller, detail: Bool, listVolumes: Bool) -> JSONObject {
        guard detail else { return ["id": g["id"] ?? .null, "name": g["name"] ?? .null] }
        var o: JSONObject = [
            "id": g["id"] ?? .null, "status": g["status"] ?? .null, "availability_zone": g["availability_zone"] ?? .null,
            "created_at": g["created_at"] ?? .null, "name": g["name"] ?? .null, "description": g["description"] ?? .null,
            "group_type": g["group_type_id"] ?? .null, "volume_types": g["volume_type_ids"] ?? [],
        ]
        if v.atLeast(14) {
            o["group_snapshot_id"] = g["group_snapshot_id"] ?? .null
            o["source_group_id"] = g["source_group_id"] ?? .null
        }
        if v.atLeast(25), listVolumes, let id = g["id"]?.stringValue {
            o["volumes"] = .array(service.state.volumes(inGroup: id).compactMap { $0["id"] })
        }
        if v.atLeast(38) { o["replication_status"] = g["replication_status"] ?? "disabled" }
        if v.atLeast(58), allows("group:group_project_attribute", c, project: g["project_id"]?.stringValue) { o["project_id"] = g["project_id"] ?? .null }
        return o
    }

    func groupSnapshotView(_ g: JSONObject, _ v: CinderVersion, _ c: Caller, detail: Bool) -> JSONObject {
        guard detail else { return ["id": g["id"] ?? .null, "name": g["name"] ?? .null, "group_type_id": g["group_type_id"] ?? .null] }
        var o: JSONObject = [
            "id": g["id"] ?? .null, "group_id": g["group_id"] ?? .null, "group_type_id": g["group_type_id"] ?? .null, "status": g["status"] ?? .null,
            "created_at": g["created_at"] ?? .null, "name": g["name"] ?? .null, "description": g["description"] ?? .null,
        ]
        if v.atLeast(58), allows("group:group_snapshot_project_attribute", c, project: g["project_id"]?.stringValue) { o["project_id"] = g["project_id"] ?? .null }
        return o
    }

    /// A name or description field: at most 255 characters, surrounding whitespace stripped as
    /// the controllers strip it.
    static func groupText(_ o: JSONObject, _ key: String) throws -> String?? {
        guard let s = try CinderInput.name(o, key) else { return nil }
        guard let s else { return .some(nil) }
        return .some(s.pythonStripped)
    }

    /// Group specs: keys and values strings of 1–255 characters (keys without spaces).
    static func groupSpecs(_ v: JSONValue?) throws -> [String: String]? {
        try CinderInput.metadata(v, "group_specs", keyBytes: extraSpecKeyBytes)
    }

    func addGroupRoutes(_ t: inout RouteTable) {
        addGroupTypeRoutes(&t)
        addGroupSpecRoutes(&t)
        addGroupListRoutes(&t)
        addGroupActionRoutes(&t)
        addGroupSnapshotRoutes(&t)
    }

    // MARK: group types

    func addGroupTypeRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/group_types") { req, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            var publicOnly: Bool? = true
            if c.isAdmin {
                if let p = req.query("is_public") {
                    publicOnly = p.lowercased() == "none" ? nil : try CinderInput.boolean(.string(p), "is_public")
                } else {
                    publicOnly = nil
                }
            }
            let types = self.service.state.all(.groupType).filter { type in
                guard self.service.groupTypeVisible(type, c.actor) else { return false }
                guard let publicOnly else { return true }
                return (type["is_public"]?.boolValue ?? true) == publicOnly
            }
            let (page, _) = try CinderListing(req.queryString, keys: Self.groupTypeSortKeys, defaultKey: "created_at", defaultAscending: true).apply(types)
            return .json(["group_types": .array(page.map { .object(self.groupTypeView($0, c)) })])
        }
        route(&t, .get, "/group_types/{id}") { _, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let type = id == "default" ? try self.service.defaultGroupType() : try self.service.groupType(id, actor: c.actor)
            return .json(["group_type": .object(self.groupTypeView(type, c))])
        }
        route(&t, .post, "/group_types") { req, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            try self.authorize("group:group_types:create", c)
            let o = try Self.member(try await Self.body(req, ctx), "group_type", only: true)
            try CinderInput.only(o, ["name", "description", "is_public", "group_specs"], "group_type")
            guard let nameValue = o["name"] else { throw NimbusError.badRequest("Invalid input for field/attribute group_type. 'name' is a required property") }
            guard let name = nameValue.stringValue, !name.pythonStripped.isEmpty, name.unicodeScalars.count <= 255 else {
                throw CinderInput.invalid("name", nameValue, "is not a valid name")
            }
            let description = (try Self.groupText(o, "description")) ?? nil
            var isPublic = true
            if let p = o["is_public"], !p.isNull { isPublic = try CinderInput.boolean(p, "is_public") }
            let specs = try Self.groupSpecs(o["group_specs"]) ?? [:]
            let created = try await self.service.createGroupType(name: name, description: description, isPublic: isPublic, specs: specs)
            return .json(["group_type": .object(self.groupTypeView(created, c))], status: .accepted)
        }
        route(&t, .put, "/group_types/{id}") { req, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            try self.authorize("group:group_types:update", c)
            let o = try Self.member(try await Self.body(req, ctx), "group_type", only: true)
            try CinderInput.only(o, ["name", "description", "is_public"], "group_type")
            var name: String?
            if let n = o["name"], !n.isNull {
                guard let s = n.stringValue, s.unicodeScalars.count <= 255 else { throw CinderInput.invalid("name", n, "is not a valid name") }
                guard !s.pythonStripped.isEmpty else { throw NimbusError.badRequest("Group type name can not be empty.") }
                name = s
            }
            let description = try Self.groupText(o, "description")
            let isPublic = try o["is_public"].flatMap { $0.isNull ? nil : try CinderInput.boolean($0, "is_public") }
            if name == nil, description == nil || description! == nil, isPublic == nil {
                throw NimbusError.badRequest("Specify group type name, description or a combination thereof.")
            }
            let updated = try await self.service.updateGroupType(try ctx.parameter("id"), name: name, description: description, isPublic: isPublic)
            return .json(["group_type": .object(self.groupTypeView(updated, c))])
        }
        route(&t, .delete, "/group_types/{id}") { _, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            try self.authorize("group:group_types:delete", c)
            try await self.service.deleteGroupType(try ctx.parameter("id"))
            return .empty(.accepted)
        }
    }

    func addGroupSpecRoutes(_ t: inout RouteTable) {
        @Sendable func type(_ ctx: NimbusRequestContext, _ c: Caller) throws -> (String, JSONObject) {
            let id = try ctx.parameter("id")
            return (id, try service.groupType(id, actor: c.actor))
        }
        route(&t, .get, "/group_types/{id}/group_specs") { _, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            try self.authorize("group:group_types_specs:get_all", c)
            return .json(["group_specs": try type(ctx, c).1["group_specs"] ?? [:]])
        }
        route(&t, .post, "/group_types/{id}/group_specs") { req, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            try self.authorize("group:group_types_specs:create", c)
            let (id, _) = try type(ctx, c)
            let body = try await Self.body(req, ctx)
            try CinderInput.only(body, ["group_specs"], "body")
            guard let specs = try Self.groupSpecs(body["group_specs"]), !specs.isEmpty || body["group_specs"] != nil else {
                throw NimbusError.badRequest("Invalid input for field/attribute body. 'group_specs' is a required property")
            }
            _ = try await self.service.changeGroupSpecs(id, set: specs)
            return .json(["group_specs": .object(JSONObject(pairs: specs.map { ($0.key, .string($0.value)) }))], status: .accepted)
        }
        route(&t, .get, "/group_types/{id}/group_specs/{key}") { _, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            try self.authorize("group:group_types_specs:get", c)
            let (id, t) = try type(ctx, c)
            let key = try ctx.parameter("key")
            guard let value = t["group_specs"]?[key] else { throw NimbusError.notFound("Group Type \(id) has no extra spec with key \(key).") }
            return .json(.object(JSONObject(pairs: [(key, value)])))
        }
        route(&t, .put, "/group_types/{id}/group_specs/{key}") { req, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            try self.authorize("group:group_types_specs:update", c)
            let (id, _) = try type(ctx, c)
            let key = try ctx.parameter("key")
            let body = try await Self.body(req, ctx)
            guard let specs = try Self.groupSpecs(.object(body)), specs.count == 1 else {
                throw NimbusError.badRequest("Invalid input for field/attribute body. The body must hold exactly one group spec.")
            }
            guard specs[key] != nil, specs.keys.first?.sameBytes(as: key) == true else { throw NimbusError.badRequest("Request body and URI mismatch") }
            _ = try await self.service.changeGroupSpecs(id, set: specs)
            return .json(.object(JSONObject(pairs: specs.map { ($0.key, .string($0.value)) })))
        }
        route(&t, .delete, "/group_types/{id}/group_specs/{key}") { _, ctx, v in
            try Self.notFoundBelow(v, 11)
            let c = try self.caller(ctx)
            try self.authorize("group:group_types_specs:delete", c)
            let (id, _) = try type(ctx, c)
            _ = try await self.service.changeGroupSpecs(id, set: [:], delete: try ctx.parameter("key"))
            return .empty(.accepted)
        }
    }

    // MARK: groups

    /// Lists of groups or group snapshots: the caller's project (admins: `all_tenants`),
    /// Cinder's filters for non-admins (rejected from 3.31, ignored before), sort and paging.
    func filtered(_ kind: VolumeKind, _ req: Request, _ c: Caller, _ v: CinderVersion, allowed: Set<String>, extra: Set<String>) throws -> [JSONObject] {
        let q = req.queryString
        let allTenants = c.isAdmin && (q["all_tenants"].map { (try? CinderInput.boolean(.string($0), "all_tenants")) ?? true } ?? false)
        var filters = [(String, String)]()
        for (k, value) in q.pairs where !Self.pagingParameters.contains(k) && !extra.contains(k) {
            if !c.isAdmin && !allowed.contains(k) {
                if v.atLeast(31) { throw NimbusError.badRequest("Invalid filters \(k) are found in query options.") }
                continue
            }
            filters.append((k, value))
        }
        return service.state.all(kind).filter { d in
            if !allTenants, d["project_id"]?.stringValue?.sameBytes(as: c.projectID) != true { return false }
            return filters.allSatisfy { k, value in
                let key = k == "group_type" ? "group_type_id" : k
                return d[key]?.stringValue?.sameBytes(as: value) == true
            }
        }
    }

    func addGroupListRoutes(_ t: inout RouteTable) {
        for detail in [false, true] {
            route(&t, .get, detail ? "/groups/detail" : "/groups") { req, ctx, v in
                try Self.notFoundBelow(v, 13)
                let c = try self.caller(ctx)
                try self.authorize("group:get_all", c)
                let all = try self.filtered(.group, req, c, v, allowed: Self.groupFilters, extra: ["list_volume", "all_tenants"])
                let listVolumes = try req.query("list_volume").map { try CinderInput.boolean(.string($0), "list_volume") } ?? false
                let (page, full) = try CinderListing(req.queryString, keys: Self.groupSortKeys).apply(all)
                var body: JSONObject = ["groups": .array(page.map { .object(self.groupView($0, v, c, detail: detail, listVolumes: listVolumes)) })]
                if full, let last = page.last?["id"]?.stringValue {
                    let project = ctx.pathParameters["project_id"]
                    let path = "/v3" + (project.map { "/" + $0 } ?? "") + (detail ? "/groups/detail" : "/groups")
                    body["group_links"] = CinderListing.nextLink(base: self.publicURL, path: path, req.queryString, lastID: last)
                }
                return .json(.object(body))
            }
        }
        route(&t, .get, "/groups/{id}") { req, ctx, v in
            try Self.notFoundBelow(v, 13)
            let c = try self.caller(ctx)
            let g = try self.service.group(try ctx.parameter("id"), actor: c.actor)
            try self.authorize("group:get", c, g)
            let listVolumes = try req.query("list_volume").map { try CinderInput.boolean(.string($0), "list_volume") } ?? false
            return .json(["group": .object(self.groupView(g, v, c, detail: true, listVolumes: listVolumes))])
        }
        route(&t, .post, "/groups") { req, ctx, v in
            try Self.notFoundBelow(v, 13)
            let c = try self.caller(ctx)
            try self.authorize("group:create", c)
            let o = try Self.member(try await Self.body(req, ctx), "group", only: true)
            try CinderInput.only(o, ["name", "description", "group_type", "volume_types", "availability_zone"], "group")
            guard let gtValue = o["group_type"] else { throw NimbusError.badRequest("Invalid input for field/attribute group. 'group_type' is a required property") }
            guard let groupType = gtValue.stringValue, !groupType.isEmpty, groupType.utf8.count <= 255 else {
                throw CinderInput.invalid("group_type", gtValue, "is not of type 'string'")
            }
            guard let vtValue = o["volume_types"] else { throw NimbusError.badRequest("Invalid input for field/attribute group. 'volume_types' is a required property") }
            guard case .array(let items) = vtValue, !items.isEmpty else { throw CinderInput.invalid("volume_types", vtValue, "is too short") }
            var volumeTypes = [String]()
            for item in items {
                guard let s = item.stringValue, s.unicodeScalars.count <= 255 else { throw CinderInput.invalid("volume_types", vtValue, "is not valid") }
                if volumeTypes.contains(where: { $0.sameBytes(as: s) }) { throw CinderInput.invalid("volume_types", vtValue, "has non-unique elements") }
                volumeTypes.append(s)
            }
            var zone: String?
            if let z = o["availability_zone"], !z.isNull {
                guard let zs = z.stringValue, !zs.isEmpty, zs.utf8.count <= 255 else { throw CinderInput.invalid("availability_zone", z, "is not valid") }
                zone = zs
            }
            let name = (try Self.groupText(o, "name")) ?? nil
            let description = (try Self.groupText(o, "description")) ?? nil
            let g = try await self.service.createGroup(name: name, description: description, groupType: groupType, volumeTypes: volumeTypes,
                                                       availabilityZone: zone, actor: c.actor)
            return .json(["group": .object(self.groupView(g, v, c, detail: false, listVolumes: false))], status: .accepted)
        }
        route(&t, .put, "/groups/{id}") { req, ctx, v in
            try Self.notFoundBelow(v, 13)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let o = try Self.member(try await Self.body(req, ctx), "group", only: true)
            try CinderInput.only(o, ["name", "description", "add_volumes", "remove_volumes"], "group")
            guard !o.isEmpty else { throw NimbusError.badRequest("Invalid input for field/attribute group. Value: {}. {} is not valid under any of the given schemas") }
            let g = try self.service.group(id, actor: c.actor)
            try self.authorize("group:update", c, g)
            let add = try CinderInput.name(o, "add_volumes") ?? nil
            let remove = try CinderInput.name(o, "remove_volumes") ?? nil
            try await self.service.updateGroup(id, name: try Self.groupText(o, "name"), description: try Self.groupText(o, "description"),
                                               addVolumes: add, removeVolumes: remove, actor: c.actor)
            return .empty(.accepted)
        }
    }

    func addGroupActionRoutes(_ t: inout RouteTable) {
        route(&t, .post, "/groups/action") { req, ctx, v in
            try Self.notFoundBelow(v, 14)
            let c = try self.caller(ctx)
            try self.authorize("group:create", c)
            let o = try Self.member(try await Self.body(req, ctx), "create-from-src", only: true)
            try CinderInput.only(o, ["name", "description", "source_group_id", "group_snapshot_id"], "create-from-src")
            func uuid(_ key: String) throws -> String? {
                guard let x = o[key], !x.isNull else { return nil }
                guard let s = x.stringValue, UUIDText.isUUID(s) else { throw CinderInput.invalid(key, x, "is not a 'uuid'") }
                return s
            }
            let snapshot = try uuid("group_snapshot_id"), source = try uuid("source_group_id")
            guard (snapshot == nil) != (source == nil) else {
                throw NimbusError.badRequest("Invalid input for field/attribute create-from-src. Either group_snapshot_id or source_group_id must be given, not both.")
            }
            let g = try await self.service.createGroup(fromGroupSnapshot: snapshot, sourceGroup: source, name: (try Self.groupText(o, "name")) ?? nil,
                                                       description: (try Self.groupText(o, "description")) ?? nil, actor: c.actor)
            return .json(["group": .object(self.groupView(g, v, c, detail: false, listVolumes: false))], status: .accepted)
        }
        route(&t, .post, "/groups/{id}/action") { req, ctx, v in
            try Self.notFoundBelow(v, 13)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            guard body.count == 1, let (action, arg) = body.sortedMembers.first else {
                throw NimbusError.badRequest("There is no such action: \(body.keys.sorted().first ?? "")")
            }
            let g = try self.service.group(id, actor: c.actor)
            switch action {
            case "delete":
                guard case .object(let o) = arg else { throw CinderInput.invalid("delete", arg, "is not of type 'object'") }
                try CinderInput.only(o, ["delete-volumes"], "delete")
                let deleteVolumes = try o["delete-volumes"].map { try CinderInput.boolean($0, "delete-volumes") } ?? false
                try self.authorize("group:delete", c, g)
                try await self.service.deleteGroup(id, deleteVolumes: deleteVolumes, actor: c.actor)
                return .empty(.accepted)
            case "reset_status":
                try Self.notFoundBelow(v, 20)
                guard case .object(let o) = arg else { throw CinderInput.invalid("reset_status", arg, "is not of type 'object'") }
                try CinderInput.only(o, ["status"], "reset_status")
                guard let status = o["status"]?.stringValue else { throw NimbusError.badRequest("Invalid input for field/attribute reset_status. 'status' is a required property") }
                try self.authorize("group:reset_status", c, g)
                try await self.service.resetGroupStatus(id, status: status.lowercased(), actor: c.actor)
                return .empty(.accepted)
            case "enable_replication", "disable_replication", "failover_replication":
                try Self.notFoundBelow(v, 38)
                try self.authorize("group:\(action)", c, g)
                // Cinder's InvalidGroupType: only a group type with `group_replication_enabled`
                // replicates, and no backend here does.
                throw NimbusError.badRequest("Invalid group type: Group \(id) is not a replication group type.")
            case "list_replication_targets":
                try Self.notFoundBelow(v, 38)
                try self.authorize("group:list_replication_targets", c, g)
                return .json(["replication_targets": []])
            default:
                throw NimbusError.badRequest("There is no such action: \(action)")
            }
        }
    }

    // MARK: group snapshots

    func addGroupSnapshotRoutes(_ t: inout RouteTable) {
        for detail in [false, true] {
            route(&t, .get, detail ? "/group_snapshots/detail" : "/group_snapshots") { req, ctx, v in
                try Self.notFoundBelow(v, 14)
                let c = try self.caller(ctx)
                try self.authorize("group:get_all_group_snapshots", c)
                let all = try self.filtered(.groupSnapshot, req, c, v, allowed: Self.groupSnapshotFilters, extra: ["all_tenants"])
                let (page, full) = try CinderListing(req.queryString, keys: Self.groupSnapshotSortKeys).apply(all)
                var body: JSONObject = ["group_snapshots": .array(page.map { .object(self.groupSnapshotView($0, v, c, detail: detail)) })]
                if full, let last = page.last?["id"]?.stringValue {
                    let project = ctx.pathParameters["project_id"]
                    let path = "/v3" + (project.map { "/" + $0 } ?? "") + (detail ? "/group_snapshots/detail" : "/group_snapshots")
                    body["group_snapshot_links"] = CinderListing.nextLink(base: self.publicURL, path: path, req.queryString, lastID: last)
                }
                return .json(.object(body))
            }
        }
        route(&t, .get, "/group_snapshots/{id}") { _, ctx, v in
            try Self.notFoundBelow(v, 14)
            let c = try self.caller(ctx)
            let g = try self.service.groupSnapshot(try ctx.parameter("id"), actor: c.actor)
            try self.authorize("group:get_group_snapshot", c, g)
            return .json(["group_snapshot": .object(self.groupSnapshotView(g, v, c, detail: true))])
        }
        route(&t, .post, "/group_snapshots") { req, ctx, v in
            try Self.notFoundBelow(v, 14)
            let c = try self.caller(ctx)
            let o = try Self.member(try await Self.body(req, ctx), "group_snapshot", only: true)
            try CinderInput.only(o, ["name", "description", "group_id"], "group_snapshot")
            guard let gValue = o["group_id"] else { throw NimbusError.badRequest("Invalid input for field/attribute group_snapshot. 'group_id' is a required property") }
            guard let groupID = gValue.stringValue, UUIDText.isUUID(groupID) else { throw CinderInput.invalid("group_id", gValue, "is not a 'uuid'") }
            let g = try self.service.group(groupID, actor: c.actor)
            try self.authorize("group:create_group_snapshot", c, g)
            let gs = try await self.service.createGroupSnapshot(groupID: groupID, name: (try Self.groupText(o, "name")) ?? nil,
                                                                description: (try Self.groupText(o, "description")) ?? nil, actor: c.actor)
            return .json(["group_snapshot": .object(self.groupSnapshotView(gs, v, c, detail: false))], status: .accepted)
        }
        route(&t, .delete, "/group_snapshots/{id}") { _, ctx, v in
            try Self.notFoundBelow(v, 14)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let g = try self.service.groupSnapshot(id, actor: c.actor)
            try self.authorize("group:delete_group_snapshot", c, g)
            try await self.service.deleteGroupSnapshot(id, actor: c.actor)
            return .empty(.accepted)
        }
        route(&t, .post, "/group_snapshots/{id}/action") { req, ctx, v in
            try Self.notFoundBelow(v, 19)
            let c = try self.caller(ctx)
            let id = try ctx.parameter("id")
            let body = try await Self.body(req, ctx)
            guard body.count == 1, let (action, arg) = body.sortedMembers.first, action == "reset_status" else {
                throw NimbusError.badRequest("There is no such action: \(body.keys.sorted().first ?? "")")
            }
            guard case .object(let o) = arg else { throw CinderInput.invalid("reset_status", arg, "is not of type 'object'") }
            try CinderInput.only(o, ["status"], "reset_status")
            guard let status = o["status"]?.stringValue else { throw NimbusError.badRequest("Invalid input for field/attribute reset_status. 'status' is a required property") }
            let g = try self.service.groupSnapshot(id, actor: c.actor)
            try self.authorize("group:reset_group_snapshot_status", c, g)
            try await self.service.resetGroupSnapshotStatus(id, status: status.lowercased(), actor: c.actor)
            return .empty(.accepted)
        }
    }
}
