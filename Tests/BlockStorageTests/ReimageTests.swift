import BlockStorage
import Foundation
import Logging
import NimbusCore
import NimbusStore
import NimbusTestSupport
import StorageNode
import Testing

/// The image service as the re-image sees it: one active image and one queued one.
struct TwoImages: VolumeImageClient {
    struct Source: ImageSource {
        let id: String
        var diskFormat: String { "raw" }
        var size: Int64 { 4 }
        var md5: String? { "0" }
        var sha512: String? { nil }
        func bytes() async throws -> any AsyncSequence<[UInt8], any Error> { AsyncThrowingStream { $0.finish() } }
    }

    static let active = "11111111-1111-4111-8111-111111111111"
    static let queued = "22222222-2222-4222-8222-222222222222"

    func image(_ ref: String, caller: AuthContext) async throws -> VolumeImage? {
        guard ref == Self.active || ref == Self.queued else { return nil }
        return VolumeImage(id: ref, name: "img", status: ref == Self.active ? "active" : "queued", diskFormat: "raw", containerFormat: "bare",
                           size: 4, minDiskGB: 0, minRamMB: 0, checksum: "0", properties: [:])
    }
    func source(_ id: String) async throws -> any ImageSource { Source(id: id) }
    func createImage(_ create: JSONObject, owner: String) async throws -> (id: String, image: JSONObject) { throw NimbusError(.notImplemented, "no") }
    func upload(_ imageID: String, file: String) async throws {}
    func deleteImage(_ id: String) async throws {}
}

/// The fake backend whose `create` of an existing volume waits until released: a re-image that
/// a crash interrupts.
final class StallingBackend: VolumeBackend, Sendable {
    let inner: FakeVolumeBackend
    /// Whether the held write fails (a crash) or completes once released.
    let fails: Bool
    private let gate = AsyncStream<Void>.makeStream()
    init(_ inner: FakeVolumeBackend, fails: Bool = true) { self.inner = inner; self.fails = fails }
    func release() { gate.continuation.finish() }

    var host: String { inner.host }
    func capacity() async -> (totalGB: Int64, freeGB: Int64) { await inner.capacity() }
    func create(volume id: String, sizeGB: Int64, from source: VolumeSource) async throws {
        if inner.size(of: id) != nil {   // a re-image: held
            for await _ in gate.stream {}
            if fails { throw NimbusError(.internal, "the process went away") }
        }
        try await inner.create(volume: id, sizeGB: sizeGB, from: source)
    }
    func extend(volume id: String, sizeGB: Int64) async throws { try await inner.extend(volume: id, sizeGB: sizeGB) }
    func delete(volume id: String) async throws { try await inner.delete(volume: id) }
    func snapshot(volume: String, snapshot id: String) async throws { try await inner.snapshot(volume: volume, snapshot: id) }
    func delete(snapshot id: String) async throws { try await inner.delete(snapshot: id) }
    func revert(volume: String, to snapshot: String, sizeGB: Int64) async throws { try await inner.revert(volume: volume, to: snapshot, sizeGB: sizeGB) }
    func export(volume id: String, format: String, _ consume: @Sendable (String) async throws -> Void) async throws {
        try await inner.export(volume: id, format: format, consume)
    }
    func export(volume id: String, name: String) async throws -> VolumeExport { try await inner.export(volume: id, name: name) }
    func unexport(name: String) async throws { try await inner.unexport(name: name) }
    func exportNames() async throws -> Set<String> { try await inner.exportNames() }
    func withRawImage(of source: BackupSource, _ consume: @Sendable (String) async throws -> Void) async throws {
        try await inner.withRawImage(of: source, consume)
    }
    func restore(volume id: String, sizeGB: Int64, _ fill: @Sendable (String) async throws -> Void) async throws {
        try await inner.restore(volume: id, sizeGB: sizeGB, fill)
    }
    func inventory() async throws -> (volumes: Set<String>, snapshots: Set<String>) { try await inner.inventory() }
}

@Suite struct ReimageTests {
    func service(_ db: Database, _ backend: FakeVolumeBackend) async throws -> VolumeService {
        try await VolumeService(store: VolumeStore(database: db), backend: backend, images: TwoImages(), logger: Logger(label: "test"))
    }

