import Foundation
import Logging
import NIOCore
import NIOPosix
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing
@testable import ObjectStorage

/// A service on three local devices in a temp directory, over a fresh database.
struct Harness {
    let service: ObjectStorageService
    let devices: [LocalDevice]
    let dir: String
    let cleanup: @Sendable () async -> Void

    static let pool: NIOThreadPool = { let p = NIOThreadPool(numberOfThreads: 4); p.start(); return p }()

    static func make(_ engine: String, reclaimAge: TimeInterval = 300) async throws -> Harness {
        let (db, close) = try await Engines.open(engine)
        _ = try await Migrator(database: db).migrate(ObjectMigrations.all)
        let dir = NSTemporaryDirectory() + "nimbus-objects-\(UUID().uuidString)"
        var ring = Ring(partPower: 4, replicas: 3)
        for i in 1...3 { try ring.addDevice(name: "d\(i)", zone: i, weight: 100, address: nil) }
        try ring.rebalance()
        let devices = try ring.devices.map { try LocalDevice(ring: $0, root: "\(dir)/\($0.name)", pool: pool) }
        var settings = ObjectStorageSettings()
        settings.reclaimAge = reclaimAge
        let service = ObjectStorageService(index: ObjectIndex(database: db), ring: ring, devices: devices, settings: settings, logger: Logger(label: "test"))
        return Harness(service: service, devices: devices, dir: dir) {
            await close()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    func put(_ name: String, _ text: String, container: String = "c") async throws -> ObjectRow {
        _ = try await service.index.putContainer("AUTH_t", container, timestamp: service.timestamp()) { _ in }
        let u = ObjectStorageService.Upload(account: "AUTH_t", container: container, name: name, contentType: "text/plain", metadata: ["x-object-meta-a": "1"])
        return try await service.put(u, body: [ByteBuffer(string: text)].async)
    }

    func read(_ row: ObjectRow) async throws -> String {
        let s = try await service.open(row)
        var out = ""
        while let b = try await s.next() { out += String(buffer: b) }
        await s.close()
        return out
    }

    func dataFiles(_ row: ObjectRow) -> [String] {
        devices.map { $0.path(row.part, row.hash, row.timestamp + ".data") }.filter { FileManager.default.fileExists(atPath: $0) }
    }
}

@Suite struct ObjectServiceTests {
    @Test(arguments: Engines.available)
    func putWritesThreeReplicasAndCountsTheContainer(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        let row = try await h.put("a/b", "hello")
        #expect(row.etag == "5d41402abc4b2a76b9719d911017c592")
        #expect(h.dataFiles(row).count == 3)
        #expect(try await h.read(row) == "hello")
        let c = try await h.service.index.container("AUTH_t", "c")
        #expect(c?.objectCount == 1 && c?.bytesUsed == 5)
        // Overwrite: the new version replaces the old in the index and, soon, on disk.
        let row2 = try await h.put("a/b", "hello world")
        #expect(try await h.read(row2) == "hello world")
        let c2 = try await h.service.index.container("AUTH_t", "c")
        #expect(c2?.objectCount == 1 && c2?.bytesUsed == 11)
        _ = try await h.service.delete(account: "AUTH_t", container: "c", name: "a/b")
        #expect(try await h.service.index.object("AUTH_t", "c", "a/b") == nil)
        #expect(try await h.service.index.container("AUTH_t", "c")?.objectCount == 0)
    }

    @Test(arguments: Engines.available)
    func wrongETagAndMissingContainerStoreNothing(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        _ = try await h.service.index.putContainer("AUTH_t", "c", timestamp: h.service.timestamp()) { _ in }
        var u = ObjectStorageService.Upload(account: "AUTH_t", container: "c", name: "x", contentType: "t", metadata: [:], expectedETag: "0" + String(repeating: "1", count: 31))
        await #expect(throws: NimbusError.self) { try await h.service.put(u, body: [ByteBuffer(string: "data")].async) }
        u.expectedETag = nil
        u.container = "missing"
        await #expect(throws: NimbusError.self) { try await h.service.put(u, body: [ByteBuffer(string: "data")].async) }
        #expect(try await h.service.index.object("AUTH_t", "c", "x") == nil)
        u.container = "c"
        u.contentLength = 10
        await #expect(throws: NimbusError.self) { try await h.service.put(u, body: [ByteBuffer(string: "short")].async) }
        #expect(try await h.service.index.object("AUTH_t", "c", "x") == nil)
    }

    @Test(arguments: Engines.available)
    func corruptReplicaIsQuarantinedAndRestored(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        let row = try await h.put("obj", "important bytes")
        func corrupt(_ f: String) throws {
            let fh = try FileHandle(forUpdating: URL(fileURLWithPath: f))
            try fh.write(contentsOf: Data("X".utf8))
            try fh.close()
        }
        // The auditor finds a flipped byte (same length), quarantines the copy, and the
        // replicator restores it from a good one.
        try corrupt(h.dataFiles(row)[1])
        let audit = await h.service.audit(devices: h.devices)
        #expect(audit.quarantined == 1)
        #expect(h.dataFiles(row).count == 2)
        #expect(await h.service.replicate().copied == 1)
        #expect(h.dataFiles(row).count == 3)
        // A read skips bad copies (quarantining them) and serves the good one.
        for f in h.dataFiles(row).dropLast() { try corrupt(f) }
        #expect(try await h.read(row) == "important bytes")
        #expect(h.dataFiles(row).count == 1)
        #expect(await h.service.replicate().copied == 2)
        #expect(h.dataFiles(row).count == 3)
        #expect(await h.service.audit(devices: h.devices).quarantined == 0)
    }

    @Test(arguments: Engines.available)
    func largeCorruptReplicaFailsTheStreamAndIsQuarantined(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        let big = String(repeating: "0123456789abcdef", count: (verifyLimit + 1024) / 16)
        let row = try await h.put("big", big)
        // Over `verifyLimit` the MD5 is checked as the bytes stream: a flipped byte in every
        // replica makes the read fail at the end, and the copy it read is quarantined.
        for f in h.dataFiles(row) {
            let fh = try FileHandle(forUpdating: URL(fileURLWithPath: f))
            try fh.seek(toOffset: 100)
            try fh.write(contentsOf: Data("X".utf8))
            try fh.close()
        }
        await #expect(throws: ReplicaError.self) { _ = try await h.read(row) }
        #expect(h.dataFiles(row).count == 2)
    }

    @Test(arguments: Engines.available)
    func replicatorRepopulatesAWipedDeviceAndRemovesOrphans(_ engine: String) async throws {
        let h = try await Harness.make(engine, reclaimAge: 0)
        defer { Task { await h.cleanup() } }
        var rows = [ObjectRow]()
        for i in 0..<20 { rows.append(try await h.put("o\(i)", "body \(i)")) }
        try FileManager.default.removeItem(atPath: h.devices[1].root + "/objects")
        try FileManager.default.createDirectory(atPath: h.devices[1].root + "/objects", withIntermediateDirectories: true)
        // An orphan: a file the index does not name (a write that never committed).
        let orphan = h.devices[0].path(3, "0123456789abcdef0123456789abcdef", "0000000001.00000.data")
        try FileManager.default.createDirectory(atPath: h.devices[0].partitionDir(3), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: orphan, contents: Data("junk".utf8))
        let stats = await h.service.replicate()
        #expect(stats.copied == 20)
        #expect(stats.removed >= 1)
        for r in rows { #expect(h.dataFiles(r).count == 3) }
        #expect(!FileManager.default.fileExists(atPath: orphan))
    }

    @Test(arguments: Engines.available)
    func expiredObjectsAreDeleted(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        _ = try await h.service.index.putContainer("AUTH_t", "c", timestamp: h.service.timestamp()) { _ in }
        let u = ObjectStorageService.Upload(account: "AUTH_t", container: "c", name: "gone", contentType: "t", metadata: [:],
                                            deleteAt: Int(Date().timeIntervalSince1970) - 1)
        _ = try await h.service.put(u, body: [ByteBuffer(string: "x")].async)
        #expect(await h.service.expire() == 1)
        #expect(try await h.service.index.object("AUTH_t", "c", "gone") == nil)
    }
}

@Suite struct ListingTests {
    @Test(arguments: Engines.available)
    func markersPrefixesAndDelimiters(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        for n in ["a", "b/1", "b/2", "b/3/x", "c", "ä"] { _ = try await h.put(n, n) }
        let index = h.service.index
        func names(_ q: ListingQuery) async throws -> [String] {
            try await index.listObjects("AUTH_t", "c", q).map { e in
                switch e {
                case .row(let r): r.name
                case .subdir(let s): "dir:" + s
                }
            }
        }
        var q = ListingQuery()
        #expect(try await names(q) == ["a", "b/1", "b/2", "b/3/x", "c", "ä"])
        q.delimiter = "/"
        #expect(try await names(q) == ["a", "dir:b/", "c", "ä"])
        q.prefix = "b/"
        #expect(try await names(q) == ["b/1", "b/2", "dir:b/3/"])
        q = ListingQuery()
        q.marker = "b/1"; q.endMarker = "c"
        #expect(try await names(q) == ["b/2", "b/3/x"])
        q = ListingQuery()
        q.reverse = true; q.limit = 2
        #expect(try await names(q) == ["ä", "c"])
        q = ListingQuery()
        q.reverse = true; q.delimiter = "/"
        #expect(try await names(q) == ["ä", "c", "dir:b/", "a"])
        q = ListingQuery()
        q.limit = 2; q.delimiter = "/"; q.marker = "a"
        #expect(try await names(q) == ["dir:b/", "c"])
    }
}
