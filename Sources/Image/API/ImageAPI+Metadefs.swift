import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// `/v2/metadefs/…`: namespaces and their contents. A namespace the caller may not see is a
/// 404 for every route under it; writes are admin-only under Glance's default policy.
extension ImageAPI {
    /// Metadef request bodies are small: the largest standard namespace is under 20 KiB.
    static let metadefBodyLimit = 1024 * 1024

    static func metadefBody(_ request: Request, _ ctx: NimbusRequestContext) async throws -> JSONObject {
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: metadefBodyLimit) } catch {
            throw NimbusError(.payloadTooLarge, "Request body larger than \(metadefBodyLimit) bytes.")
        }
        guard buffer.readableBytes > 0 else { throw NimbusError.badRequest("Body expected in request.") }
        guard let value = try? JSONValue.parse(buffer.readableBytesView) else { throw NimbusError.badRequest("Malformed JSON in request body.") }
        guard case .object(let o) = value else { throw NimbusError.badRequest("Unexpected body type. Expected dict.") }
        return o
    }

    func metadefTarget(_ ns: MetadefNamespace) -> [String: String] {
        ["project_id": ns.owner ?? "None", "owner": ns.owner ?? "None", "visibility": ns.visibility]
    }

    /// The path's namespace, visible to the caller and allowed by `read` (a refusal is a 404, as
    /// Glance hides namespaces it forbids reading), then by `action` (a refusal is a 403).
    func metadefNamespace(_ ctx: NimbusRequestContext, _ c: Caller, read: String = "get_metadef_namespace", _ action: String? = nil) async throws -> MetadefNamespace {
        let name = try Self.nonEmpty(ctx, "namespace")
        let ns = try await metadefs.namespace(name, caller: c.image)
        guard policy.enforce(read, credentials: c.auth.policyCredentials, target: metadefTarget(ns)) else { throw MetadefService.notFound(name) }
        if let action { try authorize(action, c, metadefTarget(ns)) }
        return ns
    }

    func projectTarget(_ c: Caller) -> [String: String] { ["project_id": c.image.projectID ?? "None"] }

    func addMetadefNamespaceRoutes(_ t: inout RouteTable) {
        t.get("/v2/metadefs/namespaces") { req, ctx in
            let c = try self.caller(ctx)
            try self.authorize("get_metadef_namespaces", c, self.projectTarget(c))
            let pairs = req.queryString.pairs
            let (page, more) = try await self.metadefs.list(try MetadefService.Listing(query: pairs), caller: c.image)
            var list = [JSONValue]()
            for ns in page where self.policy.enforce("get_metadef_namespace", credentials: c.auth.policyCredentials, target: self.metadefTarget(ns)) {
                var contents = MetadefNamespaceContents(namespace: ns)
                contents.associations = try await self.metadefs.repository.associations(ns.id)
                list.append(MetadefViews.namespace(contents, detail: false))
            }
            let rest = pairs.filter { $0.0 != "marker" }
            var body: JSONObject = ["namespaces": .array(list), "schema": "/v2/schemas/metadefs/namespaces",
                                    "first": .string("/v2/metadefs/namespaces" + Self.query(rest))]
            if more, let last = page.last { body["next"] = .string("/v2/metadefs/namespaces" + Self.query(rest + [("marker", last.namespace)])) }
            return .json(.object(body))
        }
        t.post("/v2/metadefs/namespaces") { req, ctx in
            let c = try self.caller(ctx)
            try self.authorize("add_metadef_namespace", c, self.projectTarget(c))
            let body = try await Self.metadefBody(req, ctx)
            let parts: [(String, String)] = [("resource_type_associations", "add_metadef_resource_type_association"), ("objects", "add_metadef_object"),
                                             ("properties", "add_metadef_property"), ("tags", "add_metadef_tag")]
            for (key, action) in parts where body[key] != nil {
                try self.authorize(action, c, self.projectTarget(c))
            }
            let created = try await self.metadefs.create(body, caller: c.image)
            var h = HTTPFields()
            h[.location] = "/v2/metadefs/namespaces/\(created.namespace.namespace)"
            return .json(MetadefViews.namespace(created, detail: true), status: .created, headers: h)
        }
        t.get("/v2/metadefs/namespaces/{namespace}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c)
            for action in ["list_metadef_resource_types", "get_metadef_objects", "get_metadef_properties", "get_metadef_tags"] {
                try self.authorize(action, c, self.metadefTarget(ns))
            }
            let contents = try await self.metadefs.contents(ns, resourceType: req.query("resource_type"))
            return .json(MetadefViews.namespace(contents, detail: true))
        }
        t.put("/v2/metadefs/namespaces/{namespace}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "modify_metadef_namespace")
            let body = try await Self.metadefBody(req, ctx)
            let updated = try await self.metadefs.update(ns, body: body, caller: c.image)
            var contents = MetadefNamespaceContents(namespace: updated)
            contents.associations = try await self.metadefs.repository.associations(updated.id)
            return .json(MetadefViews.namespace(contents, detail: false))
        }
        t.delete("/v2/metadefs/namespaces/{namespace}") { req, ctx in
            let c = try self.caller(ctx)
            try await self.metadefs.delete(try await self.metadefNamespace(ctx, c, "delete_metadef_namespace"))
            return .empty()
        }
        let children: [(String, MetadefRepository.Child, String)] = [("objects", .objects, "delete_metadef_namespace"),
                                                                      ("properties", .properties, "delete_metadef_namespace"), ("tags", .tags, "delete_metadef_tags")]
        for (path, child, action) in children {
            t.delete("/v2/metadefs/namespaces/{namespace}/\(path)") { req, ctx in
                let c = try self.caller(ctx)
                let ns = try await self.metadefNamespace(ctx, c, "delete_metadef_namespace")
                try self.authorize(action, c, self.metadefTarget(ns))
                try await self.metadefs.deleteAll(child, of: ns)
                return .empty()
            }
        }
    }

    func addMetadefResourceTypeRoutes(_ t: inout RouteTable) {
        t.get("/v2/metadefs/resource_types") { req, ctx in
            let c = try self.caller(ctx)
            try self.authorize("list_metadef_resource_types", c, self.projectTarget(c))
            return .json(["resource_types": .array(try await self.metadefs.repository.resourceTypes().map(MetadefViews.resourceType))])
        }
        t.get("/v2/metadefs/namespaces/{namespace}/resource_types") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "list_metadef_resource_types")
            return .json(["resource_type_associations": .array(try await self.metadefs.repository.associations(ns.id).map(MetadefViews.association))])
        }
        t.post("/v2/metadefs/namespaces/{namespace}/resource_types") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "add_metadef_resource_type_association")
            let a = try await self.metadefs.createAssociation(ns, body: try await Self.metadefBody(req, ctx))
            return .json(MetadefViews.association(a), status: .created)
        }
        t.delete("/v2/metadefs/namespaces/{namespace}/resource_types/{resource_type}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "remove_metadef_resource_type_association")
            try await self.metadefs.deleteAssociation(ns, try Self.nonEmpty(ctx, "resource_type"))
            return .empty()
        }
    }
}
