import NimbusCore

/// The kinds of block storage resources, each a JSON document keyed by id.
public enum VolumeKind: String, CaseIterable, Sendable {
    case volume, snapshot
    case volumeType = "volume_type"
    case attachment, transfer, message
    /// A volume backup (its bytes are objects in the owner's object-store account).
    case backup
    /// A service's enabled state (`binary:host`), what `os-services` changes.
    case service
    /// QoS specs (`/qos-specs`), associated with volume types by the types' `qos_specs_id`.
    case qosSpecs = "qos_specs"
    /// A project's own default volume type (3.62 `/default-types`), keyed by the project id.
    case projectDefaultType = "default_type"
    /// Generic volume groups (3.11+): group types with their specs, groups, group snapshots.
    case groupType = "group_type"
    case group
    case groupSnapshot = "group_snapshot"
}

/// Every block storage resource (volumes, snapshots, types, attachments, transfers, user
/// messages, backups) as one document each, what Cinder keeps in its tables, with the relations the
/// rules walk (snapshots and attachments of a volume). The service holds one in memory; a
/// write changes a copy, commits the changed documents with the version as a compare-and-set,
/// then publishes it (`CommittedState`).
public struct VolumeState: Sendable {
    public var version: Int64 = 0
    public private(set) var docs: [VolumeKind: [String: JSONObject]] = [:]
    /// Quota limits set per project (resource → limit); absent: the defaults. The key
    /// `__class__default` holds the default quota class.
    public var quotas: [Name: [Name: Int64]] = [:]
    private var children: [Relation: [String: Set<String>]] = [:]
    public private(set) var changes: [VolumeKind: [String: JSONObject?]] = [:]
    public private(set) var quotaChanges: Set<Name> = []

    enum Relation: CaseIterable {
        case snapshotsOfVolume, attachmentsOfVolume, transfersOfVolume, volumesOfSnapshot, volumesOfSource
        case backupsOfVolume, backupsOfParent
        case volumesOfGroup, snapshotsOfGroupSnapshot, groupSnapshotsOfGroup
        var kind: VolumeKind {
            switch self {
            case .snapshotsOfVolume, .snapshotsOfGroupSnapshot: .snapshot
            case .attachmentsOfVolume: .attachment
            case .transfersOfVolume: .transfer
            case .volumesOfSnapshot, .volumesOfSource, .volumesOfGroup: .volume
            case .backupsOfVolume, .backupsOfParent: .backup
            case .groupSnapshotsOfGroup: .groupSnapshot
            }
        }
        var parentField: String {
            switch self {
            case .snapshotsOfVolume, .attachmentsOfVolume, .transfersOfVolume, .backupsOfVolume: "volume_id"
            case .volumesOfSnapshot: "snapshot_id"
            case .volumesOfSource: "source_volid"
            case .backupsOfParent: "parent_id"
            case .volumesOfGroup, .groupSnapshotsOfGroup: "group_id"
            case .snapshotsOfGroupSnapshot: "group_snapshot_id"
            }
        }
    }

    public init() {}

    public subscript(kind: VolumeKind, id: String) -> JSONObject? { docs[kind]?[id] }
    public func all(_ kind: VolumeKind) -> [JSONObject] { Array((docs[kind] ?? [:]).values) }

    public mutating func beginChanges() { changes = [:]; quotaChanges = [] }
    public var hasChanges: Bool { !changes.isEmpty || !quotaChanges.isEmpty }

    /// Limits by resource name as bytes: per-type resources of two canonically equivalent type
    /// names stay two.
    public mutating func setQuota(project: String, _ limits: [Name: Int64]?) {
        quotas[Name(project)] = limits
        quotaChanges.insert(Name(project))
    }

    public mutating func put(_ kind: VolumeKind, _ doc: JSONObject) {
        guard let id = doc["id"]?.stringValue else { return }
        load(kind, doc)
        changes[kind, default: [:]][id] = .some(doc)
    }

    /// A stored document, without recording a change.
    mutating func load(_ kind: VolumeKind, _ doc: JSONObject) {
        guard let id = doc["id"]?.stringValue else { return }
        if let old = docs[kind]?[id] { index(kind, old, id, adding: false) }
        docs[kind, default: [:]][id] = doc
        index(kind, doc, id, adding: true)
    }

    public mutating func remove(_ kind: VolumeKind, _ id: String) {
        guard let old = docs[kind]?.removeValue(forKey: id) else { return }
        index(kind, old, id, adding: false)
        changes[kind, default: [:]][id] = .some(nil)
    }

    private mutating func index(_ kind: VolumeKind, _ d: JSONObject, _ id: String, adding: Bool) {
        for r in Relation.allCases where r.kind == kind {
            guard let parent = d[r.parentField]?.stringValue, !parent.isEmpty else { continue }
            if adding { children[r, default: [:]][parent, default: []].insert(id) } else { children[r]?[parent]?.remove(id) }
        }
    }

    func related(_ r: Relation, _ parent: String) -> [JSONObject] {
        (children[r]?[parent] ?? []).sorted { $0.bytesPrecede($1) }.compactMap { docs[r.kind]?[$0] }
    }
    public func snapshots(of volume: String) -> [JSONObject] { related(.snapshotsOfVolume, volume) }
    public func attachments(of volume: String) -> [JSONObject] { related(.attachmentsOfVolume, volume) }
    public func transfers(of volume: String) -> [JSONObject] { related(.transfersOfVolume, volume) }
    /// Volumes made from a snapshot or cloned from a volume that are still being made (their
    /// source must not go away under the copy).
    public func dependents(snapshot: String) -> [JSONObject] { related(.volumesOfSnapshot, snapshot) }
    public func dependents(volume: String) -> [JSONObject] { related(.volumesOfSource, volume) }
    /// The backups of a volume (any project's: a transferred volume keeps its backups).
    public func backups(of volume: String) -> [JSONObject] { related(.backupsOfVolume, volume) }
    /// The incremental backups made on top of a backup.
    public func incrementals(of backup: String) -> [JSONObject] { related(.backupsOfParent, backup) }

    /// The volumes in a group, the snapshots of a group snapshot, a group's group snapshots.
    public func volumes(inGroup group: String) -> [JSONObject] { related(.volumesOfGroup, group) }
    public func snapshots(inGroupSnapshot gs: String) -> [JSONObject] { related(.snapshotsOfGroupSnapshot, gs) }
    public func groupSnapshots(of group: String) -> [JSONObject] { related(.groupSnapshotsOfGroup, group) }

    /// A volume type by id, else by name (bytes).
    public func volumeType(_ idOrName: String) -> JSONObject? {
        if let t = docs[.volumeType]?[idOrName] { return t }
        return docs[.volumeType]?.values.first { $0["name"]?.stringValue?.sameBytes(as: idOrName) == true }
    }
}
