import Foundation
import NimbusCore

/// Generic volume groups (Cinder's `cinder/group/api.py` and the volume manager's group calls):
/// group types with group specs, groups of volumes of the group's volume types, group snapshots
/// (a snapshot of every volume, together), groups made from a group or a group snapshot, and the
/// admins' status resets. A group holds no bytes of its own: what the backend does for a group
/// is what it does for each of its volumes and snapshots.
extension VolumeService {
    /// `GroupStatus` and `GroupSnapshotStatus`: what `reset_status` accepts.
    public static let groupStatuses: Set<String> = ["available", "error", "creating", "deleting", "deleted", "updating", "in-use", "error_deleting"]
    public static let groupSnapshotStatuses: Set<String> = ["error", "available", "creating", "deleting", "deleted", "updating", "error_deleting"]
    static let addableVolumeStatuses = ["available", "in-use"]
    static let removableVolumeStatuses = ["available", "in-use", "error", "error_deleting"]

    static func groupNotFound(_ id: String) -> NimbusError { .notFound("Group \(id) could not be found.") }
    static func groupSnapshotNotFound(_ id: String) -> NimbusError { .notFound("GroupSnapshot \(id) could not be found.") }
    static func groupTypeNotFound(_ id: String) -> NimbusError { .notFound("Group type \(id) could not be found.") }
    static func invalidGroup(_ reason: String) -> NimbusError { .badRequest("Invalid Group: \(reason)") }
    static func invalidGroupSnapshot(_ reason: String) -> NimbusError { .badRequest("Invalid GroupSnapshot: \(reason)") }

    // MARK: group types

    /// Public group types, and every one for admins (group types have no access lists).
    func groupTypeVisible(_ t: JSONObject, _ actor: VolumeActor) -> Bool { actor.isAdmin || t["is_public"]?.boolValue != false }

    /// A group type by id, else by name (bytes), as the caller sees them.
    func groupType(_ s: VolumeState, _ idOrName: String, _ actor: VolumeActor) -> JSONObject? {
        let found = s[.groupType, idOrName] ?? s.all(.groupType).first { $0["name"]?.stringValue?.sameBytes(as: idOrName) == true }
        return found.flatMap { groupTypeVisible($0, actor) ? $0 : nil }
    }

    public func groupType(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let t = state[.groupType, id], groupTypeVisible(t, actor) else { throw Self.groupTypeNotFound(id) }
        return t
    }

    /// `GET /group_types/default`: Cinder's `[DEFAULT] default_group_type`.
    public func defaultGroupType() throws -> JSONObject {
        guard let name = settings.defaultGroupTypeName,
              let t = state.all(.groupType).first(where: { $0["name"]?.stringValue?.sameBytes(as: name) == true }) else {
            throw NimbusError.notFound("Default group type can not be found.")
        }
        return t
    }

    public func createGroupType(name: String, description: String?, isPublic: Bool, specs: [String: String]) async throws -> JSONObject {
        try await write { s in
            if s.all(.groupType).contains(where: { $0["name"]?.stringValue?.sameBytes(as: name) == true }) {
                throw NimbusError.conflict("Group Type \(name) already exists.")
            }
            let now = Self.now()
            let t: JSONObject = [
                "id": .string(Identifiers.uuid()), "name": .string(name), "description": JSONValue(description), "is_public": .bool(isPublic),
                "group_specs": .object(JSONObject(pairs: specs.map { ($0.key, .string($0.value)) })), "created_at": .string(now), "updated_at": .string(now),
            ]
            s.put(.groupType, t)
            return t
        }
    }

    public func updateGroupType(_ id: String, name: String?, description: String??, isPublic: Bool?) async throws -> JSONObject {
        try await write { s in
            guard var t = s[.groupType, id] else { throw Self.groupTypeNotFound(id) }
            if let name, !(t["name"]?.stringValue?.sameBytes(as: name) ?? false) {
                if s.all(.groupType).contains(where: { $0["name"]?.stringValue?.sameBytes(as: name) == true }) {
                    throw NimbusError.conflict("Group Type \(name) already exists.")
                }
                t["name"] = .string(name)
            }
            if let description { t["description"] = JSONValue(description) }
            if let isPublic { t["is_public"] = .bool(isPublic) }
            t["updated_at"] = .string(Self.now())
            s.put(.groupType, t)
            return t
        }
    }

