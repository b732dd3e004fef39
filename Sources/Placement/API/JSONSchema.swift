import Foundation
import NimbusCore

/// The subset of JSON Schema Placement's request schemas use (`placement/schemas/*.py`), with
/// python-jsonschema's messages, so a bad body gets Placement's own 400 text
/// ("JSON does not validate: 'total' is a required property").
final class JSONSchema: Sendable {
    let types: [String]?
    let properties: [(String, JSONSchema)]
    let patternProperties: [(String, @Sendable (String) -> Bool, JSONSchema)]
    let additionalProperties: Bool
    let required: [String]
    let minProperties: Int?
    let items: JSONSchema?
    let minItems: Int?
    let maxItems: Int?
    let uniqueItems: Bool
    let minimum: Double?
    let maximum: Double?
    let minLength: Int?
    let maxLength: Int?
    let pattern: (String, @Sendable (String) -> Bool)?
    let format: String?
    let enumValues: [JSONValue]?

    init(type: [String]? = nil, properties: [(String, JSONSchema)] = [], patternProperties: [(String, @Sendable (String) -> Bool, JSONSchema)] = [],
         additionalProperties: Bool = true, required: [String] = [], minProperties: Int? = nil, items: JSONSchema? = nil,
         minItems: Int? = nil, maxItems: Int? = nil, uniqueItems: Bool = false, minimum: Double? = nil, maximum: Double? = nil,
         minLength: Int? = nil, maxLength: Int? = nil, pattern: (String, @Sendable (String) -> Bool)? = nil, format: String? = nil,
         enumValues: [JSONValue]? = nil) {
        self.types = type; self.properties = properties; self.patternProperties = patternProperties
        self.additionalProperties = additionalProperties; self.required = required; self.minProperties = minProperties
        self.items = items; self.minItems = minItems; self.maxItems = maxItems; self.uniqueItems = uniqueItems
        self.minimum = minimum; self.maximum = maximum; self.minLength = minLength; self.maxLength = maxLength
        self.pattern = pattern; self.format = format; self.enumValues = enumValues
    }

    /// A copy with some fields changed (Placement's schemas are `copy.deepcopy` + edits).
    func with(properties extra: [(String, JSONSchema)] = [], removing: Set<String> = [], required newRequired: [String]? = nil,
              minProperties newMin: Int?? = nil, patternProperties newPatterns: [(String, @Sendable (String) -> Bool, JSONSchema)]? = nil) -> JSONSchema {
        var props = properties.filter { !removing.contains($0.0) }
        for (k, v) in extra {
            if let i = props.firstIndex(where: { $0.0 == k }) { props[i] = (k, v) } else { props.append((k, v)) }
        }
        return JSONSchema(type: types, properties: props, patternProperties: newPatterns ?? patternProperties,
                          additionalProperties: additionalProperties, required: newRequired ?? required,
                          minProperties: newMin ?? minProperties, items: items, minItems: minItems, maxItems: maxItems,
                          uniqueItems: uniqueItems, minimum: minimum, maximum: maximum, minLength: minLength, maxLength: maxLength,
                          pattern: pattern, format: format, enumValues: enumValues)
    }

    /// The first of the shallowest errors (python-jsonschema's `best_match`), or nil.
    func firstError(_ value: JSONValue) -> String? {
        var errors = [(depth: Int, message: String)]()
        collect(value, depth: 0, into: &errors)
        guard let best = errors.min(by: { $0.depth < $1.depth }) else { return nil }
        return best.message
    }

