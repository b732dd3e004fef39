import Foundation
import NIOCore
import NimbusCore
import NimbusTestSupport
import Testing
@testable import ObjectStorage

/// Version ids as Swift's `Timestamp(...)` reads them (object_versioning.py `validate_version`).
@Suite struct VersionIDTests {
    @Test(arguments: [
        ("1700000000.12345", "1700000000.12345"), ("1700000000.123456", "1700000000.12346"), ("1.5", "0000000001.50000"),
        ("1e9", "1000000000.00000"), (" 12 ", "0000000012.00000"), ("+7.", "0000000007.00000"), (".5", "0000000000.50000"),
        ("1_0000000000000001", "0000000001.00000"), ("1_", "0000000001.00000"), ("1_0x1F", "0000000001.00000"), ("1_-0", "0000000001.00000"),
        ("9999999999.99999", "9999999999.99999"), ("0", "0000000000.00000"), ("-0.000001", "0000000000.00000"),
        // Python's float and round(): 9999999999.999995 is 9999999999.999994 in binary; halves round to even.
        ("9999999999.999995", "9999999999.99999"), ("1700000000.123455", "1700000000.12346"), ("0.000005", "0000000000.00000"),
    ])
    func acceptsWhatSwiftAccepts(_ value: String, _ id: String) {
        #expect(VersionID.normalize(value) == id)
    }

    @Test(arguments: ["", "null", "bad", "-1", "10000000000", "9999999999.999996", "inf", "-inf", "nan", "1e400", "1_g", "1_-1",
                      "1_00000000000000001", "1_2_3", "1.2.3", "0x10", "1e", "١٢٣", String(repeating: "9", count: 400), "1 2"])
    func refusesWhatSwiftRefuses(_ value: String) {
        #expect(VersionID.normalize(value) == nil)
    }

    @Test func keysInvertTimestampsSoNewerSortsFirst() {
        // test_object_versioning.py: version 0000001234.00000 lives under 9999998765.99999.
        #expect(ObjectIndex.versionKey("0000001234.00000") == "9999998765.99999")
        #expect(ObjectIndex.versionKey("1700000000.12346").bytesPrecede(ObjectIndex.versionKey("1700000000.12345")))
        #expect(ObjectIndex.versionKey("not an id").hasBytePrefix("~"))
    }
}

/// The versioning rules below HTTP: new versions, delete markers, promotion, suspension,
/// counts, and the files the replicator must keep.
@Suite struct VersioningServiceTests {
    static let account = "AUTH_t"

    /// `X-Versions-Enabled: true|false` on container `c` (created when missing).
    func setVersioning(_ h: Harness, _ c: String, _ on: Bool) async throws {
        _ = try await h.service.index.putContainer(Self.account, c, timestamp: h.service.timestamp()) {
            try SwiftRequest.applyVersioning(on, updates: [:], container: c, to: &$0)
        }
    }

    func versions(_ h: Harness, _ c: String = "c", prefix: String = "") async throws -> [(String, String, Bool)] {
        var q = ListingQuery()
        q.prefix = prefix
        return try await h.service.index.listVersions(Self.account, c, q, from: nil).compactMap {
            if case .row(let v) = $0 { return (v.row.name, v.row.timestamp, v.isLatest) }
            return nil
        }
    }

    func container(_ h: Harness, _ c: String = "c") async throws -> ContainerRow {
        try #require(try await h.service.index.container(Self.account, c))
    }

    @Test(arguments: Engines.available)
    func everyPutKeepsTheVersionBefore(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        try await setVersioning(h, "c", true)
        let v1 = try await h.put("obj", "one")
        let v2 = try await h.put("obj", "two!")
        #expect(v1.versionID == v1.timestamp && v2.versionID == v2.timestamp && v1.timestamp < v2.timestamp)
        let current = try #require(try await h.service.visibleObject(Self.account, "c", "obj"))
        #expect(current.versionID == v2.timestamp)
        #expect(try await h.read(current) == "two!")
        let old = try #require(try await h.service.index.version(Self.account, "c", "obj", id: v1.timestamp))
        #expect(try await h.read(old) == "one")
        #expect(try await versions(h).map { "\($0.1)|\($0.2)" } == ["\(v2.timestamp)|true", "\(v1.timestamp)|false"])
        // The current row counts 1 object and no bytes; the versions hold the bytes.
        let c = try await container(h)
        #expect(c.objectCount == 1 && c.bytesUsed == 0 && c.versionsCount == 2 && c.versionsBytes == 7 && c.reportedBytes == 7)
        // The account counts the versions container as a container, its versions as objects.
        let stats = try await h.service.index.accountStats(Self.account)
        #expect(stats.containers == 2 && stats.objects == 3 && stats.bytes == 7)
    }

