import NimbusStore

/// Placement's schema. Providers, classes, traits and aggregates are keyed by their names and
/// UUIDs (the in-memory state gives them small integers); `placement_state.version` counts
/// committed writes, so a controller can tell when another one changed something.
public enum PlacementMigrations {
    public static let all: [Migration] = [
        Migration(service: "placement", version: 1, name: "providers, inventories, traits, aggregates, consumers, allocations") { _ in
            [
                "CREATE TABLE placement_state (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
                "INSERT INTO placement_state (id, version) VALUES (1, 0)",
                """
                CREATE TABLE placement_providers (
                    uuid TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, generation BIGINT NOT NULL,
                    parent_uuid TEXT, root_uuid TEXT NOT NULL, seq BIGINT NOT NULL,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX placement_providers_root ON placement_providers (root_uuid)",
                """
                CREATE TABLE placement_inventories (
                    provider_uuid TEXT NOT NULL, resource_class TEXT NOT NULL, total BIGINT NOT NULL, reserved BIGINT NOT NULL,
                    min_unit BIGINT NOT NULL, max_unit BIGINT NOT NULL, step_size BIGINT NOT NULL, allocation_ratio DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (provider_uuid, resource_class))
                """,
                "CREATE TABLE placement_resource_classes (name TEXT PRIMARY KEY, created_at BIGINT NOT NULL, updated_at BIGINT)",
                "CREATE TABLE placement_traits (name TEXT PRIMARY KEY, created_at BIGINT NOT NULL)",
                "CREATE TABLE placement_provider_traits (provider_uuid TEXT NOT NULL, trait TEXT NOT NULL, PRIMARY KEY (provider_uuid, trait))",
                """
                CREATE TABLE placement_provider_aggregates (
                    provider_uuid TEXT NOT NULL, aggregate_uuid TEXT NOT NULL, PRIMARY KEY (provider_uuid, aggregate_uuid))
                """,
                """
                CREATE TABLE placement_consumers (
                    uuid TEXT PRIMARY KEY, project_id TEXT NOT NULL, user_id TEXT NOT NULL, consumer_type TEXT,
                    generation BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX placement_consumers_project ON placement_consumers (project_id, user_id)",
                """
                CREATE TABLE placement_allocations (
                    consumer_uuid TEXT NOT NULL, provider_uuid TEXT NOT NULL, resource_class TEXT NOT NULL, used BIGINT NOT NULL,
                    PRIMARY KEY (consumer_uuid, provider_uuid, resource_class))
                """,
                "CREATE INDEX placement_allocations_provider ON placement_allocations (provider_uuid)",
            ]
        },
    ]
}