    public func deleteGroupType(_ id: String) async throws {
        try await write { s in
            guard s[.groupType, id] != nil else { throw Self.groupTypeNotFound(id) }
            if s.all(.group).contains(where: { $0["group_type_id"]?.stringValue == id }) {
                throw NimbusError.badRequest("Target group type is still in use.")
            }
            s.remove(.groupType, id)
        }
    }

    /// Merges `set` into a group type's specs, or removes the key `delete` (404 when absent).
    public func changeGroupSpecs(_ id: String, set: [String: String], delete: String? = nil) async throws -> JSONObject {
        try await write { s in
            guard var t = s[.groupType, id] else { throw Self.groupTypeNotFound(id) }
            var specs = t["group_specs"]?.objectValue ?? [:]
            if let key = delete {
                guard specs.removeValue(forKey: key) != nil else {
                    throw NimbusError.notFound("Group Type \(id) has no specs with key \(key).")
                }
            }
            for (k, v) in set { specs[k] = .string(v) }
            t["group_specs"] = .object(specs)
            t["updated_at"] = .string(Self.now())
            s.put(.groupType, t)
            return t
        }
    }

    // MARK: groups

    public func group(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let g = state[.group, id], visible(g, actor) else { throw Self.groupNotFound(id) }
        return g
    }

    /// Creates a group of `groupType` (id or name) for volumes of `volumeTypes` (ids or names):
    /// `creating`, then `available` once the storage service has it (nothing to make on disk).
    public func createGroup(name: String?, description: String?, groupType: String, volumeTypes: [String], availabilityZone: String?,
                            actor: VolumeActor) async throws -> JSONObject {
        if let zone = availabilityZone, !zone.sameBytes(as: settings.availabilityZone) {
            throw VolumeFault.invalidInput("Availability zone '\(zone)' is invalid.")
        }
        let doc: JSONObject = try await write { s in
            var typeIDs = [String]()
            for t in volumeTypes {
                guard let type = s.volumeType(t), self.typeVisible(type, actor), let id = type["id"]?.stringValue else {
                    throw UUIDText.isUUID(t) ? VolumeFault.typeNotFound(t) : VolumeFault.typeNameNotFound(t)
                }
                if !typeIDs.contains(id) { typeIDs.append(id) }
            }
            guard let gt = self.groupType(s, groupType, actor), let gtID = gt["id"]?.stringValue else {
                throw UUIDText.isUUID(groupType) ? Self.groupTypeNotFound(groupType)
                    : NimbusError.notFound("Group type with name \(groupType) could not be found.")
            }
            try self.checkGroupQuota(s, project: actor.projectID)
            let now = Self.now()
            let g: JSONObject = [
                "id": .string(Identifiers.uuid()), "name": JSONValue(name), "description": JSONValue(description), "status": "creating",
                "availability_zone": .string(self.settings.availabilityZone), "group_type_id": .string(gtID),
                "volume_type_ids": .array(typeIDs.map { .string($0) }), "project_id": .string(actor.projectID), "user_id": .string(actor.userID),
                "group_snapshot_id": .null, "source_group_id": .null, "replication_status": "disabled", "host": .string(self.backend.host),
                "created_at": .string(now), "updated_at": .string(now),
            ]
            s.put(.group, g)
            return g
        }
        let id = doc["id"]!.stringValue!
        let available = volumeServiceAvailable
        background(id, "creating group", {
            await self.update(.group, id, ["status": available ? "available" : "error"])
        }, onFailure: { _ in await self.update(.group, id, ["status": "error"]) })
        return doc
    }

    func checkGroupQuota(_ s: VolumeState, project: String) throws {
        let l = limit("groups", project: project, s)
        let used = s.all(.group).filter { $0["project_id"]?.stringValue?.sameBytes(as: project) == true }.count
        if l >= 0 && Int64(used) + 1 > l {
            throw NimbusError(.payloadTooLarge, "GroupLimitExceeded: Maximum number of groups allowed (\(l)) exceeded")
        }
    }