    @Test(arguments: Engines.available)
    func aPlainObjectIsArchivedUnderItsOwnTimestamp(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        let plain = try await h.put("obj", "before")
        try await setVersioning(h, "c", true)
        let v = try await h.put("obj", "after")
        let archived = try #require(try await h.service.index.version(Self.account, "c", "obj", id: plain.timestamp))
        #expect(try await h.read(archived) == "before" && archived.hash != plain.hash)
        #expect(try await versions(h).map(\.1) == [v.timestamp, plain.timestamp])
        // The plain object's own files go once it is archived.
        try await Task.sleep(for: .milliseconds(200))
        #expect(h.dataFiles(plain).isEmpty)
        #expect(h.dataFiles(archived).count == 3)
    }

    @Test(arguments: Engines.available)
    func deleteWritesAMarkerThatIsLatest(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        try await setVersioning(h, "c", true)
        let v1 = try await h.put("obj", "one")
        let r = try await h.service.deleteObject(account: Self.account, container: try await container(h), name: "obj")
        #expect(r.deleted && r.markerID != nil)
        #expect(try await h.service.visibleObject(Self.account, "c", "obj") == nil)
        #expect(try await versions(h).map { "\($0.1)|\($0.2)" } == ["\(r.markerID!)|true", "\(v1.timestamp)|false"])
        // A DELETE of nothing still writes a marker, and says the object was not there.
        let again = try await h.service.deleteObject(account: Self.account, container: try await container(h), name: "obj")
        #expect(!again.deleted && again.markerID != nil)
        let c = try await container(h)
        #expect(c.objectCount == 0 && c.versionsCount == 3)
        #expect(try await h.service.index.deleteContainer(Self.account, "c") == .hasVersions)
    }

    @Test(arguments: Engines.available)
    func aPutOlderThanADeleteMarkerStaysAVersion(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        try await setVersioning(h, "c", true)
        _ = try await h.put("obj", "one")
        // A PUT that got its timestamp before a DELETE but commits after it.
        let early = h.service.timestamp()
        let marker = try await h.service.deleteObject(account: Self.account, container: try await container(h), name: "obj")
        let u = ObjectStorageService.Upload(account: Self.account, container: "c", name: "obj", contentType: "text/plain", metadata: [:])
        let place = try h.service.versionPlacement(account: Self.account, container: "c", name: "obj", id: early, policy: 0)
        var late = try await h.service.store(u, at: place, timestamp: early, body: [ByteBuffer(string: "late")].async)
        late.versionID = early
        late.isVersionRecord = true
        _ = try await h.service.commitVersion(late, marker: false, deleteAt: nil)
        #expect(try await h.service.visibleObject(Self.account, "c", "obj") == nil)
        let listed = try await versions(h)
        #expect(listed.map(\.1) == [marker.markerID!, early, listed[2].1] && listed.map(\.2) == [true, false, false])
        #expect(try await container(h).objectCount == 0)
    }

