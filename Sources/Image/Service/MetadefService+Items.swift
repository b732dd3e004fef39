import Foundation
import NimbusCore

/// Objects, properties, tags and resource type associations of a namespace.
extension MetadefService {
    func protectedDelete(_ ns: MetadefNamespace, _ what: String, _ name: String) throws {
        guard !ns.protected else { throw NimbusError.forbidden("Metadata definition \(what) \(name) is protected and cannot be deleted.") }
    }

    // MARK: objects

    public func object(_ ns: MetadefNamespace, _ name: String) async throws -> MetadefObject {
        guard let o = try await repository.objects(ns.id, name: name).first else {
            throw NimbusError.notFound("The metadata definition object with name=\(name) was not found in namespace=\(ns.namespace).")
        }
        return o
    }

    static func duplicateObject(_ name: String, _ ns: MetadefNamespace) -> String {
        "A metadata definition object with name=\(name) already exists in namespace=\(ns.namespace)."
    }

    public func createObject(_ ns: MetadefNamespace, body: JSONObject) async throws -> MetadefObject {
        let o = try MetadefInput.object(body, now: clock())
        try await repository.withFreeName(.objects, namespaceID: ns.id, name: o.name, duplicate: Self.duplicateObject(o.name, ns)) { db in
            try await MetadefRepository.insert(o, namespaceID: ns.id, on: db)
        }
        return o
    }

    public func updateObject(_ ns: MetadefNamespace, _ old: MetadefObject, body: JSONObject) async throws -> MetadefObject {
        var o = try MetadefInput.object(body, now: clock())
        o.createdAt = old.createdAt
        try await repository.withFreeName(.objects, namespaceID: ns.id, name: o.name, replacing: old.name, duplicate: Self.duplicateObject(o.name, ns)) { [o] db in
            try await MetadefRepository.replace(o, oldName: old.name, namespaceID: ns.id, on: db)
        }
        return o
    }

    public func deleteObject(_ ns: MetadefNamespace, _ name: String) async throws {
        let o = try await object(ns, name)
        try protectedDelete(ns, "object", o.name)
        _ = try await repository.delete(.objects, namespaceID: ns.id, name: o.name)
    }

    // MARK: properties

    public func property(_ ns: MetadefNamespace, _ name: String) async throws -> MetadefProperty {
        guard let p = try await repository.properties(ns.id, name: name).first else {
            throw NimbusError.notFound("The metadata definition property with name=\(name) was not found in namespace=\(ns.namespace).")
        }
        return p
    }

    static func duplicateProperty(_ name: String, _ ns: MetadefNamespace) -> String {
        "A metadata definition property with name=\(name) already exists in namespace=\(ns.namespace)."
    }

    public func createProperty(_ ns: MetadefNamespace, body: JSONObject) async throws -> MetadefProperty {
        try MetadefInput.rejectReadOnly(body)
        var schema = try MetadefInput.definition(body, schema: "property", requireName: true)
        let name = schema.removeValue(forKey: "name")!.stringValue!
        let p = MetadefProperty(name: name, schema: schema, now: clock())
        try await repository.withFreeName(.properties, namespaceID: ns.id, name: name, duplicate: Self.duplicateProperty(name, ns)) { db in
            try await MetadefRepository.insert(p, namespaceID: ns.id, on: db)
        }
        return p
    }

    public func updateProperty(_ ns: MetadefNamespace, _ old: MetadefProperty, body: JSONObject) async throws -> MetadefProperty {
        try MetadefInput.rejectReadOnly(body)
        var schema = try MetadefInput.definition(body, schema: "property", requireName: true)
        let name = schema.removeValue(forKey: "name")!.stringValue!
        var p = MetadefProperty(name: name, schema: schema, now: clock())
        p.createdAt = old.createdAt
        try await repository.withFreeName(.properties, namespaceID: ns.id, name: name, replacing: old.name, duplicate: Self.duplicateProperty(name, ns)) { [p] db in
            try await MetadefRepository.replace(p, oldName: old.name, namespaceID: ns.id, on: db)
        }
        return p
    }

    public func deleteProperty(_ ns: MetadefNamespace, _ name: String) async throws {
        let p = try await property(ns, name)
        try protectedDelete(ns, "property", p.name)
        _ = try await repository.delete(.properties, namespaceID: ns.id, name: p.name)
    }

    // MARK: tags

    public func tag(_ ns: MetadefNamespace, _ name: String) async throws -> MetadefTag {
        guard let t = try await repository.tags(ns.id, name: name).first else {
            throw NimbusError.notFound("The metadata definition tag with name=\(name) was not found in namespace=\(ns.namespace).")
        }
        return t
    }

