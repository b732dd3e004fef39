import BlockStorage
import ComputeNode
import Foundation
import Logging
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// Volumes as qcow2 files in one directory of the storage node (`volume-<id>.qcow2`), and
/// snapshots as standalone qcow2 copies (`snapshot-<id>.qcow2`). Every file is made under a
/// temporary name and renamed into place once complete (then the directory is synced), so a
/// crash never leaves a half-written file under a volume's name, and running an operation
/// again replaces what a crashed run left. Images are fetched, verified and inspected once into
/// an image cache (the compute node's `BaseImageCache`) and converted from there.
///
/// Snapshots are copies rather than qcow2 backing chains: a copy can be deleted, reverted to or
/// cloned from in any order without rewriting the chain under a volume that may be attached
/// (Cinder's own NFS and generic drivers choose the same for the same reason); the cost is the
/// copy of the allocated clusters, which `qemu-img convert` keeps sparse.
public struct FileVolumeBackend: VolumeBackend {
    public let host: String
    let dir: String
    let qemuImg: QEMUImg
    let images: BaseImageCache
    let logger: Logger
    /// Serves attached volumes; nil: this node cannot attach (no qemu-storage-daemon).
    let exporter: NBDExporter?

    public init(dir: String, host: String, exportDir: String?, qemuImgBinary: String = "/usr/bin/qemu-img",
                runner: any CommandRunner = ProcessCommandRunner(), maxImageVirtualSize: UInt64 = 1 << 40, logger: Logger) throws {
        self.dir = dir
        self.exporter = try exportDir.map { try NBDExporter(runDir: $0, runner: runner, logger: logger) }
        self.host = host
        self.qemuImg = QEMUImg(binary: qemuImgBinary, runner: runner)
        self.logger = logger
        try FileIO.makeDirectory(dir)
        self.images = BaseImageCache(dir: dir + "/_images", maxVirtualSize: maxImageVirtualSize, logger: logger)
        images.sweep()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasBytePrefix(".tmp-") {
            unlink(dir + "/" + name)
        }
    }

