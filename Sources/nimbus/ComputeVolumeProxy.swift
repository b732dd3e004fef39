import BlockStorage
import Compute
import NimbusCore

/// Nova's `os-volumes` and `os-snapshots` proxies over the block storage service in this
/// process, as the caller (nova/volume/cinder.py `_untranslate_*_summary_view`): lists are the
/// caller's project's (Cinder lists a project's own without `all_tenants`), newest first.
extension ComputeVolumeClient {
    func proxied(_ v: JSONObject) -> ProxiedVolume {
        let id = v["id"]?.stringValue ?? ""
        let attached = volumes.state.attachments(of: id).filter { $0["attach_status"]?.stringValue == "attached" }
        let typeName = v["volume_type_id"]?.stringValue.flatMap { volumes.state[.volumeType, $0]?["name"]?.stringValue }
        return ProxiedVolume(id: id, status: v["status"]?.stringValue ?? "", sizeGB: Int(v["size"]?.intValue ?? 0),
                             availabilityZone: v["availability_zone"]?.stringValue ?? "", createdAt: v["created_at"]?.stringValue ?? "",
                             attachments: attached.map { ($0["instance_uuid"]?.stringValue ?? "", $0["mountpoint"]?.stringValue) },
                             name: v["name"]?.stringValue, description: v["description"]?.stringValue, volumeType: typeName,
                             snapshotID: v["snapshot_id"]?.stringValue,
                             metadata: (v["metadata"]?.objectValue?.sortedMembers ?? []).reduce(into: [:]) { out, m in
                                 if let s = m.1.stringValue { out[m.0] = s }
                             })
    }

    static func proxied(snapshot s: JSONObject) -> ProxiedSnapshot {
        ProxiedSnapshot(id: s["id"]?.stringValue ?? "", volumeID: s["volume_id"]?.stringValue ?? "", status: s["status"]?.stringValue ?? "",
                        sizeGB: Int(s["volume_size"]?.intValue ?? 0), createdAt: s["created_at"]?.stringValue ?? "",
                        name: s["name"]?.stringValue, description: s["description"]?.stringValue)
    }

    /// The caller's project's documents of `kind`, newest first (Cinder's default sort).
    func own(_ kind: VolumeKind, _ caller: AuthContext) -> [JSONObject] {
        let project = caller.projectID ?? ""
        return volumes.state.all(kind).filter { $0["project_id"]?.stringValue?.sameBytes(as: project) == true }.sorted { a, b in
            let ca = a["created_at"]?.stringValue ?? "", cb = b["created_at"]?.stringValue ?? ""
            return ca.sameBytes(as: cb) ? (b["id"]?.stringValue ?? "").bytesPrecede(a["id"]?.stringValue ?? "") : cb.bytesPrecede(ca)
        }
    }

    func proxyVolumes(caller: AuthContext) async throws -> [ProxiedVolume] {
        own(.volume, caller).map(proxied)
    }

    func proxyVolume(_ id: String, caller: AuthContext) async throws -> ProxiedVolume? {
        (try? volumes.volume(id, actor: Self.actor(caller))).map(proxied)
    }

    func proxyCreateVolume(_ r: VolumeRequest, caller: AuthContext) async throws -> ProxiedVolume {
        let id = try await createVolume(r, caller: caller)
        return proxied(try volumes.volume(id, actor: Self.service))
    }

    func proxyDeleteVolume(_ id: String, caller: AuthContext) async throws {
        try await volumes.deleteVolume(id, cascade: false, force: false, actor: Self.actor(caller))
    }

    func proxySnapshots(caller: AuthContext) async throws -> [ProxiedSnapshot] {
        own(.snapshot, caller).map(Self.proxied(snapshot:))
    }

    func proxySnapshot(_ id: String, caller: AuthContext) async throws -> ProxiedSnapshot? {
        (try? volumes.snapshot(id, actor: Self.actor(caller))).map(Self.proxied(snapshot:))
    }

    func proxyCreateSnapshot(volumeID: String, force: Bool, name: String?, description: String?, caller: AuthContext) async throws -> ProxiedSnapshot {
        Self.proxied(snapshot: try await volumes.createSnapshot(volumeID: volumeID, name: name, description: description, metadata: [:], force: force,
                                                               actor: Self.actor(caller)))
    }

    func proxyDeleteSnapshot(_ id: String, caller: AuthContext) async throws {
        try await volumes.deleteSnapshot(id, force: false, actor: Self.actor(caller))
    }
}
