import Foundation
import Logging
import NimbusCore
import NimbusStore
import Synchronization

/// Who asks: the project and user of the token and whether policy made them an admin. The API
/// layer has checked policy already; the service uses this for ownership and admin-only fields.
public struct VolumeActor: Sendable {
    public let projectID: String
    public let userID: String
    public let isAdmin: Bool
    public init(projectID: String, userID: String, isAdmin: Bool) {
        self.projectID = projectID
        self.userID = userID
        self.isAdmin = isAdmin
    }
}

public struct VolumeSettings: Sendable {
    public var availabilityZone = "nova"
    /// The volume type made at first start and used when a request names none (`[DEFAULT]
    /// default_volume_type`).
    public var defaultTypeName = "__DEFAULT__"
    /// Cinder's `default_group_type` (`GET /group_types/default`); nil: none, a 404.
    public var defaultGroupTypeName: String?
    /// The largest volume (GiB) one request may ask for, whatever the quotas: a backend is a
    /// file system, and a sparse file of any size is cheap to ask for but not to fill.
    public var maxVolumeSizeGB: Int64 = 1024
    /// What the backend reports to the scheduler (and volume types' extra specs match).
    public var backendName = "file"
    public var vendorName = "Open Source"
    public var storageProtocol = "nbd"
    public init() {}
}

/// The block storage service (Cinder's volume API, scheduler and volume manager in one): the
/// rules of volumes, snapshots, types, quotas and transfers over documents, and the background
/// operations that drive a `VolumeBackend` and move each resource through Cinder's statuses.
/// Who hears that an attached volume grew: Cinder tells Nova (`volume-extended` external
/// events, one per instance the volume is attached to), which grows the guests' disks.
public protocol AttachedVolumeListener: Sendable {
    func volumeExtended(volumeID: String, instances: [String], actor: VolumeActor) async
    /// Whether the compute service has the attachment on the instance (Cinder asks Nova's
    /// `os-volume_attachments` before a user may delete a connected attachment).
    func usesAttachment(_ attachmentID: String, instance: String) async -> Bool
}

public final class VolumeService: Sendable {
    let store: VolumeStore
    public let settings: VolumeSettings
    public let backend: any VolumeBackend
    let images: (any VolumeImageClient)?
    /// Backups into the object store (nil: no object store, so no backup service).
    let backups: ChunkedBackup?
    /// Bounds the backups and restores moving bytes at once (each holds a chunk in memory).
    let backupSlots: OperationSlots
    let logger: Logger
    let committed: CommittedState<VolumeState>
    /// Background operations still running (by resource id), so a test or shutdown can wait.
    let running = Mutex<[String: (token: String, task: Task<Void, Never>)]>([:])
    /// The compute service, told when an attached volume was extended.
    let attachedListener = Mutex<(any AttachedVolumeListener)?>(nil)

    public func setAttachedVolumeListener(_ listener: any AttachedVolumeListener) { attachedListener.withLock { $0 = listener } }

    public init(store: VolumeStore, backend: any VolumeBackend, images: (any VolumeImageClient)?, settings: VolumeSettings = VolumeSettings(),
                backupStore: (any BackupObjectStore)? = nil, backupSettings: BackupSettings = BackupSettings(), logger: Logger) async throws {
        self.store = store
        self.backend = backend
        self.images = images
        self.backups = backupStore.map { ChunkedBackup(store: $0, settings: backupSettings) }
        self.backupSlots = OperationSlots(max(1, backupSettings.maxOperations))
        self.settings = settings
        self.logger = logger
        self.committed = try await CommittedState(name: "block storage", logger: logger, version: { try await store.version() },
                                                  load: { try await store.load() }, commit: { try await store.commit($0) })
    }

    public var state: VolumeState { committed.value }

    public func watchChanges(every interval: Duration) async { await committed.watchChanges(every: interval) }

    func write<R: Sendable>(_ body: (inout VolumeState) throws -> R) async throws -> R { try await committed.write(body) }

    /// Cinder's time format: microseconds, no zone (`2025-01-02T03:04:05.000000`).
    static func now() -> String { String(Timestamps.micros(Date()).dropLast()) }

    /// Runs a backend operation in the background; `onFailure` records the error status.
    /// Operations on one resource run one after the other (a force-delete waits for the create
    /// it interrupts, so no file appears after its volume is gone).
    func background(_ id: String, _ what: String, _ body: @escaping @Sendable () async throws -> Void,
                    onFailure: @escaping @Sendable (any Error) async -> Void) {
        let token = Identifiers.uuid()
        running.withLock { r in
            let previous = r[id]?.task
            let task = Task {
                await previous?.value
                do {
                    try await body()
                } catch {
                    logger.error("\(what) \(id) failed: \(error)")
                    await onFailure(error)
                }
                running.withLock { r in if r[id]?.token == token { r.removeValue(forKey: id) } }
            }
            r[id] = (token, task)
        }
    }

    /// Waits for every background operation (tests, shutdown).
    public func settle() async {
        while let task = running.withLock({ $0.values.first?.task }) { await task.value }
    }

    /// Sets a document's fields if it still exists (a background operation's result).
    func update(_ kind: VolumeKind, _ id: String, _ fields: JSONObject) async {
        do {
            try await write { s in
                guard var d = s[kind, id] else { return }
                for (k, v) in fields { d[k] = v }
                d["updated_at"] = .string(Self.now())
                s.put(kind, d)
            }
        } catch {
            logger.error("could not record \(kind.rawValue) \(id): \(error)")
        }
    }

