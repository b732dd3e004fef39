import NimbusCore
import NimbusStore

/// The block storage service's tables: its documents, quotas and state version
/// (`DocumentStore` with the prefix `volume`).
public enum VolumeMigrations {
    public static let all: [Migration] = [
        Migration(service: "volume", version: 1, name: "resources, quotas, state version") { engine in
            DocumentStore.tables(prefix: "volume", engine: engine)
        },
    ]
}

public struct VolumeStore: Sendable {
    let documents: DocumentStore

    public init(database: Database) { self.documents = DocumentStore(database: database, prefix: "volume") }

    public func version() async throws -> Int64 { try await documents.version() }

    public func load() async throws -> VolumeState {
        let snapshot = try await documents.load()
        var s = VolumeState()
        s.version = snapshot.version
        for (kind, doc) in snapshot.documents {
            if let kind = VolumeKind(rawValue: kind) { s.load(kind, doc) }
        }
        for (project, limits) in snapshot.quotas {
            s.quotas[Name(project)] = Dictionary(limits.map { (Name($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
        }
        return s
    }

    public func commit(_ state: VolumeState) async throws -> Int64 {
        let changes = state.changes.flatMap { kind, docs in docs.map { DocumentStore.Change(kind: kind.rawValue, id: $0.key, doc: $0.value) } }
        return try await documents.commit(expected: state.version, changes: changes,
                                          quotas: state.quotaChanges.map { p in
                                              (p.string, state.quotas[p].map { Dictionary($0.map { ($0.key.string, $0.value) }, uniquingKeysWith: { a, _ in a }) })
                                          })
    }
}

extension VolumeState: DocumentState {}
