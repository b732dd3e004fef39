import Foundation
import NimbusCore

/// Request bodies checked as Glance's metadef JSON schemas check them (400 "Provided object does
/// not match schema …"), turned into model values. Unknown keys in a property definition are
/// dropped, as Glance's wsme models drop them.
enum MetadefInput {
    struct Fields {
        let schema: String
        let body: JSONObject

        /// The message quotes the offending value, cut to a few hundred characters (a 1 MiB
        /// value is not echoed back).
        func mismatch(_ why: String) -> NimbusError {
            let shown = why.unicodeScalars.count > 500 ? String(String.UnicodeScalarView(why.unicodeScalars.prefix(500))) + "…" : why
            return .badRequest("Provided object does not match schema '\(schema)': \(shown)")
        }

        func string(_ key: String, max: Int? = nil, required: Bool = false) throws -> String? {
            guard let v = body[key], v != .null || required else {
                if required { throw mismatch("'\(key)' is a required property") }
                return nil
            }
            guard case .string(let s) = v else { throw mismatch("\(v.rendered) is not of type 'string'") }
            if let max, s.scalarCount > max { throw mismatch("'\(s)' is too long") }
            return s
        }

        func name(_ key: String = "name", max: Int = MetadefLimits.nameLength) throws -> String {
            let s = try string(key, max: max, required: true)!
            guard !s.isEmpty else { throw mismatch("'' is too short") }
            return s
        }

        func bool(_ key: String) throws -> Bool? {
            guard let v = body[key], v != .null else { return nil }
            guard case .bool(let b) = v else { throw mismatch("\(v.rendered) is not of type 'boolean'") }
            return b
        }

        func stringArray(_ key: String) throws -> [String]? {
            guard let v = body[key], v != .null else { return nil }
            guard case .array(let a) = v else { throw mismatch("\(v.rendered) is not of type 'array'") }
            var out = [String]()
            var seen = Set<Name>()
            for item in a {
                guard case .string(let s) = item else { throw mismatch("\(item.rendered) is not of type 'string'") }
                guard seen.insert(Name(s)).inserted else { throw mismatch("\(v.rendered) has non-unique elements") }
                out.append(s)
            }
            return out
        }

        func array(_ key: String) throws -> [JSONValue]? {
            guard let v = body[key], v != .null else { return nil }
            guard case .array(let a) = v else { throw mismatch("\(v.rendered) is not of type 'array'") }
            guard a.count <= MetadefLimits.itemsPerNamespace else { throw mismatch("'\(key)' has more than \(MetadefLimits.itemsPerNamespace) items") }
            return a
        }

        func object(_ key: String) throws -> JSONObject? {
            guard let v = body[key], v != .null else { return nil }
            guard case .object(let o) = v else { throw mismatch("\(v.rendered) is not of type 'object'") }
            return o
        }
    }

    /// Attributes a client may not send (Glance answers 403 "Attribute '…' is read-only.").
    static func rejectReadOnly(_ body: JSONObject) throws {
        for key in ["self", "schema", "created_at", "updated_at"] where body[key] != nil {
            throw NimbusError.forbidden("Attribute '\(key)' is read-only.")
        }
    }

    /// The namespace fields of a create or update body.
    static func namespace(_ body: JSONObject, owner: String?, now: Date) throws -> MetadefNamespace {
        try rejectReadOnly(body)
        let f = Fields(schema: "namespace", body: body)
        var ns = MetadefNamespace(namespace: try f.name("namespace"), owner: owner, now: now)
        ns.displayName = try f.string("display_name", max: MetadefLimits.nameLength)
        ns.description = try f.string("description", max: MetadefLimits.descriptionLength)
        if let v = try f.string("visibility") {
            guard v == "public" || v == "private" else { throw f.mismatch("'\(v)' is not one of ['public', 'private']") }
            ns.visibility = v
        }
        ns.protected = try f.bool("protected") ?? false
        if let o = try f.string("owner", max: MetadefLimits.ownerLength) { ns.owner = o }
        return ns
    }

    /// A namespace create body with its contents (associations, objects, properties, tags).
    static func contents(_ body: JSONObject, owner: String?, now: Date) throws -> MetadefNamespaceContents {
        var c = MetadefNamespaceContents(namespace: try namespace(body, owner: owner, now: now))
        let f = Fields(schema: "namespace", body: body)
        for item in try f.array("resource_type_associations") ?? [] {
            guard case .object(let o) = item else { throw f.mismatch("\(item.rendered) is not of type 'object'") }
            c.associations.append(try association(o, now: now))
        }
        for item in try f.array("objects") ?? [] {
            guard case .object(let o) = item else { throw f.mismatch("\(item.rendered) is not of type 'object'") }
            c.objects.append(try object(o, now: now))
        }
        if let props = try f.object("properties") {
            c.properties = try properties(props, schema: "namespace").map { MetadefProperty(name: $0.0, schema: $0.1, now: now) }
        }
        for item in try f.array("tags") ?? [] {
            guard case .object(let o) = item else { throw f.mismatch("\(item.rendered) is not of type 'object'") }
            c.tags.append(try tag(o, now: now))
        }
        try checkUnique(c.associations.map(\.resourceType), "resource type association", schema: "namespace")
        try checkUnique(c.objects.map(\.name), "object", schema: "namespace")
        try checkUnique(c.tags.map(\.name), "tag", schema: "namespace")
        return c
    }

