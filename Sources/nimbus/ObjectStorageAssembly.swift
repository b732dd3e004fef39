import AsyncHTTPClient
import Foundation
import Logging
import NIOPosix
import NimbusCore
import NimbusStore
import ObjectStorage
import ServiceLifecycle
import Synchronization

/// Builds the object store: the ring (created on first start: `devices` local directories,
/// one zone each), a device for every ring entry, the service, and its background loops.
enum ObjectStorageAssembly {
    struct Built {
        let service: ObjectStorageService
        let loops: [any Service]
    }

    /// Device I/O blocks (fsync), so it gets its own threads, apart from SQLite's and NIO's.
    static let ioPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 64)
        pool.start()
        return pool
    }()

    static func ringPath(dataDir: String) -> String { dataDir + "/object/ring.json" }

    static func loadOrCreateRing(config: NimbusConfiguration) throws -> Ring {
        let path = ringPath(dataDir: config.dataDir)
        if FileManager.default.fileExists(atPath: path) { return try Ring.load(path: path) }
        let section = "object_storage"
        var ring = Ring(partPower: max(1, min(20, config.values.int(section, "part_power"))), replicas: max(1, config.values.int(section, "replicas")))
        let count = max(ring.replicas, config.values.int(section, "devices"))
        for i in 1...count { try ring.addDevice(name: "d\(i)", zone: i, weight: 100, address: nil) }
        try ring.rebalance()
        try ring.save(path: path)
        return ring
    }

    /// One HTTP client for every storage node this process talks to; never shut down (it lives
    /// as long as the process).
    static let storageClient: HTTPClient = {
        var c = HTTPClient.Configuration(timeout: .init(connect: .seconds(2), read: .seconds(60)))
        c.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }()

    /// The secret shared with storage nodes: `storage_key_file`, or data_dir/object/storage-key,
    /// created (mode 0600) the first time.
    static func storageKey(config: NimbusConfiguration) throws -> String {
        try SharedKey.loadOrCreate(configured: config.values.string("object_storage", "storage_key_file"),
                                   defaultPath: config.dataDir + "/object/storage-key", what: "storage key")
    }

    /// The key in `path` (nil if the file cannot be read); keys under 16 characters are refused.
    static func readStorageKey(path: String) throws -> String? { try SharedKey.read(path: path, what: "storage key") }

    static func devices(for ring: Ring, dataDir: String, storageKey: String) throws -> [any ObjectDevice] {
        var nodes = [String: StorageNodeClient]()
        return try ring.devices.map { d in
            if let address = d.address {
                let node = nodes[address] ?? StorageNodeClient(address: address, key: storageKey, client: storageClient)
                nodes[address] = node
                return RemoteDevice(ring: d, node: node)
            }
            return try LocalDevice(ring: d, root: "\(dataDir)/object/devices/\(d.name)", pool: ioPool)
        }
    }

    static func build(config: NimbusConfiguration, database: Database, logger: Logger) throws -> Built {
        let ring = try loadOrCreateRing(config: config)
        let key = try storageKey(config: config)
        let devices = try devices(for: ring, dataDir: config.dataDir, storageKey: key)
        let v = config.values
        let section = "object_storage"
        var settings = ObjectStorageSettings()
        settings.replicatorInterval = .seconds(max(1, v.int(section, "replicator_interval")))
        settings.auditorInterval = .seconds(max(1, v.int(section, "auditor_interval")))
        settings.expirerInterval = .seconds(max(1, v.int(section, "expirer_interval")))
        settings.auditBytesPerSecond = max(0, v.int(section, "audit_bytes_per_second"))
        settings.reclaimAge = TimeInterval(max(60, v.int(section, "reclaim_age")))
        settings.maxFileSize = max(1, v.int(section, "max_file_size"))
        settings.allowObjectVersioning = v.bool(section, "allow_object_versioning")
        settings.containerSync = containerSyncSettings(v)
        let log = { var l = logger; l[metadataKey: "service"] = "object-store"; return l }()
        let service = ObjectStorageService(index: ObjectIndex(database: database), ring: ring, devices: devices, settings: settings, logger: log)
        let local = devices.compactMap { $0 as? LocalDevice }
        for d in local {
            let n = d.sweepTemporaryFilesNow(olderThan: 0)
            if n > 0 { log.info("removed \(n) unfinished uploads from \(d.ring.name)/tmp") }
        }
        let watcher = FileWatcher(path: ringPath(dataDir: config.dataDir))
        let loops: [any Service] = [
            PeriodicService(name: "object-replicator", interval: settings.replicatorInterval, logger: log) {
                let s = await service.replicate()
                if s.copied + s.removed + s.failures + s.lost > 0 { log.info("replicator: \(s)") }
            },
            auditor(devices: local, bytesPerSecond: settings.auditBytesPerSecond, interval: settings.auditorInterval, logger: log),
            PeriodicService(name: "object-expirer", interval: settings.expirerInterval, logger: log) {
                let n = await service.expire()
                if n > 0 { log.info("expirer: deleted \(n) expired objects") }
            },
            PeriodicService(name: "object-container-sync", interval: settings.containerSync.interval, logger: log) {
                let s = await ContainerSyncDaemon(service: service, client: ObjectStorageAssembly.syncClient, logger: log).runPass()
                if s.puts + s.deletes + s.failures > 0 { log.info("container sync: \(s)") }
            },
            PeriodicService(name: "object-ring-watcher", interval: .seconds(5), logger: log) {
                guard let changed = watcher.changed() else { return }
                do {
                    let ring = try Ring.load(path: changed)
                    service.replace(ring: ring, devices: try ObjectStorageAssembly.devices(for: ring, dataDir: config.dataDir, storageKey: key))
                    log.info("object ring reloaded: version \(ring.version), \(ring.devices.count) devices")
                } catch {
                    log.error("object ring at \(changed) not loaded: \(error)")
                }
            },
        ]
        return Built(service: service, loops: loops)
    }
}

