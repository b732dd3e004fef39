import ComputeNode
import Foundation
import NIOCore
import NimbusCore

/// What the compute service needs from the image service, through a protocol it owns; the
/// composition root implements it over the image service in process (HTTP when split).
public protocol ImageClient: Sendable {
    /// The image as `caller` may see it (nil: none, or not visible to them).
    func image(_ id: String, caller: AuthContext) async throws -> ImageInfo?
    /// The image's bytes for a compute node (no caller: the node acts for the controller).
    func source(_ id: String) async throws -> any ImageSource
    /// Creates the queued image a snapshot fills (Nova's `compute_utils.create_image`).
    func createSnapshot(_ snapshot: SnapshotRequest) async throws -> String
    /// Sets the formats and uploads the data of a queued snapshot image.
    func uploadSnapshot(_ imageID: String, diskFormat: String, size: Int64, bytes: any AsyncSequence<ByteBuffer, any Error> & Sendable) async throws
    /// Deletes an image (a snapshot that failed); no error when it is gone already.
    func deleteImage(_ id: String) async throws
    /// The ids of an instance's backups of `backupType` (images with `image_type` backup),
    /// newest first: what createBackup's rotation counts.
    func backups(instance: String, backupType: String, owner: String) async throws -> [String]

    // Nova's `/images` proxy (up to 2.35), as the caller: Glance's visibility and policy apply.
    /// One page of the images the caller sees, filtered with Glance v2's query (`name`,
    /// `status`, `updated_at=gte:…`, properties), and whether the page is full.
    func list(caller: AuthContext, query: [(String, String)], limit: Int, marker: String?) async throws -> [ProxiedImage]
    /// The image if the caller sees it.
    func proxied(_ id: String, caller: AuthContext) async throws -> ProxiedImage?
    /// Deletes it as the caller (owner's member or admin; a protected image is refused).
    func delete(_ id: String, caller: AuthContext) async throws
    /// Sets the image's properties to `properties` as the caller; returns them as stored.
    func replaceProperties(_ id: String, caller: AuthContext, _ properties: [Name: String]) async throws -> [Name: String]
}

/// An image as Nova's `/images` proxy shows it.
public struct ProxiedImage: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var status: String
    public var minDiskGB: Int
    public var minRamMB: Int
    public var size: Int64?
    public var createdAt: Date
    public var updatedAt: Date
    public var properties: [Name: String]
    public init(id: String, name: String?, status: String, minDiskGB: Int, minRamMB: Int, size: Int64?, createdAt: Date, updatedAt: Date,
                properties: [Name: String]) {
        self.id = id; self.name = name; self.status = status; self.minDiskGB = minDiskGB; self.minRamMB = minRamMB; self.size = size
        self.createdAt = createdAt; self.updatedAt = updatedAt; self.properties = properties
    }
}

/// What a snapshot image is created with.
public struct SnapshotRequest: Sendable {
    public var name: String
    /// The caller's project owns the image; when that is not the instance's project the image
    /// is `shared` with the instance's project (as Nova does for an admin's snapshot).
    public var ownerProject: String
    public var instanceProject: String
    public var properties: [Name: String]
    public var minDiskGB: Int
    public var minRamMB: Int
    public init(name: String, ownerProject: String, instanceProject: String, properties: [Name: String], minDiskGB: Int, minRamMB: Int) {
        self.name = name; self.ownerProject = ownerProject; self.instanceProject = instanceProject
        self.properties = properties; self.minDiskGB = minDiskGB; self.minRamMB = minRamMB
    }
}

public struct ImageInfo: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var status: String
    public var diskFormat: String?
    public var containerFormat: String?
    public var size: Int64?
    public var minDiskGB: Int
    public var minRamMB: Int
    public var md5: String?
    public var sha512: String?
    public var properties: [Name: String]

    public init(id: String, name: String?, status: String, diskFormat: String?, containerFormat: String?, size: Int64?, minDiskGB: Int,
                minRamMB: Int, md5: String?, sha512: String?, properties: [Name: String]) {
        self.id = id; self.name = name; self.status = status; self.diskFormat = diskFormat; self.containerFormat = containerFormat
        self.size = size; self.minDiskGB = minDiskGB; self.minRamMB = minRamMB; self.md5 = md5; self.sha512 = sha512; self.properties = properties
    }
}

