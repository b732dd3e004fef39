import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `POST /os-server-external-events` (services and admins): Nova's answer per event — 200 for
/// an instance on a host, 404 for an unknown one, 422 for one without a host, 400 for a missing
/// tag where the event needs one; 207 when any failed. The network service here is in the same
/// process and the compute node reads ports when it converges, so a network event needs no
/// further action; it is accepted and logged as Nova accepts it. `volume-extended` grows the
/// guest's disk of the volume named by the tag (an `extend_volume` action).
extension ComputeAPI {
    static let tagRequired: Set<String> = ["volume-extended", "power-update", "accelerator-request-bound"]

    static func externalEventsSchema(_ v: NovaVersion) -> Schema {
        var names = ["network-changed", "network-vif-plugged", "network-vif-unplugged", "network-vif-deleted"]
        if v.atLeast(51) { names.append("volume-extended") }
        if v.atLeast(76) { names.append("power-update") }
        if v.atLeast(82) { names.append("accelerator-request-bound") }
        if v.atLeast(93) { names.append("volume-reimaged") }
        let event = Schema.object(["name": .oneOf(names), "server_uuid": NovaSchemas.uuidString,
                                   "status": .oneOf(["failed", "completed", "in-progress"]), "tag": .string(maxLength: 255)],
                                  required: ["name", "server_uuid"], additionalProperties: false)
        return .object(["events": Schema.array(of: event).with { $0.minItems = 1 }], required: ["events"], additionalProperties: false)
    }

    func addExternalEventRoutes(_ t: inout RouteTable) {
        t.post("/v2.1/os-server-external-events", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-server-external-events:create", c, target: [:])
            let valid = try NovaSchemas.validate(try await Self.body(req, ctx), Self.externalEventsSchema(v))
            var out = [JSONValue]()
            var status: HTTPResponse.Status = .ok
            for e in valid["events"]?.arrayValue ?? [] {
                guard case .object(var o) = e, let id = o["server_uuid"]?.stringValue, let name = o["name"]?.stringValue else { continue }
                let instance = try await self.service.instances.get(id).flatMap { $0.deleted ? nil : $0 }
                let code: Int64
                if instance == nil {
                    code = 404
                } else if Self.tagRequired.contains(name) && o["tag"] == nil {
                    code = 400
                } else if instance?.host == nil {
                    code = 422
                } else {
                    code = 200
                }
                if code == 200, name == "volume-extended", let volumeID = o["tag"]?.stringValue {
                    try await self.service.volumeExtended(id, volumeID: volumeID, requestID: ctx.requestID, projectID: c.auth.projectID, userID: c.auth.user.id)
                }
                o["code"] = .int(code)
                o["status"] = code == 200 ? "completed" : "failed"
                if code != 200 { status = .init(code: 207) }
                out.append(.object(o))
            }
            return .json(["events": .array(out)], status: status)
        })
    }
}
