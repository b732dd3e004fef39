import BlockStorage
import ComputeNode
import Foundation
import Identity
import Image
import Logging
import NimbusCore
import NimbusPolicy
import NimbusStore
import ObjectStorage
import ServiceLifecycle
import StorageNode

/// Builds the block storage service (Cinder's API over `VolumeService`) with the storage node
/// of this process: qcow2 files in `<data_dir>/volumes` (`[volume] volumes_dir`).
enum BlockStorageAssembly {
    static let options: [ConfigOption] = [
        ConfigOption("volume", "policy_file", default: "", "YAML or JSON file of Cinder policy rules overriding the defaults."),
        ConfigOption("volume", "volumes_dir", default: "", "Directory of the volume and snapshot files of this storage node (default: <data_dir>/volumes)."),
        ConfigOption("volume", "availability_zone", default: "nova", "The storage availability zone (Cinder's storage_availability_zone)."),
        ConfigOption("volume", "max_volume_size_gb", default: "1024", "The largest volume one request may create or extend to, in GiB."),
        ConfigOption("volume", "change_poll_interval_ms", default: "1000", "Milliseconds between checks for another controller's volume changes."),
        ConfigOption("backup", "enabled", default: "true", "Back up volumes into the object store (cinder-backup); false: no backup service."),
        ConfigOption("backup", "container", default: "volumebackups", "The object-store container of backups that name none (backup_swift_container)."),
        ConfigOption("backup", "object_size", default: "52428800", "The largest object a backup writes, in bytes; a multiple of block_size (backup_swift_object_size)."),
        ConfigOption("backup", "block_size", default: "32768", "The unit an incremental backup compares, in bytes (backup_swift_block_size)."),
        ConfigOption("backup", "max_operations", default: "4", "Backups and restores moving bytes at once; each holds up to two objects (2 × object_size) in memory."),
        ConfigOption("backup", "backup_compression_algorithm", default: "zlib", "Compression of backup objects, as Cinder's: zlib (or gzip), bz2 (or bzip2), none (or off, no); an object is stored compressed only when that makes it smaller."),
    ]

    /// The backup settings of `[backup]`; nil when backups are off.
    static func backupSettings(_ v: Configuration) throws -> BackupSettings? {
        guard v.bool("backup", "enabled") else { return nil }
        var b = BackupSettings()
        let container = v.string("backup", "container")
        guard BackupLocation.validContainer(container) else { throw NimbusError(.badRequest, "[backup] container '\(container)' is not a container name") }
        b.defaultContainer = container
        b.blockSizeBytes = v.int("backup", "block_size")
        b.chunkSizeBytes = v.int("backup", "object_size")
        guard b.blockSizeBytes >= 4096, b.chunkSizeBytes >= b.blockSizeBytes, b.chunkSizeBytes % b.blockSizeBytes == 0, b.chunkSizeBytes <= 1 << 30 else {
            throw NimbusError(.badRequest, "[backup] object_size must be a multiple of block_size (at least 4096 bytes) and at most 1 GiB")
        }
        b.maxOperations = max(1, v.int("backup", "max_operations"))
        let algorithm = v.string("backup", "backup_compression_algorithm")
        guard let compression = BackupCompression(name: algorithm) else {
            throw NimbusError(.badRequest, "[backup] backup_compression_algorithm '\(algorithm)' is not one of zlib, gzip, bz2, bzip2, none, off, no (zstd is not built)")
        }
        b.compression = compression
        return b
    }

    struct Built {
        let api: CinderAPI
        let services: [any Service]
    }