    @Test func statusesImagesAndCrashRecovery() async throws {
        for engine in Engines.available {
            let (db, close) = try await Engines.open(engine)
            try await Migrator(database: db).migrate(VolumeMigrations.all)
            let backend = FakeVolumeBackend()
            let s = try await service(db, backend)
            try await s.ensureDefaultType()
            let id = try #require(try await s.createVolume(blank(1), actor: alice, caller: anyone)["id"]?.stringValue)
            await s.settle()
            // Another project's volume, a queued image, an unknown image: refused, status untouched.
            await #expect(throws: NimbusError.self) { try await s.reimage(id, imageID: TwoImages.active, reimageReserved: false, actor: bob, caller: anyone) }
            await #expect(throws: NimbusError.self) { try await s.reimage(id, imageID: TwoImages.queued, reimageReserved: false, actor: alice, caller: anyone) }
            await #expect(throws: NimbusError.self) {
                try await s.reimage(id, imageID: "33333333-3333-4333-8333-333333333333", reimageReserved: false, actor: alice, caller: anyone)
            }
            #expect(status(s, .volume, id) == "available")
            // Done: back to its status, with the image's metadata.
            try await s.reimage(id, imageID: TwoImages.active, reimageReserved: false, actor: alice, caller: anyone)
            #expect(status(s, .volume, id) == "downloading")
            await s.settle()
            #expect(status(s, .volume, id) == "available")
            #expect(s.state[.volume, id]?["volume_image_metadata"]?["image_id"]?.stringValue == TwoImages.active)
            #expect(s.state[.volume, id]?["reimaging"] == nil)
            // A crash mid-re-image: the next start ends it `error` and keeps the bytes (a create
            // interrupted the same way loses its partial bytes).
            // Reserved for a server (an attachment without a connector): re-imaged with
            // reimage_reserved, and reserved again after; an attachment deleted meanwhile leaves
            // it available (its status comes from the attachments left, not only the old one).
            let a = try await s.createAttachment(volumeID: id, instance: "00000000-0000-4000-8000-000000000001", connector: nil, mode: "rw", actor: alice)
            #expect(status(s, .volume, id) == "reserved")
            await #expect(throws: NimbusError.self) { try await s.reimage(id, imageID: TwoImages.active, reimageReserved: false, actor: alice, caller: anyone) }
            try await s.reimage(id, imageID: TwoImages.active, reimageReserved: true, actor: alice, caller: anyone)
            await s.settle()
            #expect(status(s, .volume, id) == "reserved")
            try await s.deleteAttachment(try #require(a["id"]?.stringValue), actor: alice)
            #expect(status(s, .volume, id) == "available")
            // This process "crashes" while the backend writes the image (its write never ends).
            let stalled = StallingBackend(backend)
            let dying = try await VolumeService(store: VolumeStore(database: db), backend: stalled, images: TwoImages(), logger: Logger(label: "test"))
            try await dying.reimage(id, imageID: TwoImages.active, reimageReserved: false, actor: alice, caller: anyone)
            #expect(status(dying, .volume, id) == "downloading")
            let again = try await service(db, backend)
            try await again.recover()
            await again.settle()
            #expect(status(again, .volume, id) == "error")
            #expect(backend.size(of: id) == 1, "the volume's bytes are kept")
            #expect(again.state[.volume, id]?["reimaging"] == nil)
            stalled.release()
            await dying.settle()
            await close()
        }
    }

    @Test func anAttachmentDeletedDuringAReimageLeavesItDownloadingThenAvailable() async throws {
        try await withVolumeService(engines: ["sqlite"]) { _, backend, db in
            let stalled = StallingBackend(backend, fails: false)
            let s = try await VolumeService(store: VolumeStore(database: db), backend: stalled, images: TwoImages(), logger: Logger(label: "test"))
            let id = try #require(try await s.createVolume(blank(1), actor: alice, caller: anyone)["id"]?.stringValue)
            while status(s, .volume, id) == "creating" { try await Task.sleep(for: .milliseconds(5)) }
            let a = try await s.createAttachment(volumeID: id, instance: "00000000-0000-4000-8000-000000000002", connector: nil, mode: "rw", actor: alice)
            try await s.reimage(id, imageID: TwoImages.active, reimageReserved: true, actor: alice, caller: anyone)
            // The server went meanwhile: its attachment goes, the re-image goes on.
            try await s.deleteAttachment(try #require(a["id"]?.stringValue), actor: alice)
            #expect(status(s, .volume, id) == "downloading")
            stalled.release()
            await s.settle()
            #expect(status(s, .volume, id) == "available")
            #expect(s.state[.volume, id]?["reimaging"] == nil)
        }
    }
}
