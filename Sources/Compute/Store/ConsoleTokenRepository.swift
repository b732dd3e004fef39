import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Console tokens in SQL (Nova's `console_auth_tokens`), keyed by the token's hash.
public struct ConsoleTokenRepository: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    /// Stores a token's grant; removes the expired ones on the way (Nova does so periodically).
    func create(hash: String, _ a: ConsoleAuthorization, now: Date) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM compute_console_tokens WHERE expires_at <= \(bind: Micros.of(now))").run()
            try await db.raw("""
                INSERT INTO compute_console_tokens (token_hash, instance_id, console_type, host, expires_at, created_at)
                VALUES (\(bind: hash), \(bind: a.instanceID), \(bind: a.consoleType), \(bind: a.host), \(bind: Micros.of(a.expiresAt)),
                \(bind: Micros.of(now)))
                """).run()
        }
    }

    /// The grant of an unexpired token.
    func get(hash: String, now: Date) async throws -> ConsoleAuthorization? {
        try await database.sql.raw("""
            SELECT instance_id, console_type, host, expires_at FROM compute_console_tokens
            WHERE token_hash = \(bind: hash) AND expires_at > \(bind: Micros.of(now))
            """).first().map { row in
            ConsoleAuthorization(instanceID: try row.decode(column: "instance_id", as: String.self),
                                 consoleType: try row.decode(column: "console_type", as: String.self),
                                 host: try row.decode(column: "host", as: String.self),
                                 expiresAt: Micros.date(try row.decode(column: "expires_at", as: Int64.self)))
        }
    }

    /// Revokes every token of an instance (deleted, or moved to another host).
    func delete(instance: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM compute_console_tokens WHERE instance_id = \(bind: instance)").run()
        }
    }
}
