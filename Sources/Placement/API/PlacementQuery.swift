import NimbusCore

/// Placement's query parameter parsers (`placement/util.py`): `resources`, `required`,
/// `member_of`, `in_tree`, with its messages. Values are split on bytes.
enum PlacementQuery {
    static let resourcesForm = "Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024."

    /// `VCPU:2,MEMORY_MB:1024` → [(class, amount)] (a repeated class keeps the last amount).
    static func resources(_ value: String) throws(NimbusError) -> [(String, Int64)] {
        if value.trimmingCharacters(in: .whitespaces).isEmpty { throw .badRequest("\(resourcesForm) Got: empty string.") }
        var out = [(String, Int64)]()
        for item in value.splitBytes(",", omittingEmpty: false) {
            let pieces = item.splitBytes(":", omittingEmpty: false)
            guard pieces.count == 2 else { throw .badRequest("\(resourcesForm) Got: \(item).") }
            let name = String(pieces[0])
            let text = pieces[1].trimmingCharacters(in: .whitespaces)
            guard let amount = Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text) else {
                throw .badRequest("Requested resource \(name) expected positive integer amount. Got: \(pieces[1]).")
            }
            if amount < 1 { throw .badRequest("Requested resource \(name) requires amount >= 1. Got: \(amount).") }
            if let i = out.firstIndex(where: { $0.0.sameBytes(as: name) }) { out[i].1 = amount } else { out.append((name, amount)) }
        }
        return out
    }

    struct Traits {
        var required: [[String]] = []
        var forbidden: [String] = []
    }

    /// All `required<suffix>` values (before 1.39 only the last counts).
    static func traits(_ values: [String], v: Microversion) throws(NimbusError) -> Traits {
        let allowForbidden = v.atLeast(22), allowAny = v.atLeast(39)
        var out = Traits()
        for value in allowAny ? values : Array(values.suffix(1)) {
            if value.hasBytePrefix("in:") {
                guard allowAny else {
                    throw .badRequest("Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported since microversion 1.39. Got: \(value)")
                }
                let any = value.dropFirst(3).splitBytes(",", omittingEmpty: false).map { $0.trimmingCharacters(in: .whitespaces) }
                if any.contains(where: \.isEmpty) {
                    throw .badRequest("Invalid query string parameters: Expected 'required' parameter value of the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: \(value)")
                }
                if any.contains(where: { $0.hasBytePrefix("!") }) {
                    throw .badRequest("Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support forbidden traits. Got: \(value)")
                }
                out.required.append(any)
                continue
            }
            let all = value.splitBytes(",", omittingEmpty: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let forbidden = all.filter { $0.hasBytePrefix("!") }.map { String($0.drop { $0 == "!" }) }
            if all.contains(where: \.isEmpty) || forbidden.contains(where: \.isEmpty) {
                let form = allowForbidden ? "HW_CPU_X86_VMX,!CUSTOM_MAGIC" : "HW_CPU_X86_VMX,CUSTOM_MAGIC"
                throw .badRequest("Invalid query string parameters: Expected 'required' parameter value of the form: \(form). Got an empty trait in: \(value)")
            }
            if !forbidden.isEmpty && !allowForbidden {
                throw .badRequest("Invalid query string parameters: Expected 'required' parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: \(value)")
            }
            out.required += all.filter { !$0.hasBytePrefix("!") }.map { [$0] }
            out.forbidden += forbidden
        }
        return out
    }

    struct Aggregates {
        var required: [[String]] = []
        var forbidden: [String] = []
    }

    static func memberOf(_ values: [String], suffix: String, v: Microversion) throws(NimbusError) -> Aggregates {
        if !v.atLeast(24) && values.count > 1 { throw .badRequest("Multiple member_of\(suffix) parameters are not supported") }
        var out = Aggregates()
        for value in values {
            if value.containsByte(",") && !(value.hasBytePrefix("in:") || value.hasBytePrefix("!in:")) {
                throw .badRequest("Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the valid microversion. Got: \(value)")
            }
            var required = [String](), forbidden = [String]()
            if value.hasBytePrefix("!in:") { forbidden = value.dropFirst(4).splitBytes(",", omittingEmpty: false).map(String.init) }
            else if value.hasBytePrefix("!") { forbidden = [String(value.dropFirst())] }
            else if value.hasBytePrefix("in:") { required = value.dropFirst(3).splitBytes(",", omittingEmpty: false).map(String.init) }
            else { required = [value] }
            for u in required + forbidden where !PlacementAPI.isUUIDLike(u) {
                throw .badRequest("Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: \(u)")
            }
            if !required.isEmpty { out.required.append(required) }
            if !forbidden.isEmpty {
                if !v.atLeast(32) { throw .badRequest("Forbidden member_of\(suffix) parameters are not supported in the specified microversion") }
                out.forbidden += forbidden
            }
        }
        return out
    }

    static func inTree(_ value: String) throws(NimbusError) -> String {
        let t = value.trimmingCharacters(in: .whitespaces)
        guard PlacementAPI.isUUIDLike(t) else {
            throw .badRequest("Invalid query string parameters: Expected 'in_tree' parameter to be a format of uuid. Got: \(value)")
        }
        return t
    }

    /// `validate_query_params` for a flat schema: only `allowed` keys (exact or by pattern).
    static func checkKeys(_ q: QueryString, allowed: Set<String>, patterns: [(String, (String) -> Bool)] = []) throws(NimbusError) {
        if q.items.count > PlacementAPI.maxQueryItems { throw .badRequest("Invalid query string parameters: too many parameters (at most \(PlacementAPI.maxQueryItems)).") }
        var extras = [String]()
        for item in q.items where !allowed.contains(where: { $0.sameBytes(as: item.key) }) && !patterns.contains(where: { $0.1(item.key) }) {
            if !extras.contains(where: { $0.sameBytes(as: item.key) }) { extras.append(item.key) }
        }
        guard !extras.isEmpty else { return }
        let list = extras.sortedByBytes().map { JSONValue.string($0).pythonRepr }.joined(separator: ", ")
        if patterns.isEmpty {
            throw .badRequest("Invalid query string parameters: Additional properties are not allowed (\(list) \(extras.count == 1 ? "was" : "were") unexpected)")
        }
        throw .badRequest("Invalid query string parameters: \(list) \(extras.count == 1 ? "does" : "do") not match any of the regexes: \(patterns.map { "'\($0.0)'" }.joined(separator: ", "))")
    }
}
