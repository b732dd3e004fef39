import NimbusCore

/// Keystone's schemas for the catalog, credentials, delegation, limits and policies.
extension KeystoneSchemas {
    // MARK: catalog/schema.py

    static let regionProperties: Schema = .object([
        "description": description.nullable, "id": regionID, "parent_region_id": regionID,
    ])
    /// Keystone's region create schema misspells `additionalProperties` at the top level, so unknown
    /// top-level keys are accepted there.
    static let regionCreate = body("region", regionProperties.adding(["id": Schema.string(minLength: 0, maxLength: 255).nullable]), closed: false)
    static let regionUpdate = body("region", regionProperties.with { $0.minProperties = 1 })

    static let serviceProperties: Schema = .object([
        "enabled": boolean, "type": .string(minLength: 1, maxLength: 255), "name": .string(minLength: 1, maxLength: 255),
    ])
    static let serviceCreate = body("service", serviceProperties.with { $0.required = ["type"] }, closed: false)
    static let serviceUpdate = body("service", serviceProperties.with { $0.minProperties = 1 }, closed: false)

    static let interface = Schema.oneOf(["admin", "internal", "public"])
    static let endpointProperties: Schema = .object([
        "enabled": boolean, "interface": interface, "region_id": nullableString, "region": nullableString, "service_id": anyString,
        "url": url, "name": anyString, "description": nullableString,
    ])
    static let endpointCreate = body("endpoint", endpointProperties.adding(["id": anyString]).with { $0.required = ["interface", "service_id", "url"] })
    static let endpointUpdate = body("endpoint", endpointProperties.with { $0.minProperties = 1 })

    static let endpointGroupProperties: Schema = .object([
        "description": nullableString,
        "filters": .object(["interface": interface, "service_id": anyString, "region_id": nullableString, "enabled": boolean]),
        "name": name,
    ], additionalProperties: false)
    static let endpointGroupCreate = body("endpoint_group", endpointGroupProperties.with { $0.required = ["name", "filters"] })
    static let endpointGroupUpdate = body("endpoint_group", endpointGroupProperties.with { $0.minProperties = 1 })

    // MARK: credential/schema.py

    static let credentialProperties: Schema = .object([
        "blob": anyString, "project_id": nullableString, "type": anyString, "user_id": anyString,
    ])
    static let credentialCreate = body("credential", credentialProperties.adding(["id": anyString]).with {
        $0.required = ["blob", "type", "user_id"]
        $0.requiredWhen = ("type", "ec2", ["blob", "type", "user_id", "project_id"])
    }, closed: false)
    static let credentialUpdate = body("credential", credentialProperties.with { $0.minProperties = 1 }, closed: false)

    // MARK: policy/schema.py (the older schemas, applied to `body.get('policy', {})`)

    static let policyProperties: Schema = .object(["blob": anyString, "type": .string(maxLength: 255)])
    static let policyCreate = body("policy", policyProperties.with { $0.required = ["blob", "type"] }, required: false, closed: false)
    static let policyUpdate = body("policy", policyProperties.with { $0.minProperties = 1 }, required: false, closed: false)

    // MARK: trust/schema.py

    /// A role named by exactly one of id or name.
    static let roleReference = Schema.object(["id": idString, "name": name], additionalProperties: false, minProperties: 1, maxProperties: 1)

    static let trustCreate = body("trust", .object([
        "trustor_user_id": anyString, "trustee_user_id": anyString, "impersonation": boolean, "project_id": nullableString,
        "remaining_uses": Schema.integer(minimum: 1).nullable, "expires_at": nullableString, "allow_redelegation": Schema.boolean.nullable,
        "redelegation_count": Schema.integer(minimum: 0).nullable, "redelegated_trust_id": nullableString,
        "roles": .array(of: roleReference),
    ], required: ["trustor_user_id", "trustee_user_id", "impersonation"]))

    // MARK: application_credential/schema.py

    static let accessRuleProperties: Schema = .object([
        "path": .string(minLength: 0, maxLength: 225, pattern: .absolutePath), "service": idString,
        "method": .oneOf(["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"]),
    ])
    static let applicationCredentialCreate = body("application_credential", .object([
        "id": anyString, "secret": nullableString, "name": name, "description": nullableString, "expires_at": nullableString,
        "project_id": anyString, "access_rules": .array(of: accessRuleProperties.adding(["id": idString])),
        "unrestricted": Schema.boolean.nullable, "system": nullableString, "roles": .array(of: roleReference),
    ], required: ["name"], additionalProperties: false))

    // MARK: limit/schema.py

    static let limitInteger = Schema.integer(minimum: -1, maximum: 0x7FFF_FFFF)
    static let serviceUUID = Schema.string(format: .uuid)

    static let registeredLimitProperties: Schema = .object([
        "service_id": serviceUUID, "region_id": regionID, "resource_name": name, "default_limit": limitInteger,
        "description": description.nullable,
    ], additionalProperties: false)
    static let registeredLimitsCreate = RequestSchema(
        body: .object(["registered_limits": .array(of: registeredLimitProperties.with { $0.required = ["service_id", "resource_name", "default_limit"] }, minItems: 1)],
                      required: ["registered_limits"], additionalProperties: false),
        entity: nil)
    static let registeredLimitUpdate = body("registered_limit", registeredLimitProperties)

    static let limitsCreate = RequestSchema(
        body: .object(["limits": .array(of: Schema.object([
            "project_id": projectID.nullable, "domain_id": domainID.nullable, "resource_name": name, "region_id": regionID,
            "service_id": serviceUUID, "resource_limit": limitInteger, "description": description.nullable,
        ], required: ["service_id", "resource_name", "resource_limit"], additionalProperties: false).with { $0.exactlyOneOf = ["domain_id", "project_id"] },
        minItems: 1)], required: ["limits"], additionalProperties: false),
        entity: nil)
    static let limitUpdate = body("limit", .object(["resource_limit": limitInteger, "description": description.nullable], additionalProperties: false))
}