    /// Ids are the service's uuids; anything else never becomes a path.
    static func checked(_ id: String) throws -> String {
        guard !id.isEmpty, id.utf8.count <= 64, id.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) || $0 == 45 }) else {
            throw NimbusError.badRequest("Invalid volume or snapshot id \(id).")
        }
        return id
    }

    public func volumePath(_ id: String) throws -> String { dir + "/volume-" + (try Self.checked(id)) + ".qcow2" }
    func snapshotPath(_ id: String) throws -> String { dir + "/snapshot-" + (try Self.checked(id)) + ".qcow2" }

    static func bytes(_ gb: Int64) -> UInt64 { UInt64(max(1, gb)) << 30 }

    /// Makes `final` through a temporary file that `make` fills.
    func place(_ final: String, _ make: (String) async throws -> Void) async throws {
        let tmp = dir + "/.tmp-" + Identifiers.hex32()
        do {
            try await make(tmp)
            guard rename(tmp, final) == 0 else { throw NimbusError(.internal, "rename to \(final) failed: errno \(errno)") }
            FileIO.syncDirectory(of: final)
        } catch {
            unlink(tmp)
            throw error
        }
    }

    public func capacity() async -> (totalGB: Int64, freeGB: Int64) {
        var s = statvfs()
        guard statvfs(dir, &s) == 0 else { return (0, 0) }
        let unit = Int64(s.f_frsize)
        return (Int64(s.f_blocks) * unit >> 30, Int64(s.f_bavail) * unit >> 30)
    }

    public func create(volume id: String, sizeGB: Int64, from source: VolumeSource) async throws {
        let path = try volumePath(id)
        try await place(path) { tmp in
            switch source {
            case .blank:
                try await qemuImg.createBlank(path: tmp, sizeBytes: Self.bytes(sizeGB))
            case .snapshot(let snap):
                try await copy(try snapshotPath(snap), format: .qcow2, to: tmp, sizeGB: sizeGB)
            case .volume(let other):
                try await copy(try volumePath(other), format: .qcow2, to: tmp, sizeGB: sizeGB)
            case .image(let image):
                let entry = try await images.fetch(image)
                guard entry.image.virtualSize <= Self.bytes(sizeGB) else {
                    throw NimbusError.badRequest("Image \(image.id) has a virtual size of \(entry.image.virtualSize) bytes, larger than the volume.")
                }
                try await copy(entry.path, format: entry.image.format, to: tmp, sizeGB: sizeGB)
            }
        }
    }

    /// A standalone qcow2 copy of `source`, grown to `sizeGB`.
    func copy(_ source: String, format: DiskImageFormat, to tmp: String, sizeGB: Int64) async throws {
        guard FileIO.exists(source) else { throw NimbusError.notFound("The source of the copy is missing on the storage node.") }
        // `-U`: an attached source is open (and locked) in the exporter.
        try await qemuImg.runner.run([qemuImg.binary, "convert", "-q", "-U", "-f", format.rawValue, "-O", "qcow2", source, tmp],
                                     timeout: .seconds(3600)).check()
        try await qemuImg.resize(path: tmp, sizeBytes: Self.bytes(sizeGB))
    }

    public func extend(volume id: String, sizeGB: Int64) async throws {
        let path = try volumePath(id)
        // An attached volume is open in the exporter: it grows it (decided under the exporter's
        // lock, so a detach that closes the volume meanwhile leaves the file to qemu-img).
        if let exporter, try await exporter.resizeIfOpen(volume: id, bytes: Self.bytes(sizeGB)) { return }
        try await qemuImg.resize(path: path, sizeBytes: Self.bytes(sizeGB))
    }

    public func delete(volume id: String) async throws {
        let path = try volumePath(id)
        if unlink(path) != 0 && errno != ENOENT { throw NimbusError(.internal, "cannot remove \(path): errno \(errno)") }
        FileIO.syncDirectory(of: path)
    }

    public func snapshot(volume: String, snapshot id: String) async throws {
        let source = try volumePath(volume)
        try await place(try snapshotPath(id)) { tmp in
            guard FileIO.exists(source) else { throw NimbusError.notFound("Volume \(volume) has no bytes on the storage node.") }
            // `-U`: an attached volume is open (and locked) in the exporter; the copy is then
            // what the disk holds, as a crash would leave it.
            try await qemuImg.runner.run([qemuImg.binary, "convert", "-q", "-U", "-f", "qcow2", "-O", "qcow2", source, tmp],
                                         timeout: .seconds(3600)).check()
        }
    }

    public func delete(snapshot id: String) async throws {
        let path = try snapshotPath(id)
        if unlink(path) != 0 && errno != ENOENT { throw NimbusError(.internal, "cannot remove \(path): errno \(errno)") }
        FileIO.syncDirectory(of: path)
    }

    public func revert(volume: String, to snapshot: String, sizeGB: Int64) async throws {
        let source = try snapshotPath(snapshot)
        try await place(try volumePath(volume)) { tmp in try await copy(source, format: .qcow2, to: tmp, sizeGB: sizeGB) }
    }

    public func export(volume id: String, format: String, _ consume: @Sendable (String) async throws -> Void) async throws {
        let source = try volumePath(id)
        guard FileIO.exists(source) else { throw NimbusError.notFound("Volume \(id) has no bytes on the storage node.") }
        let tmp = dir + "/.tmp-" + Identifiers.hex32()
        defer { unlink(tmp) }
        try await qemuImg.runner.run([qemuImg.binary, "convert", "-q", "-f", "qcow2", "-O", format, source, tmp], timeout: .seconds(3600)).check()
        try await consume(tmp)
    }

    public func withRawImage(of source: BackupSource, _ consume: @Sendable (String) async throws -> Void) async throws {
        let path: String
        switch source {
        case .volume(let id): path = try volumePath(id)
        case .snapshot(let id): path = try snapshotPath(id)
        }
        guard FileIO.exists(path) else { throw NimbusError.notFound("The bytes to back up are missing on the storage node.") }
        // A `.tmp-` name: removed at the next start if a crash interrupts the backup.
        let tmp = dir + "/.tmp-" + Identifiers.hex32() + ".raw"
        defer { unlink(tmp) }
        // `-U`: an attached volume is open (and locked) in the exporter.
        try await qemuImg.runner.run([qemuImg.binary, "convert", "-q", "-U", "-f", "qcow2", "-O", "raw", path, tmp], timeout: .seconds(3600)).check()
        try await consume(tmp)
    }

    public func restore(volume id: String, sizeGB: Int64, _ fill: @Sendable (String) async throws -> Void) async throws {
        let raw = dir + "/.tmp-" + Identifiers.hex32() + ".raw"
        defer { unlink(raw) }
        let fd = open(raw, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NimbusError(.internal, "cannot create \(raw): errno \(errno)") }
        let sized = ftruncate(fd, off_t(Self.bytes(sizeGB))) == 0
        close(fd)
        guard sized else { throw NimbusError(.internal, "cannot size \(raw): errno \(errno)") }
        try await fill(raw)
        try await place(try volumePath(id)) { tmp in
            try await qemuImg.runner.run([qemuImg.binary, "convert", "-q", "-f", "raw", "-O", "qcow2", raw, tmp], timeout: .seconds(3600)).check()
        }
    }

    public func export(volume id: String, name: String) async throws -> VolumeExport {
        guard let exporter else { throw NimbusError(.notImplemented, "This storage node cannot export volumes (qemu-storage-daemon is missing).") }
        let path = try volumePath(id)
        guard FileIO.exists(path) else { throw NimbusError.notFound("Volume \(id) has no bytes on the storage node.") }
        try await exporter.export(volume: id, path: path, name: name)
        return VolumeExport(socketPath: exporter.socketPath, exportName: name)
    }

    public func unexport(name: String) async throws { try await exporter?.unexport(name) }

    public func exportNames() async throws -> Set<String> { try await exporter?.exports() ?? [] }

    public func inventory() async throws -> (volumes: Set<String>, snapshots: Set<String>) {
        var volumes = Set<String>(), snapshots = Set<String>()
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name.hasByteSuffix(".qcow2") {
            let stem = String(name.dropLast(".qcow2".count))
            if stem.hasBytePrefix("volume-") { volumes.insert(String(stem.dropFirst("volume-".count))) }
            if stem.hasBytePrefix("snapshot-") { snapshots.insert(String(stem.dropFirst("snapshot-".count))) }
        }
        return (volumes, snapshots)
    }
}
