import NimbusCore

/// The groups and options a domain's configuration may hold (Keystone's `DomainConfigManager`
/// lists): only what a domain-specific identity driver reads. Options are explicitly listed so
/// that a new option never becomes domain-settable by accident. Sensitive options are stored but
/// never returned; `defaults` are Keystone's own defaults of the whitelisted options (`[identity]`
/// with the SQL driver, `[ldap]` as keystone/conf/ldap.py declares them).
enum DomainConfigOptions {
    static let identity: [(Name, JSONValue)] = [("driver", "sql"), ("list_limit", .null)]

    static let ldap: [(Name, JSONValue)] = [
        ("url", "ldap://localhost"), ("user", .null), ("suffix", "cn=example,cn=com"), ("query_scope", "one"),
        ("page_size", .int(0)), ("alias_dereferencing", "default"), ("debug_level", .null), ("chase_referrals", .null),
        ("user_tree_dn", .null), ("user_filter", .null), ("user_objectclass", "inetOrgPerson"), ("user_id_attribute", "cn"),
        ("user_name_attribute", "sn"), ("user_mail_attribute", "mail"), ("user_description_attribute", "description"),
        ("user_pass_attribute", "userPassword"), ("user_enabled_attribute", "enabled"), ("user_enabled_invert", .bool(false)),
        ("user_enabled_mask", .int(0)), ("user_enabled_default", "True"), ("user_attribute_ignore", .array(["default_project_id"])),
        ("user_default_project_id_attribute", .null), ("user_enabled_emulation", .bool(false)), ("user_enabled_emulation_dn", .null),
        ("user_enabled_emulation_use_group_config", .bool(false)), ("user_additional_attribute_mapping", .array([])),
        ("group_tree_dn", .null), ("group_filter", .null), ("group_objectclass", "groupOfNames"), ("group_id_attribute", "cn"),
        ("group_name_attribute", "ou"), ("group_members_are_ids", .bool(false)), ("group_member_attribute", "member"),
        ("group_desc_attribute", "description"), ("group_attribute_ignore", .array([])), ("group_additional_attribute_mapping", .array([])),
        ("tls_cacertfile", .null), ("tls_cacertdir", .null), ("use_tls", .bool(false)), ("tls_req_cert", "demand"),
        ("use_pool", .bool(true)), ("pool_size", .int(10)), ("pool_retry_max", .int(3)), ("pool_retry_delay", .double(0.1)),
        ("pool_connection_timeout", .int(-1)), ("pool_connection_lifetime", .int(600)), ("use_auth_pool", .bool(true)),
        ("auth_pool_size", .int(100)), ("auth_pool_connection_lifetime", .int(60)),
    ]

    /// Whitelisted options and their defaults, per group.
    static let whitelisted: [Name: [(Name, JSONValue)]] = ["identity": identity, "ldap": ldap]
    static let sensitive: [Name: Set<Name>] = ["identity": [], "ldap": ["password"]]

    static func isGroup(_ group: Name) -> Bool { whitelisted[group] != nil || sensitive[group] != nil }

    static func isWhitelisted(_ group: Name, _ option: Name) -> Bool {
        whitelisted[group]?.contains { $0.0 == option } ?? false
    }

    static func isSensitive(_ group: Name, _ option: Name) -> Bool { sensitive[group]?.contains(option) ?? false }

    static func isOption(_ group: Name, _ option: Name) -> Bool { isWhitelisted(group, option) || isSensitive(group, option) }
}
