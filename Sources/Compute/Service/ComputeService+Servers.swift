import Foundation
import NimbusCore

/// A validated server create request (the API has checked types and shapes).
public struct ServerRequest: Sendable {
    public var name: String
    public var imageID: String?
    public var flavorID: String
    public var keyName: String?
    public var userData: String?
    public var configDrive = false
    public var metadata: [Name: String] = [:]
    public var availabilityZone: String?
    public var minCount = 1
    public var maxCount = 1
    public var description: String?
    public var tags: [String] = []
    public var hostname: String?
    public var accessIPv4: String?
    public var accessIPv6: String?
    /// An admin's choice of host (`availability_zone` `zone:host` or 2.74's `host`), already authorized.
    public var requestedHost: String?
    /// Scheduler hints.
    public var sameHost: [String] = []
    public var differentHost: [String] = []
    public var groupID: String?
    /// `networks`: nil for auto (or absent), [] for none.
    public var networks: [RequestedNIC]?
    public var securityGroups: [String] = []
    /// `block_device_mapping_v2` (or legacy `block_device_mapping`) entries.
    public var blockDevices: [BlockDeviceRequest] = []
    /// The request's microversion allows multiattach volumes (2.60).
    public var multiattachAllowed = true
    public init(name: String, imageID: String?, flavorID: String) { self.name = name; self.imageID = imageID; self.flavorID = flavorID }
}

/// Nova's default quotas (`nova/conf/quota.py`), counted from live instances; -1 is unlimited.
/// `ComputeService.effectiveQuotas(project:user:)` gives a project's (and user's) limits with
/// the overrides of `os-quota-sets` and `os-quota-class-sets` applied.
public struct ComputeQuotas: Sendable {
    public var instances = 10
    public var cores = 20
    public var ramMB = 51200
    public var keyPairs = 100
    public var metadataItems = 128
    public var serverGroups = 10
    public var serverGroupMembers = 10
    public init() {}
}

extension ComputeService {
    /// The availability zone of every compute host unless an aggregate names another.
    public static let defaultZone = "nova"

