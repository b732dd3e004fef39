import NimbusCore

/// The stores image data may live in, in configuration order, and the default one. With more
/// than one store Nimbus behaves as Glance with `enabled_backends`: `/v2/info/stores`, the
/// `stores` field, `X-Image-Meta-Store`, imports to chosen stores, copy-image between stores
/// and `DELETE /v2/stores/{store}/{image}`. With one store it is Glance's legacy single-store
/// mode, where none of that exists.
public struct ImageStores: Sendable {
    public struct Entry: Sendable {
        public let store: any ImageDataStore
        /// What `/v2/info/stores/detail` calls its type (`file`, `swift`).
        public let type: String
        public let description: String
        public init(store: any ImageDataStore, type: String, description: String) {
            self.store = store; self.type = type; self.description = description
        }
    }

    public let entries: [Entry]
    public let defaultID: String

    public init(_ entries: [Entry], defaultID: String) throws(NimbusError) {
        guard !entries.isEmpty else { throw .badRequest("at least one image store must be enabled") }
        guard entries.contains(where: { $0.store.id == defaultID }) else {
            throw .badRequest("the default image store '\(defaultID)' is not one of the enabled stores \(entries.map(\.store.id))")
        }
        guard Set(entries.map(\.store.id)).count == entries.count else { throw .badRequest("an image store is enabled twice") }
        self.entries = entries
        self.defaultID = defaultID
    }

    /// One store: Glance's legacy mode.
    public init(single store: any ImageDataStore) {
        self.entries = [Entry(store: store, type: store.id, description: "")]
        self.defaultID = store.id
    }

    public var multiple: Bool { entries.count > 1 }
    public var ids: [String] { entries.map(\.store.id) }
    public var defaultStore: any ImageDataStore { self[defaultID]! }

    public subscript(id: String) -> (any ImageDataStore)? { entries.first { $0.store.id == id }?.store }

    /// The store `id` names; 400 as glance_store words it when there is none.
    public func require(_ id: String) throws(NimbusError) -> any ImageDataStore {
        guard let s = self[id] else { throw Self.unknown(id) }
        return s
    }

    static func unknown(_ id: String) -> NimbusError { .badRequest("Unknown scheme '\(id)' found in URI") }
}
