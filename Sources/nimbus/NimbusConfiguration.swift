import ComputeNode
import Foundation
import NimbusCore

/// Every option Nimbus reads, with defaults and one help line each (`nimbus config sample`).
struct NimbusConfiguration {
    static let options: [ConfigOption] = [
        ConfigOption("DEFAULT", "data_dir", default: "./data", "Directory holding the SQLite database, token keys, passwords and clouds.yaml."),
        ConfigOption("DEFAULT", "listen", default: "127.0.0.1:5000", "HOST:PORT of the single HTTP listener serving every API."),
        ConfigOption("DEFAULT", "public_host", default: "", "Host name put in catalog URLs (default: the listen host)."),
        ConfigOption("DEFAULT", "database", default: "", "Database URL: postgresql://user@host:port/db, or empty for SQLite in data_dir."),
        ConfigOption("DEFAULT", "log_level", default: "info", "trace, debug, info, notice, warning, error or critical."),
        ConfigOption("DEFAULT", "region", default: "RegionOne", "Region name used for catalog endpoints."),
        ConfigOption("identity", "token_expiration", default: "3600", "Token lifetime in seconds."),
        ConfigOption("oauth1", "request_token_duration", default: "28800", "Seconds an OS-OAUTH1 request token stays valid for its authorization (0: forever), as Keystone's."),
        ConfigOption("oauth1", "access_token_duration", default: "86400", "Seconds an OS-OAUTH1 access token stays valid (0: forever), as Keystone's."),
        ConfigOption("identity", "allow_expired_window", default: "172800", "Seconds after expiry that ?allow_expired=1 still validates a token."),
        ConfigOption("identity", "password_hash_rounds", default: "60000", "PBKDF2-SHA512 iterations for new password hashes."),
        ConfigOption("identity", "change_poll_interval_ms", default: "1000", "How often to look for identity changes made by other controllers sharing the database."),
        ConfigOption("identity", "policy_file", default: "", "oslo.policy YAML/JSON file overriding Keystone's default rules."),
        ConfigOption("identity", "admin_password", default: "", "Password for the bootstrap admin user (default: generated, stored in data_dir/admin-password)."),
        ConfigOption("identity", "demo_password", default: "", "Password for the bootstrap demo user (default: generated, stored in data_dir/demo-password)."),
        ConfigOption("security_compliance", "lockout_failure_attempts", default: "0", "Failed password attempts before an account locks (0: never)."),
        ConfigOption("security_compliance", "lockout_duration", default: "1800", "Seconds an account stays locked."),
        ConfigOption("security_compliance", "unique_last_password_count", default: "0", "Self-service password changes may not reuse this many recent passwords (0: off)."),
        ConfigOption("security_compliance", "password_expires_days", default: "0", "Days a password stays valid (0: forever)."),
        ConfigOption("security_compliance", "minimum_password_age", default: "0", "Days before a user may change their own password again (0: any time)."),
        ConfigOption("security_compliance", "password_regex", default: "", "Regular expression new passwords must match (empty: any)."),
        ConfigOption("security_compliance", "password_regex_description", default: "", "What password_regex requires, shown to users."),
        ConfigOption("security_compliance", "change_password_upon_first_use", default: "false", "Passwords set by an admin must be changed by the user before use."),
        ConfigOption("object_storage", "part_power", default: "10", "Partition power of a new object ring (2^n partitions); fixed once the ring exists."),
        ConfigOption("object_storage", "replicas", default: "3", "Replicas of each object in a new ring; a PUT succeeds once a majority is on disk."),
        ConfigOption("object_storage", "devices", default: "3", "Local devices (directories under data_dir/object/devices) of a new embedded ring."),
        ConfigOption("object_storage", "replicator_interval", default: "30", "Seconds between replication passes (restore missing replicas, clean up)."),
        ConfigOption("object_storage", "auditor_interval", default: "60", "Seconds between auditor passes over the local devices (checksum every replica)."),
        ConfigOption("object_storage", "expirer_interval", default: "10", "Seconds between passes deleting objects past their X-Delete-At."),
        ConfigOption("object_storage", "audit_bytes_per_second", default: "20971520", "Auditor read rate per device (0: unlimited)."),
        ConfigOption("object_storage", "reclaim_age", default: "300", "Seconds before files the index does not name (failed or deleted writes) are removed (at least 60)."),
        ConfigOption("object_storage", "max_file_size", default: "5368709122", "Largest single object in bytes."),
        ConfigOption("object_storage", "allow_object_versioning", default: "true", "Swift's object versioning (X-Versions-Enabled on containers; /info lists object_versioning). Off: the header and ?versions/?version-id are ignored, as Swift without the middleware ignores them."),
        ConfigOption("object_storage", "container_sync_realms_file", default: "", "Swift's container-sync-realms.conf ([realm] key, key2, cluster_<name> = endpoint URL ending in /v1/); re-read when it changes (mtime_check_interval in [DEFAULT], 300 s). Empty: no realms."),
        ConfigOption("object_storage", "container_sync_current", default: "", "This cluster in the realms file, //REALM/CLUSTER (marked current in /info)."),
        ConfigOption("object_storage", "container_sync_interval", default: "300", "Seconds between container sync passes."),
        ConfigOption("object_storage", "container_sync_container_time", default: "60", "Seconds one pass may spend on one container (Swift's container_time)."),
        ConfigOption("object_storage", "container_sync_allow_full_urls", default: "true", "Accept X-Container-Sync-To full URLs (old style) besides //realm/cluster/account/container."),
        ConfigOption("object_storage", "container_sync_allowed_hosts", default: "127.0.0.1", "Hosts a full-URL X-Container-Sync-To may name (comma-separated; Swift's allowed_sync_hosts)."),
        ConfigOption("image", "disk_formats", default: "ami,ari,aki,vhd,vhdx,vmdk,raw,qcow2,vdi,iso,ploop", "Disk formats images may declare (Glance's [image_format] disk_formats)."),
        ConfigOption("image", "container_formats", default: "ami,ari,aki,bare,ovf,ova,docker,compressed", "Container formats images may declare."),
        ConfigOption("image", "image_size_cap", default: "1099511627776", "Largest image in bytes (413 above it)."),
        ConfigOption("image", "stores", default: "file, object", "The image stores: file (data_dir/image) and/or object (the object store: container glance of the account .glance; images up to [object_storage] max_file_size). Two stores: Glance's multi-store mode (/v2/info/stores, copy-image between them); one: its single-store mode."),
        ConfigOption("image", "default_store", default: "file", "The store uploads and imports go to unless the request names one (one of [image] stores)."),
        ConfigOption("image", "use_keystone_limits", default: "false", "Enforce Keystone unified limits (registered and project limits of the image service): image_size_total and image_stage_total (MiB), image_count_total, image_count_uploading."),
        ConfigOption("image", "task_import_allowed_hosts", default: "", "Hosts the deprecated import task (POST /v2/tasks) may fetch import_from URLs from (http/https, no redirects); empty: such tasks are refused."),
        ConfigOption("image", "policy_file", default: "", "YAML or JSON file of Glance policy rules overriding the defaults."),
        ConfigOption("image", "register_test_image", default: "true", "Register the built test guest image (nimbus-test) as a public image at start."),
        ConfigOption("placement", "policy_file", default: "", "YAML or JSON file of Placement policy rules overriding the defaults."),
        ConfigOption("placement", "max_allocation_candidates", default: "100000", "Most allocation requests one GET /allocation_candidates returns (Placement's option of the same name)."),
        ConfigOption("placement", "max_candidate_combinations", default: "2000000", "Work bound of one candidates query: combinations of request groups and tree providers examined, counted per group."),
        ConfigOption("placement", "change_poll_interval_ms", default: "1000", "How often to look for placement writes made by other controllers sharing the database."),
        ConfigOption("object_storage", "storage_key_file", default: "", "File with the secret shared with `nimbus storage` nodes (default: data_dir/object/storage-key, created on first start)."),
    ] + ComputeAssembly.options + ComputeNodeConfig.options + NetworkAssembly.options + BlockStorageAssembly.options