    /// Renames a group and adds or removes volumes (comma-separated ids), as Cinder's
    /// `group.api.update` validates them. The volumes' `group_id` changes at once.
    public func updateGroup(_ id: String, name: String??, description: String??, addVolumes: String?, removeVolumes: String?,
                            actor: VolumeActor) async throws {
        func ids(_ list: String?) -> [String] {
            guard let list else { return [] }
            return list.splitBytes(",").map(String.init).filter { !$0.isEmpty }
        }
        let add = ids(addVolumes), remove = ids(removeVolumes)
        let both = add.filter { a in remove.contains { $0.sameBytes(as: a) } }
        if !both.isEmpty {
            throw VolumeFault.invalidVolume("UUIDs \(both.map { "'\($0)'" }) are in both add and remove volume list.")
        }
        try await write { s in
            guard var g = s[.group, id], self.visible(g, actor) else { throw Self.groupNotFound(id) }
            var changed = false
            if let name, let n = name, !(g["name"]?.stringValue?.sameBytes(as: n) ?? false) { g["name"] = .string(n); changed = true }
            if let name, name == nil, g["name"] != .null { g["name"] = .null; changed = true }
            if let description, let d = description, !(g["description"]?.stringValue?.sameBytes(as: d) ?? false) { g["description"] = .string(d); changed = true }
            if let description, description == nil, g["description"] != .null { g["description"] = .null; changed = true }
            let members = s.volumes(inGroup: id)
            var toRemove = [JSONObject]()
            for r in remove {
                guard let v = members.first(where: { $0["id"]?.stringValue?.sameBytes(as: r) == true }) else {
                    throw VolumeFault.invalidVolume("Cannot remove volume \(r) from group \(id) because it is not in the group.")
                }
                let status = v["status"]?.stringValue ?? ""
                guard Self.removableVolumeStatuses.contains(status) else {
                    throw VolumeFault.invalidVolume("Cannot remove volume \(r) from group \(id) because volume is in an invalid state: \(status). Valid states are: \(Self.pythonTuple(Self.removableVolumeStatuses)).")
                }
                toRemove.append(v)
            }
            var toAdd = [JSONObject]()
            let typeIDs = (g["volume_type_ids"]?.arrayValue ?? []).compactMap(\.stringValue)
            for a in add where !members.contains(where: { $0["id"]?.stringValue?.sameBytes(as: a) == true }) {
                guard let v = s[.volume, a], self.visible(v, actor) else {
                    throw VolumeFault.invalidVolume("Cannot add volume \(a) to group \(id) because volume cannot be found.")
                }
                if let other = v["group_id"]?.stringValue {
                    throw VolumeFault.invalidVolume("Cannot add volume \(a) to group \(id) because it is already in group \(other).")
                }
                guard v["project_id"]?.stringValue?.sameBytes(as: g["project_id"]?.stringValue ?? "") == true else {
                    throw VolumeFault.invalidVolume("Cannot add volume \(a) to group \(id) as they belong to different projects.")
                }
                guard let typeID = v["volume_type_id"]?.stringValue else {
                    throw VolumeFault.invalidVolume("Cannot add volume \(a) to group \(id) because it has no volume type.")
                }
                guard typeIDs.contains(typeID) else {
                    throw VolumeFault.invalidVolume("Cannot add volume \(a) to group \(id) because volume type \(typeID) is not supported by the group.")
                }
                let status = v["status"]?.stringValue ?? ""
                guard Self.addableVolumeStatuses.contains(status) else {
                    throw VolumeFault.invalidVolume("Cannot add volume \(a) to group \(id) because volume is in an invalid state: \(status). Valid states are: \(Self.pythonTuple(Self.addableVolumeStatuses)).")
                }
                toAdd.append(v)
            }
            guard changed || !toAdd.isEmpty || !toRemove.isEmpty else {
                throw Self.invalidGroup("Cannot update group \(id) because no valid name, description, add_volumes, or remove_volumes were provided.")
            }
            if !toAdd.isEmpty || !toRemove.isEmpty, g["status"]?.stringValue != "available" {
                throw Self.invalidGroup("Group status must be available.")
            }
            let now = Self.now()
            for var v in toRemove {
                v["group_id"] = .null
                v["updated_at"] = .string(now)
                s.put(.volume, v)
            }
            for var v in toAdd {
                v["group_id"] = .string(id)
                v["updated_at"] = .string(now)
                s.put(.volume, v)
            }
            g["updated_at"] = .string(now)
            s.put(.group, g)
        }
    }

