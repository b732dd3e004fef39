import Foundation
import NimbusCore

/// A metadata definition namespace (Glance's `metadef_namespaces`): a named, owned group of
/// property definitions, objects and tags that dashboards read to offer image, flavor and
/// volume properties. Names compare as bytes (`Name`), as Glance's database compares them.
public struct MetadefNamespace: Sendable, Equatable {
    public var id: String
    public var namespace: String
    public var displayName: String?
    public var description: String?
    /// `public` or `private`.
    public var visibility: String
    public var protected: Bool
    public var owner: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String = Identifiers.uuid(), namespace: String, visibility: String = "private", protected: Bool = false, owner: String?, now: Date) {
        self.id = id
        self.namespace = namespace
        self.visibility = visibility
        self.protected = protected
        self.owner = owner
        self.createdAt = now
        self.updatedAt = now
    }

    /// Glance's `_is_namespace_visible`: admins, public or unowned namespaces, the owner's project.
    public func isVisible(to caller: ImageCaller) -> Bool {
        if caller.isAdmin || owner == nil || visibility == "public" { return true }
        guard let project = caller.projectID, let owner else { return false }
        return owner.sameBytes(as: project)
    }
}

/// A metadef object: a named group of property definitions.
public struct MetadefObject: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var required: [String]?
    /// Property name → property definition (JSON schema fragment).
    public var properties: JSONObject?
    public var createdAt: Date
    public var updatedAt: Date

    public init(name: String, description: String? = nil, required: [String]? = nil, properties: JSONObject? = nil, now: Date) {
        self.name = name; self.description = description; self.required = required; self.properties = properties
        self.createdAt = now; self.updatedAt = now
    }
}

/// A namespace-level property definition (`name` and its JSON schema).
public struct MetadefProperty: Sendable, Equatable {
    public var name: String
    public var schema: JSONObject
    public var createdAt: Date
    public var updatedAt: Date
    public init(name: String, schema: JSONObject, now: Date) { self.name = name; self.schema = schema; createdAt = now; updatedAt = now }
}

public struct MetadefTag: Sendable, Equatable {
    public var name: String
    public var createdAt: Date
    public var updatedAt: Date
    public init(name: String, now: Date) { self.name = name; createdAt = now; updatedAt = now }
}

public struct MetadefResourceType: Sendable, Equatable {
    public var name: String
    public var protected: Bool
    public var createdAt: Date
    public var updatedAt: Date
    public init(name: String, protected: Bool, now: Date) { self.name = name; self.protected = protected; createdAt = now; updatedAt = now }
}

/// A namespace associated with a resource type (`OS::Glance::Image`, `OS::Nova::Flavor`, …),
/// with the prefix its properties take on that resource.
public struct MetadefAssociation: Sendable, Equatable {
    public var resourceType: String
    public var prefix: String?
    public var propertiesTarget: String?
    public var createdAt: Date
    public var updatedAt: Date
    public init(resourceType: String, prefix: String? = nil, propertiesTarget: String? = nil, now: Date) {
        self.resourceType = resourceType; self.prefix = prefix; self.propertiesTarget = propertiesTarget
        createdAt = now; updatedAt = now
    }
}

/// A namespace with its contents, as created in one request or loaded from a definition file.
public struct MetadefNamespaceContents: Sendable {
    public var namespace: MetadefNamespace
    public var associations: [MetadefAssociation] = []
    public var objects: [MetadefObject] = []
    public var properties: [MetadefProperty] = []
    public var tags: [MetadefTag] = []
    public init(namespace: MetadefNamespace) { self.namespace = namespace }
}

/// Bounds on what one namespace may hold and one request may carry.
public enum MetadefLimits {
    /// Objects, properties, tags and associations, each, per namespace. Glance's largest
    /// standard namespace has under 100 of any.
    public static let itemsPerNamespace = 1_000
    /// Glance's column widths.
    public static let nameLength = 80
    public static let tagLength = 255
    public static let descriptionLength = 500
    public static let ownerLength = 255
    /// The JSON of one property definition or object, as stored.
    public static let definitionBytes = 64 * 1024
}
