import Foundation
import Logging
import NimbusCore

/// Glance's metadata definitions catalog, below HTTP: visibility, protection, duplicates,
/// listing and the standard definitions. Policy is the API's; this layer enforces what
/// Glance's domain and database layers enforce.
public struct MetadefService: Sendable {
    public let repository: MetadefRepository
    let logger: Logger
    let clock: @Sendable () -> Date

    public init(repository: MetadefRepository, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.repository = repository
        self.logger = logger
        self.clock = clock
    }

    static func notFound(_ name: String) -> NimbusError { .notFound("Metadata definition namespace=\(name) was not found.") }

    /// The namespace named `name` if `caller` may see it; 404 otherwise (an invisible namespace
    /// is indistinguishable from a missing one, as in Glance).
    public func namespace(_ name: String, caller: ImageCaller) async throws -> MetadefNamespace {
        guard let ns = try await repository.namespace(named: name), ns.isVisible(to: caller) else { throw Self.notFound(name) }
        return ns
    }

    // MARK: namespaces

    public struct Listing: Sendable {
        public var limit = 20
        public var marker: String?
        public var sortKey = "created_at"
        public var ascending = false
        public var visibility: String?
        public var resourceTypes: [String]?
        public init() {}

        static let sortKeys: Set<String> = ["created_at", "updated_at", "namespace", "display_name", "description", "visibility", "protected", "owner", "id"]
        public static let maxLimit = 1000
        /// Names in `resource_types=` (each is a bound SQL parameter).
        public static let maxResourceTypes = 100

        /// Glance's query rules (`limit`, `marker`, `sort_key`, `sort_dir`, `visibility`, `resource_types`).
        public init(query: [(String, String)]) throws {
            for (k, v) in query {
                switch k {
                case "limit":
                    guard let n = Int(v) else { throw NimbusError.badRequest("limit param must be an integer") }
                    guard n >= 0 else { throw NimbusError.badRequest("limit param must be positive") }
                    limit = min(n, Self.maxLimit)
                case "marker": marker = v
                case "sort_key":
                    guard Self.sortKeys.contains(v) else { throw NimbusError.badRequest("Invalid sort key: \(v)") }
                    sortKey = v
                case "sort_dir":
                    guard v == "asc" || v == "desc" else { throw NimbusError.badRequest("Invalid sort direction: \(v)") }
                    ascending = v == "asc"
                case "visibility":
                    guard v == "public" || v == "private" else { throw NimbusError.badRequest("Invalid visibility value: \(v)") }
                    visibility = v
                case "resource_types":
                    let types = v.splitBytes(",", omittingEmpty: false).map(String.init)
                    guard types.count <= Self.maxResourceTypes else { throw NimbusError.badRequest("At most \(Self.maxResourceTypes) resource types may be asked for.") }
                    resourceTypes = types
                default: continue
                }
            }
        }
    }

    static func sortValue(_ ns: MetadefNamespace, _ key: String) -> String {
        switch key {
        case "created_at": String(format: "%020lld", MetadefRepository.seconds(ns.createdAt))
        case "updated_at": String(format: "%020lld", MetadefRepository.seconds(ns.updatedAt))
        case "namespace": ns.namespace
        case "display_name": ns.displayName ?? ""
        case "description": ns.description ?? ""
        case "visibility": ns.visibility
        case "protected": ns.protected ? "1" : "0"
        case "owner": ns.owner ?? ""
        default: ns.id
        }
    }

    /// One page of the namespaces `caller` sees, sorted as asked (ties by creation, then id),
    /// and whether there may be more. Keys compare as bytes.
    public func list(_ l: Listing, caller: ImageCaller) async throws -> (page: [MetadefNamespace], more: Bool) {
        var all = try await repository.namespaces(visibleTo: caller, resourceTypes: l.resourceTypes)
        if let v = l.visibility { all = all.filter { $0.visibility == v } }
        let keys = [l.sortKey, "created_at", "id"]
        all.sort { a, b in
            for k in keys {
                let x = Self.sortValue(a, k), y = Self.sortValue(b, k)
                if x.sameBytes(as: y) { continue }
                return l.ascending ? x.bytesPrecede(y) : y.bytesPrecede(x)
            }
            return false
        }
        if let marker = l.marker {
            _ = try await namespace(marker, caller: caller)
            guard let i = all.firstIndex(where: { $0.namespace.sameBytes(as: marker) }) else { throw Self.notFound(marker) }
            all.removeFirst(i + 1)
        }
        let page = Array(all.prefix(l.limit))
        return (page, !page.isEmpty && page.count == l.limit)
    }

    public func create(_ body: JSONObject, caller: ImageCaller) async throws -> MetadefNamespaceContents {
        let c = try MetadefInput.contents(body, owner: caller.projectID, now: clock())
        try await repository.create(c)
        return c
    }

    /// Glance's PUT: every attribute the body leaves out goes back to its default.
    public func update(_ ns: MetadefNamespace, body: JSONObject, caller: ImageCaller) async throws -> MetadefNamespace {
        let input = try MetadefInput.namespace(body, owner: caller.projectID, now: clock())
        var updated = ns
        updated.namespace = input.namespace
        updated.displayName = input.displayName
        updated.description = input.description
        updated.visibility = input.visibility
        updated.protected = input.protected
        updated.owner = input.owner
        updated.updatedAt = clock()
        try await repository.update(updated)
        return updated
    }

    public func delete(_ ns: MetadefNamespace) async throws {
        guard !ns.protected else { throw NimbusError.forbidden("Metadata definition namespace \(ns.namespace) is protected and cannot be deleted.") }
        try await repository.deleteNamespace(ns.id)
    }

    /// `DELETE …/objects|properties|tags`: empties one kind of content.
    public func deleteAll(_ child: MetadefRepository.Child, of ns: MetadefNamespace) async throws {
        guard !ns.protected else { throw NimbusError.forbidden("Metadata definition namespace \(ns.namespace) is protected and cannot be deleted.") }
        try await repository.deleteAll(child, namespaceID: ns.id)
    }

    /// The namespace as `GET /v2/metadefs/namespaces/{ns}` shows it, with property names
    /// prefixed for `resourceType` when it is associated with a prefix.
    public func contents(_ ns: MetadefNamespace, resourceType: String? = nil) async throws -> MetadefNamespaceContents {
        var c = MetadefNamespaceContents(namespace: ns)
        c.associations = try await repository.associations(ns.id)
        c.objects = try await repository.objects(ns.id)
        c.properties = try await repository.properties(ns.id)
        c.tags = try await repository.tags(ns.id)
        if let resourceType, let prefix = c.associations.first(where: { $0.resourceType.sameBytes(as: resourceType) })?.prefix, !prefix.isEmpty {
            for i in c.properties.indices { c.properties[i].name = prefix + c.properties[i].name }
            for i in c.objects.indices {
                if let p = c.objects[i].properties { c.objects[i].properties = JSONObject(pairs: p.map { (prefix + $0.key, $0.value) }) }
                c.objects[i].required = c.objects[i].required?.map { prefix + $0 }
            }
        }
        return c
    }
}
