import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// The network service's tables: one row per resource holding its JSON document (what Neutron
/// shows an admin), quota limits per project, and a version counter that every commit moves
/// with a compare-and-set, so two controllers on one PostgreSQL never both commit against the
/// same state (the loser reloads and retries).
public enum NetworkMigrations {
    public static let all: [Migration] = [
        Migration(service: "network", version: 1, name: "resources, quotas, state version") { engine in
            DocumentStore.tables(prefix: "network", engine: engine)
        },
    ]
}

public struct NetworkStore: Sendable {
    let documents: DocumentStore

    public init(database: Database) { self.documents = DocumentStore(database: database, prefix: "network") }

    public func version() async throws -> Int64 { try await documents.version() }

    /// The whole state, read in one transaction.
    public func load() async throws -> NetworkState {
        let snapshot = try await documents.load()
        var s = NetworkState()
        s.version = snapshot.version
        for (kind, doc) in snapshot.documents {
            if let kind = ResourceKind(rawValue: kind) { s.load(kind, doc) }
        }
        for (project, limits) in snapshot.quotas { s.quotas[Name(project)] = limits }
        return s
    }

    /// Writes the state's recorded changes in one transaction if the stored version is still
    /// `state.version`; returns the new version (`DocumentStore.Conflict` when it is not).
    public func commit(_ state: NetworkState) async throws -> Int64 {
        let changes = state.changes.flatMap { kind, docs in docs.map { DocumentStore.Change(kind: kind.rawValue, id: $0.key, doc: $0.value) } }
        return try await documents.commit(expected: state.version, changes: changes,
                                          quotas: state.quotaChanges.map { ($0.string, state.quotas[$0]) })
    }
}

extension NetworkState: DocumentState {
    public var hasChanges: Bool { !changes.isEmpty || !quotaChanges.isEmpty }
}
