import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Nova's `os-volumes` and `os-snapshots` proxies to the block storage service (deprecated, up
/// to 2.35; 404 after), as `nova/api/openstack/compute/volumes.py` and `snapshots.py` answer:
/// Cinder's volumes and snapshots in Nova's old field names, acting as the caller.
extension ComputeAPI {
    static let proxyVolumeCreate = Schema.object(["volume": .object([
        "volume_type": .string(), "metadata": Schema.object([:]), "snapshot_id": .string(),
        "size": NovaSchemas.sizeParameter(minimum: 1), "availability_zone": .string(), "display_name": .string(), "display_description": .string(),
    ], required: ["size"], additionalProperties: false)], required: ["volume"], additionalProperties: false)

    static let proxySnapshotCreate = Schema.object(["snapshot": .object([
        "volume_id": .string(), "force": NovaSchemas.boolean, "display_name": .string(), "display_description": .string(),
    ], required: ["volume_id"], additionalProperties: false)], required: ["snapshot"], additionalProperties: false)

    func addVolumeProxyRoutes(_ t: inout RouteTable) {
        for path in ["/v2.1/os-volumes", "/v2.1/os-volumes/detail"] {
            let detail = path.hasByteSuffix("/detail")
            t.get(path, versioned { req, ctx, v in
                // `GET /os-volumes/` names a volume with an empty id (Nova: not found).
                if !detail, req.uri.path.hasByteSuffix("/") {
                    _ = try self.volumeProxy(v, ctx, "show")
                    throw NimbusError.notFound("Volume  could not be found.")
                }
                let (c, volumes) = try self.volumeProxy(v, ctx, detail ? "detail" : "list")
                let list = try Self.limited(try await volumes.proxyVolumes(caller: c.auth), req)
                return .json(["volumes": .array(try list.map(Self.proxyView))])
            })
        }
        // An empty id (`DELETE /os-volumes/`, the router ignores the slash): no such volume.
        t.delete("/v2.1/os-volumes", versioned { req, ctx, v in
            _ = try self.volumeProxy(v, ctx, "delete")
            throw NimbusError.notFound("Volume  could not be found.")
        })
        t.get("/v2.1/os-volumes/{id}", versioned { req, ctx, v in
            let (c, volumes) = try self.volumeProxy(v, ctx, "show")
            let id = try ctx.parameter("id")
            guard let found = try await volumes.proxyVolume(id, caller: c.auth) else { throw NimbusError.notFound("Volume \(id) could not be found.") }
            return .json(["volume": try Self.proxyView(found)])
        })
        t.post("/v2.1/os-volumes", versioned { req, ctx, v in
            let (c, volumes) = try self.volumeProxy(v, ctx, "create")
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), Self.proxyVolumeCreate)["volume"]!
            var r = VolumeRequest(name: body["display_name"]?.stringValue, sizeGB: body["size"].flatMap(NovaSchemas.count) ?? 1,
                                  snapshotID: body["snapshot_id"]?.stringValue, volumeType: body["volume_type"]?.stringValue,
                                  availabilityZone: body["availability_zone"]?.stringValue)
            r.description = body["display_description"]?.stringValue
            for (k, value) in body["metadata"]?.objectValue?.sortedMembers ?? [] {
                guard let s = value.stringValue else { throw NimbusError.badRequest("Invalid input received: metadata value of \(k) is not a string") }
                r.metadata[k] = s
            }
            if let snap = r.snapshotID, try await volumes.proxySnapshot(snap, caller: c.auth) == nil {
                throw NimbusError.notFound("Snapshot \(snap) could not be found.")
            }
            let made: ProxiedVolume
            do { made = try await volumes.proxyCreateVolume(r, caller: c.auth) } catch let e as NimbusError where e.kind == .payloadTooLarge {
                throw NimbusError.forbidden(e.message)   // Cinder's OverLimit is Nova's OverQuota
            }
            var h = HTTPFields()
            h[.location] = "\(self.publicURL)/v2.1/os-volumes/\(made.id)"
            return .json(["volume": try Self.proxyView(made)], headers: h)
        })
        t.delete("/v2.1/os-volumes/{id}", versioned { req, ctx, v in
            let (c, volumes) = try self.volumeProxy(v, ctx, "delete")
            try await volumes.proxyDeleteVolume(try ctx.parameter("id"), caller: c.auth)
            return .empty(.accepted)
        })
        for path in ["/v2.1/os-snapshots", "/v2.1/os-snapshots/detail"] {
            let detail = path.hasByteSuffix("/detail")
            t.get(path, versioned { req, ctx, v in
                let (c, volumes) = try self.volumeProxy(v, ctx, detail ? "snapshots:detail" : "snapshots:list")
                let list = try Self.limited(try await volumes.proxySnapshots(caller: c.auth), req)
                return .json(["snapshots": .array(try list.map(Self.proxyView))])
            })
        }
        t.get("/v2.1/os-snapshots/{id}", versioned { req, ctx, v in
            let (c, volumes) = try self.volumeProxy(v, ctx, "snapshots:show")
            let id = try ctx.parameter("id")
            guard let found = try await volumes.proxySnapshot(id, caller: c.auth) else { throw NimbusError.notFound("Snapshot \(id) could not be found.") }
            return .json(["snapshot": Self.proxyView(found)])
        })
        t.post("/v2.1/os-snapshots", versioned { req, ctx, v in
            let (c, volumes) = try self.volumeProxy(v, ctx, "snapshots:create")
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), Self.proxySnapshotCreate)["snapshot"]!
            do {
                let made = try await volumes.proxyCreateSnapshot(volumeID: body["volume_id"]!.stringValue!, force: body["force"].flatMap(NovaSchemas.bool) ?? false,
                                                                 name: body["display_name"]?.stringValue, description: body["display_description"]?.stringValue,
                                                                 caller: c.auth)
                return .json(["snapshot": Self.proxyView(made)])
            } catch let e as NimbusError where e.kind == .payloadTooLarge {
                throw NimbusError.forbidden(e.message)
            }
        })
        t.delete("/v2.1/os-snapshots/{id}", versioned { req, ctx, v in
            let (c, volumes) = try self.volumeProxy(v, ctx, "snapshots:delete")
            try await volumes.proxyDeleteSnapshot(try ctx.parameter("id"), caller: c.auth)
            return .empty(.accepted)
        })
    }

    /// The proxy's preconditions: a microversion that has it, the policy, a block storage service.
    func volumeProxy(_ v: NovaVersion, _ ctx: NimbusRequestContext, _ rule: String) throws -> (Caller, any VolumeClient) {
        try Self.checkProxy(v)
        let c = try caller(ctx)
        try authorize("os_compute_api:os-volumes:\(rule)", c, target: ["project_id": c.projectID ?? ""])
        guard let volumes = service.volumes else { throw NimbusError.notFound("The resource could not be found.") }
        return (c, volumes)
    }

    /// Nova's `common.limited`: `offset` and `limit` (non-negative; at most 1000, 0 meaning 1000).
    static func limited<T>(_ list: [T], _ req: Request) throws -> [T] {
        func param(_ name: String) throws -> Int? {
            guard let text = req.query(name) else { return nil }
            // Any string of digits (Python's ints are unbounded: a huge one is just past the end).
            if !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }) { return Int(text) ?? Int.max }
            guard let n = Int(text) else { throw NimbusError.badRequest("\(name) param must be an integer") }
            guard n >= 0 else { throw NimbusError.badRequest("\(name) param must be positive") }
            return n
        }
        let offset = try param("offset") ?? 0, limit = min(try param("limit") ?? 1000, 1000)
        return Array(list.dropFirst(offset).prefix(limit == 0 ? 1000 : limit))
    }

    static func proxyView(_ v: ProxiedVolume) throws -> JSONValue {
        var attachments: [JSONValue] = [[:]]
        if let a = v.attachments.first {
            var o: JSONObject = ["id": .string(v.id), "volumeId": .string(v.id), "serverId": .string(a.server)]
            if let device = a.device, !device.isEmpty { o["device"] = .string(device) }
            attachments = [.object(o)]
        }
        return ["id": .string(v.id), "status": .string(v.status), "size": .int(Int64(v.sizeGB)), "availabilityZone": .string(v.availabilityZone),
                "createdAt": .string(v.createdAt), "attachments": .array(attachments), "displayName": JSONValue(v.name),
                "displayDescription": JSONValue(v.description), "volumeType": JSONValue(v.volumeType), "snapshotId": JSONValue(v.snapshotID),
                "metadata": .object(JSONObject(pairs: v.metadata.sorted { $0.key.bytesPrecede($1.key) }.map { ($0.key, .string($0.value)) }))]
    }

    static func proxyView(_ s: ProxiedSnapshot) -> JSONValue {
        ["id": .string(s.id), "volumeId": .string(s.volumeID), "status": .string(s.status), "size": .int(Int64(s.sizeGB)),
         "createdAt": .string(s.createdAt), "displayName": JSONValue(s.name), "displayDescription": JSONValue(s.description)]
    }
}
