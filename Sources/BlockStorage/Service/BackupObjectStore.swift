import NimbusCore

/// The object store as the backup service uses it: Cinder's Swift backup driver with per-user
/// auth, so every call names the project whose object-store account holds the backup's objects
/// (the backup's owner), never a service account. Declared here, implemented by the
/// composition root over the object storage service.
public protocol BackupObjectStore: Sendable {
    /// Creates the container if it is missing (Cinder's `backup_create_containers`).
    func ensureContainer(project: String, container: String) async throws
    /// Stores `bytes` as an object; returns the MD5 (hex) of what the store committed.
    func put(project: String, container: String, name: String, bytes: [UInt8]) async throws -> String
    /// Stores the file at `path` as an object, streamed (never whole in memory); returns its MD5.
    func put(project: String, container: String, name: String, file path: String) async throws -> String
    /// Reads an object, or the byte `range` of it, handing its bytes to `consume` in pieces.
    /// 404 when the object is missing.
    func read(project: String, container: String, name: String, range: Range<Int>?,
              _ consume: ([UInt8]) async throws -> Void) async throws
    /// Names of the container's objects that start with `prefix`, in byte order after
    /// `marker`, at most `limit` (an empty list when the container is missing).
    func list(project: String, container: String, prefix: String, marker: String?, limit: Int) async throws -> [String]
    /// Deletes an object (nothing when it is gone).
    func delete(project: String, container: String, name: String) async throws
}

/// Where one backup's objects live: a project's account, a container in it, and the prefix of
/// every object name (Cinder's `service_metadata`: `volume_<volume>/<UTC time>/az_<zone>_backup_<id>`).
public struct BackupLocation: Sendable, Equatable {
    /// The same objects: project, container and prefix compared as bytes.
    public static func == (a: BackupLocation, b: BackupLocation) -> Bool {
        a.project.sameBytes(as: b.project) && a.container.sameBytes(as: b.container) && a.prefix.sameBytes(as: b.prefix)
    }

    public var project: String
    public var container: String
    public var prefix: String

    public init(project: String, container: String, prefix: String) {
        self.project = project
        self.container = container
        self.prefix = prefix
    }

    /// The JSON description of the backup, written last: a backup without it is incomplete.
    public var metadataName: String { prefix + "_metadata" }
    /// The SHA-256 of every block of the volume, what an incremental backup compares against.
    public var sha256Name: String { prefix + "_sha256file" }

    /// Chunk objects are numbered from 1 (`<prefix>-00001`).
    public func chunkName(_ n: Int) -> String {
        let digits = String(n)
        return prefix + "-" + String(repeating: "0", count: max(0, 5 - digits.utf8.count)) + digits
    }

    /// Cinder's object name prefix for a backup made now.
    public static func prefix(volumeID: String, backupID: String, zone: String, at time: String) -> String {
        "volume_\(volumeID)/\(time)/az_\(zone)_backup_\(backupID)"
    }

    /// A container name the object store accepts: 1–256 bytes, no `/`.
    public static func validContainer(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 256 && !name.containsByte("/")
    }
}