    static func duplicateTag(_ name: String, _ ns: MetadefNamespace) -> String {
        "A metadata tag with name=\(name) already exists in namespace=\(ns.namespace). (Please note that metadata tag names are case insensitive)."
    }

    public func createTag(_ ns: MetadefNamespace, _ name: String) async throws -> MetadefTag {
        let t = try MetadefInput.tag(["name": .string(name)], now: clock())
        try await repository.withFreeName(.tags, namespaceID: ns.id, name: t.name, duplicate: Self.duplicateTag(t.name, ns)) { db in
            try await MetadefRepository.insert(t, namespaceID: ns.id, on: db)
        }
        return t
    }

    /// `POST …/tags {"tags": [{"name"}…]}`.
    public func createTags(_ ns: MetadefNamespace, body: JSONObject, append: Bool) async throws -> [MetadefTag] {
        let f = MetadefInput.Fields(schema: "tags", body: body)
        guard let items = try f.array("tags") else { throw f.mismatch("'tags' is a required property") }
        let tags = try items.map { item -> MetadefTag in
            guard case .object(let o) = item else { throw f.mismatch("\(item.rendered) is not of type 'object'") }
            return try MetadefInput.tag(o, now: clock())
        }
        var seen = Set<Name>()
        for t in tags where !seen.insert(Name(t.name)).inserted { throw NimbusError.conflict(Self.duplicateTag(t.name, ns)) }
        try await repository.setTags(tags, namespace: ns, append: append)
        return tags
    }

    public func updateTag(_ ns: MetadefNamespace, _ old: MetadefTag, body: JSONObject) async throws -> MetadefTag {
        try MetadefInput.rejectReadOnly(body)
        var t = try MetadefInput.tag(body, now: clock())
        t.createdAt = old.createdAt
        try await repository.withFreeName(.tags, namespaceID: ns.id, name: t.name, replacing: old.name, duplicate: Self.duplicateTag(t.name, ns)) { [t] db in
            try await MetadefRepository.rename(tag: old.name, to: t, namespaceID: ns.id, on: db)
        }
        return t
    }

    public func deleteTag(_ ns: MetadefNamespace, _ name: String) async throws {
        let t = try await tag(ns, name)
        try protectedDelete(ns, "tag", t.name)
        _ = try await repository.delete(.tags, namespaceID: ns.id, name: t.name)
    }

    // MARK: resource type associations

    public func createAssociation(_ ns: MetadefNamespace, body: JSONObject) async throws -> MetadefAssociation {
        try MetadefInput.rejectReadOnly(body)
        let a = try MetadefInput.association(body, now: clock())
        let duplicate = "The metadata definition resource-type association of resource-type=\(a.resourceType) to namespace=\(ns.namespace) already exists."
        try await repository.withFreeName(.associations, namespaceID: ns.id, name: a.resourceType, duplicate: duplicate) { db in
            try await MetadefRepository.insert(a, namespaceID: ns.id, on: db)
        }
        return a
    }

    public func deleteAssociation(_ ns: MetadefNamespace, _ resourceType: String) async throws {
        guard try await repository.associations(ns.id).contains(where: { $0.resourceType.sameBytes(as: resourceType) }) else {
            throw NimbusError.notFound("The metadata definition resource-type association of resource-type=\(resourceType) to namespace=\(ns.namespace), was not found.")
        }
        guard !ns.protected else { throw NimbusError.forbidden("Metadata definition resource-type-association \(resourceType) is protected and cannot be deleted.") }
        _ = try await repository.delete(.associations, namespaceID: ns.id, name: resourceType)
    }

    // MARK: standard definitions

    /// Loads Glance's standard definitions (`etc/metadefs`) that were never loaded: each file
    /// once, skipped when a namespace of its name exists (`glance-manage db load_metadefs`
    /// without `--merge`). A file an admin's deletion removed is not loaded again.
    @discardableResult
    public func loadStandardDefinitions() async throws -> Int {
        var loaded = 0
        for (file, text) in GlanceStandardMetadefs.files {
            if try await repository.loaded(file) { continue }
            guard case .object(let body)? = try? JSONValue.parse(Array(text.utf8)) else { continue }
            do {
                let c = try MetadefInput.contents(body, owner: "admin", now: clock())
                if try await repository.load(c, file: file, now: clock()) { loaded += 1 }
            } catch {
                // Another controller sharing the database may have loaded it at the same moment.
                if (try? await repository.loaded(file)) == true { continue }
                logger.error("standard metadata definition \(file) not loaded: \(error)")
            }
        }
        return loaded
    }
}
