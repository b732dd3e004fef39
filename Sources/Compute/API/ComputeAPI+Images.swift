import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Nova's `/images` proxy to the image service (deprecated, up to 2.35; 404 after): list,
/// detail, show, delete and the image metadata (`properties`) routes, as
/// `nova/api/openstack/compute/images.py` and `image_metadata.py` answer, acting as the caller
/// (Glance's visibility and `modify_image`/`delete_image` rules apply).
extension ComputeAPI {
    static let maxProxyVersion = 35

    func addImageProxyRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/images", versioned { req, ctx, v in
            try Self.checkProxy(v)
            let c = try self.caller(ctx)
            let (images, limit) = try await self.proxyList(req, c)
            var body: JSONObject = ["images": .array(images.map { i in
                .object(["id": .string(i.id), "name": JSONValue(i.name), "links": self.imageLinks(i.id)])
            })]
            if images.count == min(limit > 0 ? limit : 1000, 1000), let last = images.last {
                body["images_links"] = [["rel": "next", "href": .string(self.nextLink("images", req, marker: last.id))]]
            }
            return .json(.object(body))
        })
        t.get("/v2.1/images/detail", versioned { req, ctx, v in
            try Self.checkProxy(v)
            let c = try self.caller(ctx)
            let (images, limit) = try await self.proxyList(req, c)
            var body: JSONObject = ["images": .array(images.map(self.imageView))]
            if images.count == min(limit > 0 ? limit : 1000, 1000), let last = images.last {
                body["images_links"] = [["rel": "next", "href": .string(self.nextLink("images/detail", req, marker: last.id))]]
            }
            return .json(.object(body))
        })
        t.get("/v2.1/images/{image_id}", versioned { req, ctx, v in
            try Self.checkProxy(v)
            let c = try self.caller(ctx)
            return .json(["image": self.imageView(try await self.proxiedImage(ctx, c))])
        })
        t.delete("/v2.1/images/{image_id}", versioned { req, ctx, v in
            try Self.checkProxy(v)
            let c = try self.caller(ctx)
            do { try await self.service.images.delete(try ctx.parameter("image_id"), caller: c.auth) } catch let e as NimbusError where e.kind == .notFound {
                throw NimbusError.notFound("Image not found.")
            }
            return .empty(.noContent)
        })
        // `DELETE /images/` (an empty id): Nova's router finds no image
        t.delete("/v2.1/images/", versioned { req, ctx, v in
            try Self.checkProxy(v)
            _ = try self.caller(ctx)
            throw NimbusError.notFound("Image not found.")
        })
        t.get("/v2.1/images/{image_id}/metadata", versioned { req, ctx, v in
            try Self.checkMetadataProxy(v)
            let c = try self.caller(ctx)
            return .json(["metadata": Self.properties(try await self.proxiedImage(ctx, c).properties)])
        })
        t.post("/v2.1/images/{image_id}/metadata", versioned { req, ctx, v in
            try Self.checkMetadataProxy(v)
            let c = try self.caller(ctx)
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), Self.imageMetadataSchema("metadata"))
            var props = try await self.proxiedImage(ctx, c).properties
            for (k, value) in Self.strings(body["metadata"]!) { props[k] = value }
            try await self.checkImageMetadataQuota(props.count, c)
            let stored = try await self.service.images.replaceProperties(try ctx.parameter("image_id"), caller: c.auth, props)
            return .json(["metadata": Self.properties(stored)])
        })
        t.put("/v2.1/images/{image_id}/metadata", versioned { req, ctx, v in
            try Self.checkMetadataProxy(v)
            let c = try self.caller(ctx)
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), Self.imageMetadataSchema("metadata"))
            _ = try await self.proxiedImage(ctx, c)
            let props = Self.strings(body["metadata"]!)
            try await self.checkImageMetadataQuota(props.count, c)
            _ = try await self.service.images.replaceProperties(try ctx.parameter("image_id"), caller: c.auth, props)
            return .json(["metadata": Self.properties(props)])
        })
        t.get("/v2.1/images/{image_id}/metadata/{key}", versioned { req, ctx, v in
            try Self.checkMetadataProxy(v)
            let c = try self.caller(ctx)
            let key = Name(try ctx.parameter("key"))
            guard let value = try await self.proxiedImage(ctx, c).properties[key] else { throw NimbusError.notFound("Image metadata key not found") }
            return .json(["meta": .object(JSONObject(pairs: [(key.string, .string(value))]))])
        })
        t.put("/v2.1/images/{image_id}/metadata/{key}", versioned { req, ctx, v in
            try Self.checkMetadataProxy(v)
            let c = try self.caller(ctx)
            let key = try ctx.parameter("key")
            var one = NovaSchemas.metadata()
            one.minProperties = 1
            one.maxProperties = 1
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), .object(["meta": one], required: ["meta"], additionalProperties: false))
            let meta = Self.strings(body["meta"]!)
            guard let value = meta[Name(key)] else { throw NimbusError.badRequest("Request body and URI mismatch") }
            var props = try await self.proxiedImage(ctx, c).properties
            props[Name(key)] = value
            try await self.checkImageMetadataQuota(props.count, c)
            _ = try await self.service.images.replaceProperties(try ctx.parameter("image_id"), caller: c.auth, props)
            return .json(["meta": .object(JSONObject(pairs: [(key, .string(value))]))])
        })
        t.delete("/v2.1/images/{image_id}/metadata/{key}", versioned { req, ctx, v in
            try Self.checkMetadataProxy(v)
            let c = try self.caller(ctx)
            var props = try await self.proxiedImage(ctx, c).properties
            guard props.removeValue(forKey: Name(try ctx.parameter("key"))) != nil else { throw NimbusError.notFound("Invalid metadata key") }
            _ = try await self.service.images.replaceProperties(try ctx.parameter("image_id"), caller: c.auth, props)
            return .empty(.noContent)
        })
    }

    /// `image_metadata.py` is served up to 2.38 (`images.py` only to 2.35).
    static func checkMetadataProxy(_ v: NovaVersion) throws {
        guard !v.atLeast(39) else { throw NimbusError.notFound("The resource could not be found.") }
    }

    static func checkProxy(_ v: NovaVersion) throws {
        guard !v.atLeast(maxProxyVersion + 1) else { throw NimbusError.notFound("The resource could not be found.") }
    }

    func proxiedImage(_ ctx: NimbusRequestContext, _ c: Caller) async throws -> ProxiedImage {
        guard let i = try await service.images.proxied(try ctx.parameter("image_id"), caller: c.auth) else { throw NimbusError.notFound("Image not found.") }
        return i
    }

    /// Nova's filters (`name`, `status`, `changes-since`, `server`, `type`, `minRam`,
    /// `minDisk`, `property-*`) as Glance v2's query, and Nova's paging parameters.
    func proxyList(_ req: Request, _ c: Caller) async throws -> ([ProxiedImage], Int) {
        let q = req.queryString
        var query = [(String, String)]()
        for (k, value) in q.pairs {
            switch k {
            case "name": query.append(("name", value))
            case "status": query.append(("status", value.lowercased()))
            case "changes-since": query.append(("updated_at", "gte:" + value))
            case "server": query.append(("instance_uuid", value.splitBytes("/").last.map(String.init) ?? value))
            case "type": query.append(("image_type", value))
            case "minRam": query.append(("min_ram", value))
            case "minDisk": query.append(("min_disk", value))
            default:
                if k.hasBytePrefix("property-") { query.append((String(k.dropFirst("property-".count)), value)) }
            }
        }
        var limit = 0
        if let l = q.last("limit") {
            guard let n = Int(l) else { throw NimbusError.badRequest("limit param must be an integer") }
            guard n >= 0 else { throw NimbusError.badRequest("limit param must be positive") }
            limit = n
        }
        let images = try await service.images.list(caller: c.auth, query: query, limit: limit > 0 ? min(limit, 1000) : 1000, marker: q.last("marker"))
        return (images, limit)
    }

    func imageLinks(_ id: String) -> JSONValue {
        guard case .array(var l) = links("images", id) else { return [] }
        l.append(["rel": "alternate", "type": "application/vnd.openstack.image", "href": .string("\(imageURL)/images/\(PercentEncoding.encode(id))")])
        return .array(l)
    }

    func imageView(_ i: ProxiedImage) -> JSONValue {
        let status: String = ["active": "ACTIVE", "queued": "SAVING", "saving": "SAVING", "deleted": "DELETED", "pending_delete": "DELETED",
                              "killed": "ERROR"][i.status] ?? "UNKNOWN"
        var o: JSONObject = [
            "id": .string(i.id), "name": JSONValue(i.name), "minRam": .int(Int64(i.minRamMB)), "minDisk": .int(Int64(i.minDiskGB)),
            "metadata": Self.properties(i.properties), "created": .string(NovaTime.format(i.createdAt)),
            "updated": .string(NovaTime.format(i.updatedAt)), "status": .string(status),
            "progress": .int(["queued": 25, "saving": 50, "active": 100][i.status] ?? 0),
            "OS-EXT-IMG-SIZE:size": i.size.map { .int($0) } ?? .null, "links": imageLinks(i.id),
        ]
        if let server = i.properties[Name("instance_uuid")] { o["server"] = .object(["id": .string(server), "links": links("servers", server)]) }
        if let auto = i.properties[Name("auto_disk_config")], let b = NovaSchemas.strictBool(auto) ?? Optional(false) {
            o["OS-DCF:diskConfig"] = .string(b ? "AUTO" : "MANUAL")
        }
        return .object(o)
    }

    static func properties(_ p: [Name: String]) -> JSONValue {
        .object(JSONObject(pairs: p.sorted { $0.key < $1.key }.map { ($0.key.string, JSONValue.string($0.value)) }))
    }

    static func strings(_ v: JSONValue) -> [Name: String] {
        Dictionary((v.objectValue?.sortedMembers ?? []).compactMap { k, v in v.stringValue.map { (Name(k), $0) } }, uniquingKeysWith: { a, _ in a })
    }

    /// `image_metadata.py`'s bodies: `{"metadata": …}` or `{"meta": …}` of Nova's metadata shape.
    static func imageMetadataSchema(_ key: String) -> Schema {
        .object([key: NovaSchemas.metadata()], required: [key], additionalProperties: false)
    }

    /// `check_img_metadata_properties_quota`: the project's `metadata_items`.
    func checkImageMetadataQuota(_ count: Int, _ c: Caller) async throws {
        guard count > 0, let project = c.projectID else { return }
        let limit = try await service.effectiveQuotas(project: project, user: c.userID).metadataItems
        if limit >= 0, count > limit { throw NimbusError.forbidden("Image metadata limit exceeded") }
    }
}