    static var sample: String { Configuration.sample(options) }

    let values: Configuration

    init(file: String?, overrides: [String: [String: String]]) throws {
        values = try Configuration(options: Self.options, file: file, overrides: overrides)
    }

    var dataDir: String { values.string("DEFAULT", "data_dir") }
    var databaseURL: String? { let v = values.string("DEFAULT", "database"); return v.isEmpty ? nil : v }
    var logLevel: String { values.string("DEFAULT", "log_level") }
    var region: String { values.string("DEFAULT", "region") }

    var listen: (host: String, port: Int) {
        get throws { try Self.hostPort(values.string("DEFAULT", "listen"), what: "listen") }
    }

    /// `[console] listen`: the console proxy's own listener; default the API's host on a port
    /// the system picks (0).
    var consoleListen: (host: String, port: Int) {
        get throws {
            let text = values.string("console", "listen")
            if text.isEmpty { return (try listen.host, 0) }
            return try Self.hostPort(text, what: "[console] listen")
        }
    }

    static func hostPort(_ text: String, what: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw NimbusError.badRequest("\(what) must be HOST:PORT with a port from 1 to 65535, not '\(text)'")
        }
        return (String(text[..<colon]), port)
    }

    var publicHost: String {
        let v = values.string("DEFAULT", "public_host")
        if !v.isEmpty { return v }
        let host = (try? listen.host) ?? "127.0.0.1"
        return host == "0.0.0.0" ? "127.0.0.1" : host
    }
}
