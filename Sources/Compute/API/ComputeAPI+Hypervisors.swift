import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `/os-hypervisors` as Nova's `hypervisors.py` answers: list and detail (paged from 2.33,
/// `hypervisor_hostname_pattern` and `with_servers` from 2.53, uuids from 2.53), show,
/// `statistics` and `uptime` (until 2.87; 2.88 folds uptime into the detail and drops the
/// resource fields), and the `search`/`servers` routes before 2.53.
extension ComputeAPI {
    func addHypervisorRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-hypervisors", versioned { req, ctx, v in try await self.listHypervisors(req, ctx, v, detail: false) })
        t.get("/v2.1/os-hypervisors/detail", versioned { req, ctx, v in try await self.listHypervisors(req, ctx, v, detail: true) })
        t.get("/v2.1/os-hypervisors/statistics", versioned { req, ctx, v in
            guard !v.atLeast(88) else { throw Self.noSuchResource }
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-hypervisors:statistics", c, target: [:])
            let nodes = try await self.service.hypervisors().filter { !$0.service.disabled }
            func sum(_ f: (HypervisorState) -> Int) -> JSONValue { .int(Int64(nodes.reduce(0) { $0 + f($1) })) }
            return .json(["hypervisor_statistics": [
                "count": .int(Int64(nodes.count)), "vcpus": sum(\.vcpus), "memory_mb": sum(\.memoryMB), "local_gb": sum(\.localGB),
                "vcpus_used": sum(\.vcpusUsed), "memory_mb_used": sum(\.memoryMBUsed), "local_gb_used": sum(\.localGBUsed),
                "free_ram_mb": sum(\.freeRAMMB), "free_disk_gb": sum(\.freeDiskGB), "current_workload": sum(\.currentWorkload),
                "running_vms": sum(\.runningVMs), "disk_available_least": sum(\.freeDiskGB),
            ]])
        })
        t.get("/v2.1/os-hypervisors/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-hypervisors:show", c, target: [:])
            let q = req.queryString
            try NovaSchemas.checkQuery(q, allowed: v.atLeast(53) ? ["with_servers"] : nil)
            let withServers = v.atLeast(53) ? try Self.withServers(q) : false
            let node = try await self.hypervisor(try ctx.parameter("id"), v)
            return .json(["hypervisor": self.hypervisorView(node, v, detail: true, servers: withServers ? node.instances : nil, withServers: withServers)])
        })
        t.get("/v2.1/os-hypervisors/{id}/uptime", versioned { req, ctx, v in
            guard !v.atLeast(88) else { throw Self.noSuchResource }
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-hypervisors:uptime", c, target: [:])
            let node = try await self.hypervisor(try ctx.parameter("id"), v)
            guard let uptime = self.service.uptime(of: node.host) else {
                throw NimbusError(.notImplemented, "The requested functionality is not supported.")
            }
            var view = self.hypervisorView(node, v, detail: false, servers: nil, withServers: false).objectValue!
            view["uptime"] = .string(uptime)
            return .json(["hypervisor": .object(view)])
        })
        t.get("/v2.1/os-hypervisors/{pattern}/search", versioned { req, ctx, v in try await self.searchHypervisors(ctx, v, servers: false) })
        t.get("/v2.1/os-hypervisors/{pattern}/servers", versioned { req, ctx, v in try await self.searchHypervisors(ctx, v, servers: true) })
    }

    /// What Nova answers for a method outside its microversion range.
    static let noSuchResource = NimbusError.notFound("The resource could not be found.")

    static func withServers(_ q: QueryString) throws -> Bool {
        guard let s = q.last("with_servers") else { return false }
        guard let b = NovaSchemas.strictBool(s) else {
            throw NimbusError.badRequest("Invalid input for query parameters with_servers. Value: \(s). '\(s)' is not one of ['True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']")
        }
        return b
    }

    /// The node with this id (a uuid from 2.53, an integer before).
    func hypervisor(_ id: String, _ v: NovaVersion) async throws -> HypervisorState {
        let notFound = NimbusError.notFound("Hypervisor with ID '\(id)' could not be found.")
        if v.atLeast(53) {
            guard Format.uuid.accepts(id) else { throw NimbusError.badRequest("Invalid uuid \(id)") }
        } else {
            guard Self.integerID(id) != nil else { throw notFound }
        }
        let nodes = try await service.hypervisors()
        let found = v.atLeast(53) ? nodes.first { $0.host.id.sameBytes(as: id.lowercased()) } : nodes.first { $0.service.number == Self.integerID(id) }
        guard let found else { throw notFound }
        return found
    }

    /// Python's `int()` of an id: optional sign and digits, surrounding whitespace allowed; nil
    /// when it is not one. An integer too large for any row is `Int.max` (found by none).
    static func integerID(_ s: String) -> Int? {
        let t = s.trimmingCharacters(in: .whitespaces)
        let digits = t.hasBytePrefix("-") || t.hasBytePrefix("+") ? String(t.utf8.dropFirst())! : t
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int(t) ?? Int.max
    }

    func listHypervisors(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion, detail: Bool) async throws -> Response {
        let c = try caller(ctx)
        try authorize(detail ? "os_compute_api:os-hypervisors:list-detail" : "os_compute_api:os-hypervisors:list", c, target: [:])
        let q = req.queryString
        try NovaSchemas.checkQuery(q, allowed: v.atLeast(53) ? ["limit", "marker", "hypervisor_hostname_pattern", "with_servers"] : nil)
        var nodes = try await service.hypervisors()
        let withServers = v.atLeast(53) ? try Self.withServers(q) : false
        var paged = v.atLeast(33)
        if v.atLeast(53), let pattern = q.last("hypervisor_hostname_pattern") {
            guard NovaText.fqdn.matches(pattern), (1...255).contains(pattern.scalarCount) else {
                throw NimbusError.badRequest("Invalid input for query parameters hypervisor_hostname_pattern. Value: \(pattern). '\(pattern)' does not match '^[a-zA-Z0-9-._]*$'")
            }
            if q.contains("limit") || q.contains("marker") {
                throw NimbusError.badRequest("Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.")
            }
            nodes = nodes.filter { Self.like($0.host.host, pattern) }
            if nodes.isEmpty { throw NimbusError.notFound("No hypervisor matching '\(pattern)' could be found.") }
            paged = false
        }
        var limit = 1000
        if paged {
            let (l, marker) = try Self.pageParameters(q)
            limit = l
            if let marker {
                guard let i = nodes.firstIndex(where: { self.hypervisorID($0, v).pythonStr.sameBytes(as: marker) }) else {
                    throw NimbusError.badRequest("marker [\(marker)] not found")
                }
                nodes = Array(nodes[(i + 1)...])
            }
            nodes = Array(nodes.prefix(limit))
        }
        var body: JSONObject = ["hypervisors": .array(nodes.map {
            hypervisorView($0, v, detail: detail, servers: withServers ? $0.instances : nil, withServers: withServers)
        })]
        if paged, limit > 0, nodes.count == limit, let last = nodes.last {
            body["hypervisors_links"] = [["rel": "next", "href": .string(nextLink("os-hypervisors" + (detail ? "/detail" : ""), req,
                                                                                  marker: hypervisorID(last, v).pythonStr))]]
        }
        return .json(.object(body))
    }

    /// `common.get_limit_and_marker` under the pagination schema: a non-negative integer
    /// limit capped at 1000 (1000 when absent).
    static func pageParameters(_ q: QueryString) throws -> (Int, String?) {
        var limit = 1000
        if let l = q.last("limit") {
            guard !l.isEmpty, l.utf8.allSatisfy({ (48...57).contains($0) }) else {
                throw NimbusError.badRequest("Invalid input for query parameters limit. Value: \(l). '\(l)' does not match '^[0-9]*$'")
            }
            limit = min(Int(l) ?? 1000, 1000)
        }
        return (limit, q.last("marker"))
    }

    /// SQL `LIKE '%pattern%'` as Nova's search runs it: `_` matches one character, ASCII
    /// letters match either case (MySQL's and SQLite's default collations).
    static func like(_ name: String, _ pattern: String) -> Bool {
        let n = Array(name.unicodeScalars), p = Array(pattern.unicodeScalars)
        guard p.count <= n.count else { return false }
        func lower(_ s: Unicode.Scalar) -> UInt32 { (65...90).contains(s.value) ? s.value + 32 : s.value }
        func same(_ a: Unicode.Scalar, _ b: Unicode.Scalar) -> Bool { b == "_" || lower(a) == lower(b) }
        for start in 0...(n.count - p.count) where zip(n[start...], p).allSatisfy({ same($0, $1) }) { return true }
        return false
    }

    func searchHypervisors(_ ctx: NimbusRequestContext, _ v: NovaVersion, servers: Bool) async throws -> Response {
        guard !v.atLeast(53) else { throw Self.noSuchResource }
        let c = try caller(ctx)
        try authorize(servers ? "os_compute_api:os-hypervisors:servers" : "os_compute_api:os-hypervisors:search", c, target: [:])
        let pattern = try ctx.parameter("pattern")
        let nodes = try await service.hypervisors().filter { Self.like($0.host.host, pattern) }
        if nodes.isEmpty { throw NimbusError.notFound("No hypervisor matching '\(pattern)' could be found.") }
        return .json(["hypervisors": .array(nodes.map { hypervisorView($0, v, detail: false, servers: servers ? $0.instances : nil, withServers: false) })])
    }

    func hypervisorID(_ n: HypervisorState, _ v: NovaVersion) -> JSONValue {
        v.atLeast(53) ? .string(n.host.id) : .int(Int64(n.service.number))
    }

    func hypervisorView(_ n: HypervisorState, _ v: NovaVersion, detail: Bool, servers: [Instance]?, withServers: Bool) -> JSONValue {
        var o: JSONObject = ["id": hypervisorID(n, v), "hypervisor_hostname": .string(n.host.host), "state": n.service.isUp ? "up" : "down",
                             "status": n.service.disabled ? "disabled" : "enabled"]
        if detail {
            o["hypervisor_type"] = .string(n.host.hypervisor["hypervisor_type"]?.stringValue ?? "")
            o["hypervisor_version"] = .int(n.host.hypervisor["hypervisor_version"]?.intValue ?? 0)
            o["host_ip"] = n.host.hypervisor["host_ip"] ?? .null
            o["service"] = ["id": v.atLeast(53) ? .string(n.service.id) : .int(Int64(n.service.number)), "host": .string(n.host.host),
                            "disabled_reason": JSONValue(n.service.disabledReason)]
            if !v.atLeast(88) {
                for (k, value) in [("vcpus", n.vcpus), ("memory_mb", n.memoryMB), ("local_gb", n.localGB), ("vcpus_used", n.vcpusUsed),
                                   ("memory_mb_used", n.memoryMBUsed), ("local_gb_used", n.localGBUsed), ("free_ram_mb", n.freeRAMMB),
                                   ("free_disk_gb", n.freeDiskGB), ("current_workload", n.currentWorkload), ("running_vms", n.runningVMs),
                                   ("disk_available_least", n.freeDiskGB)] {
                    o[k] = .int(Int64(value))
                }
                let cpu: JSONValue = ["model": .string(n.host.hypervisor["cpu_model"]?.stringValue ?? "")]
                o["cpu_info"] = v.atLeast(28) ? cpu : .string(cpu.serializedString())
            } else {
                o["uptime"] = JSONValue(service.uptime(of: n.host))
            }
        }
        if let servers, !servers.isEmpty {
            o["servers"] = .array(servers.map { ["name": .string($0.name), "uuid": .string($0.id)] })
        } else if withServers, v.atLeast(75) {
            o["servers"] = []
        }
        return .object(o)
    }
}
