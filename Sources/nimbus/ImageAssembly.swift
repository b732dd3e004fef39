import Foundation
import Identity
import Image
import Logging
import NIOCore
import NIOPosix
import NimbusCore
import NimbusPolicy
import NimbusStore
import ObjectStorage

/// Builds the image service: the file store in data_dir/image, the API, and, when the test
/// guest image has been built (`scripts/build-test-image.sh`), its registration as the public
/// image `nimbus-test`.
enum ImageAssembly {
    /// `objects` and `account` back the `object` store.
    static func build(config: NimbusConfiguration, database: Database, identity: IdentityService, objects: ObjectStorageService, account: String,
                      publicURL: String, identityURL: String, logger: Logger) async throws -> ImageAPI {
        let v = config.values
        var settings = ImageSettings()
        let list = { (key: String) -> [String] in v.string("image", key).splitBytes(",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        settings.formats = ImageFormats(disk: list("disk_formats"), container: list("container_formats"))
        settings.sizeCap = Int64(max(1, v.int("image", "image_size_cap")))
        let root = config.dataDir + "/image"
        let pool = ObjectStorageAssembly.ioPool
        let log = { var l = logger; l[metadataKey: "service"] = "image"; return l }()
        var entries = [ImageStores.Entry]()
        for id in list("stores") {
            switch id {
            case "file":
                entries.append(.init(store: try FileImageStore(root: root + "/images", pool: pool), type: "file",
                                     description: "Files in the data directory of the controller"))
            case "object":
                let s = ObjectImageStore(objects: objects, account: account)
                try await s.prepare()
                entries.append(.init(store: s, type: "swift", description: "The Nimbus object store, replicated"))
            case let other: throw NimbusError.badRequest("[image] stores may list file and object, not '\(other)'")
            }
        }
        let stores = try ImageStores(entries, defaultID: v.string("image", "default_store"))
        let importHosts = list("task_import_allowed_hosts").map { $0.lowercased() }
        let fetcher = importHosts.isEmpty ? nil : AllowListImageFetcher(allowedHosts: importHosts, client: AllowListImageFetcher.sharedClient)
        let service = ImageService(repository: ImageRepository(database: database),
                                   stores: stores,
                                   staging: try FileImageStore(root: root + "/staging", pool: pool),
                                   settings: settings,
                                   limits: v.bool("image", "use_keystone_limits") ? KeystoneImageLimits(identity: identity, region: config.region) : nil,
                                   urlFetcher: fetcher, logger: log)
        let recovered = try await service.recover()
        let metadefs = MetadefService(repository: MetadefRepository(database: database), logger: log)
        let loaded = try await metadefs.loadStandardDefinitions()
        if loaded > 0 { log.info("loaded \(loaded) standard metadata definition namespaces") }
        if recovered > 0 { log.info("recovered \(recovered) images left mid-upload or mid-import by a crash") }
        var overrides = [String: String]()
        let policyFile = v.string("image", "policy_file")
        if !policyFile.isEmpty { overrides = try PolicyEnforcer.loadOverrides(path: policyFile) }
        let policy = try PolicyEnforcer(defaults: GlancePolicyDefaults.rules, overrides: overrides, scopeTypes: GlancePolicyDefaults.scopeTypes)
        return ImageAPI(service: service, policy: policy, publicURL: publicURL, identityURL: identityURL)
    }

    /// Registers the test image (public, owned by `owner`) once, if it is built and no image
    /// named `nimbus-test` exists yet.
    static func registerTestImage(api: ImageAPI, owner: String, logger: Logger) async {
        let cache = ProcessInfo.processInfo.environment["NIMBUS_IMAGE_CACHE"] ?? (NSHomeDirectory() + "/.cache/nimbus/images")
        let path = cache + "/nimbus-test.qcow2"
        guard FileManager.default.fileExists(atPath: path) else {
            logger.info("test image not registered: \(path) does not exist (run scripts/build-test-image.sh)")
            return
        }
        do {
            if try await api.service.repository.all().contains(where: { $0.name == "nimbus-test" }) { return }
            let image = try await api.service.create(["name": "nimbus-test", "disk_format": "qcow2", "container_format": "bare",
                                                      "visibility": "public", "os_distro": "nimbus-test"], owner: owner)
            _ = try await api.service.upload(image, body: FileChunks(path: path), declaredSize: nil)
            logger.info("registered the test image nimbus-test (\(image.id)) from \(path)")
        } catch {
            logger.error("test image not registered: \(error)")
        }
    }
}

/// A file's bytes in 1 MiB chunks (read at startup, off the event loops).
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        mutating func next() async throws -> ByteBuffer? {
            guard let h = handle, let data = try h.read(upToCount: 1 << 20), !data.isEmpty else { return nil }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: FileHandle(forReadingAtPath: path)) }
}

/// Glance's `use_keystone_limits`: limits of the `image` service from Keystone's registered
/// limits, overridden by project limits (oslo.limit's flat model), read in-process.
struct KeystoneImageLimits: ImageLimitSource {
    let identity: IdentityService
    let region: String

    func limits(project: String) async throws -> [String: Int64] {
        guard let service = try await identity.listServices(type: "image", name: nil).first else { return [:] }
        var out = [String: Int64]()
        for r in try await identity.listRegisteredLimits(serviceID: service.id, regionID: nil, resourceName: nil)
        where r.regionID == nil || r.regionID == region {
            out[r.resourceName] = r.defaultLimit
        }
        for l in try await identity.listLimits(serviceID: service.id, regionID: nil, resourceName: nil, projectID: project, domainID: nil)
        where l.regionID == nil || l.regionID == region {
            out[l.resourceName] = l.resourceLimit
        }
        return out
    }
}