extension ObjectStorageAssembly {
    static func containerSyncSettings(_ v: Configuration) -> ContainerSyncSettings {
        let section = "object_storage"
        var sync = ContainerSyncSettings()
        sync.realms = ContainerSyncRealms(path: v.string(section, "container_sync_realms_file"))
        sync.current = ContainerSyncSettings.parseCurrent(v.string(section, "container_sync_current"))
        sync.interval = .seconds(max(1, v.int(section, "container_sync_interval")))
        sync.containerTime = .seconds(max(1, v.int(section, "container_sync_container_time")))
        sync.rules.allowFullURLs = v.bool(section, "container_sync_allow_full_urls")
        sync.rules.allowedSyncHosts = v.string(section, "container_sync_allowed_hosts").splitBytes(",").map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }.filter { !$0.isEmpty }
        return sync
    }

    /// The container sync daemon's client towards other clusters (or this one's public URL).
    static let syncClient: HTTPClient = {
        let c = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(60)))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }()

    /// Checks every replica on `devices` each `interval`, and removes temporary files of uploads
    /// abandoned over an hour ago (active uploads touch theirs with every write).
    static func auditor(devices: [LocalDevice], bytesPerSecond: Int, interval: Duration, logger: Logger) -> PeriodicService {
        PeriodicService(name: "object-auditor", interval: interval, logger: logger) {
            for d in devices { _ = try? await d.sweepTemporaryFiles(olderThan: 3600) }
            let r = await ObjectStorageService.audit(devices: devices, bytesPerSecond: bytesPerSecond, logger: logger)
            logger.debug("auditor: \(r.checked) replicas checked, \(r.quarantined) quarantined")
        }
    }
}

/// Notices when a file's modification time changes.
final class FileWatcher: Sendable {
    let path: String
    private let last: Mutex<Date?>

    init(path: String) {
        self.path = path
        self.last = Mutex(Self.mtime(path))
    }

    static func mtime(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// The path, when its modification time differs from the last call's.
    func changed() -> String? {
        let now = Self.mtime(path)
        return last.withLock { old in
            defer { old = now }
            return now != nil && now != old ? path : nil
        }
    }
}

/// Runs `body` every `interval` until shutdown.
struct PeriodicService: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    let body: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await body()
            }
        }
    }
}