    func collect(_ v: JSONValue, depth: Int, into errors: inout [(depth: Int, message: String)]) {
        if errors.count > 64 { return }
        if let types, !types.contains(where: { Self.matches(v, $0) }) {
            let names = types.map { "'\($0)'" }.joined(separator: ", ")
            errors.append((depth, "\(v.pythonRepr) is not of type \(names)"))
        }
        if let enumValues, !enumValues.contains(v) {
            errors.append((depth, "\(v.pythonRepr) is not one of [\(enumValues.map(\.pythonRepr).joined(separator: ", "))]"))
        }
        switch v {
        case .object(let o): collectObject(o, depth: depth, into: &errors)
        case .array(let a):
            if let minItems, a.count < minItems { errors.append((depth, "\(v.pythonRepr) is too short")) }
            if let maxItems, a.count > maxItems { errors.append((depth, "\(v.pythonRepr) is too long")) }
            if uniqueItems {
                for i in a.indices where a[..<i].contains(a[i]) { errors.append((depth, "\(v.pythonRepr) has non-unique elements")); break }
            }
            if let items { for x in a { items.collect(x, depth: depth + 1, into: &errors) } }
        case .string(let s):
            // PostgreSQL cannot store NUL in text; refuse it up front on every engine.
            if s.utf8.contains(0) { errors.append((depth, "\(v.pythonRepr) contains a NUL character")) }
            if let minLength, s.scalarCount < minLength { errors.append((depth, "\(v.pythonRepr) is too short")) }
            if let maxLength, s.scalarCount > maxLength { errors.append((depth, "\(v.pythonRepr) is too long")) }
            if let (text, test) = pattern, !test(s) { errors.append((depth, "\(v.pythonRepr) does not match '\(text)'")) }
            if format == "uuid", !PlacementAPI.isUUIDLike(s) { errors.append((depth, "\(v.pythonRepr) is not a 'uuid'")) }
        case .int, .double:
            let d: Double = if case .int(let i) = v { Double(i) } else if case .double(let x) = v { x } else { 0 }
            if let minimum, d < minimum { errors.append((depth, "\(v.pythonRepr) is less than the minimum of \(Self.number(minimum))")) }
            if let maximum, d > maximum { errors.append((depth, "\(v.pythonRepr) is greater than the maximum of \(Self.number(maximum))")) }
        default: break
        }
    }

    func collectObject(_ o: JSONObject, depth: Int, into errors: inout [(depth: Int, message: String)]) {
        for (key, schema) in properties { if let x = o[key] { schema.collect(x, depth: depth + 1, into: &errors) } }
        var extras = [String]()
        for (key, x) in o.sortedMembers {
            if properties.contains(where: { $0.0.sameBytes(as: key) }) { continue }
            var matched = false
            for (_, test, schema) in patternProperties where test(key) {
                matched = true
                schema.collect(x, depth: depth + 1, into: &errors)
            }
            if !matched { extras.append(key) }
        }
        if !additionalProperties && !extras.isEmpty {
            if patternProperties.isEmpty {
                let list = extras.map { JSONValue.string($0).pythonRepr }.joined(separator: ", ")
                errors.append((depth, "Additional properties are not allowed (\(list) \(extras.count == 1 ? "was" : "were") unexpected)"))
            } else {
                let list = extras.map { JSONValue.string($0).pythonRepr }.joined(separator: ", ")
                let patterns = patternProperties.map { "'\($0.0)'" }.sorted().joined(separator: ", ")
                errors.append((depth, "\(list) \(extras.count == 1 ? "does" : "do") not match any of the regexes: \(patterns)"))
            }
        }
        for key in required where o[key] == nil { errors.append((depth, "'\(key)' is a required property")) }
        if let minProperties, o.count < minProperties { errors.append((depth, "\(JSONValue.object(o).pythonRepr) does not have enough properties")) }
    }

    static func number(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }

    static func matches(_ v: JSONValue, _ type: String) -> Bool {
        switch (type, v) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("integer", .int): true
        // Integral doubles too (1.0), as long as they fit the 64-bit integers handlers read:
        // a larger number is refused here rather than trapping later.
        case ("integer", .double): v.intValue != nil
        case ("number", .int), ("number", .double): true
        default: false
        }
    }
}

extension JSONValue {
    /// How Python prints the decoded value (jsonschema puts `repr(instance)` in its messages).
    var pythonRepr: String {
        switch self {
        case .null: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .double(let d): d == d.rounded() && abs(d) < 1e16 ? String(format: "%.1f", d) : String(d)
        case .string(let s): s.containsByte("'") && !s.containsByte("\"") ? "\"\(s)\"" : "'\(s.replacingBytes("'", with: "\\'"))'"
        case .array(let a): "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .object(let o): "{" + o.sortedMembers.map { "\(JSONValue.string($0.key).pythonRepr): \($0.value.pythonRepr)" }.joined(separator: ", ") + "}"
        }
    }
}