    /// Creates `maxCount` instances (at least `minCount`, as many as quotas allow), records a
    /// `create` action for each and wakes the scheduler. Answers before any host is chosen.
    public func createServers(_ r: ServerRequest, caller: AuthContext, requestID: String) async throws -> [Instance] {
        guard let project = caller.projectID else { throw NimbusError.forbidden("A project-scoped token is required.") }
        guard let flavor = try await flavors.get(r.flavorID), try await flavors.visible(flavor, to: project) || callerIsAdmin(caller),
              !flavor.disabled else {
            throw NimbusError.badRequest("Flavor \(r.flavorID) could not be found.")
        }
        var image: ImageInfo?
        if let id = r.imageID {
            guard let found = try await images.image(id, caller: caller) else { throw NimbusError.badRequest("Image \(id) could not be found.") }
            image = found
        } else if r.blockDevices.isEmpty {
            throw NimbusError.badRequest("Missing imageRef attribute")
        }
        var request = r
        // Without imageRef, the image of an image-to-volume root (Nova's `get_bdm_image_metadata`):
        // its mappings and its minimum RAM hold as an imageRef's would.
        var rootImage = image
        if image == nil, let root = r.blockDevices.first(where: { $0.source == .image && $0.bootIndex == 0 }), let id = root.uuid {
            rootImage = try await images.image(id, caller: caller)
        }
        if let rootImage, rootImage.minRamMB > flavor.memoryMB { throw NimbusError.badRequest("Flavor's memory is too small for requested image.") }
        if let rootImage, case let defined = Self.imageDefinedBlockDevices(rootImage), !defined.isEmpty {
            // Nova's `_check_and_transform_bdm`: the image's mappings (a volume-backed server's
            // snapshot) come first, and a root among them replaces the request's image root.
            let rootDefined = defined.contains { $0.bootIndex == 0 }
            request.blockDevices = defined + r.blockDevices.filter { !(rootDefined && $0.source == .image && $0.bootIndex == 0) }
        }
        let plan = try await checkBlockDevices(request, flavor: flavor, image: image, caller: caller)
        if let image {
            // A volume-backed root does not live on the flavor's disk (Nova's `_validate_flavor_image` with a volume root).
            if plan.volumeBacked {
                guard image.status == "active" else { throw NimbusError.badRequest("Image \(image.id) is not active.") }
                if image.minRamMB > flavor.memoryMB { throw NimbusError.badRequest("Flavor's memory is too small for requested image.") }
            } else {
                try Self.check(image, fits: flavor)
            }
        }
        var keyData: String?
        if let k = r.keyName {
            guard let pair = try await keypairs.get(user: caller.user.id, name: k) else { throw NimbusError.badRequest("Invalid key_name provided.") }
            keyData = pair.publicKey
        }
        if let az = r.availabilityZone, !(try await hosts.list()).contains(where: { $0.zone.sameBytes(as: az) }) {
            throw NimbusError.badRequest("The requested availability zone is not available")
        }
        if let host = r.requestedHost, !(try await hosts.list()).contains(where: { $0.host.sameBytes(as: host) }) {
            throw NimbusError.badRequest("Compute host \(host) could not be found.")
        }
        let metadataItems = try await effectiveQuotas(project: project, user: caller.user.id).metadataItems
        if metadataItems >= 0, r.metadata.count > metadataItems {
            throw NimbusError.forbidden("Quota exceeded for metadata_items: Requested \(r.metadata.count), but already used 0 of \(metadataItems) metadata_items")
        }
        var join: InstanceRepository.GroupJoin?
        if let groupID = r.groupID {
            // Nova looks the group up in the caller's project: another project's is not found.
            guard let g = try await serverGroups.group(groupID), g.projectID.sameBytes(as: project) else {
                throw NimbusError.badRequest("Instance group \(groupID) could not be found.")
            }
            join = .init(groupID: g.id, user: caller.user.id,
                         limit: try await userQuotas(project: project, user: caller.user.id)[.serverGroupMembers] ?? -1)
        }
        let count = try await allowedCount(r, flavor: flavor, project: project)
        var nics = [RequestedNIC]()
        if let network {
            nics = try await network.resolve(r.networks, project: project, caller: caller)
            if count > 1, nics.contains(where: { $0.portID != nil }) {
                throw NimbusError.badRequest("Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.")
            }
        } else if let requested = r.networks, !requested.isEmpty {
            throw NimbusError.badRequest("Networks are not available: this cloud has no network service.")
        }
        let reservation = "r-" + String(Identifiers.hex32().prefix(8))
        let now = Date()
        var made = [Instance]()
        for index in 0..<count {
            let name = r.maxCount > 1 ? "\(r.name)-\(index + 1)" : r.name
            var i = Instance(id: Identifiers.uuid(), projectID: project, userID: caller.user.id, name: name, flavor: flavor, now: now)
            i.hostname = r.hostname ?? Instance.hostname(from: name, fallback: "server-\(i.id)")
            // The request's image stays the server's (Nova's `image_ref`), even when the root is a volume.
            i.imageID = image?.id
            if plan.volumeBacked, image == nil || !plan.rootImageMeta.isEmpty {
                i.imageMeta = plan.rootImageMeta
            } else if let image {
                i.imageMeta = Self.systemMetadata(image, flavor: flavor)
            }
            i.keyName = r.keyName
            i.keyData = keyData
            i.userData = r.userData
            i.configDrive = r.configDrive
            i.metadata = r.metadata
            i.description = r.description
            i.tags = r.tags
            i.availabilityZone = r.availabilityZone
            i.requestedZone = r.availabilityZone
            i.requestedHost = r.requestedHost
            i.sameHost = r.sameHost
            i.differentHost = r.differentHost
            i.groupID = r.groupID
            i.accessIPv4 = r.accessIPv4
            i.accessIPv6 = r.accessIPv6
            i.reservationID = reservation
            i.launchIndex = index
            made.append(i)
        }
        if let network, !nics.isEmpty {
            for index in made.indices {
                made[index].createdPorts = try await network.allocate(instance: made[index].id, project: project, zone: r.availabilityZone,
                                                                       nics, securityGroups: r.securityGroups, caller: caller)
                made[index].interfaceTags = Instance.tags(of: nics, created: made[index].createdPorts)
            }
        }
        do {
            for index in made.indices where !plan.devices.isEmpty {
                made[index].volumes = try await provisionVolumes(plan, instance: made[index], caller: caller)
            }
            try await instances.insert(made, group: join)
        } catch {
            if let network { for i in made { try? await network.deallocate(instance: i.id, project: i.projectID, created: i.createdPorts) } }
            for i in made { await release(i.volumes, project: i.projectID, undo: true) }
            throw error
        }
        for i in made { try await actions.start(i, action: "create", requestID: requestID, caller: caller) }
        wake()
        return made
    }

