/// Reads typed fields out of a request body, failing with the 400 message OpenStack's schema
/// validation gives ("Invalid input for field 'name': 1 is not of type 'string'").
public struct JSONObjectReader: Sendable {
    public let object: JSONObject
    public let path: String

    public init(_ value: JSONValue?, path: String) throws(NimbusError) {
        guard let value else { throw .badRequest("Invalid input for field '\(path)': '\(path)' is a required property") }
        guard case .object(let o) = value else {
            throw .badRequest("Invalid input for field '\(path)': \(value.serializedString()) is not of type 'object'")
        }
        self.object = o
        self.path = path
    }

    public func has(_ key: String) -> Bool { object[key] != nil }
    public var keys: [String] { object.keys }

    func invalid(_ key: String, _ reason: String) -> NimbusError {
        .badRequest("Invalid input for field '\(key)': \(reason)")
    }

    public func requireString(_ key: String, maxLength: Int = 255, allowEmpty: Bool = false) throws(NimbusError) -> String {
        guard let s = try string(key, maxLength: maxLength, allowEmpty: allowEmpty) else {
            throw invalid(key, "'\(key)' is a required property")
        }
        return s
    }

    public func string(_ key: String, maxLength: Int = 255, allowEmpty: Bool = true, nullable: Bool = false) throws(NimbusError) -> String? {
        guard let v = object[key] else { return nil }
        if v == .null {
            if nullable { return nil }
            throw invalid(key, "None is not of type 'string'")
        }
        guard case .string(let s) = v else { throw invalid(key, "\(v.serializedString()) is not of type 'string'") }
        if !allowEmpty && s.trimmingCharacters(in: .whitespaces).isEmpty { throw invalid(key, "'\(s)' is too short") }
        // No OpenStack field carries NUL, and PostgreSQL rejects it in text.
        if s.utf8.contains(0) { throw invalid(key, "the value contains a NUL character") }
        if s.scalarCount > maxLength { throw invalid(key, "'\(s.prefix(40))...' is too long (maximum \(maxLength) characters)") }
        return s
    }

    public func bool(_ key: String) throws(NimbusError) -> Bool? {
        guard let v = object[key] else { return nil }
        guard case .bool(let b) = v else { throw invalid(key, "\(v.serializedString()) is not of type 'boolean'") }
        return b
    }

    public func int(_ key: String) throws(NimbusError) -> Int64? {
        guard let v = object[key] else { return nil }
        guard case .int(let i) = v else { throw invalid(key, "\(v.serializedString()) is not of type 'integer'") }
        return i
    }

    public func reader(_ key: String) throws(NimbusError) -> JSONObjectReader? {
        guard let v = object[key] else { return nil }
        return try JSONObjectReader(v, path: key)
    }

    public func requireReader(_ key: String) throws(NimbusError) -> JSONObjectReader {
        guard let r = try reader(key) else { throw invalid(key, "'\(key)' is a required property") }
        return r
    }

    public func array(_ key: String) throws(NimbusError) -> [JSONValue]? {
        guard let v = object[key] else { return nil }
        guard case .array(let a) = v else { throw invalid(key, "\(v.serializedString()) is not of type 'array'") }
        return a
    }

    public func stringArray(_ key: String, maxLength: Int = 255) throws(NimbusError) -> [String]? {
        guard let a = try array(key) else { return nil }
        var out = [String]()
        for v in a {
            guard case .string(let s) = v else { throw invalid(key, "\(v.serializedString()) is not of type 'string'") }
            guard s.scalarCount <= maxLength else { throw invalid(key, "'\(s.prefix(40))...' is too long") }
            guard !s.utf8.contains(0) else { throw invalid(key, "a value contains a NUL character") }
            out.append(s)
        }
        return out
    }

    /// Keys not in `known`, for APIs that store unknown attributes as "extra" properties.
    public func extras(excluding known: Set<String>) -> JSONObject {
        object.filter { !known.contains($0.key) }
    }
}