    /// `('a', 'b')`: how Cinder's messages print a tuple of statuses.
    static func pythonTuple(_ items: [String]) -> String { "(" + items.map { "'\($0)'" }.joined(separator: ", ") + ")" }

    /// Deletes a group; with `deleteVolumes` its volumes too (none attached or with snapshots),
    /// without it only an empty one. The group and its volumes go `deleting`, then away.
    public func deleteGroup(_ id: String, deleteVolumes: Bool, actor: VolumeActor) async throws {
        let volumes: [String] = try await write { s in
            guard var g = s[.group, id], self.visible(g, actor) else { throw Self.groupNotFound(id) }
            let status = g["status"]?.stringValue ?? ""
            if !deleteVolumes && !["available", "error"].contains(status) {
                throw Self.invalidGroup("Group status must be available or error, but current status is: \(status)")
            }
            if !s.groupSnapshots(of: id).isEmpty { throw Self.invalidGroup("Group has existing snapshots.") }
            let members = s.volumes(inGroup: id)
            if !members.isEmpty && !deleteVolumes {
                throw Self.invalidGroup("Group \(id) still contains volumes. The delete-volumes flag is required to delete it.")
            }
            for v in members {
                if v["attach_status"]?.stringValue == "attached" || !s.attachments(of: v["id"]?.stringValue ?? "").isEmpty {
                    throw Self.invalidGroup("Volume in group \(id) is attached. Need to detach first.")
                }
                if !s.snapshots(of: v["id"]?.stringValue ?? "").isEmpty { throw Self.invalidGroup("Volume in group still has dependent snapshots.") }
                // What a volume delete refuses, the group's delete refuses too: a volume being
                // backed up, uploaded, cloned, transferred, extended or migrated is not pulled away
                // from under that work.
                let vid = v["id"]?.stringValue ?? "", vstatus = v["status"]?.stringValue ?? ""
                // (`error_deleting`: a failed group deletion is retried.)
                let busy = !Self.deletable.contains(vstatus) && !["creating", "deleting", "error_deleting"].contains(vstatus)
                if busy || v["migration_status"]?.stringValue != nil || !s.transfers(of: vid).isEmpty
                    || s.dependents(volume: vid).contains(where: { $0["status"]?.stringValue == "creating" }) {
                    throw Self.invalidGroup("Volume \(vid) in group \(id) is busy (status \(vstatus)); it cannot be deleted now.")
                }
            }
            let sourceOfNewGroup = s.all(.group).contains { $0["source_group_id"]?.stringValue == id && $0["status"]?.stringValue == "creating" }
            let busy = deleteVolumes && (members.contains { ["creating", "deleting"].contains($0["status"]?.stringValue ?? "") } || status == "deleting")
            if sourceOfNewGroup || busy {
                throw Self.invalidGroup("Cannot delete group \(id). Group status must be available or error and must not have dependent group snapshots, and it cannot be the source for an ongoing group or group snapshot creation.")
            }
            let now = Self.now()
            for var v in members {
                v["status"] = "deleting"
                v["updated_at"] = .string(now)
                s.put(.volume, v)
            }
            g["status"] = "deleting"
            g["updated_at"] = .string(now)
            s.put(.group, g)
            return members.compactMap { $0["id"]?.stringValue }
        }
        runGroupDeletion(id, volumes: volumes)
    }

