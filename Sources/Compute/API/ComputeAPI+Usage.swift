import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `/os-simple-tenant-usage` as Nova's `simple_tenant_usage.py` answers: every project's
/// usage (admins) or one project's over `start`…`end` (default: now), `detailed=1` for the
/// per-server list, paged by instance from 2.40.
extension ComputeAPI {
    func addUsageRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-simple-tenant-usage", versioned { req, ctx, v in
            // `/os-simple-tenant-usage/` is the show route with an empty tenant id in Nova: 404.
            if req.uri.path.utf8.last == UInt8(ascii: "/") { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-simple-tenant-usage:list", c)
            let q = req.queryString
            try NovaSchemas.checkQuery(q, allowed: v.atLeast(75) ? ["start", "end", "detailed", "limit", "marker"] : nil)
            let (start, stop) = try Self.usageWindow(q)
            let detailed = (q["detailed"] ?? "0") == "1"
            let (limit, marker) = v.atLeast(40) ? try Self.pageParameters(q) : (1000, nil)
            guard let (usages, servers) = try await self.service.tenantUsage(start: start, stop: stop, project: nil, limit: limit, marker: marker) else {
                throw NimbusError.badRequest("Marker \(marker ?? "") could not be found.")
            }
            var body: JSONObject = ["tenant_usages": .array(usages.map { Self.usageView($0, detailed: detailed) })]
            if v.atLeast(40), limit > 0, servers.count == limit, let last = servers.last {
                body["tenant_usages_links"] = [["rel": "next", "href": .string(self.nextLink("os-simple-tenant-usage", req, marker: last.instance.id))]]
            }
            return .json(.object(body))
        })
        t.get("/v2.1/os-simple-tenant-usage/{tenant_id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("tenant_id")
            try self.authorize("os_compute_api:os-simple-tenant-usage:show", c, target: ["project_id": project])
            let q = req.queryString
            try NovaSchemas.checkQuery(q, allowed: v.atLeast(75) ? ["start", "end", "limit", "marker"] : nil)
            let (start, stop) = try Self.usageWindow(q)
            let (limit, marker) = v.atLeast(40) ? try Self.pageParameters(q) : (1000, nil)
            guard let (usages, servers) = try await self.service.tenantUsage(start: start, stop: stop, project: project, limit: limit, marker: marker) else {
                throw NimbusError.badRequest("Marker \(marker ?? "") could not be found.")
            }
            var body: JSONObject = ["tenant_usage": usages.first.map { Self.usageView($0, detailed: true) } ?? [:]]
            if v.atLeast(40), limit > 0, servers.count == limit, let last = servers.last {
                body["tenant_usage_links"] = [["rel": "next", "href": .string(self.nextLink("os-simple-tenant-usage/\(PercentEncoding.encode(project))", req,
                                                                                         marker: last.instance.id))]]
            }
            return .json(.object(body))
        })
    }

    /// `start` and `end` (first values; now when absent), in Nova's three accepted formats,
    /// naive times being UTC; `end` is capped at now. 400 unless start < end.
    static func usageWindow(_ q: QueryString, now: Date = Date()) throws -> (Date, Date) {
        let start = try q["start"].map(parseUsageTime) ?? now
        var stop = try q["end"].map(parseUsageTime) ?? now
        // Nova reads "now" twice (start first), so two absent bounds make an empty window, not an error.
        guard start < stop || (q["start"] == nil && q["end"] == nil) else { throw NimbusError.badRequest("Invalid start time. The start time cannot occur after the end time.") }
        if stop > now { stop = now }
        return (start, stop)
    }

    /// `%Y-%m-%dT%H:%M:%S`, `%Y-%m-%dT%H:%M:%S.%f` or `%Y-%m-%d %H:%M:%S.%f`; empty means now.
    static func parseUsageTime(_ s: String) throws -> Date {
        if s.isEmpty { return Date() }
        let invalid = NimbusError.badRequest("Invalid datetime string: Datetime is in invalid format")
        let b = Array(s.utf8)
        func digits(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= b.count, b[r].allSatisfy({ (48...57).contains($0) }) else { return nil }
            return Int(String(decoding: b[r], as: UTF8.self))
        }
        guard b.count >= 19, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10), let hour = digits(11..<13),
              let minute = digits(14..<16), let second = digits(17..<19) else { throw invalid }
        let separatorT = b[10] == UInt8(ascii: "T")
        guard separatorT || b[10] == UInt8(ascii: " ") else { throw invalid }
        var micros = 0
        if b.count > 19 {
            // ".%f": a dot and 1 to 6 digits.
            guard b[19] == UInt8(ascii: "."), (21...26).contains(b.count), let f = digits(20..<b.count) else { throw invalid }
            micros = f * Int(pow(10.0, Double(26 - b.count)))
        } else if !separatorT {
            throw invalid
        }
        var comps = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: year, month: month,
                                   day: day, hour: hour, minute: minute, second: second)
        comps.nanosecond = micros * 1000
        guard comps.isValidDate, hour < 24, minute < 60, second < 60, let d = comps.date else { throw invalid }
        return d
    }

    static func usageView(_ u: TenantUsage, detailed: Bool) -> JSONValue {
        var o: JSONObject = ["tenant_id": .string(u.projectID), "total_local_gb_usage": .double(u.totalLocalGBUsage),
                             "total_vcpus_usage": .double(u.totalVCPUsUsage), "total_memory_mb_usage": .double(u.totalMemoryMBUsage),
                             "total_hours": .double(u.totalHours), "start": .string(NovaTime.micros(u.start)), "stop": .string(NovaTime.micros(u.stop))]
        if detailed {
            o["server_usages"] = .array(u.servers.map { s in
                ["instance_id": .string(s.instance.id), "name": .string(s.instance.name), "tenant_id": .string(s.instance.projectID),
                 "hours": .double(s.hours), "flavor": .string(s.instance.flavor.name), "memory_mb": .int(Int64(s.instance.flavor.memoryMB)),
                 "local_gb": .int(Int64(s.localGB)), "vcpus": .int(Int64(s.instance.flavor.vcpus)), "started_at": .string(NovaTime.micros(s.startedAt)),
                 "ended_at": s.endedAt.map { .string(NovaTime.micros($0)) } ?? .null, "state": .string(s.state), "uptime": .int(Int64(s.uptimeSeconds))]
            })
        }
        return .object(o)
    }
}
