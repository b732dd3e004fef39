import BlockStorage
import Crypto
import Foundation
import NimbusCore
import Synchronization

/// An object store in memory, for the backup service's unit tests: objects per project account
/// and container, the names written (in order), and a switch that makes writes fail.
public final class FakeBackupObjectStore: BackupObjectStore {
    /// Names compared as bytes, as the object store's index compares them.
    struct Key: Hashable {
        let project: Name, container: Name, name: Name
        init(project: String, container: String, name: String) {
            self.project = Name(project); self.container = Name(container); self.name = Name(name)
        }
    }
    private let objects = Mutex<[Key: [UInt8]]>([:])
    private let containers = Mutex<Set<[Name]>>([])
    /// Every object name written, in order.
    public let written = Mutex<[String]>([])
    /// When set, a put of the n-th object from now fails (1: the next).
    public let failAfter = Mutex<Int?>(nil)

    public init() {}

    public func ensureContainer(project: String, container: String) async throws {
        _ = containers.withLock { $0.insert([Name(project), Name(container)]) }
    }

    public func put(project: String, container: String, name: String, bytes: [UInt8]) async throws -> String {
        guard containers.withLock({ $0.contains([Name(project), Name(container)]) }) else { throw NimbusError.notFound("no container \(container)") }
        let fail = failAfter.withLock { n -> Bool in
            guard let left = n else { return false }
            n = left - 1
            return left <= 1
        }
        if fail { throw NimbusError(.serviceUnavailable, "the fake object store was told to fail") }
        objects.withLock { $0[Key(project: project, container: container, name: name)] = bytes }
        written.withLock { $0.append(name) }
        return Hex.encode(Insecure.MD5.hash(data: bytes))
    }

    public func put(project: String, container: String, name: String, file path: String) async throws -> String {
        try await put(project: project, container: container, name: name, bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    public func read(project: String, container: String, name: String, range: Range<Int>?, _ consume: ([UInt8]) async throws -> Void) async throws {
        guard let bytes = object(project: project, container: container, name: name) else { throw NimbusError.notFound("no object \(name)") }
        let r = range.map { min($0.lowerBound, bytes.count)..<min($0.upperBound, bytes.count) } ?? 0..<bytes.count
        // In pieces, as a real store streams.
        var i = r.lowerBound
        while i < r.upperBound {
            let end = min(r.upperBound, i + 7000)
            try await consume(Array(bytes[i..<end]))
            i = end
        }
    }

    public func list(project: String, container: String, prefix: String, marker: String?, limit: Int) async throws -> [String] {
        names(project: project, container: container).filter { name in
            name.hasBytePrefix(prefix) && (marker.map { $0.bytesPrecede(name) } ?? true)
        }.prefix(limit).map { $0 }
    }

    public func delete(project: String, container: String, name: String) async throws {
        _ = objects.withLock { $0.removeValue(forKey: Key(project: project, container: container, name: name)) }
    }

    /// An object's bytes (nil: none).
    public func object(project: String, container: String, name: String) -> [UInt8]? {
        objects.withLock { $0[Key(project: project, container: container, name: name)] }
    }

    public func setObject(project: String, container: String, name: String, _ bytes: [UInt8]) {
        objects.withLock { $0[Key(project: project, container: container, name: name)] = bytes }
    }

    /// The names in a container, in byte order.
    public func names(project: String, container: String) -> [String] {
        objects.withLock { $0.keys.filter { $0.project == Name(project) && $0.container == Name(container) }.map(\.name.string) }.sorted { $0.bytesPrecede($1) }
    }
}
