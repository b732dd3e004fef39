/// A validation failure: where (the path of keys and indexes from the validated value) and what
/// (jsonschema's message).
public struct SchemaViolation: Error, Sendable {
    public var path: [String]
    public var message: String
    /// The value that failed (jsonschema's `instance`): Nova's messages show it.
    public var instance: JSONValue
    /// For a missing required property, its name.
    public var missingProperty: String?

    public init(path: [String], message: String, instance: JSONValue, missingProperty: String? = nil) {
        self.path = path; self.message = message; self.instance = instance; self.missingProperty = missingProperty
    }
}

extension Schema {
    /// Checks `value` against the schema, failing on the first violation in the order jsonschema
    /// visits keywords: type, enum, string and number bounds, then properties in schema order,
    /// required, additional properties, property counts; array bounds and items.
    public func validate(_ value: JSONValue, at path: [String] = []) throws(SchemaViolation) {
        func fail(_ message: String, _ at: [String] = path) -> SchemaViolation { SchemaViolation(path: at, message: message, instance: value) }
        if let types, !types.contains(where: { Self.isInstance(value, of: $0) }) {
            throw fail("\(value.pythonRepr) is not of type \(types.map { "'\($0.rawValue)'" }.joined(separator: ", "))")
        }
        if let enumValues, !enumValues.contains(where: { $0.sameJSON(as: value) }) {
            throw fail("\(value.pythonRepr) is not one of \(JSONValue.array(enumValues).pythonRepr)")
        }
        switch value {
        case .string(let s):
            if let minLength, s.scalarCount < minLength { throw fail("\(value.pythonRepr) is too short") }
            if let maxLength, s.scalarCount > maxLength { throw fail("\(value.pythonRepr) is too long") }
            if let pattern, !pattern.matches(s) { throw fail("\(value.pythonRepr) does not match \(JSONValue.string(pattern.source).pythonRepr)") }
            if let format, !format.accepts(s) { throw fail("\(value.pythonRepr) is not a '\(format.rawValue)'") }
            // Not a JSON Schema rule: no OpenStack field carries NUL, and PostgreSQL refuses it in text.
            if types?.contains(.string) == true, s.utf8.contains(0) { throw fail("\(value.pythonRepr) contains a NUL character") }
        case .int(let i):
            if let minimum, i < minimum { throw fail("\(i) is less than the minimum of \(minimum)") }
            if let maximum, i > maximum { throw fail("\(i) is greater than the maximum of \(maximum)") }
            if let m = exclusiveMinimum, Double(i) <= m { throw fail("\(i) is less than or equal to the minimum of \(JSONValue.double(m).pythonRepr)") }
            if let m = maximumNumber, Double(i) > m { throw fail("\(i) is greater than the maximum of \(JSONValue.double(m).pythonRepr)") }
        case .double(let d):
            if let minimum, d < Double(minimum) { throw fail("\(value.pythonRepr) is less than the minimum of \(minimum)") }
            if let maximum, d > Double(maximum) { throw fail("\(value.pythonRepr) is greater than the maximum of \(maximum)") }
            if let m = exclusiveMinimum, d <= m { throw fail("\(value.pythonRepr) is less than or equal to the minimum of \(JSONValue.double(m).pythonRepr)") }
            if let m = maximumNumber, d > m { throw fail("\(value.pythonRepr) is greater than the maximum of \(JSONValue.double(m).pythonRepr)") }
        case .object(let o):
            try validateObject(o, value, at: path)
        case .array(let a):
            if let minItems, a.count < minItems { throw fail("\(value.pythonRepr) is too short") }
            if let maxItems, a.count > maxItems { throw fail("\(value.pythonRepr) is too long") }
            if uniqueItems, Self.hasDuplicates(a) { throw fail("\(value.pythonRepr) has non-unique elements") }
            if let items = itemSchemas.first {
                for (i, item) in a.enumerated() { try items.validate(item, at: path + [String(i)]) }
            }
        default:
            break
        }
        if !oneOfSchemas.isEmpty {
            let passing = oneOfSchemas.filter { (try? $0.validate(value, at: path)) != nil }.count
            if passing == 0 { throw fail("\(value.pythonRepr) is not valid under any of the given schemas") }
            if passing > 1 { throw fail("\(value.pythonRepr) is valid under each of the given schemas") }
        }
    }

