import NimbusCore

/// A request body's schema and where its resource sits in it.
struct RequestSchema: Sendable {
    /// The schema of the whole body.
    let body: Schema
    /// The member holding the resource (`"project"` in `{"project": {...}}`); nil for bodies read whole.
    let entity: String?

    /// The entity's own schema.
    var entitySchema: Schema { entity.flatMap { body.property($0) } ?? body }
}

/// Keystone's request schemas (keystone/*/schema.py and keystone/api/validation/parameter_types.py),
/// transcribed. Where Keystone has two generations of a schema (the old `lazy_validate` ones and
/// the newer `request_body_schema` decorators), the one its API applies today is used.
///
/// One deliberate difference: Keystone's newer `boolean` parameter type also admits strings
/// (`"true"`, `"off"`, ...) and null, which then reach a boolean database column; Nimbus keeps
/// the older strict `boolean`, so such values are a 400 here rather than a database error there.
enum KeystoneSchemas {
    // MARK: parameter_types

    static let name = Schema.string(minLength: 1, maxLength: 255, pattern: .notBlank)
    static let idString = Schema.string(minLength: 1, maxLength: 64, pattern: .idString)
    static let domainID = idString
    static let projectID = idString
    static let description = Schema.string(maxLength: 255)
    static let regionID = Schema.string(minLength: 1, maxLength: 255).nullable
    static let boolean = Schema.boolean
    static let nullableString = Schema(types: [.string, .null])
    static let anyString = Schema.string()
    static let url = Schema.string(minLength: 0, maxLength: 225, pattern: .url)

    /// A resource options registry: the listed options, each nullable (null removes it), nothing else.
    static func options(_ names: KeyValuePairs<String, Schema>) -> Schema {
        var s = Schema.object(additionalProperties: false)
        s.properties = names.map { ($0.key, $0.value.nullable) }
        return s
    }

    /// `{"<entity>": <schema>}` with the body's other rules.
    static func body(_ entity: String, _ schema: Schema, required: Bool = true, closed: Bool = true) -> RequestSchema {
        RequestSchema(body: .object([entity: schema], required: required ? [entity] : [], additionalProperties: !closed), entity: entity)
    }

    // MARK: resource/schema.py

    static let resourceName = Schema.string(minLength: 1, maxLength: 64, pattern: .notBlank)
    static let tag = Schema.string(minLength: 1, maxLength: 255, pattern: .tag)
    static let tags = Schema.array(of: tag, maxItems: 80, uniqueItems: true)
    /// PROJECT_OPTIONS_REGISTRY: `immutable`.
    static let projectOptions = options(["immutable": boolean])

    static let projectProperties: Schema = .object([
        "description": anyString.nullable, "domain_id": idString.nullable, "enabled": boolean, "is_domain": boolean,
        "parent_id": idString.nullable, "name": resourceName, "tags": tags, "options": projectOptions,
    ])

    static let projectCreate = body("project", projectProperties.with { $0.required = ["name"] })
    /// Keystone's update schema lists only the updatable fields; `domain_id`, `parent_id` and
    /// `is_domain` pass as unknown keys and are refused by the service when they would change.
    static let projectUpdate = body("project", projectProperties)

    static let domainProperties: Schema = .object([
        "description": description.nullable, "enabled": boolean, "name": resourceName, "options": projectOptions, "tags": tags,
    ])
    static let domainCreate = RequestSchema(
        body: .object(["domain": domainProperties.adding(["explicit_domain_id": domainID]).with { $0.required = ["name"] }], required: ["domain"],
                      additionalProperties: false),
        entity: "domain")
    static let domainUpdate = body("domain", domainProperties.with { $0.minProperties = 1 })

    /// `PUT /v3/projects/{id}/tags`: the body's `tags`, which Keystone requires (it validates
    /// `body.get('tags', {})` as the tag list).
    static let projectTagsUpdate = RequestSchema(body: .object(["tags": tags], required: ["tags"], additionalProperties: false), entity: nil)

    // MARK: identity/schema.py

    static let identityName = name
    /// USER_OPTIONS_REGISTRY.
    static let userOptions = options([
        "ignore_change_password_upon_first_use": boolean, "ignore_password_expiry": boolean, "ignore_lockout_failure_attempts": boolean,
        "lock_password": boolean, "ignore_user_inactivity": boolean,
        "multi_factor_auth_rules": .array(of: .array(of: anyString, minItems: 1, uniqueItems: true), uniqueItems: true),
        "multi_factor_auth_enabled": boolean,
    ])
    static let federated = Schema.array(of: .object([
        "idp_id": anyString,
        "protocols": .array(of: .object(["protocol_id": anyString, "unique_id": anyString], required: ["protocol_id", "unique_id"]), minItems: 1),
    ], required: ["idp_id", "protocols"]))

    static let userProperties: Schema = .object([
        "default_project_id": nullableString, "description": nullableString, "domain_id": domainID, "enabled": boolean,
        "federated": federated, "name": identityName, "password": nullableString, "options": userOptions,
    ])
    static let userCreate = RequestSchema(body: .object(["user": userProperties.with { $0.required = ["name"] }], required: ["user"], additionalProperties: false),
                                          entity: "user")
    static let userUpdate = RequestSchema(body: .object(["user": userProperties.with { $0.minProperties = 1 }], required: ["user"], additionalProperties: false),
                                          entity: "user")
    /// `password_change`, applied to `body.get('user', {})`.
    static let passwordChange = RequestSchema(
        body: .object(["user": .object(["original_password": anyString, "password": anyString], required: ["original_password", "password"],
                                       additionalProperties: false)]),
        entity: "user")

    static let groupCreate = body("group", .object(["domain_id": domainID, "description": nullableString, "name": identityName], required: ["name"]))
    static let groupUpdate = body("group", .object(["description": nullableString, "name": identityName, "domain_id": anyString], minProperties: 1))

    // MARK: assignment/schema.py

    static let roleProperties: Schema = .object([
        "name": name, "description": nullableString, "domain_id": domainID.nullable, "options": options(["immutable": boolean]),
    ])
    static let roleCreate = body("role", roleProperties.with { $0.required = ["name"] })
    static let roleUpdate = body("role", roleProperties.with { $0.minProperties = 1 })
}
