import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Keypairs in SQL, one namespace per user.
public struct KeypairRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = "user_id, name, type, public_key, fingerprint, created_at"

    static func decode(_ row: any SQLRow) throws -> Keypair {
        Keypair(userID: try row.decode(column: "user_id", as: String.self), name: try row.decode(column: "name", as: String.self),
                type: try row.decode(column: "type", as: String.self), publicKey: try row.decode(column: "public_key", as: String.self),
                fingerprint: try row.decode(column: "fingerprint", as: String.self),
                createdAt: Micros.date(try row.decode(column: "created_at", as: Int64.self)))
    }

    /// false when the user already has a keypair of that name.
    public func create(_ k: Keypair) async throws -> Bool {
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO compute_keypairs (\(unsafeRaw: Self.columns)) VALUES (\(bind: k.userID), \(bind: k.name), \(bind: k.type),
                \(bind: k.publicKey), \(bind: k.fingerprint), \(bind: Micros.of(k.createdAt)))
                ON CONFLICT (user_id, name) DO NOTHING RETURNING name
                """).first() != nil
        }
    }

    public func get(user: String, name: String) async throws -> Keypair? {
        try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_keypairs WHERE user_id = \(bind: user) AND name = \(bind: name)")
            .first().map(Self.decode)
    }

    /// A user's keypairs by name (bytes), after `marker`, at most `limit`; nil when the marker
    /// names none of them.
    public func list(user: String, limit: Int?, marker: String?) async throws -> [Keypair]? {
        var all = try await database.sql.raw("SELECT \(unsafeRaw: Self.columns) FROM compute_keypairs WHERE user_id = \(bind: user)")
            .all().map(Self.decode).sorted { $0.name.bytesPrecede($1.name) }
        if let marker {
            guard let i = all.firstIndex(where: { $0.name.sameBytes(as: marker) }) else { return nil }
            all = Array(all[(i + 1)...])
        }
        if let limit { all = Array(all.prefix(limit)) }
        return all
    }

    public func count(user: String) async throws -> Int {
        try await database.sql.raw("SELECT COUNT(*) AS n FROM compute_keypairs WHERE user_id = \(bind: user)").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func delete(user: String, name: String) async throws -> Bool {
        try await database.transaction { db in
            try await db.raw("DELETE FROM compute_keypairs WHERE user_id = \(bind: user) AND name = \(bind: name) RETURNING name").first() != nil
        }
    }
}
