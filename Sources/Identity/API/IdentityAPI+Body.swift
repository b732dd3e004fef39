import Hummingbird
import NimbusCore
import NimbusHTTP

/// A resource object from a validated request body: typed reads of what the schema already
/// checked, and the extra attributes Keystone stores for unknown keys.
struct Entity: Sendable {
    let object: JSONObject
    let schema: RequestSchema

    /// The value under exactly these bytes.
    func value(_ key: String) -> JSONValue? { object[key] }

    func has(_ key: String) -> Bool { value(key) != nil }
    /// The string, or nil when absent or null.
    func string(_ key: String) -> String? { value(key)?.stringValue }
    /// `.none` when absent, `.some(nil)` when null: for updates that may clear a field.
    func nullableString(_ key: String) -> String?? { value(key).map { $0.stringValue } }
    func bool(_ key: String) -> Bool? { value(key)?.boolValue }
    func int(_ key: String) -> Int64? { value(key)?.intValue }
    func object(_ key: String) -> JSONObject? { value(key)?.objectValue }
    func array(_ key: String) -> [JSONValue] { value(key)?.arrayValue ?? [] }

    /// Keys other than the resource's own attributes (`known`, compared by bytes), which Keystone
    /// keeps as extra attributes.
    func extras(excluding known: [String]) -> JSONObject {
        object.filter { !known.containsBytes($0.key) }
    }
}

extension IdentityAPI {
    /// Reads and validates a request body against Keystone's schema for the route: 400 with
    /// Keystone's message for the first violation; 400 also for a body that ends early, is empty
    /// or is not JSON, 413 past the size limit (all through `collectBody`).
    func validatedBody(_ request: Request, _ context: NimbusRequestContext, _ schema: RequestSchema) async throws -> JSONValue {
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        let bytes = buffer.readableBytesView
        if bytes.isEmpty { throw NimbusError.badRequest("The request body is empty; a JSON document is required.") }
        let body: JSONValue
        do {
            body = try JSONValue.parse(bytes)
        } catch {
            throw NimbusError.badRequest("Malformed request body: \(error)")
        }
        do {
            try schema.body.validate(body)
            // Keystone reads `body.get(entity, {})`: a missing entity is checked as an empty object.
            if let e = schema.entity, body[e] == nil { try schema.entitySchema.validate(.object([:]), at: [e]) }
        } catch {
            throw NimbusError.badRequest(Self.message(error, entity: schema.entity))
        }
        return body
    }

    /// The resource object of a body such as `{"project": {...}}`, validated.
    func entity(_ request: Request, _ context: NimbusRequestContext, _ schema: RequestSchema) async throws -> Entity {
        let body = try await validatedBody(request, context, schema)
        let object = schema.entity.map { body[$0]?.objectValue ?? [:] } ?? body.objectValue ?? [:]
        return Entity(object: object, schema: schema)
    }

    /// Validates one value a route takes from elsewhere than its body (a tag in the path).
    static func check(_ value: JSONValue, _ schema: Schema, field: String) throws {
        do {
            try schema.validate(value)
        } catch {
            throw NimbusError.badRequest("Invalid input for field '\(field)': \(error.message)")
        }
    }

    /// Keystone's wording: `Invalid input for field '<path>': <jsonschema message>`, the path
    /// relative to the resource object; errors about the object itself name the object, and a
    /// missing member of the body names that member.
    static func message(_ v: SchemaViolation, entity: String?) -> String {
        var path = v.path
        if let entity, path.first.sameBytes(as: entity), path.count > 1 { path.removeFirst() }
        if path.isEmpty {
            guard let missing = v.missingProperty else { return v.message }
            return "Invalid input for field '\(missing)': \(v.message)"
        }
        return "Invalid input for field '\(path.joined(separator: "/"))': \(v.message)"
    }
}
