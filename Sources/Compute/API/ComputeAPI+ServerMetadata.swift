import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Server metadata (`/servers/{id}/metadata`) and tags (`/servers/{id}/tags`, 2.26+), as
/// Nova's `server_metadata.py` and `server_tags.py` answer. Metadata is found through the
/// caller's project (404 for another's server); tags through the instance mapping, so another
/// project's server is a 403 there, as in Nova.
extension ComputeAPI {
    func addServerMetadataRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/servers/{server_id}/metadata", versioned { req, ctx, v in
            let (_, i) = try await self.metadataServer(ctx, "index")
            return .json(["metadata": Self.metadataView(i.metadata)])
        })
        t.get("/v2.1/servers/{server_id}/metadata/{key}", versioned { req, ctx, v in
            let (_, i) = try await self.metadataServer(ctx, "show")
            let key = try ctx.parameter("key")
            guard let value = i.metadata[Name(key)] else { throw NimbusError.notFound("Metadata item was not found") }
            return .json(["meta": .object(JSONObject(names: [Name(key): .string(value)]))])
        })
        t.post("/v2.1/servers/{server_id}/metadata", versioned { req, ctx, v in
            let (c, i) = try await self.metadataServer(ctx, "create")
            let m = try Self.metadataItems(try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.metadataBody)["metadata"]!)
            let result = try await self.service.changeMetadata(i.id, .merge(m), caller: c.auth, isAdmin: c.isAdmin)
            return .json(["metadata": Self.metadataView(result)])
        })
        t.put("/v2.1/servers/{server_id}/metadata", versioned { req, ctx, v in
            let (c, i) = try await self.metadataServer(ctx, "update_all")
            let m = try Self.metadataItems(try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.metadataBody)["metadata"]!)
            let result = try await self.service.changeMetadata(i.id, .replace(m), caller: c.auth, isAdmin: c.isAdmin)
            return .json(["metadata": Self.metadataView(result)])
        })
        t.put("/v2.1/servers/{server_id}/metadata/{key}", versioned { req, ctx, v in
            let (c, i) = try await self.metadataServer(ctx, "update")
            let m = try Self.metadataItems(try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.metaItemBody)["meta"]!)
            guard m[Name(try ctx.parameter("key"))] != nil else { throw NimbusError.badRequest("Request body and URI mismatch") }
            _ = try await self.service.changeMetadata(i.id, .merge(m), caller: c.auth, isAdmin: c.isAdmin)
            return .json(["meta": Self.metadataView(m)])
        })
        t.delete("/v2.1/servers/{server_id}/metadata/{key}", versioned { req, ctx, v in
            let (c, i) = try await self.metadataServer(ctx, "delete")
            let key = Name(try ctx.parameter("key"))
            guard i.metadata[key] != nil else { throw NimbusError.notFound("Metadata item was not found") }
            _ = try await self.service.changeMetadata(i.id, .delete(key), caller: c.auth, isAdmin: c.isAdmin)
            return .empty(.noContent)
        })
        addServerTagRoutes(&t)
    }

    /// The server (404 unless the caller's project's, or any for admins) and the policy check.
    func metadataServer(_ ctx: NimbusRequestContext, _ rule: String) async throws -> (Caller, Instance) {
        let c = try caller(ctx)
        let i = try await service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
        try authorize("os_compute_api:server-metadata:\(rule)", c, target: ["project_id": i.projectID])
        return (c, i)
    }

    static func metadataItems(_ v: JSONValue) throws -> [Name: String] {
        v.objectValue?.compactMapValues(\.stringValue) ?? [:]
    }

    static func metadataView(_ m: [Name: String]) -> JSONValue {
        .object(JSONObject(names: m.mapValues { JSONValue.string($0) }))
    }

    // MARK: tags

    func addServerTagRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/servers/{server_id}/tags", versioned { req, ctx, v in
            let (_, i) = try await self.taggedServer(ctx, v, "index")
            return .json(["tags": JSONValue(ComputeService.normalizedTags(i.tags))])
        })
        t.get("/v2.1/servers/{server_id}/tags/{tag}", versioned { req, ctx, v in
            let (_, i) = try await self.taggedServer(ctx, v, "show")
            let tag = try ctx.parameter("tag")
            guard i.tags.containsBytes(tag) else { throw NimbusError.notFound("Server \(i.id) has no tag '\(tag)'") }
            return .empty(.noContent)
        })
        t.put("/v2.1/servers/{server_id}/tags", versioned { req, ctx, v in
            let (_, i) = try await self.taggedServer(ctx, v, "update_all")
            let body = try NovaSchemas.check(try await Self.body(req, ctx), NovaSchemas.tagsBody)
            let wanted = body["tags"]!.arrayValue!.compactMap(\.stringValue)
            let (tags, _) = try await self.service.changeTags(i, action: "update tags") { $0 = wanted; return true }
            return .json(["tags": JSONValue(tags)])
        })
        t.put("/v2.1/servers/{server_id}/tags/{tag}", versioned { req, ctx, v in try await self.putTag(req, ctx, v) })
        t.delete("/v2.1/servers/{server_id}/tags", versioned { req, ctx, v in
            let (_, i) = try await self.taggedServer(ctx, v, "delete_all")
            _ = try await self.service.changeTags(i, action: "delete tags") { $0 = []; return true }
            return .empty(.noContent)
        })
        t.delete("/v2.1/servers/{server_id}/tags/{tag}", versioned { req, ctx, v in
            let (_, i) = try await self.taggedServer(ctx, v, "delete")
            let tag = try ctx.parameter("tag")
            _ = try await self.service.changeTags(i, action: "delete tag") { tags in
                guard tags.containsBytes(tag) else { throw NimbusError.notFound("Instance \(i.id) has no tag '\(tag)'") }
                tags.removeAll { $0.sameBytes(as: tag) }
                return true
            }
            return .empty(.noContent)
        })
    }

    /// 2.26+; the instance by id whatever its project (Nova's instance mapping), then the policy
    /// on its project (403 for another project's), then 404 when it is deleted.
    func taggedServer(_ ctx: NimbusRequestContext, _ v: NovaVersion, _ rule: String) async throws -> (Caller, Instance) {
        guard v.atLeast(26) else { throw Self.noSuchResource }
        let c = try caller(ctx)
        let id = try ctx.parameter("server_id")
        guard let i = try await service.instances.get(id) else { throw NimbusError.notFound("Instance \(id) has no mapping to a cell.") }
        try authorize("os_compute_api:os-server-tags:\(rule)", c, target: ["project_id": i.projectID])
        guard !i.deleted else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        return (c, i)
    }

    /// `PUT /servers/{id}/tags/{tag}`: 201 with a Location when added, 204 when already there.
    func putTag(_ req: Request, _ ctx: NimbusRequestContext, _ v: NovaVersion) async throws -> Response {
        let (_, i) = try await taggedServer(ctx, v, "update")
        let buffer = try await req.collectBody(upTo: ctx.maxUploadSize)
        if buffer.readableBytes > 0 {
            let body = (try? JSONValue.parse(buffer.readableBytesView)) ?? .string("")
            guard body == .null else { throw NimbusError.badRequest("Invalid input for field/attribute . Value: \(body.pythonStr). \(body.pythonRepr) is not of type 'null'") }
        }
        let tag = try ctx.parameter("tag")
        guard !ComputeService.metadataStatesDisallow(i) else {
            throw ComputeService.invalidState(i, "vm_state", i.vmState.rawValue, "update tag")
        }
        do { try NovaSchemas.tag.validate(.string(tag)) } catch {
            throw NimbusError.badRequest("Tag '\(tag)' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: \(error.message)")
        }
        let (_, added) = try await service.changeTags(i, action: "update tag") { tags in
            if tags.count >= ComputeService.maxTags {
                throw NimbusError.badRequest("The number of tags exceeded the per-server limit \(ComputeService.maxTags)")
            }
            if tags.containsBytes(tag) { return false }
            tags.append(tag)
            return true
        }
        guard added else { return .empty(.noContent) }
        var h = HTTPFields()
        h[.location] = "\(publicURL)/v2.1/servers/\(i.id)/tags/\(PercentEncoding.encode(tag))"
        return .empty(.created, headers: h)
    }
}

extension ComputeService {
    /// Whether the instance's vm_state refuses tag and metadata changes.
    static func metadataStatesDisallow(_ i: Instance) -> Bool { !metadataStates.contains(i.vmState) }
}
