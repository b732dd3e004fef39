import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `os-hosts` (deprecated, up to 2.42; 404 after), as `nova/api/openstack/compute/hosts.py`
/// answers with the libvirt driver: the enabled services by host, a host's resources (total,
/// used now, the sum of its instances, per project); enabling, maintenance mode and host power
/// actions are not implemented by that driver (501), after the host is found (else 404).
extension ComputeAPI {
    func addOSHostRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-hosts", versioned { req, ctx, v in
            try Self.checkOSHosts(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-hosts:list", c, target: [:])
            let zone = req.queryString.last("zone").flatMap { $0.isEmpty ? nil : $0 }
            let rows = try await self.service.services().filter { s in !s.disabled && (zone.map { s.zone.sameBytes(as: $0) } ?? true) }
            return .json(["hosts": .array(rows.map { s in
                ["host_name": .string(s.host), "service": .string(s.binary.hasBytePrefix("nova-") ? String(s.binary.dropFirst(5)) : s.binary),
                 "zone": .string(s.zone)]
            })])
        })
        t.get("/v2.1/os-hosts/{host}", versioned { req, ctx, v in
            try Self.checkOSHosts(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-hosts:show", c, target: [:])
            let name = try ctx.parameter("host")
            guard let host = try await self.service.hosts.get(host: name) else {
                throw NimbusError.notFound("Compute host \(name) could not be found.")
            }
            let instances = try await self.service.instances.assigned(to: host.host)
            func resource(_ project: String, cpu: Int, memory: Int, disk: Int) -> JSONValue {
                ["resource": ["host": .string(host.host), "project": .string(project), "cpu": .int(Int64(cpu)), "memory_mb": .int(Int64(memory)),
                              "disk_gb": .int(Int64(disk))]]
            }
            func int(_ key: String) -> Int { Int(host.hypervisor[key]?.intValue ?? 0) }
            let cpu = instances.reduce(0) { $0 + $1.flavor.vcpus }
            let memory = instances.reduce(0) { $0 + $1.flavor.memoryMB }
            let disk = instances.reduce(0) { $0 + $1.flavor.rootGB + $1.flavor.ephemeralGB }
            var out = [resource("(total)", cpu: int("vcpus"), memory: int("memory_mb"), disk: int("local_gb")),
                       // Nova's compute node counts the reserved host memory as used
                       resource("(used_now)", cpu: cpu, memory: memory + min(ComputeNodeControl.reservedHostMemoryMB, int("memory_mb") / 2), disk: disk),
                       resource("(used_max)", cpu: cpu, memory: memory, disk: disk)]
            var projects = [Name: (Int, Int, Int)]()
            var order = [Name]()
            for i in instances {
                let key = Name(i.projectID)
                if projects[key] == nil { order.append(key) }
                let cur = projects[key] ?? (0, 0, 0)
                projects[key] = (cur.0 + i.flavor.vcpus, cur.1 + i.flavor.memoryMB, cur.2 + i.flavor.rootGB + i.flavor.ephemeralGB)
            }
            for p in order { if let r = projects[p] { out.append(resource(p.string, cpu: r.0, memory: r.1, disk: r.2)) } }
            return .json(["host": .array(out)])
        })
        t.put("/v2.1/os-hosts/{host}", versioned { req, ctx, v in
            try Self.checkOSHosts(v)
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-hosts:update", c, target: [:])
            let mode = Schema.oneOf(["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"])
            var schema = Schema.object(["status": mode, "maintenance_mode": mode], additionalProperties: false)
            schema.minProperties = 1   // Nova's anyOf: status or maintenance_mode (nothing else is allowed)
            _ = try NovaSchemas.validate(try await Self.body(req, ctx), schema)
            try await self.checkComputeHost(try ctx.parameter("host"))
            throw NimbusError(.notImplemented, "The requested functionality is not supported.")
        })
        for (action, rule) in [("startup", "start"), ("shutdown", "shutdown"), ("reboot", "reboot")] {
            t.get("/v2.1/os-hosts/{host}/\(action)", versioned { req, ctx, v in
                try Self.checkOSHosts(v)
                let c = try self.caller(ctx)
                try self.authorize("os_compute_api:os-hosts:\(rule)", c, target: [:])
                try await self.checkComputeHost(try ctx.parameter("host"))
                throw NimbusError(.notImplemented, "The requested functionality is not supported.")
            })
        }
    }

    static func checkOSHosts(_ v: NovaVersion) throws {
        guard !v.atLeast(43) else { throw NimbusError.notFound("The resource could not be found.") }
    }

    /// `_assert_host_exists`: the host's `nova-compute` service.
    func checkComputeHost(_ name: String) async throws {
        guard try await service.hosts.list().contains(where: { $0.host.sameBytes(as: name) }) else {
            throw NimbusError.notFound("Compute host \(name) could not be found.")
        }
    }
}
