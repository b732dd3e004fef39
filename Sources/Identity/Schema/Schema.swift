import NimbusCore

/// The part of JSON Schema (draft 2020-12) that Keystone's request schemas use, as a value: the
/// identity API's request bodies are described once, in Keystone's terms (`KeystoneSchemas`), and
/// checked by one validator (`Schema.validate`) that answers Keystone's 400s.
struct Schema: Sendable {
    enum Kind: String, Sendable { case string, integer, number, boolean, object, array, null }

    /// nil accepts every type.
    var types: [Kind]?
    var minLength: Int?
    var maxLength: Int?
    var pattern: Pattern?
    var format: Format?
    var enumValues: [JSONValue]?
    var minimum: Int64?
    var maximum: Int64?
    /// Declared properties, in the order the validator visits them (the schema's order).
    var properties: [(name: String, schema: Schema)] = []
    var required: [String] = []
    var additionalProperties = true
    var minProperties: Int?
    var maxProperties: Int?
    /// The schema of every item (at most one element; an array keeps the type recursive).
    var itemSchemas: [Schema] = []
    var minItems: Int?
    var maxItems: Int?
    var uniqueItems = false
    /// `oneOf: [{required: [a]}, {required: [b]}]`: exactly one of these properties.
    var exactlyOneOf: [String]?
    /// `if: {properties: {field: {const: value}}}, then: {required: names}`.
    var requiredWhen: (field: String, equals: String, names: [String])?

    // MARK: Building

    static let any = Schema()

    static func string(minLength: Int? = nil, maxLength: Int? = nil, pattern: Pattern? = nil, format: Format? = nil) -> Schema {
        var s = Schema(types: [.string])
        s.minLength = minLength
        s.maxLength = maxLength
        s.pattern = pattern
        s.format = format
        return s
    }

    static func oneOf(_ values: [String]) -> Schema {
        var s = Schema(types: [.string])
        s.enumValues = values.map { .string($0) }
        return s
    }

    static let boolean = Schema(types: [.boolean])

    static func integer(minimum: Int64? = nil, maximum: Int64? = nil) -> Schema {
        var s = Schema(types: [.integer])
        s.minimum = minimum
        s.maximum = maximum
        return s
    }

    static func object(_ properties: KeyValuePairs<String, Schema> = [:], required: [String] = [], additionalProperties: Bool = true,
                       minProperties: Int? = nil, maxProperties: Int? = nil) -> Schema {
        var s = Schema(types: [.object])
        s.properties = properties.map { ($0.key, $0.value) }
        s.required = required
        s.additionalProperties = additionalProperties
        s.minProperties = minProperties
        s.maxProperties = maxProperties
        return s
    }

    static func array(of items: Schema, minItems: Int? = nil, maxItems: Int? = nil, uniqueItems: Bool = false) -> Schema {
        var s = Schema(types: [.array])
        s.itemSchemas = [items]
        s.minItems = minItems
        s.maxItems = maxItems
        s.uniqueItems = uniqueItems
        return s
    }

    /// Keystone's `validation.nullable`: null is also accepted (and joins any enum).
    var nullable: Schema {
        var s = self
        if let t = s.types, !t.contains(.null) { s.types = t + [.null] }
        if let e = s.enumValues, !e.contains(.null) { s.enumValues = e + [.null] }
        return s
    }

    /// The same schema with more properties (Keystone's `{**a, **b}`); later ones replace earlier ones.
    func adding(_ more: KeyValuePairs<String, Schema>) -> Schema {
        var s = self
        for (name, schema) in more {
            if let i = s.properties.firstIndex(where: { $0.name.sameBytes(as: name) }) { s.properties[i].schema = schema } else { s.properties.append((name, schema)) }
        }
        return s
    }

    func with(_ change: (inout Schema) -> Void) -> Schema {
        var s = self
        change(&s)
        return s
    }

    /// Whether `name` is a declared property (by bytes).
    func declares(_ name: String) -> Bool { properties.contains { $0.name.sameBytes(as: name) } }

    func property(_ name: String) -> Schema? { properties.first { $0.name.sameBytes(as: name) }?.schema }
}

/// The regular expressions Keystone's schemas use, matched as Python's `re.search` matches them
/// on `str` (code points; `\S` is anything `str.isspace()` is false for).
enum Pattern: Sendable {
    /// `[\S]+`: at least one character that is not whitespace.
    case notBlank
    /// `^[a-zA-Z0-9-]+$`
    case idString
    /// `^[^,/]*$` (project tags)
    case tag
    /// `^[a-zA-Z0-9+.-]+:.+` (endpoint URLs)
    case url
    /// `^/\.*` (access rule paths: they start with a slash)
    case absolutePath

    var source: String {
        switch self {
        case .notBlank: "[\\S]+"
        case .idString: "^[a-zA-Z0-9-]+$"
        case .tag: "^[^,/]*$"
        case .url: "^[a-zA-Z0-9+.-]+:.+"
        case .absolutePath: "^/\\.*"
        }
    }

    func matches(_ s: String) -> Bool {
        switch self {
        case .notBlank:
            return s.unicodeScalars.contains { !Self.pythonSpace($0) }
        case .idString:
            // `$` also matches before a final newline in Python.
            let body = s.hasByteSuffix("\n") ? s.utf8.dropLast() : s.utf8[...]
            return !body.isEmpty && body.allSatisfy { Self.isAlnum($0) || $0 == UInt8(ascii: "-") }
        case .tag:
            let body = s.hasByteSuffix("\n") ? s.utf8.dropLast() : s.utf8[...]
            return !body.contains(UInt8(ascii: ",")) && !body.contains(UInt8(ascii: "/"))
        case .url:
            let b = Array(s.utf8)
            var i = 0
            while i < b.count, Self.isAlnum(b[i]) || b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "-") { i += 1 }
            // A scheme, a colon, then one character other than a newline (`.` does not match "\n").
            return i > 0 && i + 1 < b.count && b[i] == UInt8(ascii: ":") && b[i + 1] != 0x0A
        case .absolutePath:
            return s.hasBytePrefix("/")
        }
    }

    static func isAlnum(_ b: UInt8) -> Bool {
        (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b)
    }

    /// Python's `str.isspace()`: Unicode White_Space, plus the information separators U+001C–U+001F.
    static func pythonSpace(_ u: Unicode.Scalar) -> Bool {
        u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
    }
}

/// `format` checks of Keystone's validator.
enum Format: String, Sendable {
    /// `uuidutils.is_uuid_like`: 32 hex digits once `urn:`, `uuid:`, braces and dashes are removed.
    case uuid

    func accepts(_ s: String) -> Bool {
        switch self {
        case .uuid:
            var t = s.replacingBytes("urn:", with: "").replacingBytes("uuid:", with: "")
            while t.hasBytePrefix("{") { t = String(t.utf8.dropFirst())! }
            while t.hasByteSuffix("}") { t = String(t.utf8.dropLast())! }
            let hex = t.utf8.filter { $0 != UInt8(ascii: "-") }
            return hex.count == 32 && hex.allSatisfy { (48...57).contains($0) || (65...70).contains($0) || (97...102).contains($0) }
        }
    }
}
