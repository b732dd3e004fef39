import Foundation
import NimbusCore

/// `os-simple-tenant-usage`: hours each instance was up within a window (from its launch and
/// termination times) times its flavor's vCPUs, RAM and disk, summed per project.
public struct ServerUsage: Sendable {
    public var instance: Instance
    public var hours: Double
    public var startedAt: Date
    public var endedAt: Date?
    public var state: String
    public var uptimeSeconds: Int
    public var localGB: Int { instance.flavor.rootGB + instance.flavor.ephemeralGB }
}

public struct TenantUsage: Sendable {
    public var projectID: String
    public var start: Date
    public var stop: Date
    public var totalHours = 0.0
    public var totalLocalGBUsage = 0.0
    public var totalVCPUsUsage = 0.0
    public var totalMemoryMBUsage = 0.0
    public var servers: [ServerUsage] = []
}

extension ComputeService {
    /// Usage per project over [start, stop) of at most `limit` instances after `marker`, in
    /// (project, id) order; nil when the marker names no instance. Also returns every server
    /// usage in the page (for the next link).
    public func tenantUsage(start: Date, stop: Date, project: String?, limit: Int, marker: String?,
                            now: Date = Date()) async throws -> ([TenantUsage], [ServerUsage])? {
        guard let list = try await instances.activeInWindow(start: start, stop: stop, project: project, limit: limit, marker: marker) else {
            return nil
        }
        var order = [Name]()
        var byProject = [Name: TenantUsage]()
        var all = [ServerUsage]()
        for i in list {
            guard let launched = i.launchedAt else { continue }
            let u = ServerUsage(instance: i, hours: Self.hours(i, start: start, stop: stop), startedAt: launched, endedAt: i.terminatedAt,
                                state: i.terminatedAt == nil ? i.vmState.rawValue : "terminated",
                                uptimeSeconds: max(0, Int((i.terminatedAt ?? now).timeIntervalSince(launched))))
            let key = Name(i.projectID)
            if byProject[key] == nil {
                order.append(key)
                byProject[key] = TenantUsage(projectID: i.projectID, start: start, stop: stop)
            }
            byProject[key]!.totalHours += u.hours
            byProject[key]!.totalLocalGBUsage += Double(u.localGB) * u.hours
            byProject[key]!.totalVCPUsUsage += Double(i.flavor.vcpus) * u.hours
            byProject[key]!.totalMemoryMBUsage += Double(i.flavor.memoryMB) * u.hours
            byProject[key]!.servers.append(u)
            all.append(u)
        }
        return (order.map { byProject[$0]! }, all)
    }

    /// Nova's `_hours_for`: the part of [start, stop] the instance ran, in hours.
    static func hours(_ i: Instance, start: Date, stop: Date) -> Double {
        if let t = i.terminatedAt, t < start { return 0 }
        guard let launched = i.launchedAt, launched <= stop else { return 0 }
        let from = max(launched, start)
        let to = i.terminatedAt.map { min(stop, $0) } ?? stop
        return to.timeIntervalSince(from) / 3600
    }
}
