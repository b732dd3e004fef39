import NimbusCore
import SQLKit

extension SQLDatabase {
    func insertRecord<T: Encodable & Sendable>(_ table: String, _ record: T) async throws {
        do {
            try await insert(into: table).model(record, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil).run()
        } catch where isUniqueViolation(error) {
            throw NimbusError.conflict("Conflict occurred attempting to store \(table.replacingOccurrences(of: "identity_", with: "").dropLast()) - Duplicate entry.")
        }
    }

    func records<T: Decodable>(_ type: T.Type, _ query: SQLQueryString) async throws -> [T] {
        try await raw(query).all(decoding: T.self, keyDecodingStrategy: .convertFromSnakeCase)
    }

    func record<T: Decodable>(_ type: T.Type, _ query: SQLQueryString) async throws -> T? {
        try await raw(query).first(decoding: T.self, keyDecodingStrategy: .convertFromSnakeCase)
    }

    func execute(_ query: SQLQueryString) async throws {
        do {
            try await raw(query).run()
        } catch where isUniqueViolation(error) {
            throw NimbusError.conflict("Conflict occurred attempting to store the resource - Duplicate entry.")
        }
    }
}

/// SQLite and PostgreSQL report unique-constraint violations differently; both mean 409 to the API.
func isUniqueViolation(_ error: any Error) -> Bool {
    let text = String(reflecting: error)
    return text.contains("UNIQUE constraint") || text.contains("23505") || text.contains("unique constraint") || text.contains("uniqueViolation")
}
