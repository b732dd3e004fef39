import BlockStorage
import Foundation
import NimbusCore
import Synchronization

/// A backend that keeps only the ids of what it was asked to make (no bytes): the clearly named
/// stand-in for scale tests and the service's unit tests. `failing` makes the next operations
/// on those ids fail, to test the error paths.
public final class FakeVolumeBackend: VolumeBackend {
    public let host: String
    private let contents = Mutex<(volumes: [String: Int64], snapshots: Set<String>)>(([:], []))
    /// Bytes a test gave a volume (`setBytes`), copied into its snapshots and backups and back
    /// by a restore; a volume without any reads as no bytes.
    private let bytes = Mutex<[String: [UInt8]]>([:])
    public let failing = Mutex<Set<String>>([])
    /// The export names being "served".
    public let exported = Mutex<Set<String>>([])

    public init(host: String = "fake@fake#fake") { self.host = host }

    public func capacity() async -> (totalGB: Int64, freeGB: Int64) { (1 << 20, 1 << 20) }

    func check(_ id: String) throws {
        if failing.withLock({ $0.contains(id) }) { throw NimbusError(.internal, "the fake backend was told to fail \(id)") }
    }

    public func create(volume id: String, sizeGB: Int64, from source: VolumeSource) async throws {
        try check(id)
        try contents.withLock { c in
            switch source {
            case .snapshot(let s): guard c.snapshots.contains(s) else { throw NimbusError.notFound("no snapshot \(s)") }
            case .volume(let v): guard c.volumes[v] != nil else { throw NimbusError.notFound("no volume \(v)") }
            case .blank, .image: break
            }
            c.volumes[id] = sizeGB
        }
    }

    public func extend(volume id: String, sizeGB: Int64) async throws {
        try check(id)
        contents.withLock { $0.volumes[id] = sizeGB }
    }

    public func delete(volume id: String) async throws {
        try check(id)
        _ = contents.withLock { $0.volumes.removeValue(forKey: id) }
        _ = bytes.withLock { $0.removeValue(forKey: id) }
    }

    public func snapshot(volume: String, snapshot id: String) async throws {
        try check(id)
        bytes.withLock { b in b["snapshot:" + id] = b[volume] }
        try contents.withLock { c in
            guard c.volumes[volume] != nil else { throw NimbusError.notFound("no volume \(volume)") }
            c.snapshots.insert(id)
        }
    }

    public func delete(snapshot id: String) async throws {
        try check(id)
        _ = contents.withLock { $0.snapshots.remove(id) }
    }

    public func revert(volume: String, to snapshot: String, sizeGB: Int64) async throws { try check(volume) }

    public func inventory() async throws -> (volumes: Set<String>, snapshots: Set<String>) {
        contents.withLock { (Set($0.volumes.keys), $0.snapshots) }
    }

    /// The bytes of a volume (what a test set, or what a restore wrote).
    public func bytes(of volume: String) -> [UInt8]? { bytes.withLock { $0[volume] } }
    public func setBytes(_ volume: String, _ data: [UInt8]) { bytes.withLock { $0[volume] = data } }

    /// A file with the volume's (or snapshot's) bytes stands for its raw image.
    public func withRawImage(of source: BackupSource, _ consume: @Sendable (String) async throws -> Void) async throws {
        let key: String
        switch source {
        case .volume(let id): try check(id); key = id
        case .snapshot(let id): try check(id); key = "snapshot:" + id
        }
        let path = NSTemporaryDirectory() + "/nimbus-fake-raw-" + Identifiers.hex32()
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes.withLock { $0[key] } ?? []))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await consume(path)
    }

    /// The restored bytes become the volume's (trailing zeros dropped).
    public func restore(volume id: String, sizeGB: Int64, _ fill: @Sendable (String) async throws -> Void) async throws {
        try check(id)
        let path = NSTemporaryDirectory() + "/nimbus-fake-restore-" + Identifiers.hex32()
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await fill(path)
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        while data.last == 0 { data.removeLast() }
        bytes.withLock { $0[id] = data }
        contents.withLock { $0.volumes[id] = sizeGB }
    }

    /// The size the fake holds for a volume (nil: none).
    public func size(of volume: String) -> Int64? { contents.withLock { $0.volumes[volume] } }
}

extension FakeVolumeBackend {
    public func export(volume id: String, name: String) async throws -> VolumeExport {
        try check(id)
        exported.withLock { _ = $0.insert(name) }
        return VolumeExport(socketPath: "/nonexistent/fake-nbd.sock", exportName: name)
    }

    public func unexport(name: String) async throws { _ = exported.withLock { $0.remove(name) } }

    public func exportNames() async throws -> Set<String> { exported.withLock { $0 } }

    /// An empty file stands for the volume's bytes.
    public func export(volume id: String, format: String, _ consume: @Sendable (String) async throws -> Void) async throws {
        try check(id)
        let path = "/tmp/nimbus-fake-export-" + Identifiers.hex32()
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await consume(path)
    }
}
