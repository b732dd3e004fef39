import Foundation
import NimbusCore

/// Encryption specs of volume types (`/types/{id}/encryption`), stored as Cinder's
/// `encryption` table keeps them (one per type, on the type's document). No key manager runs
/// here, so a volume of an encrypted type cannot be made: its create (or a retype to such a
/// type) is refused, where Cinder would ask Barbican for a key.
extension VolumeService {
    /// The columns Cinder's `encryption` row has (what `GET .../encryption` lists).
    static let encryptionFields = ["cipher", "key_size", "provider", "control_location"]

    static func encrypted(_ type: JSONObject) -> Bool {
        if case .object = type["encryption"] { return true }
        return false
    }

    static let noKeyManager = VolumeFault.invalidInput(
        "Volumes of encrypted volume types cannot be created: this cloud has no key manager for their keys.")

    /// The type's encryption specs, `[:]` when it has none (404 for an unknown type).
    public func typeEncryption(_ typeID: String) throws -> JSONObject {
        guard let t = state[.volumeType, typeID] else { throw VolumeFault.typeNotFound(typeID) }
        return t["encryption"]?.objectValue ?? [:]
    }

    func typeInUse(_ s: VolumeState, _ typeID: String) -> Bool {
        s.all(.volume).contains { $0["volume_type_id"]?.stringValue == typeID }
    }

    /// Creates the type's encryption specs: `specs` holds the schema's checked fields.
    public func createTypeEncryption(_ typeID: String, specs: JSONObject) async throws -> JSONObject {
        try await write { s in
            if self.typeInUse(s, typeID) { throw NimbusError.badRequest("Cannot create encryption specs. Volume type in use.") }
            guard var t = s[.volumeType, typeID] else { throw VolumeFault.typeNotFound(typeID) }
            if Self.encrypted(t) { throw NimbusError.badRequest("Volume type encryption for type \(typeID) already exists.") }
            var e: JSONObject = ["volume_type_id": .string(typeID), "encryption_id": .string(Identifiers.uuid()),
                                 "created_at": .string(Self.now()), "updated_at": .null, "deleted_at": .null, "deleted": false]
            for k in Self.encryptionFields { e[k] = specs[k] ?? .null }
            t["encryption"] = .object(e)
            s.put(.volumeType, t)
            return e
        }
    }

    /// Changes the fields given (404 when the type has no encryption specs).
    public func updateTypeEncryption(_ typeID: String, specs: JSONObject) async throws {
        try await write { s in
            guard var t = s[.volumeType, typeID] else { throw VolumeFault.typeNotFound(typeID) }
            if self.typeInUse(s, typeID) { throw NimbusError.badRequest("Cannot update encryption specs. Volume type in use.") }
            guard var e = t["encryption"]?.objectValue else {
                throw NimbusError.notFound("Volume type encryption for type \(typeID) does not exist.")
            }
            for k in Self.encryptionFields { if let v = specs[k] { e[k] = v } }
            e["updated_at"] = .string(Self.now())
            t["encryption"] = .object(e)
            s.put(.volumeType, t)
        }
    }

    public func deleteTypeEncryption(_ typeID: String) async throws {
        try await write { s in
            if self.typeInUse(s, typeID) { throw NimbusError.badRequest("Cannot delete encryption specs. Volume type in use.") }
            guard var t = s[.volumeType, typeID], Self.encrypted(t) else {
                throw NimbusError.notFound("Volume type encryption for type \(typeID) does not exist.")
            }
            t.removeValue(forKey: "encryption")
            s.put(.volumeType, t)
        }
    }
}
