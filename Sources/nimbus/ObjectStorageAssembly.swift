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

    /// Policy 0's ring is `object/ring.json`, policy N's `object/ring-N.json` (Swift's
    /// `object.ring.gz` and `object-N.ring.gz`).
    static func ringPath(dataDir: String, policy: Int = 0) -> String {
        dataDir + (policy == 0 ? "/object/ring.json" : "/object/ring-\(policy).json")
    }

    /// The storage policies of `[storage-policy:N]` sections (Policy-0 alone without any), and
    /// each one's replica count for a ring made at first start.
    static func policies(config: NimbusConfiguration) throws -> (StoragePolicies, replicas: [Int: Int]) {
        do { return try StoragePolicies.parse(sections: config.values.values) } catch {
            throw NimbusError.badRequest("storage policies: \(error.description)")
        }
    }

    /// Policy 0's ring is made on first start with `devices` local directories, one zone each;
    /// another policy's with the same devices (each policy keeps its files in its own directory
    /// of a device) and its `replicas` (default: policy 0's setting).
    static func loadOrCreateRing(config: NimbusConfiguration, policy: Int = 0, replicas: Int? = nil, base: Ring? = nil) throws -> Ring {
        let path = ringPath(dataDir: config.dataDir, policy: policy)
        if FileManager.default.fileExists(atPath: path) { return try Ring.load(path: path) }
        let section = "object_storage"
        let count = max(max(1, config.values.int(section, "replicas")), config.values.int(section, "devices"))
        let r = replicas ?? max(1, config.values.int(section, "replicas"))
        guard r <= count || base != nil else { throw NimbusError.badRequest("storage policy \(policy): \(r) replicas need at least \(r) devices") }
        var ring = Ring(partPower: max(1, min(20, config.values.int(section, "part_power"))), replicas: r)
        if let base {
            // Swift hashes every policy's paths with the cluster's one prefix and suffix.
            ring.hashPrefix = base.hashPrefix
            ring.hashSuffix = base.hashSuffix
            guard r <= base.devices.count else { throw NimbusError.badRequest("storage policy \(policy): \(r) replicas need at least \(r) devices") }
            for d in base.devices { try ring.addDevice(name: d.name, region: d.region, zone: d.zone, weight: d.weight, address: d.address) }
        } else {
            for i in 1...count { try ring.addDevice(name: "d\(i)", zone: i, weight: 100, address: nil) }
        }
        try ring.rebalance()
        try ring.save(path: path)
        return ring
    }

    /// One HTTP client for every storage node this process talks to; never shut down (it lives
    /// as long as the process).
    /// Towards storage nodes, which never redirect: a redirect (an address that is no node)
    /// is not followed, so X-Storage-Key and replicas go only to ring and push-order addresses.
    static let storageClient: HTTPClient = {
        var c = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2), read: .seconds(60)))
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

    static func devices(for ring: Ring, policy: Int = 0, dataDir: String, storageKey: String) throws -> [any ObjectDevice] {
        var nodes = [String: StorageNodeClient]()
        return try ring.devices.map { d in
            if let address = d.address {
                let node = nodes[address] ?? StorageNodeClient(address: address, key: storageKey, client: storageClient)
                nodes[address] = node
                return RemoteDevice(ring: d, policy: policy, node: node)
            }
            return try LocalDevice(ring: d, root: "\(dataDir)/object/devices/\(d.name)", policy: policy, pool: ioPool)
        }
    }

    static func build(config: NimbusConfiguration, database: Database, logger: Logger) throws -> Built {
        let (policies, replicas) = try policies(config: config)
        let key = try storageKey(config: config)
        let ring0 = try loadOrCreateRing(config: config, policy: 0, replicas: replicas[0])
        var rings = [Int: (Ring, [any ObjectDevice])]()
        for p in policies.all {
            let ring = p.index == 0 ? ring0 : try loadOrCreateRing(config: config, policy: p.index, replicas: replicas[p.index], base: ring0)
            rings[p.index] = (ring, try devices(for: ring, policy: p.index, dataDir: config.dataDir, storageKey: key))
        }
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
        let service = ObjectStorageService(index: ObjectIndex(database: database), policies: policies, rings: rings, settings: settings, logger: log)
        for d in rings.values.flatMap(\.1).compactMap({ $0 as? LocalDevice }) where d.policy == 0 {
            let n = d.sweepTemporaryFilesNow(olderThan: 0)
            if n > 0 { log.info("removed \(n) unfinished uploads from \(d.ring.name)/tmp") }
        }
        let watchers = policies.all.map { ($0.index, FileWatcher(path: ringPath(dataDir: config.dataDir, policy: $0.index))) }
        let loops: [any Service] = [
            PeriodicService(name: "object-replicator", interval: settings.replicatorInterval, logger: log) {
                let s = await service.replicate()
                if s.copied + s.removed + s.failures + s.lost > 0 { log.info("replicator: \(s)") }
            },
            auditor(devices: { policies.all.flatMap { service.devices(policy: $0.index) }.compactMap { $0 as? LocalDevice } },
                    bytesPerSecond: settings.auditBytesPerSecond, interval: settings.auditorInterval, logger: log),
            PeriodicService(name: "object-expirer", interval: settings.expirerInterval, logger: log) {
                let n = await service.expire()
                if n > 0 { log.info("expirer: deleted \(n) expired objects") }
            },
            PeriodicService(name: "object-container-sync", interval: settings.containerSync.interval, logger: log) {
                let s = await ContainerSyncDaemon(service: service, client: ObjectStorageAssembly.syncClient, logger: log).runPass()
                if s.puts + s.deletes + s.failures > 0 { log.info("container sync: \(s)") }
            },
            PeriodicService(name: "object-ring-watcher", interval: .seconds(5), logger: log) {
                for (policy, watcher) in watchers {
                    guard let changed = watcher.changed() else { continue }
                    do {
                        let ring = try Ring.load(path: changed)
                        service.replace(ring: ring, devices: try ObjectStorageAssembly.devices(for: ring, policy: policy, dataDir: config.dataDir, storageKey: key),
                                        policy: policy)
                        log.info("object ring of policy \(policy) reloaded: version \(ring.version), \(ring.devices.count) devices")
                    } catch {
                        log.error("object ring at \(changed) not loaded: \(error)")
                    }
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
    /// Redirects are not followed (as Swift's daemon follows none): one would take the object and
    /// its X-Container-Sync-Key off the host `allowed_sync_hosts` or the realm admitted.
    static let syncClient: HTTPClient = {
        let c = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(60)))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }()

    /// Checks every replica on `devices` each `interval`, and removes temporary files of uploads
    /// abandoned over an hour ago (active uploads touch theirs with every write).
    static func auditor(devices current: @escaping @Sendable () -> [LocalDevice], bytesPerSecond: Int, interval: Duration, logger: Logger) -> PeriodicService {
        PeriodicService(name: "object-auditor", interval: interval, logger: logger) {
            let devices = current()
            // `tmp/` is shared by a device's policies: swept once per device.
            for d in devices where d.policy == 0 { _ = try? await d.sweepTemporaryFiles(olderThan: 3600) }
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
