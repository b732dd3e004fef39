import NimbusStore

/// The tables of compute migration 2: quota overrides (per project, per project and user, per
/// quota class), the integer ids Nova shows for services and hypervisors before 2.53, host
/// aggregates, server groups and their members, and `compute_migrations` (Nova's `migrations`
/// fields, for resize and migrate to record into). Integer ids are autoincrementing and never
/// reused, as Nova's MySQL ids.
enum ComputeResourceTables {
    static func statements(_ engine: DatabaseEngine) -> [String] {
        let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
        let serial = engine == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
        return [
            """
            CREATE TABLE compute_quotas (
                project_id \(text) NOT NULL, user_id \(text) NOT NULL, resource TEXT NOT NULL, hard_limit BIGINT NOT NULL,
                created_at BIGINT NOT NULL, updated_at BIGINT, PRIMARY KEY (project_id, user_id, resource))
            """,
            """
            CREATE TABLE compute_quota_classes (
                class_name \(text) NOT NULL, resource TEXT NOT NULL, hard_limit BIGINT NOT NULL,
                created_at BIGINT NOT NULL, updated_at BIGINT, PRIMARY KEY (class_name, resource))
            """,
            "CREATE TABLE compute_service_ids (id \(serial), service_id TEXT NOT NULL UNIQUE)",
            """
            CREATE TABLE compute_aggregates (
                id \(serial), uuid TEXT NOT NULL UNIQUE, name \(text) NOT NULL UNIQUE, created_at BIGINT NOT NULL, updated_at BIGINT)
            """,
            "CREATE TABLE compute_aggregate_hosts (aggregate_id BIGINT NOT NULL, host \(text) NOT NULL, PRIMARY KEY (aggregate_id, host))",
            "CREATE INDEX compute_aggregate_hosts_host ON compute_aggregate_hosts (host)",
            """
            CREATE TABLE compute_aggregate_metadata (
                aggregate_id BIGINT NOT NULL, meta_key \(text) NOT NULL, meta_value TEXT NOT NULL, PRIMARY KEY (aggregate_id, meta_key))
            """,
            """
            CREATE TABLE compute_server_groups (
                id TEXT PRIMARY KEY, project_id \(text) NOT NULL, user_id \(text) NOT NULL, name \(text) NOT NULL,
                policy TEXT NOT NULL, rules TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT)
            """,
            "CREATE INDEX compute_server_groups_project ON compute_server_groups (project_id, created_at)",
            """
            CREATE TABLE compute_server_group_members (
                group_id TEXT NOT NULL, instance_id TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (group_id, instance_id))
            """,
            "CREATE INDEX compute_server_group_members_instance ON compute_server_group_members (instance_id)",
            """
            CREATE TABLE compute_migrations (
                id \(serial), uuid TEXT NOT NULL UNIQUE, source_compute \(text), dest_compute \(text), source_node \(text),
                dest_node \(text), dest_host TEXT, old_instance_type_id BIGINT, new_instance_type_id BIGINT, instance_uuid TEXT,
                status TEXT, migration_type TEXT NOT NULL, hidden BOOLEAN NOT NULL, memory_total BIGINT, memory_processed BIGINT,
                memory_remaining BIGINT, disk_total BIGINT, disk_processed BIGINT, disk_remaining BIGINT, cross_cell_move BOOLEAN NOT NULL,
                user_id TEXT, project_id TEXT, created_at BIGINT NOT NULL, updated_at BIGINT, deleted_at BIGINT, deleted BOOLEAN NOT NULL)
            """,
            "CREATE INDEX compute_migrations_instance ON compute_migrations (instance_uuid)",
            "CREATE INDEX compute_migrations_created ON compute_migrations (created_at, id)",
        ]
    }
}