    static func build(config: NimbusConfiguration, database: Database, images: ImageService, objects: ObjectStorageService?, publicURL: String,
                      identityURL: String, identity: IdentityService? = nil, logger: Logger) async throws -> Built {
        let v = config.values
        var log = logger
        log[metadataKey: "service"] = "volume"
        var settings = VolumeSettings()
        settings.availabilityZone = v.string("volume", "availability_zone")
        settings.maxVolumeSizeGB = Int64(max(1, v.int("volume", "max_volume_size_gb")))
        let configuredDir = v.string("volume", "volumes_dir")
        let configuredHost = v.string("compute", "host").trimmingCharacters(in: .whitespaces)
        let host = configuredHost.isEmpty ? ProcessInfo.processInfo.hostName : configuredHost
        // Attached volumes are served by a qemu-storage-daemon whose sockets only root reaches.
        var exportDir: String?
        if geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-storage-daemon") {
            exportDir = NetworkAssembly.runDir(dataDir: config.dataDir, service: "storage")
        } else {
            log.warning("volumes cannot be attached here: exporting them needs root and /usr/bin/qemu-storage-daemon")
        }
        let backend = try FileVolumeBackend(dir: configuredDir.isEmpty ? config.dataDir + "/volumes" : configuredDir, host: "\(host)@file#file",
                                            exportDir: exportDir, logger: log)
        let backups = try backupSettings(v)
        let backupStore: (any BackupObjectStore)? = backups == nil ? nil : objects.map { BackupObjects(objects: $0) }
        if backups != nil && objects == nil { log.warning("no object store runs here: volumes cannot be backed up") }
        let service = try await VolumeService(store: VolumeStore(database: database), backend: backend, images: VolumeImages(images: images),
                                              settings: settings, backupStore: backupStore, backupSettings: backups ?? BackupSettings(), logger: log)
        try await service.ensureDefaultType()
        try await service.recover()
        var overrides = [String: String]()
        let policyFile = v.string("volume", "policy_file")
        if !policyFile.isEmpty { overrides = try PolicyEnforcer.loadOverrides(path: policyFile) }
        let policy = try PolicyEnforcer(defaults: CinderPolicyDefaults.rules, overrides: overrides, scopeTypes: CinderPolicyDefaults.scopeTypes)
        let poll = Duration.milliseconds(max(50, v.int("volume", "change_poll_interval_ms")))
        var projectExists: (@Sendable (String) async throws -> Bool)?
        if let identity {
            projectExists = { @Sendable id in try await identity.project(id) != nil }
        }
        return Built(api: CinderAPI(service: service, policy: policy, publicURL: publicURL, identityURL: identityURL, projectExists: projectExists),
                     services: [LoopService { await service.watchChanges(every: poll) }])
    }
}

/// The block storage service's `VolumeImageClient` over the image service in this process.
struct VolumeImages: VolumeImageClient {
    let images: ImageService

    func image(_ ref: String, caller: AuthContext) async throws -> VolumeImage? {
        let c = ImageCaller(projectID: caller.projectID, isAdmin: caller.hasRole("admin"))
        var found = try? await images.visible(ref, caller: c).0
        if found == nil {
            var listing = try ImageListing(query: [("name", ref)])
            listing.limit = 2
            let named = try await images.list(listing, caller: c).images
            if named.count > 1 { throw NimbusError.conflict("Multiple matches found for '\(ref)', use an ID to be more specific.") }
            found = named.first
        }
        guard let i = found else { return nil }
        return VolumeImage(id: i.id, name: i.name, status: i.status.rawValue, diskFormat: i.diskFormat, containerFormat: i.containerFormat, size: i.size,
                           minDiskGB: i.minDisk, minRamMB: i.minRam, checksum: i.checksum, properties: i.properties)
    }

    func source(_ id: String) async throws -> any ImageSource { try await ComputeImageClient(images: images).source(id) }

    func createImage(_ create: JSONObject, owner: String) async throws -> (id: String, image: JSONObject) {
        let image = try await images.create(create, owner: owner)
        return (image.id, ["id": .string(image.id), "name": JSONValue(image.name), "status": .string(image.status.rawValue)])
    }

    func upload(_ imageID: String, file: String) async throws {
        guard let image = try await images.repository.get(imageID) else { throw NimbusError.notFound("Image \(imageID) could not be found.") }
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value
        _ = try await images.upload(image, body: FileByteChunks(path: file), declaredSize: size)
    }

    func deleteImage(_ id: String) async throws {
        guard let image = try await images.repository.get(id) else { return }
        try await images.delete(image)
    }
}
