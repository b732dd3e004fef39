import Foundation
import NimbusCore

/// QoS specs (`cinder/volume/qos_specs.py`): named sets of limits with a consumer, associated
/// with volume types (a type has at most one). Front-end specs (`front-end`, `both`) travel in
/// the attachment's `connection_info` as `qos_specs`, and the compute node throttles the guest's
/// disk with them, as Nova's libvirt driver does; back-end specs are kept and shown but this
/// backend enforces none (it reports `QoS_support` false, as Cinder's LVM driver).
extension VolumeService {
    public static let qosConsumers = ["front-end", "back-end", "both"]

    static func invalidQoS(_ reason: String) -> NimbusError { .badRequest("Invalid qos specs: \(reason)") }

    static func qosNotFound(_ id: String) -> NimbusError { .notFound("No such QoS spec \(id).") }

    static func checkConsumer(_ c: String) throws {
        guard qosConsumers.contains(c) else {
            throw invalidQoS("Valid consumer of QoS specs are: ['front-end', 'back-end', 'both']")
        }
    }

    public func qosSpecs(_ id: String) throws -> JSONObject {
        guard let q = state[.qosSpecs, id] else { throw Self.qosNotFound(id) }
        return q
    }

    /// Creates QoS specs `name` (unique by bytes); `consumer` defaults to `back-end`.
    /// `specs` holds strings (keys compared as bytes).
    public func createQoS(name: String, consumer: String?, specs: JSONObject) async throws -> JSONObject {
        if let consumer { try Self.checkConsumer(consumer) }
        return try await write { s in
            if s.all(.qosSpecs).contains(where: { $0["name"]?.stringValue?.sameBytes(as: name) == true }) {
                throw NimbusError.conflict("QoS Specs \(name) already exists.")
            }
            let now = Self.now()
            let q: JSONObject = ["id": .string(Identifiers.uuid()), "name": .string(name), "consumer": .string(consumer ?? "back-end"),
                                 "specs": .object(specs),
                                 "created_at": .string(now), "updated_at": .string(now)]
            s.put(.qosSpecs, q)
            return q
        }
    }

    /// Sets keys (a null value is kept as null, as Cinder's nullable specs); `consumer` changes
    /// the consumer.
    public func updateQoS(_ id: String, specs: JSONObject) async throws {
        if let c = specs["consumer"] {
            guard let c = c.stringValue else { throw Self.invalidQoS("Valid consumer of QoS specs are: ['front-end', 'back-end', 'both']") }
            try Self.checkConsumer(c)
        }
        try await write { s in
            guard var q = s[.qosSpecs, id] else { throw Self.qosNotFound(id) }
            var current = q["specs"]?.objectValue ?? [:]
            for (k, v) in specs {
                if k == "consumer" { q["consumer"] = v; continue }
                current[k] = v
            }
            q["specs"] = .object(current)
            q["updated_at"] = .string(Self.now())
            s.put(.qosSpecs, q)
        }
    }

    /// Removes keys in order; the first key that is not there stops it (404), the ones before it
    /// stay removed, as Cinder's `delete_keys`.
    public func deleteQoSKeys(_ id: String, keys: [String]) async throws {
        let missing: String? = try await write { s in
            guard var q = s[.qosSpecs, id] else { throw Self.qosNotFound(id) }
            var current = q["specs"]?.objectValue ?? [:]
            var missing: String?
            for k in keys where current.removeValue(forKey: k) == nil {
                missing = k
                break
            }
            q["specs"] = .object(current)
            q["updated_at"] = .string(Self.now())
            s.put(.qosSpecs, q)
            return missing
        }
        if let missing { throw NimbusError.notFound("QoS spec \(id) has no spec with key \(missing).") }
    }

    /// The types associated with the specs.
    func qosTypes(_ s: VolumeState, _ id: String) -> [JSONObject] {
        s.all(.volumeType).filter { $0["qos_specs_id"]?.stringValue?.sameBytes(as: id) == true }
    }

    public func qosAssociations(_ id: String) throws -> [JSONObject] {
        let s = state
        guard s[.qosSpecs, id] != nil else { throw Self.qosNotFound(id) }
        return qosTypes(s, id).map { ["association_type": "volume_type", "name": $0["name"] ?? .null, "id": $0["id"] ?? .null] }
    }

    /// Deletes the specs; associated ones only with `force` (which disassociates them first).
    public func deleteQoS(_ id: String, force: Bool) async throws {
        try await write { s in
            guard s[.qosSpecs, id] != nil else { throw Self.qosNotFound(id) }
            let types = self.qosTypes(s, id)
            if !types.isEmpty && !force { throw NimbusError.badRequest("Qos specs still in use.") }
            for var t in types {
                t["qos_specs_id"] = .null
                s.put(.volumeType, t)
            }
            s.remove(.qosSpecs, id)
        }
    }

    /// Associates the specs with a type; a type associated with other specs is refused (400).
    public func associateQoS(_ id: String, typeID: String) async throws {
        try await write { s in
            guard s[.qosSpecs, id] != nil else { throw Self.qosNotFound(id) }
            guard var t = s[.volumeType, typeID] else { throw VolumeFault.typeNotFound(typeID) }
            if let other = t["qos_specs_id"]?.stringValue {
                if other.sameBytes(as: id) { return }
                throw NimbusError.badRequest("Invalid volume type: Type \(typeID) is already associated with another qos specs: \(other)")
            }
            t["qos_specs_id"] = .string(id)
            s.put(.volumeType, t)
        }
    }

    /// Disassociates the specs from one type (nothing when that type has others), or from all.
    public func disassociateQoS(_ id: String, typeID: String?) async throws {
        try await write { s in
            guard s[.qosSpecs, id] != nil else { throw Self.qosNotFound(id) }
            let types: [JSONObject]
            if let typeID {
                guard let t = s[.volumeType, typeID] else { throw VolumeFault.typeNotFound(typeID) }
                types = t["qos_specs_id"]?.stringValue?.sameBytes(as: id) == true ? [t] : []
            } else {
                types = self.qosTypes(s, id)
            }
            for var t in types {
                t["qos_specs_id"] = .null
                s.put(.volumeType, t)
            }
        }
    }

    /// The front-end limits of a volume's type (what the attachment's `connection_info`
    /// carries as `qos_specs`), nil when it has none.
    func frontEndQoS(_ s: VolumeState, volume: JSONObject) -> JSONObject? {
        guard let typeID = volume["volume_type_id"]?.stringValue, let t = s[.volumeType, typeID],
              let qid = t["qos_specs_id"]?.stringValue, let q = s[.qosSpecs, qid],
              let consumer = q["consumer"]?.stringValue, consumer == "front-end" || consumer == "both" else { return nil }
        return q["specs"]?.objectValue
    }
}