    func runGroupDeletion(_ id: String, volumes: [String]) {
        background(id, "deleting group", {
            for v in volumes {
                // Legacy connections' exports stop with the volume, as a volume delete stops them.
                for name in self.state[.volume, v].map(Self.legacyExports) ?? [] { try await self.backend.unexport(name: name) }
                try await self.backend.delete(volume: v)
                try await self.write { s in s.remove(.volume, v) }
            }
            try await self.write { s in s.remove(.group, id) }
        }, onFailure: { _ in await self.update(.group, id, ["status": "error_deleting"]) })
    }

    /// `create-from-src` (3.14): a group of the source's types, each snapshot of a group
    /// snapshot (or each volume of a group) made into a volume of it; the group is `available`
    /// once all its volumes are (`error` if one fails).
    public func createGroup(fromGroupSnapshot snapshotID: String?, sourceGroup sourceID: String?, name: String?, description: String?,
                            actor: VolumeActor) async throws -> JSONObject {
        let (doc, sources): (JSONObject, [(volume: JSONObject, source: VolumeSource)]) = try await write { s in
            var typeID: String?, volumeTypeIDs = JSONValue.array([])
            var sources = [(volume: JSONObject, source: VolumeSource)]()
            var size: Int64 = 0
            if let snapshotID {
                guard let gs = s[.groupSnapshot, snapshotID], self.visible(gs, actor) else { throw Self.groupSnapshotNotFound(snapshotID) }
                guard gs["status"]?.stringValue == "available" else {
                    throw Self.invalidGroup("Group snapshot \(snapshotID) status must be available.")
                }
                let snaps = s.snapshots(inGroupSnapshot: snapshotID)
                if snaps.isEmpty { throw Self.invalidGroup("Group snapshot is empty. No group will be created.") }
                typeID = gs["group_type_id"]?.stringValue
                if let src = gs["group_id"]?.stringValue.flatMap({ s[.group, $0] }) { volumeTypeIDs = src["volume_type_ids"] ?? [] }
                for snap in snaps {
                    guard let sid = snap["id"]?.stringValue, snap["status"]?.stringValue == "available" else {
                        throw Self.invalidGroup("Snapshot \(snap["id"]?.stringValue ?? "") of the group snapshot is not available.")
                    }
                    size += snap["volume_size"]?.intValue ?? 1
                    sources.append((["size": snap["volume_size"] ?? 1, "volume_type_id": snap["volume_type_id"] ?? .null, "snapshot_id": .string(sid),
                                     "bootable": snap["bootable"] ?? false], .snapshot(sid)))
                }
            } else if let sourceID {
                guard let src = s[.group, sourceID], self.visible(src, actor) else { throw Self.groupNotFound(sourceID) }
                guard src["status"]?.stringValue == "available" else { throw Self.invalidGroup("Source group \(sourceID) status must be available.") }
                let vols = s.volumes(inGroup: sourceID)
                if vols.isEmpty { throw Self.invalidGroup("Source Group is empty. No group will be created.") }
                typeID = src["group_type_id"]?.stringValue
                volumeTypeIDs = src["volume_type_ids"] ?? []
                for v in vols {
                    guard let vid = v["id"]?.stringValue, ["available", "in-use"].contains(v["status"]?.stringValue ?? "") else {
                        throw Self.invalidGroup("Volume \(v["id"]?.stringValue ?? "") of the source group is not available.")
                    }
                    size += v["size"]?.intValue ?? 1
                    sources.append((["size": v["size"] ?? 1, "volume_type_id": v["volume_type_id"] ?? .null, "source_volid": .string(vid),
                                     "bootable": v["bootable"] ?? false], .volume(vid)))
                }
            }
            try self.checkGroupQuota(s, project: actor.projectID)
            let now = Self.now()
            let groupID = Identifiers.uuid()
            let g: JSONObject = [
                "id": .string(groupID), "name": JSONValue(name), "description": JSONValue(description), "status": "creating",
                "availability_zone": .string(self.settings.availabilityZone), "group_type_id": JSONValue(typeID), "volume_type_ids": volumeTypeIDs,
                "project_id": .string(actor.projectID), "user_id": .string(actor.userID), "group_snapshot_id": JSONValue(snapshotID),
                "source_group_id": JSONValue(sourceID), "replication_status": "disabled", "host": .string(self.backend.host),
                "created_at": .string(now), "updated_at": .string(now),
            ]
            s.put(.group, g)
            // Quotas for all the volumes at once: the group is made whole or not at all.
            var made = [(volume: JSONObject, source: VolumeSource)]()
            var perType = [String: (count: Int64, gb: Int64)]()
            for (spec, _) in sources {
                if let t = spec["volume_type_id"]?.stringValue { perType[t, default: (0, 0)].count += 1; perType[t]!.gb += spec["size"]?.intValue ?? 1 }
            }
            // Each type's own quota with its volumes, then the project's totals with all of them
            // (checked per type, two types' volumes would each pass the totals on their own).
            for (t, n) in perType {
                if let type = s[.volumeType, t] { try self.checkQuota(s, project: actor.projectID, type: type, volumes: n.count, gigabytes: n.gb, onlyType: true) }
            }
            if let t = perType.keys.first, let type = s[.volumeType, t] {
                let largest = sources.map { $0.volume["size"]?.intValue ?? 1 }.max() ?? 1
                try self.checkQuota(s, project: actor.projectID, type: type, volumes: Int64(sources.count), gigabytes: size, perVolume: largest, onlyTotal: true)
            }
            for (spec, source) in sources {
                var d: JSONObject = [
                    "id": .string(Identifiers.uuid()), "name": .null, "description": .null, "size": spec["size"] ?? 1, "status": "creating",
                    "attach_status": "detached", "availability_zone": .string(self.settings.availabilityZone), "bootable": spec["bootable"] ?? false,
                    "multiattach": .bool(spec["volume_type_id"]?.stringValue.flatMap { s[.volumeType, $0] }.map(Self.multiattach) ?? false),
                    "project_id": .string(actor.projectID), "user_id": .string(actor.userID), "volume_type_id": spec["volume_type_id"] ?? .null,
                    "snapshot_id": spec["snapshot_id"] ?? .null, "source_volid": spec["source_volid"] ?? .null, "metadata": [:], "admin_metadata": [:],
                    "host": .string(self.backend.host), "migration_status": .null, "replication_status": "disabled", "group_id": .string(groupID),
                    "created_at": .string(now), "updated_at": .string(now), "service_uuid": .string(self.serviceUUID),
                ]
                if case .snapshot = source, let snap = spec["snapshot_id"]?.stringValue.flatMap({ s[.snapshot, $0] }),
                   let image = snap["volume_image_metadata"] { d["volume_image_metadata"] = image }
                s.put(.volume, d)
                made.append((d, source))
            }
            return (g, made)
        }
        let groupID = doc["id"]!.stringValue!
        for (v, source) in sources {
            let vid = v["id"]!.stringValue!, size = v["size"]?.intValue ?? 1
            background(vid, "creating volume", {
                try await self.backend.create(volume: vid, sizeGB: size, from: source)
                await self.update(.volume, vid, ["status": "available", "launched_at": .string(Self.now())])
            }, onFailure: { _ in
                try? await self.backend.delete(volume: vid)
                await self.update(.volume, vid, ["status": "error"])
            })
        }
        let members = sources.map { $0.volume["id"]!.stringValue! }
        background(groupID, "creating group", {
            for m in members { await self.running.withLock({ $0[m]?.task })?.value }
            let failed = members.contains { self.state[.volume, $0]?["status"]?.stringValue != "available" }
            await self.update(.group, groupID, ["status": failed ? "error" : "available"])
        }, onFailure: { _ in await self.update(.group, groupID, ["status": "error"]) })
        return doc
    }

