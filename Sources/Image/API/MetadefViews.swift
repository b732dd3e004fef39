import Foundation
import NimbusCore

/// Glance's JSON for metadata definitions: attributes that are unset are left out, as wsme
/// leaves them out; `self` links carry names unquoted, as Glance writes them.
enum MetadefViews {
    static func date(_ d: Date) -> JSONValue { .string(Timestamps.seconds(d)) }

    static func namespace(_ c: MetadefNamespaceContents, detail: Bool) -> JSONValue {
        let ns = c.namespace
        var o: JSONObject = ["namespace": .string(ns.namespace), "visibility": .string(ns.visibility), "protected": .bool(ns.protected),
                             "created_at": date(ns.createdAt), "updated_at": date(ns.updatedAt),
                             "self": .string("/v2/metadefs/namespaces/\(ns.namespace)"), "schema": "/v2/schemas/metadefs/namespace"]
        if let v = ns.displayName { o["display_name"] = .string(v) }
        if let v = ns.description { o["description"] = .string(v) }
        if let v = ns.owner { o["owner"] = .string(v) }
        if !c.associations.isEmpty { o["resource_type_associations"] = .array(c.associations.map(association)) }
        if detail {
            if !c.objects.isEmpty { o["objects"] = .array(c.objects.map { object($0, namespace: ns.namespace) }) }
            if !c.properties.isEmpty { o["properties"] = properties(c.properties) }
            if !c.tags.isEmpty { o["tags"] = .array(c.tags.map { ["name": .string($0.name)] }) }
        }
        return .object(o)
    }

    static func association(_ a: MetadefAssociation) -> JSONValue {
        var o: JSONObject = ["name": .string(a.resourceType), "created_at": date(a.createdAt), "updated_at": date(a.updatedAt)]
        if let v = a.prefix { o["prefix"] = .string(v) }
        if let v = a.propertiesTarget { o["properties_target"] = .string(v) }
        return .object(o)
    }

    static func object(_ x: MetadefObject, namespace: String) -> JSONValue {
        var o: JSONObject = ["name": .string(x.name), "created_at": date(x.createdAt), "updated_at": date(x.updatedAt),
                             "self": .string("/v2/metadefs/namespaces/\(namespace)/objects/\(x.name)"), "schema": "/v2/schemas/metadefs/object"]
        if let v = x.description { o["description"] = .string(v) }
        if let v = x.required { o["required"] = .array(v.map { .string($0) }) }
        o["properties"] = .object(x.properties ?? [:])
        return .object(o)
    }

    static func property(_ p: MetadefProperty) -> JSONValue {
        var o = p.schema
        o["name"] = .string(p.name)
        return .object(o)
    }

    static func properties(_ list: [MetadefProperty]) -> JSONValue {
        .object(JSONObject(pairs: list.map { ($0.name, JSONValue.object($0.schema)) }))
    }

    static func tag(_ t: MetadefTag) -> JSONValue {
        ["name": .string(t.name), "created_at": date(t.createdAt), "updated_at": date(t.updatedAt)]
    }

    static func resourceType(_ r: MetadefResourceType) -> JSONValue {
        ["name": .string(r.name), "created_at": date(r.createdAt), "updated_at": date(r.updatedAt)]
    }
}
