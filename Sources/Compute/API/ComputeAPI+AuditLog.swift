import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `os-instance_usage_audit_log` as `instance_usage_audit_log.py` answers it: the audit
/// tasks of the last completed period (a month, Nova's default `instance_usage_audit_period`)
/// per compute host. Nimbus runs no usage audit (Nova's `instance_usage_audit` is off by
/// default too), so every host is reported as not run: what Nova shows with the audit off.
extension ComputeAPI {
    func addAuditLogRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-instance_usage_audit_log", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-instance-usage-audit-log:list", c, target: [:])
            return .json(["instance_usage_audit_logs": try await self.auditLog(before: Date())])
        })
        t.get("/v2.1/os-instance_usage_audit_log/{before}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-instance-usage-audit-log:show", c, target: [:])
            let text = try ctx.parameter("before")
            guard let before = Self.auditTimestamp(text) else { throw NimbusError.badRequest("Invalid timestamp for date \(text)") }
            return .json(["instance_usage_audit_log": try await self.auditLog(before: before)])
        })
    }

    /// `%Y-%m-%d %H:%M:%S` or `%Y-%m-%d %H:%M:%S.%f` (UTC), as Nova's `strptime`s.
    static func auditTimestamp(_ s: String) -> Date? {
        let bytes = Array(s.utf8)
        guard bytes.count >= 19, bytes[10] == UInt8(ascii: " ") else { return nil }
        var iso = bytes
        iso[10] = UInt8(ascii: "T")
        if bytes.count > 19 {
            guard bytes[19] == UInt8(ascii: "."), bytes.count > 20, bytes.count <= 26,
                  bytes[20...].allSatisfy({ (48...57).contains($0) }) else { return nil }
        }
        return Timestamps.parse(String(decoding: iso, as: UTF8.self) + "Z")
    }

    /// Nova's `last_completed_audit_period(unit="month")`: the month that ended last before `before`.
    static func auditPeriod(before: Date) -> (Date, Date) {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let parts = cal.dateComponents([.year, .month], from: before)
        let end = cal.date(from: DateComponents(year: parts.year, month: parts.month, day: 1))!
        let begin = cal.date(byAdding: .month, value: -1, to: end)!
        return (begin, end)
    }

    func auditLog(before: Date) async throws -> JSONValue {
        let (begin, end) = Self.auditPeriod(before: before)
        let hosts = Set(try await service.hosts.list().map { Name($0.host) }).sorted()
        func text(_ d: Date) -> String { Timestamps.seconds(d).replacingBytes("T", with: " ").replacingBytes("Z", with: "") }
        let n = Int64(hosts.count)
        return ["period_beginning": .string(text(begin)), "period_ending": .string(text(end)), "num_hosts": .int(n), "num_hosts_done": 0,
                "num_hosts_running": 0, "num_hosts_not_run": .int(n), "hosts_not_run": .array(hosts.map { .string($0.string) }),
                "total_instances": 0, "total_errors": 0, "overall_status": .string(hosts.isEmpty ? "ALL hosts done. 0 errors." : "0 of \(n) hosts done. 0 errors."),
                "log": [:]]
    }
}