    /// `reset_status` (3.20, admins).
    public func resetGroupStatus(_ id: String, status: String, actor: VolumeActor) async throws {
        guard Self.groupStatuses.contains(status) else { throw NimbusError.badRequest("Invalid input for field/attribute status. Value: \(status). '\(status)' is not a 'group_status'") }
        try await write { s in
            guard var g = s[.group, id], self.visible(g, actor) else { throw Self.groupNotFound(id) }
            g["status"] = .string(status)
            g["updated_at"] = .string(Self.now())
            s.put(.group, g)
        }
    }

    // MARK: group snapshots

    public func groupSnapshot(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let g = state[.groupSnapshot, id], visible(g, actor) else { throw Self.groupSnapshotNotFound(id) }
        return g
    }

    /// A snapshot of every volume of an available group, each `creating` until the backend has
    /// copied it; the group snapshot is `available` once all are (`error` if one fails).
    public func createGroupSnapshot(groupID: String, name: String?, description: String?, actor: VolumeActor) async throws -> JSONObject {
        let (doc, snapshots): (JSONObject, [(snapshot: String, volume: String)]) = try await write { s in
            guard let g = s[.group, groupID], self.visible(g, actor) else { throw Self.groupNotFound(groupID) }
            guard g["status"]?.stringValue == "available" else {
                throw Self.invalidGroup("Group \(groupID) status must be available, but current status is: \(g["status"]?.stringValue ?? "").")
            }
            let members = s.volumes(inGroup: groupID)
            for v in members where !["available", "in-use"].contains(v["status"]?.stringValue ?? "") {
                throw VolumeFault.invalidVolume("Volume \(v["id"]?.stringValue ?? "") status must be available or in-use, but current status is: \(v["status"]?.stringValue ?? "").")
            }
            let project = g["project_id"]?.stringValue ?? actor.projectID
            var perType = [String: (count: Int64, gb: Int64)]()
            for v in members {
                if let t = v["volume_type_id"]?.stringValue { perType[t, default: (0, 0)].count += 1; perType[t]!.gb += v["size"]?.intValue ?? 1 }
            }
            for (t, n) in perType {
                if let type = s[.volumeType, t] { try self.checkQuota(s, project: project, type: type, snapshots: n.count, gigabytes: n.gb, onlyType: true) }
            }
            if let t = perType.keys.first, let type = s[.volumeType, t] {
                try self.checkQuota(s, project: project, type: type, snapshots: perType.values.reduce(0) { $0 + $1.count },
                                    gigabytes: perType.values.reduce(0) { $0 + $1.gb }, onlyTotal: true)
            }
            let now = Self.now()
            let gsID = Identifiers.uuid()
            let gs: JSONObject = [
                "id": .string(gsID), "group_id": .string(groupID), "group_type_id": g["group_type_id"] ?? .null, "status": "creating",
                "name": JSONValue(name), "description": JSONValue(description), "project_id": .string(project), "user_id": .string(actor.userID),
                "created_at": .string(now), "updated_at": .string(now),
            ]
            s.put(.groupSnapshot, gs)
            var made = [(snapshot: String, volume: String)]()
            for v in members {
                guard let vid = v["id"]?.stringValue else { continue }
                var d: JSONObject = [
                    "id": .string(Identifiers.uuid()), "name": JSONValue(name), "description": JSONValue(description), "volume_id": .string(vid),
                    "volume_size": v["size"] ?? 1, "status": "creating", "progress": "0%", "project_id": .string(project),
                    "user_id": .string(actor.userID), "volume_type_id": v["volume_type_id"] ?? .null, "bootable": v["bootable"] ?? false,
                    "metadata": [:], "group_snapshot_id": .string(gsID), "created_at": .string(now), "updated_at": .string(now),
                ]
                if let image = v["volume_image_metadata"] { d["volume_image_metadata"] = image }
                s.put(.snapshot, d)
                made.append((d["id"]!.stringValue!, vid))
            }
            return (gs, made)
        }
        let gsID = doc["id"]!.stringValue!
        background(gsID, "creating group snapshot", {
            var failed = false
            for (sid, vid) in snapshots {
                do {
                    try await self.backend.snapshot(volume: vid, snapshot: sid)
                    await self.update(.snapshot, sid, ["status": "available", "progress": "100%"])
                } catch {
                    self.logger.error("group snapshot \(gsID): snapshot \(sid) of volume \(vid) failed: \(error)")
                    try? await self.backend.delete(snapshot: sid)
                    await self.update(.snapshot, sid, ["status": "error"])
                    failed = true
                }
            }
            await self.update(.groupSnapshot, gsID, ["status": failed ? "error" : "available"])
        }, onFailure: { _ in await self.update(.groupSnapshot, gsID, ["status": "error"]) })
        return doc
    }

