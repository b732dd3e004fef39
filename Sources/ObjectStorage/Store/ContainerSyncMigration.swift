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
    static let syncedContainer = """
        EXISTS (SELECT 1 FROM object_containers c WHERE c.account = %ROW%.account AND c.name = %ROW%.container
        AND c.metadata LIKE '%"x-container-sync-to"%')
        """

    static func condition(_ row: String) -> String { syncedContainer.replacingOccurrences(of: "%ROW%", with: row) }

    static let logAndSyncPoints = Migration(service: "object_storage", version: 4, name: "container sync") { engine in
        let text = engine == .postgres ? "TEXT COLLATE \"C\"" : "TEXT"
        let seq = engine == .postgres ? "seq BIGSERIAL PRIMARY KEY" : "seq INTEGER PRIMARY KEY AUTOINCREMENT"
        var statements = [
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
