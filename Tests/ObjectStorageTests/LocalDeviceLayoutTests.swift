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

    /// A `.meta` file is only a trailer whose `size` is the object's: it reads back (the
    /// replicator's copyMeta and a node's GET and push of a `.meta` read it so), and a `.meta`
    /// with anything before its trailer is corrupt.
    @Test func metaFilesReadBack() async throws {
        let root = NSTemporaryDirectory() + "nimbus-meta-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let device = try LocalDevice(ring: RingDevice(id: 0, name: "d1", zone: 1), root: root, pool: Harness.pool)
        let hash = "0123456789abcdef0123456789abcdef"
        let meta = DiskMetadata(name: "a/c/o", timestamp: "1700000000.00000", size: 5, etag: "5d41402abc4b2a76b9719d911017c592", headers: [:])
        let w = try await device.writer(partition: 7, hash: hash, timestamp: meta.timestamp)
        try await w.write(ByteBuffer(string: "hello"))
        try await w.commit(meta)
        var posted = meta
        posted.timestamp = "1700000001.00000"
        posted.headers = ["x-object-meta-color": "blue"]
        try await device.writeMeta(partition: 7, hash: hash, metadata: posted)
        let back = try await device.readMeta(partition: 7, hash: hash, timestamp: posted.timestamp)
        #expect(back.timestamp == posted.timestamp && back.headers["x-object-meta-color"] == "blue" && back.size == 5)
        // Bytes before the trailer: not a .meta this code wrote.
        let path = device.path(7, hash, posted.timestamp + ".meta")
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        try (Data("junk".utf8) + original).write(to: URL(fileURLWithPath: path))
        await #expect(throws: ReplicaError.self) { try await device.readMeta(partition: 7, hash: hash, timestamp: posted.timestamp) }
    }
}
