import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `/os-services` as Nova's `services.py` answers: the list (filters `host`, `binary`;
/// `forced_down` from 2.11; uuid ids from 2.53), `PUT /os-services/{uuid}` (2.53+), the older
/// `PUT /os-services/{enable,disable,disable-log-reason,force-down}` by host and binary, and
/// delete. Only `nova-compute` services can be changed; the controller's `nova-scheduler` and
/// `nova-conductor` run in its process and cannot be deleted (409).
extension ComputeAPI {
    func addServiceRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-services", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-services:list", c, target: [:])
            let q = req.queryString
            try NovaSchemas.checkQuery(q, allowed: v.atLeast(75) ? ["host", "binary"] : nil)
            var list = try await self.service.services()
            if let host = q.last("host"), !host.isEmpty { list = list.filter { $0.host.sameBytes(as: host) } }
            if let binary = q.last("binary"), !binary.isEmpty { list = list.filter { $0.binary.sameBytes(as: binary) } }
            return .json(["services": .array(list.map { Self.serviceView($0, v) })])
        })
        t.put("/v2.1/os-services/{id}", versioned { req, ctx, v in
            v.atLeast(53) ? try await self.updateService(req, ctx, v) : try await self.serviceAction(req, ctx, v)
        })
        t.delete("/v2.1/os-services/{id}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-services:delete", c, target: [:])
            let id = try ctx.parameter("id")
            if v.atLeast(53) {
                guard Format.uuid.accepts(id) else { throw NimbusError.badRequest("Invalid uuid \(id)") }
            } else {
                guard Self.integerID(id) != nil else { throw NimbusError.badRequest("Invalid input received: id must be an integer") }
            }
            guard let s = try await self.service.service(id: v.atLeast(53) ? id.lowercased() : String(Self.integerID(id)!), numeric: !v.atLeast(53)) else {
                throw NimbusError.notFound("Service \(id) not found.")
            }
            guard s.isCompute else {
                throw NimbusError.conflict("The \(s.binary) service of \(s.host) runs inside the Nimbus controller and cannot be deleted.")
            }
            try await self.service.deleteComputeService(s)
            return .empty(.noContent)
        })
    }

    static func serviceView(_ s: ServiceRecord, _ v: NovaVersion) -> JSONValue {
        var o: JSONObject = ["binary": .string(s.binary), "host": .string(s.host), "zone": .string(s.zone),
                             "id": v.atLeast(53) ? .string(s.id) : .int(Int64(s.number)), "status": s.disabled ? "disabled" : "enabled",
                             "state": s.isUp ? "up" : "down", "updated_at": s.updatedAt.map { .string(NovaTime.micros($0)) } ?? .null,
                             "disabled_reason": JSONValue(s.disabledReason)]
        if v.atLeast(11) { o["forced_down"] = .bool(s.forcedDown) }
        return .object(o)
    }

    static func notUpdatable(_ binary: String) -> NimbusError {
        .badRequest("Updating a \(binary) service is not supported. Only nova-compute services can be updated.")
    }

    /// `PUT /os-services/{uuid}` (2.53+): status, disabled reason and forced_down of one service.
    func updateService(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion) async throws -> Response {
        let c = try caller(ctx)
        try authorize("os_compute_api:os-services:update", c, target: [:])
        let id = try ctx.parameter("id")
        guard Format.uuid.accepts(id) else { throw NimbusError.badRequest("Invalid uuid \(id)") }
        let body = try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.serviceUpdate)
        guard let s = try await service.service(id: id.lowercased(), numeric: false) else {
            throw NimbusError.notFound("Service \(id) could not be found.")
        }
        guard s.isCompute else { throw Self.notUpdatable(s.binary) }
        let status = body["status"]?.stringValue
        let reason = body["disabled_reason"]?.stringValue
        if status == "enabled", let reason, !reason.isEmpty {
            throw NimbusError.badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
        }
        let forcedDown = body["forced_down"].flatMap(NovaSchemas.bool)
        guard status != nil || forcedDown != nil else {
            throw NimbusError.badRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.")
        }
        if forcedDown == false { try await checkNoDoneEvacuations(s.host) }
        let updated = try await service.updateComputeService(s.id) { h in
            if status == "enabled" { h.disabled = false; h.disabledReason = nil }
            if status == "disabled" { h.disabled = true; h.disabledReason = reason }
            if let forcedDown { h.forcedDown = forcedDown }
        }
        return .json(["service": Self.serviceView(updated, v)])
    }

    /// `_check_for_evacuations`: a host with `done` evacuations cannot be forced up.
    func checkNoDoneEvacuations(_ host: String) async throws {
        var f = MigrationRepository.Filter()
        f.sourceCompute = host
        f.status = "done"
        f.migrationType = ComputeMigration.Kind.evacuation.rawValue
        if try await !service.migrations.list(f).isEmpty {
            throw NimbusError.badRequest("Unable to force up host \(host) as `done` evacuation migration records remain associated with the host. Ensure the compute service has been restarted, allowing these records to move to `completed` before retrying this request.")
        }
    }

    /// Before 2.53: `PUT /os-services/<action>` with `host` and `binary` in the body.
    func serviceAction(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion) async throws -> Response {
        let c = try caller(ctx)
        try authorize("os_compute_api:os-services:update", c, target: [:])
        let action = try ctx.parameter("id")
        let actions = v.atLeast(11) ? ["enable", "disable", "disable-log-reason", "force-down"] : ["enable", "disable", "disable-log-reason"]
        guard actions.containsBytes(action) else { throw NimbusError.notFound("Unknown action") }
        let body = try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.serviceAction(v))
        let host = body["host"]!.stringValue!, binary = body["binary"]!.stringValue!
        var view: JSONObject = ["host": .string(host), "binary": .string(binary)]
        let change: @Sendable (inout ComputeHost) -> Void
        switch action {
        case "force-down":
            guard let f = body["forced_down"] else { throw NimbusError.badRequest("Missing forced_down field") }
            let down = NovaSchemas.bool(f) ?? false
            if binary == "nova-compute", !down { try await checkNoDoneEvacuations(host) }
            view["forced_down"] = .bool(down)
            change = { $0.forcedDown = down }
        case "enable":
            view["status"] = "enabled"
            change = { $0.disabled = false; $0.disabledReason = nil }
        default:
            var reason: String?
            if action == "disable-log-reason" {
                guard let r = body["disabled_reason"]?.stringValue else { throw NimbusError.badRequest("Missing disabled reason field") }
                reason = r
                view["disabled_reason"] = .string(r)
            }
            view["status"] = "disabled"
            change = { [reason] in $0.disabled = true; $0.disabledReason = reason }
        }
        guard binary == "nova-compute" else { throw Self.notUpdatable(binary) }
        guard let target = try await service.services().first(where: { $0.isCompute && $0.host.sameBytes(as: host) }) else {
            throw NimbusError.notFound("Host '\(host)' is not mapped to any cell")
        }
        _ = try await service.updateComputeService(target.id, change)
        return .json(["service": .object(view)])
    }
}