/// What the scheduler needs from Placement, through a protocol the compute service owns.
public protocol PlacementClient: Sendable {
    /// Compute nodes (resource provider uuid and name) that can hold `resources` (Placement's
    /// `GET /allocation_candidates`), best first as Placement returns them, at most `limit`.
    func candidates(_ resources: [String: Int], limit: Int) async throws -> [PlacementCandidate]
    /// Claims `resources` on `provider` for `consumer` atomically (false: no longer fits).
    func claim(consumer: String, provider: String, resources: [String: Int], project: String, user: String) async throws -> Bool
    /// Replaces the allocations of several consumers in one atomic write (Placement's
    /// `POST /allocations`): a resize moves the old flavor to the migration and claims the new
    /// one for the instance. A claim with no provider removes that consumer's allocations.
    /// False when it no longer fits.
    func replace(_ claims: [ConsumerClaim], project: String, user: String) async throws -> Bool
    /// Releases every allocation of `consumer`.
    func release(consumer: String) async throws
    /// Creates or updates a compute node's provider and inventory.
    func report(provider: String, name: String, inventory: [String: NodeInventory]) async throws
}

/// One resource class of a compute node as reported to Placement.
public struct NodeInventory: Sendable, Equatable {
    public var total: Int
    public var reserved: Int
    public var allocationRatio: Double
    public init(total: Int, reserved: Int = 0, allocationRatio: Double = 1.0) {
        self.total = total; self.reserved = reserved; self.allocationRatio = allocationRatio
    }
}

public struct PlacementCandidate: Sendable, Equatable {
    public var provider: String
    public var name: String
    /// What is left of each resource class on the provider (capacity × ratio − used), for the
    /// weighers.
    public var free: [String: Int]
    public init(provider: String, name: String, free: [String: Int] = [:]) { self.provider = provider; self.name = name; self.free = free }
}

public struct ConsumerClaim: Sendable, Equatable {
    public var consumer: String
    /// nil: the consumer's allocations are removed.
    public var provider: String?
    public var resources: [String: Int]
    public var consumerType: String
    public init(consumer: String, provider: String?, resources: [String: Int], consumerType: String = "INSTANCE") {
        self.consumer = consumer; self.provider = provider; self.resources = resources; self.consumerType = consumerType
    }
}

/// A network a server create asks for (`networks` in Nova's request): a network, a port, and
/// optionally the fixed address on the network.
public struct RequestedNIC: Sendable, Equatable {
    public var networkID: String?
    public var portID: String?
    public var fixedIP: String?
    public var tag: String?
    public init(networkID: String? = nil, portID: String? = nil, fixedIP: String? = nil, tag: String? = nil) {
        self.networkID = networkID; self.portID = portID; self.fixedIP = fixedIP; self.tag = tag
    }
}

/// Nova's security group proxy (`os-security-groups`, `os-security-group-rules`, up to 2.35):
/// the caller's requests passed to the network service as Nova passes them to Neutron, views
/// in Nova's format. Errors are Nova's (400, 403, 404).
public protocol NovaSecurityGroupProxy: Sendable {
    func listGroups(caller: AuthContext, allProjects: Bool) -> [JSONObject]
    func showGroup(_ id: String, caller: AuthContext) throws -> JSONObject
    func createGroup(name: String, description: String, caller: AuthContext) async throws -> JSONObject
    func updateGroup(_ id: String, name: String, description: String, caller: AuthContext) async throws -> JSONObject
    func deleteGroup(_ id: String, caller: AuthContext) async throws
    /// `rule`: the request's `security_group_rule` (parent_group_id, group_id, ip_protocol, from_port, to_port, cidr).
    func createRule(_ rule: JSONObject, caller: AuthContext) async throws -> JSONObject
    func deleteRule(_ id: String, caller: AuthContext) async throws
}

/// Details a `NetworkClient` puts on its errors where Nova's status depends on the call.
public enum NetworkClientErrors {
    public static let addressInUse = "fixed-ip-already-in-use"
}

