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
    }

    public func snapshot(volume: String, snapshot id: String) async throws {
        try check(id)
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
