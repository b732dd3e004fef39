import Foundation
import NimbusCore

/// Request schemas of quota sets and classes, aggregates, server groups, services, server
/// metadata and tags (`nova/api/openstack/compute/schemas/*.py`).
extension NovaSchemas {
    /// `validate`, with the InvalidName messages of every name format (Nova raises InvalidName
    /// from its format checkers, whose message replaces jsonschema's).
    static func check(_ body: JSONValue, _ schema: Schema) throws -> JSONValue {
        do { return try validate(body, schema) } catch let e as NimbusError {
            for (format, reason) in NovaText.nameReasons where e.message.hasByteSuffix("is not a '\(format)'") {
                throw NimbusError.badRequest("\(NovaText.invalidNamePrefix) The name must be: \(reason)")
            }
            throw e
        }
    }

    // MARK: quotas

    /// `_common_quota`: an integer or a string of digits, -1 (unlimited) … 0x7FFFFFFF.
    static let quotaValue: Schema = {
        var s = Schema(types: [.integer, .string])
        s.pattern = NovaText.signedInteger
        s.minimum = -1
        s.maximum = 0x7FFF_FFFF
        return s
    }()

    /// The resources a quota set or class may name at this microversion.
    static func settableQuotas(_ v: NovaVersion, classes: Bool) -> [QuotaResource] {
        QuotaResource.allCases.filter { r in
            if QuotaResource.network.contains(r), v.atLeast(classes ? 50 : 36) { return false }
            if QuotaResource.injected.contains(r), v.atLeast(57) { return false }
            return true
        }
    }

    static func quotaSetUpdate(_ v: NovaVersion) -> Schema {
        var set = Schema.object(additionalProperties: false)
        set.properties = settableQuotas(v, classes: false).map { ($0.rawValue, quotaValue) } + [("force", boolean)]
        return .object(["quota_set": set], required: ["quota_set"], additionalProperties: false)
    }

    static func quotaClassUpdate(_ v: NovaVersion) -> Schema {
        var set = Schema.object(additionalProperties: false)
        set.properties = settableQuotas(v, classes: true).map { ($0.rawValue, quotaValue) }
        return .object(["quota_class_set": set], required: ["quota_class_set"], additionalProperties: false)
    }

    /// The limits of a validated quota body (`force` and empty values skipped, as Nova does).
    static func quotaLimits(_ set: JSONObject) throws -> QuotaLimits {
        var out = QuotaLimits()
        for (key, value) in set.sortedMembers {
            guard let r = QuotaResource.named(key) else { continue }
            if case .string(let s) = value, s.isEmpty { continue }
            guard let n = integer(value), n >= -1, n <= 0x7FFF_FFFF else {
                throw NimbusError.badRequest("Invalid input for field/attribute \(key). Value: \(value.pythonStr). \(value.pythonRepr) is outside the range -1 to 2147483647")
            }
            out[r] = n
        }
        return out
    }

    // MARK: aggregates

    static let azName = Schema.string(minLength: 1, maxLength: 255, format: NovaText.azNameFormat)
    static let nameWithSpaces = Schema.string(minLength: 1, maxLength: 255, format: NovaText.nameWithSpacesFormat)
    static let availabilityZone = Schema().with { $0.oneOfSchemas = [azName, Schema(types: [.null])] }

    static let aggregateCreate = Schema.object([
        "aggregate": .object(["name": name, "availability_zone": availabilityZone], required: ["name"], additionalProperties: false),
    ], required: ["aggregate"], additionalProperties: false)

    static let aggregateUpdate = Schema.object([
        // Nova's `anyOf: [{required: [name]}, {required: [availability_zone]}]` is checked by the handler.
        "aggregate": Schema.object(["name": nameWithSpaces, "availability_zone": availabilityZone], additionalProperties: false),
    ], required: ["aggregate"], additionalProperties: false)

    static func aggregateHost(_ action: String) -> Schema {
        .object([action: .object(["host": fqdn], required: ["host"], additionalProperties: false)], required: [action], additionalProperties: false)
    }

    static let aggregateMetadata = Schema.object([
        "set_metadata": .object(["metadata": metadata(valueTypes: [.string, .null])], required: ["metadata"], additionalProperties: false),
    ], required: ["set_metadata"], additionalProperties: false)

    // MARK: server groups

    static func serverGroupCreate(_ v: NovaVersion) -> Schema {
        var policies = v.atLeast(15) ? ["anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity"] : ["anti-affinity", "affinity"]
        var group: Schema
        if v.atLeast(64) {
            policies = ["anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity"]
            let rules = Schema.object(["max_server_per_host": positiveInteger], additionalProperties: false)
            group = .object(["name": name, "policy": .oneOf(policies), "rules": rules], required: ["name", "policy"], additionalProperties: false)
        } else {
            let list = Schema.array(of: .oneOf(policies), minItems: 1, maxItems: 1, uniqueItems: true)
            group = .object(["name": name, "policies": list], required: ["name", "policies"], additionalProperties: false)
        }
        return .object(["server_group": group], required: ["server_group"], additionalProperties: false)
    }

    // MARK: services

    static func serviceAction(_ v: NovaVersion) -> Schema {
        var s = Schema.object(["host": fqdn, "binary": .string(minLength: 1, maxLength: 255), "disabled_reason": .string(minLength: 1, maxLength: 255)],
                              required: ["host", "binary"], additionalProperties: false)
        if v.atLeast(11) { s = s.adding(["forced_down": boolean]) }
        return s
    }

    static let serviceUpdate = Schema.object([
        "status": .oneOf(["enabled", "disabled"]), "disabled_reason": .string(minLength: 1, maxLength: 255), "forced_down": boolean,
    ], additionalProperties: false)

    // MARK: server metadata and tags

    static let metadataBody = Schema.object(["metadata": metadata()], required: ["metadata"], additionalProperties: false)
    static let metaItemBody = Schema.object(["meta": metadata().with { $0.minProperties = 1; $0.maxProperties = 1 }], required: ["meta"],
                                            additionalProperties: false)
    static let tagsBody = Schema.object(["tags": .array(of: tag, maxItems: ComputeService.maxTags)], required: ["tags"], additionalProperties: false)
}

extension NovaText {
    /// The reasons of Nova's name formats (`parameter_types.valid_*_regex`).
    static let nameReasons: [(String, String)] = [
        ("name", "printable characters. Can not start or end with whitespace."),
        ("az_name", "printable characters except :.Can not start or end with whitespace."),
        ("name_with_leading_trailing_spaces", "printable characters with at least one non space character"),
    ]

    /// `valid_az_name_regex`: printable, no `:`, not starting or ending with whitespace.
    static let azNameFormat = Format("az_name") { s in
        let scalars = Array(s.unicodeScalars)
        guard scalars.allSatisfy({ printable($0) && $0 != ":" }) else { return false }
        if let f = scalars.first, !printableNonSpace(f) { return false }
        if let l = scalars.last, !printableNonSpace(l) { return false }
        return true
    }

    /// `valid_name_leading_trailing_spaces_regex`: printable, at least one non-space character.
    static let nameWithSpacesFormat = Format("name_with_leading_trailing_spaces") { s in
        s.unicodeScalars.allSatisfy(printable) && s.unicodeScalars.contains(where: printableNonSpace)
    }
}
