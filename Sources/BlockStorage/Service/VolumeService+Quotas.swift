import Foundation
import NimbusCore

/// Cinder's quotas (`DbQuotaDriver`): a project's own limit, else the `default` quota class's,
/// else the configured default; usage is counted from the documents, never stored, so it
/// cannot drift. Per-type limits (`volumes_<type>`, `snapshots_<type>`, `gigabytes_<type>`)
/// default to unlimited.
extension VolumeService {
    public static let quotaDefaults: [(String, Int64)] = [
        ("volumes", 10), ("snapshots", 10), ("gigabytes", 1000), ("backups", 10), ("backup_gigabytes", 1000),
        ("groups", 10), ("per_volume_gigabytes", -1),
    ]
    /// Where the `default` quota class's limits are kept among the projects' (no project id has a colon).
    static let defaultClassKey = "class:default"

    /// Every quota resource name: the global ones and three per volume type.
    public func quotaResources(_ s: VolumeState) -> [String] {
        var names = Self.quotaDefaults.map(\.0)
        for t in s.all(.volumeType).sorted(by: { ($0["name"]?.stringValue ?? "").bytesPrecede($1["name"]?.stringValue ?? "") }) {
            guard let n = t["name"]?.stringValue else { continue }
            names += ["volumes_\(n)", "snapshots_\(n)", "gigabytes_\(n)"]
        }
        return names
    }

    /// The class default of a resource.
    public func classLimit(_ resource: String, _ s: VolumeState) -> Int64 {
        if let v = s.quotas[Name(Self.defaultClassKey)]?[Name(resource)] { return v }
        return Self.quotaDefaults.first { $0.0 == resource }?.1 ?? -1
    }

    public func limit(_ resource: String, project: String, _ s: VolumeState) -> Int64 {
        s.quotas[Name(project)]?[Name(resource)] ?? classLimit(resource, s)
    }

    /// In-use counts per resource of a project.
    public func usage(project: String, _ s: VolumeState) -> [Name: Int64] {
        var u = [Name: Int64]()
        var typeNames = [String: String]()
        for t in s.all(.volumeType) { if let id = t["id"]?.stringValue, let n = t["name"]?.stringValue { typeNames[id] = n } }
        for v in s.all(.volume) where v["project_id"]?.stringValue?.sameBytes(as: project) == true {
            // An extend in progress has reserved its new size.
            let size = max(v["size"]?.intValue ?? 0, v["extending_to"]?.intValue ?? 0)
            u["volumes", default: 0] += 1
            u["gigabytes", default: 0] += size
            if let n = v["volume_type_id"]?.stringValue.flatMap({ typeNames[$0] }) {
                u[Name("volumes_\(n)"), default: 0] += 1
                u[Name("gigabytes_\(n)"), default: 0] += size
            }
        }
        for snap in s.all(.snapshot) where snap["project_id"]?.stringValue?.sameBytes(as: project) == true {
            let size = snap["volume_size"]?.intValue ?? 0
            u["snapshots", default: 0] += 1
            u["gigabytes", default: 0] += size
            if let n = snap["volume_type_id"]?.stringValue.flatMap({ typeNames[$0] }) {
                u[Name("snapshots_\(n)"), default: 0] += 1
                u[Name("gigabytes_\(n)"), default: 0] += size
            }
        }
        // Backups count from creation until they are gone (Cinder reserves at create and
        // releases once the backup is deleted), whatever their status.
        for b in s.all(.backup) where b["project_id"]?.stringValue?.sameBytes(as: project) == true {
            u["backups", default: 0] += 1
            u["backup_gigabytes", default: 0] += b["size"]?.intValue ?? 0
        }
        return u
    }

    /// 413 when adding `volumes`/`snapshots`/`gigabytes` of `type` to the project would pass a
    /// limit (Cinder's QuotaError family, with its messages).
    func checkQuota(_ s: VolumeState, project: String, type: JSONObject, volumes: Int64 = 0, snapshots: Int64 = 0, gigabytes: Int64,
                    perVolume: Int64? = nil, onlyType: Bool = false, onlyTotal: Bool = false) throws {
        let used = usage(project: project, s)
        let typeName = type["name"]?.stringValue ?? ""
        let perVolumeLimit = limit("per_volume_gigabytes", project: project, s)
        let size = perVolume ?? gigabytes
        if !onlyType, volumes > 0 || perVolume != nil, perVolumeLimit >= 0, size > perVolumeLimit {
            throw NimbusError(.payloadTooLarge, "VolumeSizeExceedsLimit: Requested volume size \(size)G is larger than maximum allowed limit \(perVolumeLimit)G.")
        }
        func check(_ resource: String, _ delta: Int64, _ fail: (Int64, Int64) -> NimbusError) throws {
            guard delta > 0 else { return }
            let l = limit(resource, project: project, s)
            let u = used[Name(resource)] ?? 0
            if l >= 0 && u + delta > l { throw fail(l, u) }
        }
        let scopes = onlyType ? ["_\(typeName)"] : onlyTotal ? [""] : ["", "_\(typeName)"]
        for suffix in scopes {
            try check("volumes" + suffix, volumes) { l, _ in
                NimbusError(.payloadTooLarge, "VolumeLimitExceeded: Maximum number of volumes allowed (\(l)) exceeded for quota 'volumes\(suffix)'.")
            }
            try check("snapshots" + suffix, snapshots) { l, _ in NimbusError(.payloadTooLarge, "SnapshotLimitExceeded: Maximum number of snapshots allowed (\(l)) exceeded") }
            try check("gigabytes" + suffix, gigabytes) { l, u in
                NimbusError(.payloadTooLarge, "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes\(suffix) quota. Requested \(gigabytes)G, quota is \(l)G and \(u)G has been consumed.")
            }
        }
    }

    /// Sets a project's limits (nil: back to the defaults); a limit below what is in use is
    /// refused as Cinder refuses it.
    public func setQuotas(project: String, _ limits: [Name: Int64]) async throws {
        try await write { s in
            let used = self.usage(project: project, s)
            for (k, v) in limits where v >= 0 && (used[k] ?? 0) > v && k != "per_volume_gigabytes" {
                throw NimbusError.badRequest("Invalid input received: Quota limit \(v) for \(k) must be equal or greater than existing resources. Current usage is \(used[k] ?? 0) and the requested limit is \(v).")
            }
            var merged = s.quotas[Name(project)] ?? [:]
            for (k, v) in limits { merged[k] = v }
            s.setQuota(project: project, merged)
        }
    }

    public func deleteQuotas(project: String) async throws {
        try await write { s in s.setQuota(project: project, nil) }
    }

    public func setClassQuotas(_ limits: [Name: Int64]) async throws {
        try await write { s in
            var merged = s.quotas[Name(Self.defaultClassKey)] ?? [:]
            for (k, v) in limits { merged[k] = v }
            s.setQuota(project: Self.defaultClassKey, merged)
        }
    }
}