/// What the compute service needs from the network service (Nova's `network.neutron.API`),
/// through a protocol it owns; the composition root implements it over the network service.
/// A volume as the compute service sees it before attaching it.
public struct AttachableVolume: Sendable, Equatable {
    public var id: String
    public var status: String
    public var multiattach: Bool
    public var sizeGB: Int
    public var bootable: Bool
    /// `volume_image_metadata`: what the volume keeps of the image it was made from.
    public var imageMetadata: [String: String]
    public init(id: String, status: String, multiattach: Bool, sizeGB: Int = 0, bootable: Bool = false, imageMetadata: [String: String] = [:]) {
        self.id = id; self.status = status; self.multiattach = multiattach
        self.sizeGB = sizeGB; self.bootable = bootable; self.imageMetadata = imageMetadata
    }
}

/// A volume the compute service asks for to boot from (a `block_device_mapping_v2` entry
/// whose destination is a volume and whose source is an image, a snapshot or nothing).
public struct VolumeRequest: Sendable, Equatable {
    public var name: String?
    public var sizeGB: Int
    public var imageID: String?
    public var snapshotID: String?
    public var volumeType: String?
    public var availabilityZone: String?
    public var description: String?
    public var metadata: [String: String] = [:]
    public init(name: String?, sizeGB: Int, imageID: String? = nil, snapshotID: String? = nil, volumeType: String? = nil,
                availabilityZone: String? = nil) {
        self.name = name; self.sizeGB = sizeGB; self.imageID = imageID; self.snapshotID = snapshotID
        self.volumeType = volumeType; self.availabilityZone = availabilityZone
    }
}

/// A volume as Nova's `os-volumes` proxy shows it (`_translate_volume_summary_view`).
public struct ProxiedVolume: Sendable, Equatable {
    public var id: String
    public var status: String
    public var sizeGB: Int
    public var availabilityZone: String
    public var createdAt: String
    /// The attachments: server and mount point.
    public var attachments: [(server: String, device: String?)]
    public var name: String?
    public var description: String?
    public var volumeType: String?
    public var snapshotID: String?
    public var metadata: [String: String]
    public init(id: String, status: String, sizeGB: Int, availabilityZone: String, createdAt: String, attachments: [(server: String, device: String?)],
                name: String?, description: String?, volumeType: String?, snapshotID: String?, metadata: [String: String]) {
        self.id = id; self.status = status; self.sizeGB = sizeGB; self.availabilityZone = availabilityZone; self.createdAt = createdAt
        self.attachments = attachments; self.name = name; self.description = description; self.volumeType = volumeType
        self.snapshotID = snapshotID; self.metadata = metadata
    }
    public static func == (a: ProxiedVolume, b: ProxiedVolume) -> Bool {
        a.id == b.id && a.status == b.status && a.sizeGB == b.sizeGB && a.createdAt == b.createdAt
            && a.attachments.map(\.server) == b.attachments.map(\.server) && a.attachments.map(\.device) == b.attachments.map(\.device)
            && a.name == b.name && a.description == b.description && a.volumeType == b.volumeType && a.snapshotID == b.snapshotID
            && a.metadata == b.metadata && a.availabilityZone == b.availabilityZone
    }
}

/// A volume snapshot as Nova's `os-snapshots` proxy shows it.
public struct ProxiedSnapshot: Sendable, Equatable {
    public var id: String
    public var volumeID: String
    public var status: String
    public var sizeGB: Int
    public var createdAt: String
    public var name: String?
    public var description: String?
    public init(id: String, volumeID: String, status: String, sizeGB: Int, createdAt: String, name: String?, description: String?) {
        self.id = id; self.volumeID = volumeID; self.status = status; self.sizeGB = sizeGB; self.createdAt = createdAt
        self.name = name; self.description = description
    }
}

/// Where a connected volume is served (Cinder's `connection_info` of the `nbd` type).
public struct VolumeConnection: Sendable, Equatable {
    public var attachmentID: String
    public var socketPath: String
    public var export: String
    public var readOnly: Bool
    /// The front-end QoS limits (`qos_specs` of the connection), by Nova's names
    /// (`total_bytes_sec`, `read_iops_sec`, …); empty when the volume has none.
    public var qos: [String: Int64]
    public init(attachmentID: String, socketPath: String, export: String, readOnly: Bool, qos: [String: Int64] = [:]) {
        self.attachmentID = attachmentID; self.socketPath = socketPath; self.export = export; self.readOnly = readOnly; self.qos = qos
    }

