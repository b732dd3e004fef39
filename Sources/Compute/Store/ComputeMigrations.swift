import NimbusStore

/// The compute service's tables. Names sort by bytes on both engines (`COLLATE "C"` on
/// PostgreSQL; SQLite compares bytes). Times are microseconds since the epoch.
public enum ComputeMigrations {
    public static let all: [Migration] = [
        Migration(service: "compute", version: 1, name: "flavors, keypairs, instances, actions, services") { engine in
            let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
            return [
                """
                CREATE TABLE compute_flavors (
                    id \(text) PRIMARY KEY, name \(text) NOT NULL, memory_mb INTEGER NOT NULL, vcpus INTEGER NOT NULL,
                    root_gb INTEGER NOT NULL, ephemeral_gb INTEGER NOT NULL, swap INTEGER NOT NULL, rxtx_factor DOUBLE PRECISION NOT NULL,
                    is_public BOOLEAN NOT NULL, disabled BOOLEAN NOT NULL, description TEXT, extra_specs TEXT NOT NULL,
                    created_at BIGINT NOT NULL, updated_at BIGINT)
                """,
                "CREATE UNIQUE INDEX compute_flavors_name ON compute_flavors (name)",
                "CREATE TABLE compute_flavor_access (flavor_id \(text) NOT NULL, project_id \(text) NOT NULL, PRIMARY KEY (flavor_id, project_id))",
                """
                CREATE TABLE compute_keypairs (
                    user_id \(text) NOT NULL, name \(text) NOT NULL, type TEXT NOT NULL, public_key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (user_id, name))
                """,
                """
                CREATE TABLE compute_instances (
                    id TEXT PRIMARY KEY, project_id \(text) NOT NULL, user_id \(text) NOT NULL, name \(text) NOT NULL,
                    hostname TEXT NOT NULL, description TEXT, image_id TEXT, flavor TEXT NOT NULL, key_name \(text),
                    vm_state TEXT NOT NULL, task_state TEXT, power_state INTEGER NOT NULL,
                    host \(text), node \(text), availability_zone TEXT, locked BOOLEAN NOT NULL, locked_reason TEXT,
                    launched_at BIGINT, terminated_at BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
                    deleted_at BIGINT, deleted BOOLEAN NOT NULL, reservation_id TEXT NOT NULL, launch_index INTEGER NOT NULL,
                    doc TEXT NOT NULL)
                """,
                "CREATE INDEX compute_instances_project ON compute_instances (project_id, deleted, created_at)",
                "CREATE INDEX compute_instances_host ON compute_instances (host, deleted)",
                "CREATE INDEX compute_instances_updated ON compute_instances (updated_at)",
                """
                CREATE TABLE compute_instance_actions (
                    id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, action TEXT NOT NULL, request_id TEXT NOT NULL,
                    project_id TEXT NOT NULL, user_id TEXT NOT NULL, message TEXT, start_time BIGINT NOT NULL,
                    finish_time BIGINT, updated_at BIGINT NOT NULL, events TEXT NOT NULL)
                """,
                "CREATE INDEX compute_instance_actions_instance ON compute_instance_actions (instance_id, start_time)",
                """
                CREATE TABLE compute_services (
                    id TEXT PRIMARY KEY, host \(text) NOT NULL, service_binary TEXT NOT NULL, zone TEXT NOT NULL,
                    disabled BOOLEAN NOT NULL, disabled_reason TEXT, forced_down BOOLEAN NOT NULL,
                    last_seen_at BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT,
                    hypervisor TEXT NOT NULL)
                """,
                "CREATE UNIQUE INDEX compute_services_host ON compute_services (host, service_binary)",
            ]
        },
        Migration(service: "compute", version: 2, name: "quotas, quota classes, service numbers, aggregates, server groups, migrations",
                  statements: ComputeResourceTables.statements),
        Migration(service: "compute", version: 3, name: "console tokens") { engine in
            let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
            return [
                """
                CREATE TABLE compute_console_tokens (
                    token_hash TEXT PRIMARY KEY, instance_id \(text) NOT NULL, console_type TEXT NOT NULL, host \(text) NOT NULL,
                    expires_at BIGINT NOT NULL, created_at BIGINT NOT NULL)
                """,
                "CREATE INDEX compute_console_tokens_instance ON compute_console_tokens (instance_id)",
                "CREATE INDEX compute_console_tokens_expires ON compute_console_tokens (expires_at)",
            ]
        },
        // The conductor looks for instances in one task (block devices being prepared) on every pass.
        Migration(service: "compute", version: 4, name: "instances by task",
                  statements: { _ in ["CREATE INDEX compute_instances_task ON compute_instances (task_state, deleted)"] }),
        // What servers let go of that the block storage service has not done yet (VolumeCleanupRepository).
        Migration(service: "compute", version: 5, name: "volume cleanups") { engine in
            let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
            return ["""
                CREATE TABLE compute_volume_cleanups (
                    volume_id \(text) NOT NULL, attachment_id \(text) NOT NULL, instance_id \(text), project_id \(text) NOT NULL,
                    delete_volume BOOLEAN NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (volume_id, attachment_id))
                """]
        },
    ]
}
