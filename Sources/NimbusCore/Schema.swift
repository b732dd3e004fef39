/// The part of JSON Schema that OpenStack's request schemas use (Keystone's, Nova's, Placement's),
/// as a value: each API describes its request bodies once, in its service's terms
/// (`KeystoneSchemas`, `NovaSchemas`), and one validator (`Schema.validate`) checks them with
/// jsonschema's messages; each API words the 400 as its service does.
public struct Schema: Sendable {
    public enum Kind: String, Sendable { case string, integer, number, boolean, object, array, null }

    /// nil accepts every type.
    public var types: [Kind]?
    public var minLength: Int?
    public var maxLength: Int?
    public var pattern: Pattern?
    public var format: Format?
    public var enumValues: [JSONValue]?
    public var minimum: Int64?
    public var maximum: Int64?
    /// Declared properties, in the order the validator visits them (the schema's order).
    public var properties: [(name: String, schema: Schema)] = []
    public var required: [String] = []
    public var additionalProperties = true
    public var minProperties: Int?
    public var maxProperties: Int?
    /// The schema of every item (at most one element; an array keeps the type recursive).
    public var itemSchemas: [Schema] = []
    /// `patternProperties`: members whose name matches a pattern follow its schema (and are not
    /// "additional").
    public var patternProperties: [(pattern: Pattern, schema: Schema)] = []
    /// `exclusiveMinimum` and a fractional `maximum` for numbers (Nova's `rxtx_factor`).
    public var exclusiveMinimum: Double?
    public var maximumNumber: Double?
    /// `oneOf` of whole schemas: exactly one must accept the value.
    public var oneOfSchemas: [Schema] = []
    public var minItems: Int?
    public var maxItems: Int?
    public var uniqueItems = false
    /// `oneOf: [{required: [a]}, {required: [b]}]`: exactly one of these properties.
    public var exactlyOneOf: [String]?
    /// `if: {properties: {field: {const: value}}}, then: {required: names}`.
    public var requiredWhen: (field: String, equals: String, names: [String])?

    // MARK: Building

    public init(types: [Kind]? = nil) { self.types = types }

    public static let any = Schema()

    public static func string(minLength: Int? = nil, maxLength: Int? = nil, pattern: Pattern? = nil, format: Format? = nil) -> Schema {
        var s = Schema(types: [.string])
        s.minLength = minLength
        s.maxLength = maxLength
        s.pattern = pattern
        s.format = format
        return s
    }

    public static func oneOf(_ values: [String]) -> Schema {
        var s = Schema(types: [.string])
        s.enumValues = values.map { .string($0) }
        return s
    }

    public static let boolean = Schema(types: [.boolean])

    public static func integer(minimum: Int64? = nil, maximum: Int64? = nil) -> Schema {
        var s = Schema(types: [.integer])
        s.minimum = minimum
        s.maximum = maximum
        return s
    }

    public static func object(_ properties: KeyValuePairs<String, Schema> = [:], required: [String] = [], additionalProperties: Bool = true,
                       minProperties: Int? = nil, maxProperties: Int? = nil) -> Schema {
        var s = Schema(types: [.object])
        s.properties = properties.map { ($0.key, $0.value) }
        s.required = required
        s.additionalProperties = additionalProperties
        s.minProperties = minProperties
        s.maxProperties = maxProperties
        return s
    }

    public static func array(of items: Schema, minItems: Int? = nil, maxItems: Int? = nil, uniqueItems: Bool = false) -> Schema {
        var s = Schema(types: [.array])
        s.itemSchemas = [items]
        s.minItems = minItems
        s.maxItems = maxItems
        s.uniqueItems = uniqueItems
        return s
    }

    /// Keystone's `validation.nullable`: null is also accepted (and joins any enum).
    public var nullable: Schema {
        var s = self
        if let t = s.types, !t.contains(.null) { s.types = t + [.null] }
        if let e = s.enumValues, !e.contains(.null) { s.enumValues = e + [.null] }
        return s
    }

    /// The same schema with more properties (Keystone's `{**a, **b}`); later ones replace earlier ones.
    public func adding(_ more: KeyValuePairs<String, Schema>) -> Schema {
        var s = self
        for (name, schema) in more {
            if let i = s.properties.firstIndex(where: { $0.name.sameBytes(as: name) }) { s.properties[i].schema = schema } else { s.properties.append((name, schema)) }
        }
        return s
    }

