import NimbusCore

/// What a new volume's bytes start from.
public enum VolumeSource: Sendable {
    case blank
    case snapshot(String)
    case volume(String)
    case image(any ImageSource)
}

/// What a backup reads: a volume's bytes, or a snapshot's.
public enum BackupSource: Sendable {
    case volume(String)
    case snapshot(String)
}

/// Where a compute node reaches an attached volume: an NBD export (Cinder's `connection_info`
/// data for the `nbd` volume driver type).
public struct VolumeExport: Sendable, Equatable {
    /// The storage node's NBD unix socket.
    public var socketPath: String
    /// The export's name: a secret of the attachment.
    public var exportName: String
    public init(socketPath: String, exportName: String) {
        self.socketPath = socketPath
        self.exportName = exportName
    }
}

/// Where volume bytes live: a storage node's driver (Cinder's volume driver). Every operation is
/// idempotent, so the service can run it again after a crash: creating a volume that exists
/// replaces it, deleting one that is gone succeeds.
public protocol VolumeBackend: Sendable {
    /// Cinder's `host@backend#pool` of the volumes kept here.
    var host: String { get }
    /// Total and free space in GiB (the scheduler pool's capacity).
    func capacity() async -> (totalGB: Int64, freeGB: Int64)
    /// Makes volume `id` of `sizeGB` GiB from `source` (a snapshot or volume of this backend).
    func create(volume id: String, sizeGB: Int64, from source: VolumeSource) async throws
    /// Grows the volume to `sizeGB` GiB.
    func extend(volume id: String, sizeGB: Int64) async throws
    func delete(volume id: String) async throws
    /// A point-in-time copy of the volume's bytes.
    func snapshot(volume: String, snapshot id: String) async throws
    func delete(snapshot id: String) async throws
    /// Rewrites the volume with the snapshot's bytes (Cinder's revert to snapshot).
    func revert(volume: String, to snapshot: String, sizeGB: Int64) async throws
    /// The volume's bytes as a standalone file of `format` (`raw`, `qcow2`, `vmdk`, `vdi`, `vpc`
    /// or `vhdx`), handed to `consume`, then removed.
    func export(volume id: String, format: String, _ consume: @Sendable (String) async throws -> Void) async throws
    /// Serves the volume's bytes over NBD as export `name` (idempotent).
    func export(volume id: String, name: String) async throws -> VolumeExport
    /// Stops serving export `name` (nothing when it is gone).
    func unexport(name: String) async throws
    /// The names of the exports being served.
    func exportNames() async throws -> Set<String>
    /// The guest-visible bytes of a volume or snapshot as a raw file (sparse: unallocated areas
    /// are holes), handed to `consume`, then removed. An attached volume is read as it is on
    /// disk (crash-consistent).
    func withRawImage(of source: BackupSource, _ consume: @Sendable (String) async throws -> Void) async throws
    /// Replaces volume `id`'s bytes by a raw image of `sizeGB` GiB that `fill` writes into the
    /// file it is given (reading as zeros where nothing is written); the volume is written aside
    /// and renamed into place, so a failed or interrupted restore leaves its old bytes.
    func restore(volume id: String, sizeGB: Int64, _ fill: @Sendable (String) async throws -> Void) async throws
    /// The ids of the volumes and snapshots that exist, to remove what no document names.
    func inventory() async throws -> (volumes: Set<String>, snapshots: Set<String>)
}