    // MARK: first start and recovery

    /// Makes the default volume type at first start (Cinder's `__DEFAULT__`).
    public func ensureDefaultType() async throws {
        guard state.volumeType(settings.defaultTypeName) == nil else { return }
        let name = settings.defaultTypeName
        try await write { s in
            guard s.volumeType(name) == nil else { return }
            let now = Self.now()
            s.put(.volumeType, ["id": .string(Identifiers.uuid()), "name": .string(name), "description": "Default Volume Type",
                                "is_public": true, "extra_specs": [:], "qos_specs_id": .null, "projects": [],
                                "created_at": .string(now), "updated_at": .string(now)])
        }
    }

    /// After a restart (or a `kill -9`), nothing stays half-made or stuck: what was being
    /// created ends `error` and its partial bytes are removed; deletions run again; an extend
    /// runs again (it is idempotent); the backend's files that no document names are removed.
    public func recover() async throws {
        await recoverBackups()
        let s = state
        for v in s.all(.volume) {
            guard let id = v["id"]?.stringValue else { continue }
            switch v["status"]?.stringValue {
            case "downloading" where v["reimaging"] != nil:
                // An interrupted re-image: the new bytes are renamed into place only when whole,
                // so the volume holds its old bytes or the image's; which is not known.
                try? await write { s in
                    guard var d = s[.volume, id] else { return }
                    d["status"] = "error"
                    d["reimaging"] = nil
                    d["updated_at"] = .string(Self.now())
                    s.put(.volume, d)
                }
            case "creating", "downloading":
                try? await backend.delete(volume: id)
                await update(.volume, id, ["status": "error"])
            case "deleting":
                startVolumeDeletion(id)
            case "extending":
                let target = v["extending_to"]?.intValue ?? v["size"]?.intValue ?? 1
                runExtend(id, to: target)
            case "retyping", "reserved", "attaching", "detaching", "uploading", "backing-up":
                // What the attachments say: attached ones make it in-use, reserved ones (an
                // instance waiting for it) keep it reserved, none leave it available.
                let attachments = s.attachments(of: id)
                let status = attachments.contains { $0["attach_status"]?.stringValue == "attached" } ? "in-use"
                    : attachments.isEmpty ? "available" : "reserved"
                await update(.volume, id, ["status": .string(status)])
            case "reverting":
                await update(.volume, id, ["status": "error"])
            case "restoring-backup":
                await update(.volume, id, ["status": "error_restoring"])
            default: break
            }
        }
        for snap in s.all(.snapshot) {
            guard let id = snap["id"]?.stringValue else { continue }
            switch snap["status"]?.stringValue {
            case "creating":
                try? await backend.delete(snapshot: id)
                await update(.snapshot, id, ["status": "error"])
            case "deleting":
                startSnapshotDeletion(id)
            default: break
            }
        }
        await recoverGroups()
        await reconcileExports()
        let (volumes, snapshots) = try await backend.inventory()
        let after = state
        for id in volumes where after[.volume, id] == nil {
            logger.warning("removing volume bytes no volume names: \(id)")
            try? await backend.delete(volume: id)
        }
        for id in snapshots where after[.snapshot, id] == nil {
            logger.warning("removing snapshot bytes no snapshot names: \(id)")
            try? await backend.delete(snapshot: id)
        }
    }
}

/// A counting semaphore for async code: at most `limit` holders at once, the others wait in order.
final class OperationSlots: Sendable {
    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(_ limit: Int) { state = Mutex(State(free: limit)) }

    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { s -> Bool in
                if s.free > 0 { s.free -= 1; return true }
                s.waiters.append(c)
                return false
            }
            if acquired { c.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.free += 1; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    func run<R>(_ body: () async throws -> R) async rethrows -> R {
        await acquire()
        defer { release() }
        return try await body()
    }
}

/// Cinder's invalid-state and invalid-input answers (400 unless named otherwise).
enum VolumeFault {
    static func volumeNotFound(_ id: String) -> NimbusError { .notFound("Volume \(id) could not be found.") }
    static func snapshotNotFound(_ id: String) -> NimbusError { .notFound("Snapshot \(id) could not be found.") }
    static func typeNotFound(_ id: String) -> NimbusError { .notFound("Volume type \(id) could not be found.") }
    static func typeNameNotFound(_ name: String) -> NimbusError { .notFound("Volume type with name \(name) could not be found.") }
    static func invalidVolume(_ reason: String) -> NimbusError { .badRequest("Invalid volume: \(reason)") }
    /// Cinder's ConflictNovaUsingAttachment (bug #2004555).
    static func novaUsingAttachment(_ instance: String) -> NimbusError { .conflict("Detach volume from instance \(instance) using the Compute API") }
    static func invalidSnapshot(_ reason: String) -> NimbusError { .badRequest("Invalid snapshot: \(reason)") }
    static func invalidInput(_ reason: String) -> NimbusError { .badRequest("Invalid input received: \(reason)") }
    static func backupNotFound(_ id: String) -> NimbusError { .notFound("Backup \(id) could not be found.") }
    static func invalidBackup(_ reason: String) -> NimbusError { .badRequest("Invalid backup: \(reason)") }
    /// No backup service runs (Cinder's `ServiceNotFound(service_id='cinder-backup')`).
    static let noBackupService = NimbusError.notFound("Service cinder-backup could not be found.")
}
