import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `/v2/metadefs/namespaces/{namespace}/objects|properties|tags`.
extension ImageAPI {
    func addMetadefObjectRoutes(_ t: inout RouteTable) {
        let base = "/v2/metadefs/namespaces/{namespace}/objects"
        t.get(base) { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "get_metadef_objects")
            let objects = try await self.metadefs.repository.objects(ns.id)
            return .json(["objects": .array(objects.map { MetadefViews.object($0, namespace: ns.namespace) }), "schema": "v2/schemas/metadefs/objects"])
        }
        t.post(base) { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "add_metadef_object")
            let o = try await self.metadefs.createObject(ns, body: try await Self.metadefBody(req, ctx))
            return .json(MetadefViews.object(o, namespace: ns.namespace), status: .created)
        }
        t.get(base + "/{object_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "get_metadef_object")
            return .json(MetadefViews.object(try await self.metadefs.object(ns, try Self.nonEmpty(ctx, "object_name")), namespace: ns.namespace))
        }
        t.put(base + "/{object_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "modify_metadef_object")
            let old = try await self.metadefs.object(ns, try Self.nonEmpty(ctx, "object_name"))
            let o = try await self.metadefs.updateObject(ns, old, body: try await Self.metadefBody(req, ctx))
            return .json(MetadefViews.object(o, namespace: ns.namespace))
        }
        t.delete(base + "/{object_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "delete_metadef_object")
            try await self.metadefs.deleteObject(ns, try Self.nonEmpty(ctx, "object_name"))
            return .empty()
        }
    }

    func addMetadefPropertyRoutes(_ t: inout RouteTable) {
        let base = "/v2/metadefs/namespaces/{namespace}/properties"
        t.get(base) { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "get_metadef_properties")
            return .json(["properties": MetadefViews.properties(try await self.metadefs.repository.properties(ns.id))])
        }
        t.post(base) { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "add_metadef_property")
            let p = try await self.metadefs.createProperty(ns, body: try await Self.metadefBody(req, ctx))
            return .json(MetadefViews.property(p), status: .created)
        }
        t.get(base + "/{property_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "get_metadef_property")
            var name = try Self.nonEmpty(ctx, "property_name")
            // `?resource_type=`: the name may carry that resource type's prefix (Glance strips it).
            if let rt = req.query("resource_type"), let a = try await self.metadefs.repository.associations(ns.id).first(where: { $0.resourceType.sameBytes(as: rt) }),
               let prefix = a.prefix, !prefix.isEmpty {
                guard let rest = name.droppingBytePrefix(prefix) else {
                    throw NimbusError.notFound("Property \(name) does not start with the expected resource type association prefix of '\(prefix)'.")
                }
                name = String(rest)
            }
            return .json(MetadefViews.property(try await self.metadefs.property(ns, name)))
        }
        t.put(base + "/{property_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "modify_metadef_property")
            let old = try await self.metadefs.property(ns, try Self.nonEmpty(ctx, "property_name"))
            return .json(MetadefViews.property(try await self.metadefs.updateProperty(ns, old, body: try await Self.metadefBody(req, ctx))))
        }
        t.delete(base + "/{property_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "remove_metadef_property")
            try await self.metadefs.deleteProperty(ns, try Self.nonEmpty(ctx, "property_name"))
            return .empty()
        }
    }

    func addMetadefTagRoutes(_ t: inout RouteTable) {
        let base = "/v2/metadefs/namespaces/{namespace}/tags"
        t.get(base) { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "get_metadef_tags")
            return .json(["tags": .array(try await self.metadefs.repository.tags(ns.id).map(MetadefViews.tag))])
        }
        t.post(base) { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "add_metadef_tags")
            let append = req.headers[HTTPField.Name("X-Openstack-Append")!]?.lowercased() == "true"
            let tags = try await self.metadefs.createTags(ns, body: try await Self.metadefBody(req, ctx), append: append)
            return .json(["tags": .array(tags.map { ["name": .string($0.name)] })], status: .created)
        }
        t.post(base + "/{tag_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "add_metadef_tag")
            return .json(MetadefViews.tag(try await self.metadefs.createTag(ns, try Self.nonEmpty(ctx, "tag_name"))), status: .created)
        }
        t.get(base + "/{tag_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "get_metadef_tag")
            return .json(MetadefViews.tag(try await self.metadefs.tag(ns, try Self.nonEmpty(ctx, "tag_name"))))
        }
        t.put(base + "/{tag_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "modify_metadef_tag")
            let old = try await self.metadefs.tag(ns, try Self.nonEmpty(ctx, "tag_name"))
            return .json(MetadefViews.tag(try await self.metadefs.updateTag(ns, old, body: try await Self.metadefBody(req, ctx))))
        }
        t.delete(base + "/{tag_name}") { req, ctx in
            let c = try self.caller(ctx)
            let ns = try await self.metadefNamespace(ctx, c, "delete_metadef_tag")
            try await self.metadefs.deleteTag(ns, try Self.nonEmpty(ctx, "tag_name"))
            return .empty()
        }
    }
}
