import BlockStorage
import Foundation
import Compute
import Logging
import NimbusCore

/// The compute service's `VolumeClient` over the block storage service in this process: volumes
/// as the caller may see them; attachments made for the caller's project; completion, detach and
/// delete-on-termination as the service (Nova's service user).
struct ComputeVolumeClient: VolumeClient {
    let volumes: VolumeService
    static let service = VolumeActor(projectID: "", userID: "nova", isAdmin: true)

    static func actor(_ caller: AuthContext) -> VolumeActor {
        VolumeActor(projectID: caller.projectID ?? "", userID: caller.user.id, isAdmin: caller.hasRole("admin"))
    }

    func volume(_ id: String, caller: AuthContext) async throws -> AttachableVolume? {
        guard let v = try? volumes.volume(id, actor: Self.actor(caller)) else { return nil }
        return AttachableVolume(id: id, status: v["status"]?.stringValue ?? "", multiattach: v["multiattach"]?.boolValue ?? false,
                                sizeGB: Int(v["size"]?.intValue ?? 0), bootable: v["bootable"]?.boolValue ?? false,
                                imageMetadata: v["volume_image_metadata"]?.objectValue?.sortedMembers.reduce(into: [:]) { out, m in
                                    if let s = m.1.stringValue { out[m.0] = s }
                                } ?? [:])
    }

    func snapshotSize(_ id: String, caller: AuthContext) async throws -> Int? {
        guard let s = try? volumes.snapshot(id, actor: Self.actor(caller)) else { return nil }
        return Int(s["volume_size"]?.intValue ?? 0)
    }

    func snapshotForce(volumeID: String, name: String, caller: AuthContext, wait: Duration) async throws -> (id: String, sizeGB: Int) {
        let actor = Self.actor(caller)
        let s = try await volumes.createSnapshot(volumeID: volumeID, name: name, description: nil, metadata: [:], force: true, actor: actor)
        guard let id = s["id"]?.stringValue else { throw NimbusError(.internal, "the new snapshot has no id") }
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline, (try? volumes.snapshot(id, actor: Self.service))?["status"]?.stringValue == "creating" {
            try await Task.sleep(for: .milliseconds(50))
        }
        return (id, Int(s["volume_size"]?.intValue ?? 0))
    }

    func createVolume(_ r: VolumeRequest, caller: AuthContext) async throws -> String {
        var c = VolumeCreate()
        c.name = r.name
        c.description = r.description
        c.metadata = r.metadata
        c.sizeGB = Int64(r.sizeGB)
        c.imageID = r.imageID
        c.snapshotID = r.snapshotID
        c.volumeType = r.volumeType
        c.availabilityZone = r.availabilityZone
        let v = try await volumes.createVolume(c, actor: Self.actor(caller), caller: caller)
        guard let id = v["id"]?.stringValue else { throw NimbusError(.internal, "the new volume has no id") }
        return id
    }

    func status(volumeID: String) async throws -> String? {
        (try? volumes.volume(volumeID, actor: Self.service))?["status"]?.stringValue
    }

    func sizeGB(volumeID: String) async throws -> Int64? {
        (try? volumes.volume(volumeID, actor: Self.service))?["size"]?.intValue
    }

    func reserve(volumeID: String, instance: String) async throws -> String {
        let actor = Self.service
        let v = try volumes.volume(volumeID, actor: actor)
        let mode = v["admin_metadata"]?["readonly"]?.stringValue == "True" ? "ro" : "rw"
        let a = try await volumes.createAttachment(volumeID: volumeID, instance: instance, connector: nil, mode: mode, actor: actor)
        guard let id = a["id"]?.stringValue else { throw NimbusError(.internal, "the attachment of volume \(volumeID) has no id") }
        return id
    }

    func attachments(volumeID: String, instance: String) async throws -> [(id: String, status: String)] {
        volumes.attachments(volumeID: volumeID, instance: instance)
    }

    func connect(attachmentID: String, host: String, mountpoint: String) async throws -> VolumeConnection {
        let a = try await volumes.connect(attachmentID, connector: ["host": .string(host), "mountpoint": .string(mountpoint)], actor: Self.service)
        return try Self.connection(a)
    }