    /// What Nova keeps of the image in the instance's system metadata
    /// (`utils.get_system_metadata_from_image`): its properties, min_disk at least the
    /// flavor's root disk, min_ram, and the formats.
    static func systemMetadata(_ image: ImageInfo, flavor: Flavor) -> [Name: String] {
        var meta = image.properties
        meta[Name("min_disk")] = String(max(image.minDiskGB, flavor.rootGB))
        meta[Name("min_ram")] = String(image.minRamMB)
        if let f = image.diskFormat { meta[Name("disk_format")] = f }
        if let f = image.containerFormat { meta[Name("container_format")] = f }
        return meta
    }

    /// Nova's checks of an image against the flavor it boots with.
    static func check(_ image: ImageInfo, fits flavor: Flavor) throws {
        guard image.status == "active" else { throw NimbusError.badRequest("Image \(image.id) is not active.") }
        if flavor.rootGB > 0 {
            let rootBytes = Int64(flavor.rootGB) << 30
            if let size = image.size, size > rootBytes {
                throw NimbusError.badRequest("Flavor's disk is too small for requested image. Flavor disk is \(rootBytes) bytes, image is \(size) bytes.")
            }
            if image.minDiskGB > flavor.rootGB {
                throw NimbusError.badRequest("Flavor's disk is too small for requested image. Flavor disk is \(rootBytes) bytes, minimum disk is \(Int64(image.minDiskGB) << 30) bytes.")
            }
        }
        if image.minRamMB > flavor.memoryMB { throw NimbusError.badRequest("Flavor's memory is too small for requested image.") }
        if let f = image.containerFormat, !["bare", "ovf", "ami"].contains(f) || image.diskFormat == nil {
            throw NimbusError.badRequest("Image \(image.id) is unacceptable: unsupported container format \(f).")
        }
    }

    /// How many of `min…max` instances the project's quotas allow (403 below `min`), as Nova's
    /// `count_as_resources` check reports it.
    func allowedCount(_ r: ServerRequest, flavor: Flavor, project: String) async throws -> Int {
        let used = try await instances.usage(project: project)
        let quotas = try await effectiveQuotas(project: project, user: nil)
        let limits = [("instances", quotas.instances, used.instances, 1), ("cores", quotas.cores, used.cores, flavor.vcpus),
                      ("ram", quotas.ramMB, used.ramMB, flavor.memoryMB)]
        var allowed = r.maxCount
        for (_, limit, inUse, each) in limits where limit >= 0 && each > 0 {
            allowed = min(allowed, max(0, (limit - inUse) / each))
        }
        if allowed >= r.minCount, r.minCount > Self.maxServersPerRequest {
            throw NimbusError.forbidden("Quota exceeded for instances: Requested \(r.minCount), but one request may create at most \(Self.maxServersPerRequest) instances")
        }
        if allowed < r.minCount {
            let over = limits.filter { $0.1 >= 0 && $0.2 + $0.3 * r.minCount > $0.1 }
            let names = over.map(\.0).joined(separator: ", ")
            let requested = over.map { String($0.3 * r.minCount) }.joined(separator: ", ")
            let usedText = over.map { String($0.2) }.joined(separator: ", ")
            let limitText = over.map { String($0.1) }.joined(separator: ", ")
            throw NimbusError.forbidden("Quota exceeded for \(names): Requested \(requested), but already used \(usedText) of \(limitText) \(names)")
        }
        return min(allowed, Self.maxServersPerRequest)
    }

    /// A bound Nova lacks: one request creates at most this many servers, even with unlimited
    /// quotas (a `max_count` of 2³¹ would otherwise make the server write rows for minutes).
    public static let maxServersPerRequest = 1000

    /// The instance as `caller` may see it: its own project's (or any, for admins); 404 otherwise.
    /// `deleted`: a deleted instance is found too (instance actions from 2.21, read_deleted='yes').
    public func server(_ id: String, caller: AuthContext, isAdmin: Bool, deleted: Bool = false) async throws -> Instance {
        guard let i = try await instances.get(id), deleted || !i.deleted, isAdmin || caller.projectID.map({ i.projectID.sameBytes(as: $0) }) == true else {
            throw NimbusError.notFound("Instance \(id) could not be found.")
        }
        return i
    }

    func callerIsAdmin(_ caller: AuthContext) -> Bool { caller.hasRole("admin") }
}
