import Foundation
import NimbusCore

/// Where per-project limits come from (Keystone's unified limits, as Glance reads them with
/// oslo.limit): resource name → limit. A resource without a limit counts as 0, as oslo.limit does.
public protocol ImageLimitSource: Sendable {
    func limits(project: String) async throws -> [String: Int64]
}

/// Glance's four unified-limit resources and how usage is counted (`glance/quota/keystone.py`).
public enum ImageQuota: String, CaseIterable, Sendable {
    case sizeTotal = "image_size_total"
    case stageTotal = "image_stage_total"
    case countTotal = "image_count_total"
    case countUploading = "image_count_uploading"
}

extension ImageService {
    /// Current usage of `project` for every resource (sizes in MiB, as Glance counts them).
    public func usage(project: String) async throws -> [ImageQuota: Int64] {
        let images = try await repository.owned(by: project)
        var size: Int64 = 0, stage: Int64 = 0, count: Int64 = 0, uploading: Int64 = 0
        for i in images where i.status != .killed && i.status != .deleted && i.status != .pendingDelete {
            count += 1
            let importing = !(i.properties["os_glance_importing_to_stores"] ?? "").isEmpty
            if i.status == .active || i.status == .deactivated, let s = i.size, s > 0 { size += s }
            if i.status == .uploading || i.status == .importing || importing { stage += i.size ?? 0 }
            if [.saving, .uploading, .importing].contains(i.status) || importing { uploading += 1 }
        }
        return [.sizeTotal: size >> 20, .stageTotal: stage >> 20, .countTotal: count, .countUploading: uploading]
    }

    /// `GET /v2/info/usage`: `{}` unless limits are enforced.
    public func usageDocument(project: String?) async throws -> JSONValue {
        guard let source = limitSource, let project else { return ["usage": [:]] }
        let limits = try await source.limits(project: project)
        let used = try await usage(project: project)
        var out = JSONObject()
        for q in ImageQuota.allCases { out[q.rawValue] = ["limit": .int(limits[q.rawValue] ?? 0), "usage": .int(used[q] ?? 0)] }
        return ["usage": .object(out)]
    }

    /// 413 if adding `delta` to `quota` would pass `project`'s limit (no-op without limits).
    func enforce(_ quota: ImageQuota, project: String?, delta: Int64) async throws {
        guard let source = limitSource, let project else { return }
        let limit = try await source.limits(project: project)[quota.rawValue] ?? 0
        if limit < 0 { return }  // -1: unlimited
        let current = try await usage(project: project)[quota] ?? 0
        if current + delta > limit {
            throw NimbusError(.payloadTooLarge, """
                The request returned a 413 Request Entity Too Large. This generally means that rate limiting or a quota threshold was breached.

                The response body:
                Project \(project) is over a limit for [Resource \(quota.rawValue) is over limit of \(limit) due to current usage \(current) and delta \(delta)]
                """)
        }
    }
}