    /// Nova waits for Cinder's `volume-reimaged` event; in one process the volume's status says
    /// the same (`reserved` again when done, `error` when it failed).
    func reimage(volumeID: String, imageID: String) async throws {
        try await volumes.reimage(volumeID, imageID: imageID, reimageReserved: true, actor: Self.service, caller: Self.serviceCaller)
        let deadline = ContinuousClock.now + .seconds(3600)
        while ContinuousClock.now < deadline {
            // The re-image's own marker, not the status alone (which an admin may reset).
            guard let v = try? volumes.volume(volumeID, actor: Self.service) else {
                throw NimbusError.notFound("Volume \(volumeID) went while it was being re-imaged.")
            }
            if v["reimaging"] == nil {
                if v["status"]?.stringValue == "error" { throw NimbusError(.internal, "Volume \(volumeID) could not be re-imaged with image \(imageID).") }
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw NimbusError(.internal, "Re-imaging volume \(volumeID) took more than an hour.")
    }

    /// Nova's service user as an image reader (it sees every image).
    static let serviceCaller = AuthContext(token: "", user: .init(id: "nova", name: "nova", domainID: "default", domainName: "Default"), scope: .system,
                                           roles: [.init(id: "admin", name: "admin")], methods: [], issuedAt: Date(), expiresAt: .distantFuture,
                                           auditIDs: [], applicationCredentialID: nil, isAdminProject: true)

    static func connection(_ a: JSONObject) throws -> VolumeConnection {
        guard let id = a["id"]?.stringValue, let data = a["connection_info"]?["data"], let path = data["path"]?.stringValue,
              let export = data["export"]?.stringValue else {
            throw NimbusError(.internal, "the attachment has no connection")
        }
        return VolumeConnection(attachmentID: id, socketPath: path, export: export, readOnly: data["access_mode"]?.stringValue == "ro",
                                qos: VolumeConnection.qos(data["qos_specs"]?.objectValue))
    }

    func attach(volumeID: String, instance: String, host: String, mountpoint: String, caller: AuthContext) async throws -> VolumeConnection {
        let actor = Self.actor(caller)
        let v = try volumes.volume(volumeID, actor: actor)
        // A read-only volume is attached read-only (Nova reads the volume's `attach_mode`).
        let mode = v["admin_metadata"]?["readonly"]?.stringValue == "True" ? "ro" : "rw"
        let a = try await volumes.createAttachment(volumeID: volumeID, instance: instance, connector: ["host": .string(host), "mountpoint": .string(mountpoint)],
                                                   mode: mode, actor: actor)
        return try Self.connection(a)
    }

    func complete(attachmentID: String) async throws {
        try await volumes.completeAttachment(attachmentID, actor: Self.service)
    }

    func beginDetaching(volumeID: String) async throws {
        let v = try volumes.volume(volumeID, actor: Self.service)
        guard v["status"]?.stringValue == "in-use", v["attach_status"]?.stringValue == "attached" else {
            throw NimbusError.badRequest("Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
        }
        try await volumes.transition(volumeID, from: ["in-use"], to: "detaching", actor: Self.service, action: "begin detaching")
    }

    func rollDetaching(volumeID: String) async throws {
        try await volumes.rollDetaching(volumeID, actor: Self.service)
    }

    func detach(attachmentID: String) async throws {
        guard (try? volumes.attachment(attachmentID, actor: Self.service)) != nil else { return }
        try await volumes.deleteAttachment(attachmentID, actor: Self.service)
    }

    func deleteVolume(_ id: String, project: String) async throws {
        guard let v = try? volumes.volume(id, actor: Self.service), v["project_id"]?.stringValue?.sameBytes(as: project) == true else { return }
        try await volumes.deleteVolume(id, cascade: false, force: false, actor: Self.service)
    }
}

/// Cinder's side of `volume-extended`: each instance the grown volume is attached to gets
/// Nova's event (in this process, the compute service's handler of it).
struct ComputeVolumeListener: AttachedVolumeListener {
    let compute: ComputeService
    let logger = Logger(label: "nimbus.compute")

    func usesAttachment(_ attachmentID: String, instance: String) async -> Bool {
        (try? await compute.holdsAttachment(attachmentID, instance: instance)) ?? true
    }

    func volumeExtended(volumeID: String, instances: [String], actor: VolumeActor) async {
        let requestID = "req-" + Identifiers.uuid()
        for id in instances {
            do {
                try await compute.volumeExtended(id, volumeID: volumeID, requestID: requestID, projectID: actor.projectID, userID: actor.userID)
            } catch {
                logger.error("volume-extended event for \(id) failed: \(error)")
            }
        }
    }
}