    static func checkUnique(_ names: [String], _ what: String, schema: String) throws {
        var seen = Set<Name>()
        for n in names where !seen.insert(Name(n)).inserted {
            throw NimbusError.conflict("Duplicate \(what) name '\(n)' in request.")
        }
    }

    static func association(_ body: JSONObject, now: Date) throws -> MetadefAssociation {
        let f = Fields(schema: "resource_type_association", body: body)
        return MetadefAssociation(resourceType: try f.name(), prefix: try f.string("prefix", max: MetadefLimits.nameLength),
                                  propertiesTarget: try f.string("properties_target", max: MetadefLimits.nameLength), now: now)
    }

    static func object(_ body: JSONObject, now: Date) throws -> MetadefObject {
        try rejectReadOnly(body)
        let f = Fields(schema: "object", body: body)
        var o = MetadefObject(name: try f.name(), now: now)
        o.description = try f.string("description")
        o.required = try f.stringArray("required")
        if let props = try f.object("properties") {
            o.properties = JSONObject(pairs: try properties(props, schema: "object").map { ($0.0, JSONValue.object($0.1)) })
        }
        let stored: [(String, JSONValue)] = [("p", .object(o.properties ?? [:])), ("d", .string(o.description ?? "")),
                                             ("r", .array((o.required ?? []).map { .string($0) }))]
        try checkSize(.object(JSONObject(pairs: stored)), schema: "object")
        return o
    }

    static func tag(_ body: JSONObject, now: Date) throws -> MetadefTag {
        let f = Fields(schema: "tag", body: body)
        return MetadefTag(name: try f.name(max: MetadefLimits.tagLength), now: now)
    }

    /// A `{name: definition}` map of property definitions, each checked.
    static func properties(_ body: JSONObject, schema: String) throws -> [(String, JSONObject)] {
        guard body.count <= MetadefLimits.itemsPerNamespace else {
            throw NimbusError.badRequest("Provided object does not match schema '\(schema)': more than \(MetadefLimits.itemsPerNamespace) properties")
        }
        return try body.sorted { $0.key.bytesPrecede($1.key) }.map { key, value in
            guard key.scalarCount <= MetadefLimits.nameLength, !key.isEmpty else {
                throw NimbusError.badRequest("Provided object does not match schema '\(schema)': '\(key)' is too long")
            }
            guard case .object(let o) = value else {
                throw NimbusError.badRequest("Provided object does not match schema '\(schema)': \(value.rendered) is not of type 'object'")
            }
            return (key, try definition(o, schema: schema))
        }
    }

    static let types: [String] = ["array", "boolean", "integer", "number", "object", "string"]

    /// One property definition (Glance's `#/definitions/property` item): `title` and `type`
    /// required, the known keys type-checked, others dropped.
    static func definition(_ body: JSONObject, schema: String, requireName: Bool = false) throws -> JSONObject {
        let f = Fields(schema: schema, body: body)
        var out = JSONObject()
        if requireName { out["name"] = .string(try f.name()) }
        out["title"] = .string(try f.string("title", required: true)!)
        guard let type = body["type"] else { throw f.mismatch("'type' is a required property") }
        if case .string(let t) = type, types.contains(t) { out["type"] = type } else if type != .null {
            throw f.mismatch("\(type.rendered) is not one of ['array', 'boolean', 'integer', 'number', 'object', 'string', None]")
        }
        for key in ["description", "pattern"] { if let s = try f.string(key) { out[key] = .string(s) } }
        for key in ["readonly", "uniqueItems", "additionalItems"] { if let b = try f.bool(key) { out[key] = .bool(b) } }
        if let ops = try f.stringArray("operators") { out["operators"] = .array(ops.map { .string($0) }) }
        if let req = try f.stringArray("required") { out["required"] = .array(req.map { .string($0) }) }
        for key in ["minimum", "maximum"] {
            guard let v = body[key], v != .null else { continue }
            switch v { case .int, .double: out[key] = v; default: throw f.mismatch("\(v.rendered) is not of type 'number'") }
        }
        for key in ["maxLength", "minLength", "maxItems", "minItems"] {
            guard let v = body[key], v != .null else { continue }
            guard case .int(let n) = v else { throw f.mismatch("\(v.rendered) is not of type 'integer'") }
            guard n >= 0 else { throw f.mismatch("\(n) is less than the minimum of 0") }
            out[key] = v
        }
        if let e = try f.array("enum") { out["enum"] = .array(e) }
        if let d = body["default"] { out["default"] = d }
        if let items = try f.object("items") {
            var i = JSONObject()
            if let t = items["type"] {
                guard case .string(let s) = t, types.contains(s) else {
                    throw f.mismatch("\(t.rendered) is not one of ['array', 'boolean', 'integer', 'number', 'object', 'string', None]")
                }
                i["type"] = t
            }
            if let e = items["enum"] {
                guard case .array = e else { throw f.mismatch("\(e.rendered) is not of type 'array'") }
                i["enum"] = e
            }
            out["items"] = .object(i)
        }
        try checkSize(.object(out), schema: schema)
        return out
    }

    static func checkSize(_ v: JSONValue, schema: String) throws {
        guard v.serialized().count <= MetadefLimits.definitionBytes else {
            throw NimbusError.badRequest("Provided object does not match schema '\(schema)': definition larger than \(MetadefLimits.definitionBytes) bytes")
        }
    }
}
