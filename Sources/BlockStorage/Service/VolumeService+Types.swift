import Foundation
import NimbusCore

extension VolumeService {
    /// Public types, and private ones the caller's project was given (admins see all).
    func typeVisible(_ t: JSONObject, _ actor: VolumeActor) -> Bool {
        if actor.isAdmin || t["is_public"]?.boolValue != false { return true }
        return (t["projects"]?.arrayValue ?? []).contains { $0.stringValue?.sameBytes(as: actor.projectID) == true }
    }

    public func volumeType(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let t = state[.volumeType, id], typeVisible(t, actor) else { throw VolumeFault.typeNotFound(id) }
        return t
    }

    /// The default type (`GET /types/default`): the project's own (3.62), else the
    /// configured one (Cinder's `get_default_volume_type`).
    public func defaultType(actor: VolumeActor) throws -> JSONObject {
        guard let t = defaultType(actor: actor, state) else {
            throw NimbusError.notFound("Default volume type can not be found.")
        }
        return t
    }

    /// The project's own default when it has one, looked up as the caller sees types (Cinder
    /// reads it with the caller's context): a private type the project lost access to is no
    /// default (nil) rather than a fallback to the configured one.
    func defaultType(actor: VolumeActor, _ s: VolumeState) -> JSONObject? {
        if let typeID = s[.projectDefaultType, actor.projectID]?["volume_type_id"]?.stringValue {
            guard let t = s[.volumeType, typeID], typeVisible(t, actor) else { return nil }
            return t
        }
        return s.volumeType(settings.defaultTypeName)
    }

    // MARK: project default types (3.62)

    /// Every project's default type, or one project's (nil: none set).
    public func projectDefaultTypes() -> [JSONObject] {
        state.all(.projectDefaultType).sorted { ($0["id"]?.stringValue ?? "").bytesPrecede($1["id"]?.stringValue ?? "") }
    }

    public func projectDefaultType(_ project: String) -> JSONObject? { state[.projectDefaultType, project] }

    /// Sets a project's default type, named by id or name; an unknown one is Cinder's 400.
    public func setProjectDefaultType(_ project: String, type nameOrID: String) async throws -> JSONObject {
        try await write { s in
            guard let t = s.volumeType(nameOrID), let typeID = t["id"]?.stringValue else {
                throw NimbusError.badRequest("Volume type \(nameOrID) could not be found.")
            }
            let doc: JSONObject = ["id": .string(project), "project_id": .string(project), "volume_type_id": .string(typeID)]
            s.put(.projectDefaultType, doc)
            return doc
        }
    }

    /// Unsets a project's default type (no error when none is set, as Cinder's hard delete).
    public func unsetProjectDefaultType(_ project: String) async throws {
        try await write { s in s.remove(.projectDefaultType, project) }
    }

    public func createType(name: String, description: String?, isPublic: Bool, extraSpecs: [String: String]) async throws -> JSONObject {
        try await write { s in
            if s.all(.volumeType).contains(where: { $0["name"]?.stringValue?.sameBytes(as: name) == true }) {
                throw NimbusError.conflict("Volume Type \(name) already exists.")
            }
            let now = Self.now()
            let t: JSONObject = [
                "id": .string(Identifiers.uuid()), "name": .string(name), "description": JSONValue(description), "is_public": .bool(isPublic),
                "extra_specs": .object(JSONObject(pairs: extraSpecs.map { ($0.key, .string($0.value)) })), "qos_specs_id": .null, "projects": [],
                "created_at": .string(now), "updated_at": .string(now),
            ]
            s.put(.volumeType, t)
            return t
        }
    }

    public func updateType(_ id: String, name: String?, description: String??, isPublic: Bool?) async throws -> JSONObject {
        try await write { s in
            guard var t = s[.volumeType, id] else { throw VolumeFault.typeNotFound(id) }
            if let name, !(t["name"]?.stringValue?.sameBytes(as: name) ?? false) {
                if t["name"]?.stringValue == self.settings.defaultTypeName {
                    throw NimbusError.badRequest("The default volume type cannot be renamed.")
                }
                if s.all(.volumeType).contains(where: { $0["name"]?.stringValue?.sameBytes(as: name) == true }) {
                    throw NimbusError.conflict("Volume Type \(name) already exists.")
                }
                t["name"] = .string(name)
            }
            if let description { t["description"] = JSONValue(description) }
            if let isPublic { t["is_public"] = .bool(isPublic) }
            t["updated_at"] = .string(Self.now())
            s.put(.volumeType, t)
            return t
        }
    }

    public func deleteType(_ id: String) async throws {
        try await write { s in
            guard let t = s[.volumeType, id] else { throw VolumeFault.typeNotFound(id) }
            // Cinder's VolumeTypeDefaultDeletionError: a project's default or the configured one.
            if t["name"]?.stringValue == self.settings.defaultTypeName
                || s.all(.projectDefaultType).contains(where: { $0["volume_type_id"]?.stringValue == id }) {
                throw NimbusError.badRequest("The volume type \(id) is a default volume type and cannot be deleted.")
            }
            if self.typeInUse(s, id) {
                throw NimbusError.badRequest("Target volume type is still in use.")
            }
            s.remove(.volumeType, id)
        }
    }

    /// Sets (merging), or with `delete` removes, extra specs of a type (not of one in use,
    /// as Cinder refuses).
    public func changeExtraSpecs(_ typeID: String, set: [String: String], delete: String? = nil) async throws -> JSONObject {
        try await write { s in
            guard var t = s[.volumeType, typeID] else { throw VolumeFault.typeNotFound(typeID) }
            var specs = t["extra_specs"]?.objectValue ?? [:]
            if let key = delete {
                guard specs.removeValue(forKey: key) != nil else {
                    throw NimbusError.notFound("Volume Type \(typeID) has no extra specs with key \(key).")
                }
            }
            for (k, v) in set { specs[k] = .string(v) }
            t["extra_specs"] = .object(specs)
            t["updated_at"] = .string(Self.now())
            s.put(.volumeType, t)
            return specs
        }
    }

    /// `addProjectAccess` / `removeProjectAccess` of a private type.
    public func changeTypeAccess(_ typeID: String, project: String, add: Bool) async throws {
        try await write { s in
            guard var t = s[.volumeType, typeID] else { throw VolumeFault.typeNotFound(typeID) }
            guard t["is_public"]?.boolValue == false else {
                throw NimbusError.badRequest("Invalid volume type: Type access modification is not applicable to public volume type.")
            }
            var projects = (t["projects"]?.arrayValue ?? []).compactMap(\.stringValue)
            let has = projects.contains { $0.sameBytes(as: project) }
            if add {
                guard !has else { throw NimbusError.conflict("Volume type access for \(typeID) / \(project) combination already exists.") }
                projects.append(project)
            } else {
                guard has else { throw NimbusError.notFound("Volume type access not found for \(typeID) / \(project) combination.") }
                projects.removeAll { $0.sameBytes(as: project) }
            }
            t["projects"] = JSONValue(projects)
            s.put(.volumeType, t)
        }
    }
}