    /// Deletes a group snapshot (`available` or `error`, no group being made from it) and its
    /// snapshots.
    public func deleteGroupSnapshot(_ id: String, actor: VolumeActor) async throws {
        let snapshots: [String] = try await write { s in
            guard var gs = s[.groupSnapshot, id], self.visible(gs, actor) else { throw Self.groupSnapshotNotFound(id) }
            let busySource = s.all(.group).contains { $0["group_snapshot_id"]?.stringValue == id && $0["status"]?.stringValue == "creating" }
            guard ["available", "error"].contains(gs["status"]?.stringValue ?? ""), !busySource else {
                throw Self.invalidGroupSnapshot("GroupSnapshot status must be available or error, and no Group can be currently using it as source for its creation.")
            }
            let snaps = s.snapshots(inGroupSnapshot: id)
            for snap in snaps {
                guard let sid = snap["id"]?.stringValue else { continue }
                if s.dependents(snapshot: sid).contains(where: { $0["status"]?.stringValue == "creating" }) {
                    throw Self.invalidGroupSnapshot("A volume is being created from snapshot \(sid).")
                }
            }
            let now = Self.now()
            for var snap in snaps {
                snap["status"] = "deleting"
                snap["updated_at"] = .string(now)
                s.put(.snapshot, snap)
            }
            gs["status"] = "deleting"
            gs["updated_at"] = .string(now)
            s.put(.groupSnapshot, gs)
            return snaps.compactMap { $0["id"]?.stringValue }
        }
        runGroupSnapshotDeletion(id, snapshots: snapshots)
    }

