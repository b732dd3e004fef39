import NimbusStore

/// Container sync's state in the index (migration 4).
///
/// * `object_sync_log`: every change of an object row (insert, update, delete) of a container
///   whose metadata has `x-container-sync-to`, written by triggers in the transaction that makes
///   the change, so no write path (PUT, POST, DELETE, expirer, bulk, versioning) can miss it. A
///   delete records the time of the delete (later than the object's last modification), which a
///   DELETE received from a sync peer replaces by its `X-Timestamp`. Swift keeps deleted rows
///   in the container database for the same purpose. Rows are removed once synced.
/// * `object_sync_points`: per container, the `X-Container-Sync-To` the points belong to (a new
///   value starts over, as Swift resets its sync points), the name up to which the objects that
///   existed before the log have been sent (`initial_marker`, the first pass walks them in name
///   order) and the last log row sent (`log_seq`).
///
/// Within one container the log's sequence follows commit order: every object write locks the
/// container's row before its trigger runs (PostgreSQL), and SQLite serializes writes.
enum ContainerSyncMigration {
    /// A container's metadata (compact JSON, see `MetadataJSON`) has the key
    /// `x-container-sync-to`: it follows `{` or `,` and precedes `:`. A bare
    /// `LIKE '%"x-container-sync-to"%'` also matched a *value* spelled so (e.g.
    /// `X-Container-Meta-A: x-container-sync-to`), which logged every write of a container that
    /// does not sync, and kept the log forever (#5 replaces the triggers).
    static let hasSyncTo = """
        (%COL% LIKE '{"x-container-sync-to":%' OR %COL% LIKE '%,"x-container-sync-to":%')
        """

    static func hasSyncTo(_ column: String) -> String { hasSyncTo.replacingOccurrences(of: "%COL%", with: column) }

    static let syncedContainer = """
        EXISTS (SELECT 1 FROM object_containers c WHERE c.account = %ROW%.account AND c.name = %ROW%.container
        AND \(hasSyncTo("c.metadata")))
        """

    static func condition(_ row: String) -> String { syncedContainer.replacingOccurrences(of: "%ROW%", with: row) }

    static let logAndSyncPoints = Migration(service: "object_storage", version: 4, name: "container sync") { engine in
        let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
        let seq = engine == .postgres ? "seq BIGSERIAL PRIMARY KEY" : "seq INTEGER PRIMARY KEY AUTOINCREMENT"
        let statements = [
            """
            CREATE TABLE object_sync_log (\(seq), account \(text) NOT NULL, container \(text) NOT NULL, name \(text) NOT NULL,
                timestamp TEXT NOT NULL, deleted INTEGER NOT NULL)
            """,
            "CREATE INDEX object_sync_log_container ON object_sync_log (account, container, seq)",
            """
            CREATE TABLE object_sync_points (account \(text) NOT NULL, container \(text) NOT NULL, sync_to TEXT NOT NULL,
                initial_marker \(text), log_seq BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (account, container))
            """,
        ]
        return statements + triggers(engine)
    }

    /// #5: the triggers again with the exact test of a synced container (`hasSyncTo`), and
    /// the log rows of containers that do not sync dropped.
    static let exactSyncedCondition = Migration(service: "object_storage", version: 5, name: "container sync log condition") { engine in
        let drop = engine == .postgres
            ? ["DROP TRIGGER IF EXISTS object_sync_log_trigger ON object_objects", "DROP FUNCTION IF EXISTS object_sync_log_row()"]
            : ["DROP TRIGGER IF EXISTS object_sync_log_insert", "DROP TRIGGER IF EXISTS object_sync_log_update", "DROP TRIGGER IF EXISTS object_sync_log_delete"]
        let cleanup = """
            DELETE FROM object_sync_log WHERE NOT EXISTS (SELECT 1 FROM object_containers c
            WHERE c.account = object_sync_log.account AND c.name = object_sync_log.container AND \(hasSyncTo("c.metadata")))
            """
        return drop + triggers(engine) + [cleanup]
    }

    /// The triggers that write `object_sync_log`.
    static func triggers(_ engine: DatabaseEngine) -> [String] {
        var statements = [String]()
        switch engine {
        case .postgres:
            // A delete's time: now, but after the object's last modification whatever the clocks say.
            let deletedAt = """
                to_char(GREATEST(extract(epoch from clock_timestamp())::numeric,
                CAST(COALESCE(OLD.meta_timestamp, OLD.timestamp) AS numeric) + 0.00001), 'FM0000000000.00000')
                """
            statements.append("""
                CREATE FUNCTION object_sync_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' THEN
                        IF \(ContainerSyncMigration.condition("OLD")) THEN
                            INSERT INTO object_sync_log (account, container, name, timestamp, deleted)
                            VALUES (OLD.account, OLD.container, OLD.name, \(deletedAt), 1);
                        END IF;
                        RETURN OLD;
                    END IF;
                    IF \(ContainerSyncMigration.condition("NEW")) THEN
                        INSERT INTO object_sync_log (account, container, name, timestamp, deleted)
                        VALUES (NEW.account, NEW.container, NEW.name, COALESCE(NEW.meta_timestamp, NEW.timestamp), 0);
                    END IF;
                    RETURN NEW;
                END
                $$
                """)
            statements.append("""
                CREATE TRIGGER object_sync_log_trigger AFTER INSERT OR UPDATE OR DELETE ON object_objects
                FOR EACH ROW EXECUTE FUNCTION object_sync_log_row()
                """)
        case .sqlite:
            let deletedAt = """
                printf('%016.5f', MAX((julianday('now') - 2440587.5) * 86400.0, CAST(COALESCE(OLD.meta_timestamp, OLD.timestamp) AS REAL) + 0.00001))
                """
            for op in ["INSERT", "UPDATE"] {
                statements.append("""
                    CREATE TRIGGER object_sync_log_\(op.lowercased()) AFTER \(op) ON object_objects WHEN \(ContainerSyncMigration.condition("NEW"))
                    BEGIN
                        INSERT INTO object_sync_log (account, container, name, timestamp, deleted)
                        VALUES (NEW.account, NEW.container, NEW.name, COALESCE(NEW.meta_timestamp, NEW.timestamp), 0);
                    END
                    """)
            }
            statements.append("""
                CREATE TRIGGER object_sync_log_delete AFTER DELETE ON object_objects WHEN \(ContainerSyncMigration.condition("OLD"))
                BEGIN
                    INSERT INTO object_sync_log (account, container, name, timestamp, deleted)
                    VALUES (OLD.account, OLD.container, OLD.name, \(deletedAt), 1);
                END
                """)
        }
        return statements
    }
}