    /// The keys Nova's libvirt driver turns into a disk's I/O tuning (`LibvirtBaseVolumeDriver`).
    public static let tuneOptions = ["total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec",
                                     "write_iops_sec", "size_iops_sec"]

    /// The limits of a connection's `qos_specs` that are a disk's tuning and whole numbers.
    public static func qos(_ specs: JSONObject?) -> [String: Int64] {
        var out = [String: Int64]()
        for key in tuneOptions {
            guard let v = specs?[key] else { continue }
            let n: Int64? = switch v {
            case .int(let i): i
            case .string(let s): Int64(s.trimmingCharacters(in: .whitespaces))
            default: nil
            }
            if let n, n >= 0 { out[key] = n }
        }
        return out
    }
}

/// The block storage service as Nova's volume API (`nova/volume/cinder.py`) uses it.
public protocol VolumeClient: Sendable {
    /// The volume if `caller` may see it.
    func volume(_ id: String, caller: AuthContext) async throws -> AttachableVolume?
    /// The size of a snapshot `caller` may see, in GiB; nil when there is no such snapshot.
    func snapshotSize(_ id: String, caller: AuthContext) async throws -> Int?
    /// Snapshots a volume even while it is attached (Cinder's `create_snapshot_force`), as the
    /// caller; returns the snapshot's id and size once it is `available` (or after `wait`).
    func snapshotForce(volumeID: String, name: String, caller: AuthContext, wait: Duration) async throws -> (id: String, sizeGB: Int)
    /// Creates a volume in the caller's project (Cinder's quotas apply); returns its id at once,
    /// while the volume is still `creating`.
    func createVolume(_ r: VolumeRequest, caller: AuthContext) async throws -> String
    /// A volume's status as the service sees it; nil when it is gone.
    func status(volumeID: String) async throws -> String?
    /// A volume's size in GiB as the service sees it; nil when it is gone.
    func sizeGB(volumeID: String) async throws -> Int64?
    /// Reserves the volume for the instance (an attachment without a connection; the volume is
    /// `reserved`); returns the attachment's id. As the service: the caller's right to the
    /// volume was checked before (`volume(_:caller:)`).
    func reserve(volumeID: String, instance: String) async throws -> String
    /// The volume's attachments to the instance: id and `attach_status` (reserved, attaching,
    /// attached, detaching).
    func attachments(volumeID: String, instance: String) async throws -> [(id: String, status: String)]
    /// Connects a reserved attachment to the instance's host (Cinder's `attachment_update`).
    func connect(attachmentID: String, host: String, mountpoint: String) async throws -> VolumeConnection
    /// Re-images a reserved volume with an image (Cinder 3.68 `os-reimage` with
    /// `reimage_reserved`, as the service: the caller's right to the image was checked before)
    /// and returns once its bytes are the image's; throws when the re-image failed.
    func reimage(volumeID: String, imageID: String) async throws
    /// Creates a connected attachment of the volume to the instance (Cinder's
    /// `attachment_create` with a connector); errors are Cinder's (400 for a volume in use).
    func attach(volumeID: String, instance: String, host: String, mountpoint: String, caller: AuthContext) async throws -> VolumeConnection
    /// The guest has the disk (`os-complete`).
    func complete(attachmentID: String) async throws
    /// Deletes the attachment (the export stops); nothing when it is gone.
    func detach(attachmentID: String) async throws
    /// Cinder's `begin_detaching` (the volume `detaching`; 400 unless it is in-use and attached)
    /// and `roll_detaching`.
    func beginDetaching(volumeID: String) async throws
    func rollDetaching(volumeID: String) async throws
    // Nova's `os-volumes` and `os-snapshots` proxies (up to 2.35), as the caller: Cinder's
    // visibility, policy and quotas apply; lists are the caller's project's, newest first.
    func proxyVolumes(caller: AuthContext) async throws -> [ProxiedVolume]
    func proxyVolume(_ id: String, caller: AuthContext) async throws -> ProxiedVolume?
    func proxyCreateVolume(_ r: VolumeRequest, caller: AuthContext) async throws -> ProxiedVolume
    func proxyDeleteVolume(_ id: String, caller: AuthContext) async throws
    func proxySnapshots(caller: AuthContext) async throws -> [ProxiedSnapshot]
    func proxySnapshot(_ id: String, caller: AuthContext) async throws -> ProxiedSnapshot?
    func proxyCreateSnapshot(volumeID: String, force: Bool, name: String?, description: String?, caller: AuthContext) async throws -> ProxiedSnapshot
    func proxyDeleteSnapshot(_ id: String, caller: AuthContext) async throws
    /// Deletes a volume whose attachment went with its server (`delete_on_termination`), if it
    /// belongs to `project` (the server's): another project's volume is never deleted.
    func deleteVolume(_ id: String, project: String) async throws
}

