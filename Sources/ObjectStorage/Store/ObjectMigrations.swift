import NimbusStore

/// The object index: what accounts, containers and objects exist, with their metadata. It is the
/// commit point of every write (an object exists once its row commits) and the source of every
/// listing; the replicas on the devices hold the bytes.
public enum ObjectMigrations {
    public static let all: [Migration] = [
        Migration(service: "object_storage", version: 1, name: "object index") { engine in
            // Listings are in UTF-8 byte order, as Swift's; PostgreSQL needs the C collation for that.
            let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
            return [
                "CREATE TABLE object_accounts (account \(text) PRIMARY KEY, put_timestamp TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}')",
                """
                CREATE TABLE object_containers (
                    account \(text) NOT NULL, name \(text) NOT NULL, put_timestamp TEXT NOT NULL,
                    object_count BIGINT NOT NULL DEFAULT 0, bytes_used BIGINT NOT NULL DEFAULT 0,
                    metadata TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (account, name))
                """,
                """
                CREATE TABLE object_objects (
                    account \(text) NOT NULL, container \(text) NOT NULL, name \(text) NOT NULL,
                    timestamp TEXT NOT NULL, meta_timestamp TEXT, size BIGINT NOT NULL, etag TEXT NOT NULL,
                    content_type TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}', delete_at BIGINT,
                    part INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (account, container, name))
                """,
                "CREATE INDEX object_objects_part ON object_objects (part)",
                "CREATE INDEX object_objects_delete_at ON object_objects (delete_at) WHERE delete_at IS NOT NULL",
            ]
        },
        // Object versioning (`X-Versions-Enabled`): a version of `name` is a row keyed by Swift's
        // inverted timestamp (newest first in key order); an object's current row may show one
        // (`version_id`). A container's versions are counted apart from its objects, NULL when it
        // never had versioning (Swift's hidden versions container does not exist then).
        Migration(service: "object_storage", version: 2, name: "object versions") { engine in
            let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
            return [
                "ALTER TABLE object_objects ADD COLUMN version_id TEXT",
                "ALTER TABLE object_containers ADD COLUMN versions_count BIGINT",
                "ALTER TABLE object_containers ADD COLUMN versions_bytes BIGINT NOT NULL DEFAULT 0",
                """
                CREATE TABLE object_versions (
                    account \(text) NOT NULL, container \(text) NOT NULL, name \(text) NOT NULL, version_key \(text) NOT NULL,
                    timestamp TEXT NOT NULL, meta_timestamp TEXT, size BIGINT NOT NULL, etag TEXT NOT NULL,
                    content_type TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}', part INTEGER NOT NULL, hash TEXT NOT NULL,
                    PRIMARY KEY (account, container, name, version_key))
                """,
                "CREATE INDEX object_versions_part ON object_versions (part)",
            ]
        },
        // Storage policies: a container's policy is fixed when it is made; every object and
        // version row keeps the policy whose ring placed its files (the replicator asks for one
        // policy's partition at a time).
        Migration(service: "object_storage", version: 3, name: "storage policies") { _ in
            [
                "ALTER TABLE object_containers ADD COLUMN policy_index INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE object_objects ADD COLUMN policy_index INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE object_versions ADD COLUMN policy_index INTEGER NOT NULL DEFAULT 0",
                "DROP INDEX object_objects_part",
                "CREATE INDEX object_objects_part ON object_objects (policy_index, part)",
                "DROP INDEX object_versions_part",
                "CREATE INDEX object_versions_part ON object_versions (policy_index, part)",
            ]
        },
        ContainerSyncMigration.logAndSyncPoints,
        ContainerSyncMigration.exactSyncedCondition,
    ]
}