    public func with(_ change: (inout Schema) -> Void) -> Schema {
        var s = self
        change(&s)
        return s
    }

    /// Whether `name` is a declared property (by bytes).
    public func declares(_ name: String) -> Bool { properties.contains { $0.name.sameBytes(as: name) } }

    public func property(_ name: String) -> Schema? { properties.first { $0.name.sameBytes(as: name) }?.schema }
}

/// A `pattern` keyword: the regular expression as the schema writes it (for messages) and its
/// matcher, written as Python's `re.search` matches on `str` (code points, not grapheme clusters;
/// `$` also matches before a final newline). Each service defines its patterns as static members.
public struct Pattern: Sendable {
    public let source: String
    let matcher: @Sendable (String) -> Bool

    public init(_ source: String, matches: @escaping @Sendable (String) -> Bool) {
        self.source = source
        self.matcher = matches
    }

    public func matches(_ s: String) -> Bool { matcher(s) }

    /// The text a `...$` pattern tests: Python's `$` also matches before one final newline.
    public static func body(_ s: String) -> Substring.UTF8View {
        (s.hasByteSuffix("\n") ? Substring(s.unicodeScalars.dropLast()) : Substring(s)).utf8
    }

    /// `^[...]+$` over ASCII bytes allowed by `allowed` (at least one).
    public static func ascii(_ source: String, _ allowed: @escaping @Sendable (UInt8) -> Bool) -> Pattern {
        Pattern(source) { s in
            let b = body(s)
            return !b.isEmpty && b.allSatisfy(allowed)
        }
    }

    /// Keystone's `[\S]+`: at least one character that is not whitespace.
    public static let notBlank = Pattern("[\\S]+") { s in s.unicodeScalars.contains { !pythonSpace($0) } }
    public static let idString = ascii("^[a-zA-Z0-9-]+$") { isAlnum($0) || $0 == UInt8(ascii: "-") }
    /// `^[^,/]*$` (project tags)
    public static let tag = Pattern("^[^,/]*$") { s in
        let b = body(s)
        return !b.contains(UInt8(ascii: ",")) && !b.contains(UInt8(ascii: "/"))
    }
    /// `^[a-zA-Z0-9+.-]+:.+` (endpoint URLs)
    public static let url = Pattern("^[a-zA-Z0-9+.-]+:.+") { s in
        let b = Array(s.utf8)
        var i = 0
        while i < b.count, isAlnum(b[i]) || b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "-") { i += 1 }
        // A scheme, a colon, then one character other than a newline (`.` does not match "\n").
        return i > 0 && i + 1 < b.count && b[i] == UInt8(ascii: ":") && b[i + 1] != 0x0A
    }
    /// `^/\.*` (access rule paths: they start with a slash)
    public static let absolutePath = Pattern("^/\\.*") { s in s.hasBytePrefix("/") }

    public static func isAlnum(_ b: UInt8) -> Bool {
        (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b)
    }

    /// Python's `str.isspace()`: Unicode White_Space, plus the information separators U+001C–U+001F.
    public static func pythonSpace(_ u: Unicode.Scalar) -> Bool {
        u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
    }
}

/// A `format` keyword: its name (for messages) and its check.
public struct Format: Sendable {
    public let rawValue: String
    let check: @Sendable (String) -> Bool

    public init(_ name: String, accepts: @escaping @Sendable (String) -> Bool) {
        self.rawValue = name
        self.check = accepts
    }

    public func accepts(_ s: String) -> Bool { check(s) }

    /// `uuidutils.is_uuid_like`: 32 hex digits once `urn:`, `uuid:`, braces and dashes are removed.
    public static let uuid = Format("uuid") { s in
        var t = s.replacingBytes("urn:", with: "").replacingBytes("uuid:", with: "")
        while t.hasBytePrefix("{") { t = String(t.utf8.dropFirst())! }
        while t.hasByteSuffix("}") { t = String(t.utf8.dropLast())! }
        let hex = t.utf8.filter { $0 != UInt8(ascii: "-") }
        return hex.count == 32 && hex.allSatisfy { (48...57).contains($0) || (65...70).contains($0) || (97...102).contains($0) }
    }
}
