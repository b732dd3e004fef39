import NimbusStore

/// Keystone's schema, reduced to what the API needs. Domains live in `projects` with
/// `is_domain = true`, as in Keystone, so a domain is also a project acting as a domain.
public enum IdentityMigrations {
    public static let all: [Migration] = [
        Migration(service: "identity", version: 1, name: "initial schema") { engine in
            let serial = engine == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
            return [
                """
                CREATE TABLE identity_projects (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT, parent_id TEXT, is_domain BOOLEAN NOT NULL,
                    enabled BOOLEAN NOT NULL, description TEXT NOT NULL DEFAULT '', extra TEXT NOT NULL DEFAULT '{}',
                    options TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL)
                """,
                "CREATE UNIQUE INDEX identity_projects_name ON identity_projects (domain_id, name, is_domain)",
                "CREATE TABLE identity_project_tags (project_id TEXT NOT NULL REFERENCES identity_projects(id) ON DELETE CASCADE, tag TEXT NOT NULL, PRIMARY KEY (project_id, tag))",
                """
                CREATE TABLE identity_users (
                    id TEXT PRIMARY KEY, domain_id TEXT NOT NULL, name TEXT NOT NULL, enabled BOOLEAN NOT NULL,
                    default_project_id TEXT, password_hash TEXT, password_created_at TEXT, password_expires_at TEXT,
                    extra TEXT NOT NULL DEFAULT '{}', options TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL,
                    last_active_at TEXT)
                """,
                "CREATE UNIQUE INDEX identity_users_name ON identity_users (domain_id, name)",
                """
                CREATE TABLE identity_groups (
                    id TEXT PRIMARY KEY, domain_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
                    extra TEXT NOT NULL DEFAULT '{}')
                """,
                "CREATE UNIQUE INDEX identity_groups_name ON identity_groups (domain_id, name)",
                """
                CREATE TABLE identity_memberships (
                    user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
                    group_id TEXT NOT NULL REFERENCES identity_groups(id) ON DELETE CASCADE, PRIMARY KEY (user_id, group_id))
                """,
                """
                CREATE TABLE identity_roles (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
                    options TEXT NOT NULL DEFAULT '{}', extra TEXT NOT NULL DEFAULT '{}')
                """,
                "CREATE UNIQUE INDEX identity_roles_name ON identity_roles (domain_id, name)",
                """
                CREATE TABLE identity_implied_roles (
                    prior_role_id TEXT NOT NULL REFERENCES identity_roles(id) ON DELETE CASCADE,
                    implied_role_id TEXT NOT NULL REFERENCES identity_roles(id) ON DELETE CASCADE,
                    PRIMARY KEY (prior_role_id, implied_role_id))
                """,
                """
                CREATE TABLE identity_assignments (
                    actor_type TEXT NOT NULL, actor_id TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL,
                    role_id TEXT NOT NULL REFERENCES identity_roles(id) ON DELETE CASCADE, inherited BOOLEAN NOT NULL,
                    PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited))
                """,
                "CREATE INDEX identity_assignments_target ON identity_assignments (target_type, target_id)",
                """
                CREATE TABLE identity_regions (
                    id TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '', parent_region_id TEXT, extra TEXT NOT NULL DEFAULT '{}')
                """,
                "CREATE TABLE identity_services (id TEXT PRIMARY KEY, type TEXT NOT NULL, enabled BOOLEAN NOT NULL, extra TEXT NOT NULL DEFAULT '{}')",
                """
                CREATE TABLE identity_endpoints (
                    id TEXT PRIMARY KEY, service_id TEXT NOT NULL REFERENCES identity_services(id) ON DELETE CASCADE,
                    interface TEXT NOT NULL, url TEXT NOT NULL, region_id TEXT, enabled BOOLEAN NOT NULL, extra TEXT NOT NULL DEFAULT '{}')
                """,
                """
                CREATE TABLE identity_app_credentials (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
                    project_id TEXT, system TEXT, secret_hash TEXT NOT NULL, description TEXT, expires_at TEXT,
                    unrestricted BOOLEAN NOT NULL, roles TEXT NOT NULL, access_rules TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL)
                """,
                "CREATE UNIQUE INDEX identity_app_credentials_name ON identity_app_credentials (user_id, name)",
                """
                CREATE TABLE identity_access_rules (
                    id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
                    service TEXT NOT NULL, path TEXT NOT NULL, method TEXT NOT NULL)
                """,
                """
                CREATE TABLE identity_credentials (
                    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, project_id TEXT, type TEXT NOT NULL, blob TEXT NOT NULL,
                    extra TEXT NOT NULL DEFAULT '{}')
                """,
                """
                CREATE TABLE identity_revocations (
                    id \(serial), kind TEXT NOT NULL, value TEXT NOT NULL, issued_before TEXT NOT NULL, revoked_at TEXT NOT NULL)
                """,
            ]
        },
        Migration(service: "identity", version: 2, name: "policy blobs") { _ in
            ["CREATE TABLE identity_policies (id TEXT PRIMARY KEY, type TEXT NOT NULL, blob TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}')"]
        },
        Migration(service: "identity", version: 3, name: "endpoint filter") { _ in
            [
                "CREATE TABLE identity_endpoint_groups (id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', filters TEXT NOT NULL)",
                """
                CREATE TABLE identity_project_endpoint_groups (
                    endpoint_group_id TEXT NOT NULL REFERENCES identity_endpoint_groups(id) ON DELETE CASCADE,
                    project_id TEXT NOT NULL, PRIMARY KEY (endpoint_group_id, project_id))
                """,
                """
                CREATE TABLE identity_project_endpoints (
                    endpoint_id TEXT NOT NULL REFERENCES identity_endpoints(id) ON DELETE CASCADE,
                    project_id TEXT NOT NULL, PRIMARY KEY (endpoint_id, project_id))
                """,
            ]
        },
        Migration(service: "identity", version: 4, name: "trusts") { _ in
            [
                """
                CREATE TABLE identity_trusts (
                    id TEXT PRIMARY KEY, trustor_user_id TEXT NOT NULL, trustee_user_id TEXT NOT NULL, project_id TEXT,
                    impersonation BOOLEAN NOT NULL, roles TEXT NOT NULL, expires_at TEXT, remaining_uses INTEGER,
                    redelegation_count INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)
                """,
            ]
        },
        Migration(service: "identity", version: 5, name: "unified limits") { _ in
            [
                """
                CREATE TABLE identity_registered_limits (
                    id TEXT PRIMARY KEY, service_id TEXT NOT NULL, region_id TEXT NOT NULL DEFAULT '', resource_name TEXT NOT NULL,
                    default_limit BIGINT NOT NULL, description TEXT)
                """,
                "CREATE UNIQUE INDEX identity_registered_limits_key ON identity_registered_limits (service_id, region_id, resource_name)",
                """
                CREATE TABLE identity_limits (
                    id TEXT PRIMARY KEY, project_id TEXT NOT NULL DEFAULT '', domain_id TEXT NOT NULL DEFAULT '', service_id TEXT NOT NULL,
                    region_id TEXT NOT NULL DEFAULT '', resource_name TEXT NOT NULL, resource_limit BIGINT NOT NULL, description TEXT)
                """,
                "CREATE UNIQUE INDEX identity_limits_key ON identity_limits (project_id, domain_id, service_id, region_id, resource_name)",
            ]
        },
        Migration(service: "identity", version: 6, name: "unique domain names") { _ in
            // Domains have a NULL domain_id, which the (domain_id, name, is_domain) index treats as distinct.
            ["CREATE UNIQUE INDEX identity_domains_name ON identity_projects (name) WHERE is_domain"]
        },
        Migration(service: "identity", version: 7, name: "security compliance") { engine in
            let serial = engine == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
            return [
                """
                CREATE TABLE identity_password_history (
                    id \(serial), user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
                    password_hash TEXT NOT NULL, created_at TEXT NOT NULL)
                """,
                "CREATE INDEX identity_password_history_user ON identity_password_history (user_id)",
                """
                CREATE TABLE identity_auth_failures (
                    user_id TEXT PRIMARY KEY REFERENCES identity_users(id) ON DELETE CASCADE,
                    failures INTEGER NOT NULL, last_failure_at TEXT NOT NULL)
                """,
            ]
        },
        Migration(service: "identity", version: 8, name: "shared change counter") { _ in
            [
                "CREATE TABLE identity_generation (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
                "INSERT INTO identity_generation (name, value) VALUES ('identity', 0)",
            ]
        },
        Migration(service: "identity", version: 9, name: "absent descriptions") { _ in
            // Keystone keeps a role's or endpoint group's missing description as NULL and shows
            // null. The columns stay NOT NULL (SQLite cannot relax that without rebuilding tables
            // that others reference); a flag records whether there is a description at all.
            [
                "ALTER TABLE identity_roles ADD COLUMN has_description BOOLEAN NOT NULL DEFAULT TRUE",
                "ALTER TABLE identity_endpoint_groups ADD COLUMN has_description BOOLEAN NOT NULL DEFAULT TRUE",
            ]
        },
        Migration(service: "identity", version: 10, name: "null descriptions of projects and groups") { _ in
            // Keystone defaults a missing description to '' but keeps an explicit null as NULL
            // (projects, domains, groups): the same flag as for roles.
            [
                "ALTER TABLE identity_projects ADD COLUMN has_description BOOLEAN NOT NULL DEFAULT TRUE",
                "ALTER TABLE identity_groups ADD COLUMN has_description BOOLEAN NOT NULL DEFAULT TRUE",
            ]
        },
        Migration(service: "identity", version: 11, name: "domain configuration") { _ in
            // Keystone keeps whitelisted and sensitive options in two tables; one table with a
            // flag serves the same reads. The configuration goes with its domain.
            [
                """
                CREATE TABLE identity_domain_configs (
                    domain_id TEXT NOT NULL REFERENCES identity_projects(id) ON DELETE CASCADE,
                    group_name TEXT NOT NULL, option_name TEXT NOT NULL, value TEXT NOT NULL, sensitive BOOLEAN NOT NULL,
                    PRIMARY KEY (domain_id, group_name, option_name))
                """,
            ]
        },
        Migration(service: "identity", version: 12, name: "OS-OAUTH1") { _ in
            // Secrets are kept as Keystone keeps them: HMAC-SHA1 signing needs the secret itself.
            [
                "CREATE TABLE identity_oauth_consumers (id TEXT PRIMARY KEY, description TEXT, secret TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}')",
                """
                CREATE TABLE identity_oauth_request_tokens (
                    id TEXT PRIMARY KEY, secret TEXT NOT NULL, verifier TEXT, authorizing_user_id TEXT, requested_project_id TEXT NOT NULL,
                    role_ids TEXT, consumer_id TEXT NOT NULL REFERENCES identity_oauth_consumers(id) ON DELETE CASCADE, expires_at TEXT)
                """,
                """
                CREATE TABLE identity_oauth_access_tokens (
                    id TEXT PRIMARY KEY, secret TEXT NOT NULL,
                    authorizing_user_id TEXT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE, project_id TEXT NOT NULL,
                    role_ids TEXT NOT NULL, consumer_id TEXT NOT NULL REFERENCES identity_oauth_consumers(id) ON DELETE CASCADE, expires_at TEXT)
                """,
                "CREATE INDEX identity_oauth_access_tokens_user ON identity_oauth_access_tokens (authorizing_user_id)",
            ]
        },
        Migration(service: "identity", version: 13, name: "OS-OAUTH1 nonces") { _ in
            // Nonces spent by signed OAuth requests, shared by every controller of the database
            // (a key is the SHA-256 of consumer, token, timestamp and nonce), kept past the
            // timestamp window.
            [
                "CREATE TABLE identity_oauth_nonces (nonce_key TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
                "CREATE INDEX identity_oauth_nonces_expiry ON identity_oauth_nonces (expires_at)",
            ]
        },
    ]
}
