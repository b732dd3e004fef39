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

    /// The default type (`GET /types/default`).
    public func defaultType() throws -> JSONObject {
        guard let t = state.volumeType(settings.defaultTypeName) else {
            throw NimbusError.notFound("Default volume type can not be found.")
        }
        return t
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
            if t["name"]?.stringValue == self.settings.defaultTypeName {
                throw NimbusError.badRequest("Default volume type can not be deleted.")
            }
            if s.all(.volume).contains(where: { $0["volume_type_id"]?.stringValue == id }) {
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