    func runGroupSnapshotDeletion(_ id: String, snapshots: [String]) {
        background(id, "deleting group snapshot", {
            for sid in snapshots {
                try await self.backend.delete(snapshot: sid)
                try await self.write { s in s.remove(.snapshot, sid) }
            }
            try await self.write { s in s.remove(.groupSnapshot, id) }
        }, onFailure: { _ in await self.update(.groupSnapshot, id, ["status": "error_deleting"]) })
    }

    /// `reset_status` of a group snapshot (3.19, admins).
    public func resetGroupSnapshotStatus(_ id: String, status: String, actor: VolumeActor) async throws {
        guard Self.groupSnapshotStatuses.contains(status) else {
            throw NimbusError.badRequest("Invalid input for field/attribute status. Value: \(status). '\(status)' is not a 'group_snapshot_status'")
        }
        try await write { s in
            guard var g = s[.groupSnapshot, id], self.visible(g, actor) else { throw Self.groupSnapshotNotFound(id) }
            g["status"] = .string(status)
            g["updated_at"] = .string(Self.now())
            s.put(.groupSnapshot, g)
        }
    }

    /// After a restart: groups and group snapshots caught in a transitional status end as the
    /// volume manager's init leaves them (made ones `available` or `error` by their members,
    /// deletions run again).
    func recoverGroups() async {
        let s = state
        for g in s.all(.group) {
            guard let id = g["id"]?.stringValue else { continue }
            switch g["status"]?.stringValue {
            case "creating", "updating":
                let members = s.volumes(inGroup: id)
                let failed = members.contains { $0["status"]?.stringValue == "error" }
                let waiting = members.contains { $0["status"]?.stringValue == "creating" }
                await update(.group, id, ["status": failed || waiting ? "error" : "available"])
            case "deleting":
                runGroupDeletion(id, volumes: s.volumes(inGroup: id).compactMap { $0["id"]?.stringValue })
            default: break
            }
        }
        for gs in s.all(.groupSnapshot) {
            guard let id = gs["id"]?.stringValue else { continue }
            switch gs["status"]?.stringValue {
            case "creating":
                await update(.groupSnapshot, id, ["status": "error"])
            case "deleting":
                runGroupSnapshotDeletion(id, snapshots: s.snapshots(inGroupSnapshot: id).compactMap { $0["id"]?.stringValue })
            default: break
            }
        }
    }
}