    private func validateObject(_ o: JSONObject, _ value: JSONValue, at path: [String]) throws(SchemaViolation) {
        for (name, schema) in properties {
            if let v = o[name] {
                try schema.validate(v, at: path + [name])
            }
        }
        if !patternProperties.isEmpty {
            for (name, v) in o.sortedMembers {
                for (pattern, schema) in patternProperties where pattern.matches(name) { try schema.validate(v, at: path + [name]) }
            }
        }
        for name in required where !o.keys.containsBytes(name) {
            throw SchemaViolation(path: path, message: "\(JSONValue.string(name).pythonRepr) is a required property", instance: value, missingProperty: name)
        }
        if let (field, equals, names) = requiredWhen, o[field]?.sameJSON(as: .string(equals)) == true {
            for name in names where !o.keys.containsBytes(name) {
                throw SchemaViolation(path: path, message: "\(JSONValue.string(name).pythonRepr) is a required property", instance: value, missingProperty: name)
            }
        }
        if !additionalProperties {
            let extra = o.keys.filter { name in !declares(name) && !patternProperties.contains { $0.pattern.matches(name) } }.sortedByBytes()
            if !extra.isEmpty {
                let list = extra.map { JSONValue.string($0).pythonRepr }.joined(separator: ", ")
                throw SchemaViolation(path: path, message: "Additional properties are not allowed (\(list) \(extra.count == 1 ? "was" : "were") unexpected)", instance: value)
            }
        }
        if let minProperties, o.count < minProperties { throw SchemaViolation(path: path, message: "\(value.pythonRepr) does not have enough properties", instance: value) }
        if let maxProperties, o.count > maxProperties { throw SchemaViolation(path: path, message: "\(value.pythonRepr) has too many properties", instance: value) }
        if let names = exactlyOneOf {
            let present = names.filter { o.keys.containsBytes($0) }.count
            if present == 0 { throw SchemaViolation(path: path, message: "\(value.pythonRepr) is not valid under any of the given schemas", instance: value) }
            if present > 1 {
                throw SchemaViolation(path: path, message: "\(value.pythonRepr) is valid under each of \(names.map { "{'required': ['\($0)']}" }.joined(separator: ", "))", instance: value)
            }
        }
    }

    public static func isInstance(_ v: JSONValue, of kind: Kind) -> Bool {
        switch (kind, v) {
        case (.string, .string), (.boolean, .bool), (.object, .object), (.array, .array), (.null, .null), (.integer, .int), (.number, .int), (.number, .double): true
        // jsonschema counts 1.0 as an integer.
        case (.integer, .double(let d)): d.isFinite && d == d.rounded()
        default: false
        }
    }

    /// jsonschema's `uniqueItems`: Python equality, so strings by code points and 1 == 1.0 == True.
    public static func hasDuplicates(_ a: [JSONValue]) -> Bool {
        for i in a.indices { for j in a.indices where j > i && a[i].sameJSON(as: a[j]) { return true } }
        return false
    }
}

extension JSONValue {
    /// Equality as jsonschema's `enum` and `uniqueItems` compare decoded JSON: strings by code
    /// points (bytes), numbers by value (`1 == 1.0`), booleans apart from numbers.
    public func sameJSON(as other: JSONValue) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.string(a), .string(b)): return a.sameBytes(as: b)
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.int(a), .double(b)), let (.double(b), .int(a)): return Double(a) == b
        case let (.array(a), .array(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.sameJSON(as: $1) }
        case let (.object(a), .object(b)):
            return a.count == b.count && a.allSatisfy { k, v in b.first { $0.key.sameBytes(as: k) }.map { v.sameJSON(as: $0.value) } ?? false }
        default: return false
        }
    }

    /// The value as Python's `str()` writes it (a string bare, everything else as `repr`): what
    /// Nova's and Cinder's messages interpolate.
    public var pythonStr: String {
        if case .string(let s) = self { return s }
        return pythonRepr
    }

    /// The value as Python's `repr()` shows it, cut short past 200 characters (messages echo it).
    public var pythonRepr: String {
        let full = pythonReprFull
        guard full.unicodeScalars.count > 200 else { return full }
        return String(String.UnicodeScalarView(full.unicodeScalars.prefix(200))) + "..."
    }

    private var pythonReprFull: String {
        switch self {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e16 ? String(format: "%.1f", d) : String(d)
        case .string(let s): return Self.pythonStringRepr(s)
        case .array(let a): return "[" + a.map(\.pythonReprFull).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.keys.sortedByBytes().map { Self.pythonStringRepr($0) + ": " + o[$0]!.pythonReprFull }.joined(separator: ", ") + "}"
        }
    }

    public static func pythonStringRepr(_ s: String) -> String {
        let quote: Character = s.containsByte("'") && !s.containsByte("\"") ? "\"" : "'"
        var out = String(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where Character(u) == quote: out += "\\" + String(quote)
            case _ where !isPrintable(u):
                out += u.value <= 0xFF ? "\\x" + hex(u.value, 2) : u.value <= 0xFFFF ? "\\u" + hex(u.value, 4) : "\\U" + hex(u.value, 8)
            default: out.unicodeScalars.append(u)
            }
        }
        out.append(quote)
        return out
    }

    /// Python's `str.isprintable()` for one character: not a control, format, surrogate,
    /// private-use or unassigned code point, nor a separator other than the ASCII space.
    private static func isPrintable(_ u: Unicode.Scalar) -> Bool {
        if u == " " { return true }
        switch u.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator: return false
        default: return true
        }
    }

    private static func hex(_ v: UInt32, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