    @Test(arguments: Engines.available)
    func promotionAndVersionDeletes(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        try await setVersioning(h, "c", true)
        let v1 = try await h.put("obj", "one")
        let v2 = try await h.put("obj", "two")
        let shown = try await h.service.promote(account: Self.account, container: try await container(h), name: "obj", id: v1.timestamp, deleteAt: nil)
        #expect(shown.versionID == v1.timestamp)
        #expect(try await versions(h).map(\.2) == [false, true])
        // Deleting a version that is not current leaves the object alone...
        let other = try await h.service.deleteVersion(account: Self.account, container: "c", name: "obj", id: v2.timestamp)
        #expect(other.deleted != nil && other.current?.versionID == v1.timestamp)
        // ...deleting the current one removes the object too (no older version takes its place).
        let cur = try await h.service.deleteVersion(account: Self.account, container: "c", name: "obj", id: v1.timestamp)
        #expect(cur.deleted != nil && cur.current == nil)
        #expect(try await versions(h).isEmpty)
        let c = try await container(h)
        #expect(c.objectCount == 0 && c.versionsCount == 0 && c.versionsBytes == 0)
        try await Task.sleep(for: .milliseconds(200))
        #expect(h.dataFiles(v1).isEmpty && h.dataFiles(v2).isEmpty)
        #expect(try await h.service.index.deleteContainer(Self.account, "c") == .deleted)
    }

    @Test(arguments: Engines.available)
    func suspendedWritesReplaceTheNullVersion(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        try await setVersioning(h, "c", true)
        let v1 = try await h.put("obj", "one")
        try await setVersioning(h, "c", false)
        #expect(h.service.versioning(of: try await container(h)) == .suspended)
        let null1 = try await h.put("obj", "null one")
        #expect(null1.versionID == nil)
        _ = try await h.put("obj", "null two")
        // The versioned data stays; the plain object is listed apart (the API lists it as `null`).
        #expect(try await versions(h).map { "\($0.1)|\($0.2)" } == ["\(v1.timestamp)|false"])
        let r = try await h.service.deleteObject(account: Self.account, container: try await container(h), name: "obj")
        #expect(r.deleted && r.markerID == nil)
        #expect(try await versions(h).count == 1)
        // Enabled again: the next write keeps whatever plain object there is.
        try await setVersioning(h, "c", true)
        _ = try await h.put("obj", "three")
        #expect(try await versions(h).count == 2)
    }

    @Test(arguments: Engines.available)
    func postReachesTheCurrentVersionOnly(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        try await setVersioning(h, "c", true)
        let v1 = try await h.put("obj", "one")
        _ = try await h.put("obj", "two")
        let current = try #require(try await h.service.visibleObject(Self.account, "c", "obj"))
        _ = try await h.service.updateMetadata(current, metadata: ["x-object-meta-color": "red"], contentType: "text/red", deleteAt: nil)
        let version = try #require(try await h.service.index.version(Self.account, "c", "obj", id: current.timestamp))
        #expect(version.metadata["x-object-meta-color"] == "red" && version.contentType == "text/red")
        let old = try #require(try await h.service.index.version(Self.account, "c", "obj", id: v1.timestamp))
        #expect(old.metadata["x-object-meta-color"] == nil)
        #expect(try await versions(h).count == 2)
    }

    @Test(arguments: Engines.available)
    func replicationKeepsEveryVersionsFiles(_ engine: String) async throws {
        let h = try await Harness.make(engine, reclaimAge: 0)
        defer { Task { await h.cleanup() } }
        try await setVersioning(h, "c", true)
        var rows = [ObjectRow]()
        for i in 0..<4 { rows.append(try await h.put("obj", "body \(i)")) }
        _ = try await h.service.deleteObject(account: Self.account, container: try await container(h), name: "obj")
        // Remove one replica of each version; the pass restores them and removes none.
        for r in rows { try FileManager.default.removeItem(atPath: h.dataFiles(r)[0]) }
        let stats = await h.service.replicate()
        #expect(stats.copied == 4 && stats.lost == 0)
        for r in rows { #expect(h.dataFiles(r).count == 3) }
    }

    @Test(arguments: Engines.available)
    func namesAreBytes(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        defer { Task { await h.cleanup() } }
        try await setVersioning(h, "c", true)
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        _ = try await h.put(composed, "composed 1")
        _ = try await h.put(decomposed, "decomposed 1")
        _ = try await h.put(composed, "composed 2")
        let listed = try await versions(h)
        #expect(listed.map(\.0).map { Array($0.utf8) } == [Array(decomposed.utf8), Array(composed.utf8), Array(composed.utf8)])
        #expect(try await versions(h, prefix: "cafe").count == 1)
        #expect(try await h.service.index.container(Self.account, "c")?.versionsCount == 3)
    }
}