public protocol NetworkClient: Sendable {
    /// The NICs a create gets: the requested ones checked (networks the caller may use, ports
    /// of the caller's project that are free), or, when nothing was asked for (`auto`), the
    /// one network the project can use (none: no NIC; several: Nova's NetworkAmbiguous 409).
    /// `project` is the instance's: a port must be that project's (Nova's PortNotUsable) and
    /// `auto` picks among that project's networks.
    func resolve(_ requested: [RequestedNIC]?, project: String, caller: AuthContext) async throws -> [RequestedNIC]
    /// Creates (or takes) the instance's ports; returns the ids of the ports it created, which
    /// go with the server, while ports the user gave are only released.
    func allocate(instance: String, project: String, zone: String?, _ nics: [RequestedNIC], securityGroups: [String],
                  caller: AuthContext) async throws -> [String]
    /// Only ports of the instance's own project count as its (Nova's `_build_network_info_model`):
    /// another project's port naming the instance as its device is not the instance's.
    /// Binds the instance's ports to its host (idempotent; the host's network agent wires them).
    func bind(instance: String, project: String, host: String) async throws
    /// The instance's NICs in port creation order, for its compute node.
    func nics(instance: String, project: String, order: [String]) -> [GuestNIC]
    /// Nova's `addresses` of the instance (fixed and floating, per network name).
    func addresses(instance: String, project: String) -> JSONObject
    /// The names of the security groups on the instance's ports.
    func securityGroups(instance: String, project: String) -> [String]
    /// `network_data.json` for the config drive and the metadata service.
    func networkData(instance: String, project: String) -> String
    /// Deletes the ports in `created`, and releases the instance's other ports.
    func deallocate(instance: String, project: String, created: [String]) async throws
    /// Nova's addSecurityGroup: the group (a name or id the caller sees) on every port of the
    /// instance. Errors: `.notFound` (no such group, no ports), `.conflict` (ambiguous name),
    /// `.badRequest` (a port without port security or addresses).
    func addSecurityGroup(_ group: String, instance: String, project: String, caller: AuthContext) async throws
    /// Nova's removeSecurityGroup: off every port that has it; `.notFound` when none has it.
    func removeSecurityGroup(_ group: String, instance: String, project: String, caller: AuthContext) async throws
    /// Nova's `add_fixed_ip_to_instance` (addFixedIp, up to 2.43): one more address on the
    /// instance's port on the network, from the first of its subnets that has one to give, as
    /// the caller. `.badRequest` when no port of the instance on that network took one.
    func addFixedIP(network: String, instance: String, project: String, caller: AuthContext) async throws
    /// Nova's `remove_fixed_ip_from_instance` (removeFixedIp): the address off the instance's
    /// port that has it. `.badRequest` when none has it.
    func removeFixedIP(_ address: String, instance: String, project: String, caller: AuthContext) async throws
    /// The groups on the instance's ports with their rules, as Nova's `os-security-groups` shows them.
    func securityGroupDetails(instance: String, project: String, caller: AuthContext) -> [JSONValue]
    /// The instance's ports as Nova's `os-interface` shows them (`interfaceAttachment`s).
    func interfaces(instance: String, project: String) -> [JSONObject]
    /// Takes one port off the instance: deleted when `delete` (the compute service made it),
    /// else released (no device, no host). `.notFound` when the port is not the instance's.
    func release(port: String, instance: String, project: String, delete: Bool) async throws
}
