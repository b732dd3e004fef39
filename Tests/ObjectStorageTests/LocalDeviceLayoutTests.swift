import Foundation
import NIOCore
import Testing
@testable import ObjectStorage

@Suite struct LocalDeviceLayoutTests {
    /// A device written in the nested layout of earlier versions is flattened when opened, and
    /// its objects read, list and remove as before.
    @Test func nestedDevicesAreFlattenedWhenOpened() async throws {
        let root = NSTemporaryDirectory() + "nimbus-layout-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ring = RingDevice(id: 0, name: "d1", zone: 1)
        // Write one object with the current code, then move it into the old nested place.
        var device = try LocalDevice(ring: ring, root: root, pool: Harness.pool)
        let hash = "0123456789abcdef0123456789abcdef"
        let meta = DiskMetadata(name: "a/c/o", timestamp: "1700000000.00000", size: 5, etag: "5d41402abc4b2a76b9719d911017c592", headers: [:])
        let w = try await device.writer(partition: 7, hash: hash, timestamp: meta.timestamp)
        try await w.write(ByteBuffer(string: "hello"))
        try await w.commit(meta)
        let nested = "\(root)/objects/7/def/\(hash)"
        try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: true)
        #expect(rename(device.path(7, hash, meta.timestamp + ".data"), nested + "/" + meta.timestamp + ".data") == 0)
        #expect(try await device.list(partition: 7).isEmpty)

        device = try LocalDevice(ring: ring, root: root, pool: Harness.pool)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/objects/7/def"))
        #expect(try await device.list(partition: 7) == [hash: HashState(data: [meta.timestamp])])
        let stream = try await device.read(partition: 7, hash: hash, timestamp: meta.timestamp, range: nil)
        #expect(try await stream.next().map { String(buffer: $0) } == "hello")
        // A .meta only lands next to data; removal by age takes both.
        await #expect(throws: ReplicaError.self) { try await device.writeMeta(partition: 7, hash: "f" + hash.dropFirst(), metadata: meta) }
        var newer = meta
        newer.timestamp = "1700000001.00000"
        try await device.writeMeta(partition: 7, hash: hash, metadata: newer)
        #expect(try await device.list(partition: 7)[hash]?.meta == [newer.timestamp])
        try await device.remove(partition: 7, hash: hash, .olderThan("1700000002.00000"))
        #expect(try await device.list(partition: 7).isEmpty)
    }
}
