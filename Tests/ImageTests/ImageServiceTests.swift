import Foundation
import Logging
import NIOCore
import NIOPosix
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing
@testable import Image

struct ImageHarness {
    let service: ImageService
    let dir: String
    let cleanup: @Sendable () async -> Void

    /// `multiple`: two file stores, `a` (the default) and `b`, in Glance's multi-store mode.
    static func make(_ engine: String, multiple: Bool = false) async throws -> ImageHarness {
        let (db, close) = try await Engines.open(engine)
        try await Migrator(database: db).migrate(ImageMigrations.all)
        let dir = NSTemporaryDirectory() + "image-svc-\(UUID().uuidString)"
        let stores = multiple
            ? try ImageStores([.init(store: try FileImageStore(root: dir + "/a", pool: .singleton, id: "a"), type: "file", description: ""),
                               .init(store: try FileImageStore(root: dir + "/b", pool: .singleton, id: "b"), type: "file", description: "")], defaultID: "a")
            : ImageStores(single: try FileImageStore(root: dir + "/images", pool: .singleton))
        let service = ImageService(repository: ImageRepository(database: db),
                                   stores: stores,
                                   staging: try FileImageStore(root: dir + "/staging", pool: .singleton),
                                   settings: ImageSettings(), logger: Logger(label: "test"))
        return ImageHarness(service: service, dir: dir, cleanup: { await close(); try? FileManager.default.removeItem(atPath: dir) })
    }
}

struct Bytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let data: [UInt8]
    struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ArraySlice<UInt8>
        mutating func next() async throws -> ByteBuffer? {
            guard !rest.isEmpty else { return nil }
            let n = Swift.min(65536, rest.count)
            defer { rest = rest.dropFirst(n) }
            return ByteBuffer(bytes: rest.prefix(n))
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: data[...]) }
}

/// Waits until the image satisfies `done`.
func waitFor(_ s: ImageService, _ id: String, _ done: (Image) -> Bool) async throws -> Image {
    let admin = ImageCaller(projectID: nil, isAdmin: true)
    var image = try await s.visible(id, caller: admin).0
    for _ in 0..<500 where !done(image) {
        try await Task.sleep(for: .milliseconds(10))
        image = try await s.visible(id, caller: admin).0
    }
    #expect(done(image), "image \(id) reached \(image.status) \(image.properties)")
    return image
}

@Suite struct ImageServiceTests {
    @Test(arguments: Engines.available)
    func createUploadDownloadDelete(_ engine: String) async throws {
        let h = try await ImageHarness.make(engine)
        let s = h.service
        let image = try await s.create(["name": "cirros", "disk_format": "raw", "container_format": "bare", "os_distro": "debian", "tags": ["a"]], owner: "p")
        #expect(image.status == .queued && image.visibility == .shared && image.properties == ["os_distro": "debian"])
        await #expect(throws: NimbusError.self) { try await s.create(["id": .string(image.id)], owner: "p") }  // 409
        await #expect(throws: NimbusError.self) { try await s.create(["os_glance_x": "1"], owner: "p") }
        await #expect(throws: NimbusError.self) { try await s.create(["status": "active"], owner: "p") }
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        let active = try await s.upload(image, body: Bytes(data: data), declaredSize: nil)
        #expect(active.status == .active && active.size == 300_000 && active.virtualSize == 300_000 && active.checksum?.count == 32)
        await #expect(throws: NimbusError.self) { try await s.upload(active, body: Bytes(data: data), declaredSize: nil) }  // 409
        var got = [UInt8]()
        for try await c in try await s.download(active, range: nil)! { got += c.readableBytesView }
        #expect(got == data)
        try await s.deactivate(active)
        let (deactivated, _) = try await s.visible(image.id, caller: ImageCaller(projectID: "p", isAdmin: false))
        #expect(deactivated.status == .deactivated)
        try await s.reactivate(deactivated)
        let (reloaded, _) = try await s.visible(image.id, caller: ImageCaller(projectID: "p", isAdmin: false))
        try await s.delete(reloaded)
        await #expect(throws: NimbusError.self) { try await s.visible(image.id, caller: ImageCaller(projectID: "p", isAdmin: true)) }
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/images/" + image.id))
        await h.cleanup()
    }

    @Test(arguments: Engines.available)
    func failedUploadLeavesTheImageQueued(_ engine: String) async throws {
        let h = try await ImageHarness.make(engine)
        let s = h.service
        let noFormats = try await s.create(["name": "x"], owner: "p")
        await #expect(throws: NimbusError.self) { try await s.upload(noFormats, body: Bytes(data: [1, 2, 3]), declaredSize: nil) }
        let image = try await s.create(["name": "y", "disk_format": "qcow2", "container_format": "bare"], owner: "p")
        await #expect(throws: NimbusError.self) { try await s.upload(image, body: Bytes(data: [1, 2, 3]), declaredSize: 10) }
        let (after, _) = try await s.visible(image.id, caller: ImageCaller(projectID: "p", isAdmin: false))
        #expect(after.status == .queued && after.size == nil && after.checksum == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir + "/images").filter { $0 != "tmp" }.isEmpty)
        await h.cleanup()
    }

    @Test(arguments: Engines.available)
    func membersShareAndStagedImportsFinish(_ engine: String) async throws {
        let h = try await ImageHarness.make(engine)
        let s = h.service
        let image = try await s.create(["name": "shared", "disk_format": "raw", "container_format": "bare"], owner: "p")
        let other = ImageCaller(projectID: "q", isAdmin: false)
        await #expect(throws: NimbusError.self) { try await s.visible(image.id, caller: other) }
        let m = try await s.addMember(image, member: "q")
        #expect(m.status == .pending)
        await #expect(throws: NimbusError.self) { try await s.addMember(image, member: "q") }  // 409
        #expect(try await s.visible(image.id, caller: other).1 == .pending)
        #expect(try await s.list(ImageListing(query: []), caller: other).images.isEmpty)
        _ = try await s.updateMember(image, m, status: .accepted)
        #expect(try await s.list(ImageListing(query: []), caller: other).images.map(\.id) == [image.id])

        try await s.stage(image, body: Bytes(data: Array(repeating: 7, count: 5000)))
        let (staged, _) = try await s.visible(image.id, caller: other)
        #expect(staged.status == .uploading && staged.size == 5000)
        let task = try await s.startImport(staged, ImportRequest(method: .glanceDirect, stores: ["file"], allStoresMustSucceed: true),
                                           body: ["method": ["name": "glance-direct"]], allStores: false,
                                           caller: .init(projectID: "p", userID: "u", requestID: "req-1"))
        let final = try await waitFor(s, image.id) { $0.status == .active && $0.properties["os_glance_import_task"] == nil }
        #expect(final.size == 5000 && final.properties["os_glance_importing_to_stores"] == "" && final.stores == ["file"])
        let tasks = try await s.tasks(of: final, caller: ImageCaller(projectID: "p", isAdmin: false))
        #expect(tasks.map(\.id) == [task?.id] && tasks.first?.status == .success && tasks.first?.requestID == "req-1")
        #expect(try await s.tasks(of: final, caller: other).isEmpty)
        await h.cleanup()
    }

    @Test(arguments: Engines.available)
    func multipleStoresImportCopyAndDeleteFromOne(_ engine: String) async throws {
        let h = try await ImageHarness.make(engine, multiple: true)
        let s = h.service
        let caller = ImageService.ImportCaller(projectID: "p", userID: "u", requestID: "req-2")
        let data = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        // glance-direct to every store.
        let image = try await s.create(["name": "multi", "disk_format": "raw", "container_format": "bare"], owner: "p")
        try await s.stage(image, body: Bytes(data: data))
        #expect(try s.importTargets(body: ["all_stores": true], header: nil) == ["a", "b"])
        #expect(throws: NimbusError.self) { try s.importTargets(body: ["all_stores": true, "stores": ["a"]], header: nil) }
        #expect(throws: NimbusError.self) { try s.importTargets(body: ["stores": ["c"]], header: nil) }
        #expect(try s.importTargets(body: [:], header: "b") == ["b"])
        let staged = try await s.visible(image.id, caller: .init(projectID: "p", isAdmin: false)).0
        try await s.startImport(staged, ImportRequest(method: .glanceDirect, stores: ["a", "b"], allStoresMustSucceed: true),
                                body: ["method": ["name": "glance-direct"], "all_stores": true], allStores: true, caller: caller)
        var both = try await waitFor(s, image.id) { $0.status == .active && $0.properties["os_glance_import_task"] == nil }
        #expect(both.stores == ["a", "b"] && both.properties["os_glance_importing_to_stores"] == "" && both.properties["os_glance_staged"] == nil)
        // Drop one copy; the other serves the bytes; the last copy cannot go.
        try await s.deleteFromStore(both, storeID: "a")
        both = try await s.visible(image.id, caller: .init(projectID: nil, isAdmin: true)).0
        #expect(both.stores == ["b"])
        var got = [UInt8]()
        for try await c in try await s.download(both, range: nil)! { got += c.readableBytesView }
        #expect(got == data)
        await #expect(throws: NimbusError.self) { try await s.deleteFromStore(both, storeID: "b") }  // 403: the only copy
        // copy-image back into a: already in b (400 without all_stores; nothing to do with it).
        let copy = ImportRequest(method: .copyImage, stores: ["b"], allStoresMustSucceed: true)
        await #expect(throws: NimbusError.self) { try await s.startImport(both, copy, body: [:], allStores: false, caller: caller) }
        #expect(try await s.startImport(both, copy, body: [:], allStores: true, caller: caller) == nil)
        try await s.startImport(both, ImportRequest(method: .copyImage, stores: ["a"], allStoresMustSucceed: true), body: [:], allStores: false, caller: caller)
        let copied = try await waitFor(s, image.id) { $0.properties["os_glance_import_task"] == nil && $0.properties["os_glance_importing_to_stores"] == "" }
        #expect(copied.status == .active && copied.stores == ["a", "b"] && copied.checksum == both.checksum)
        // The copy in a has the same bytes: drop b and read.
        try await s.deleteFromStore(copied, storeID: "b")
        got = []
        for try await c in try await s.download(try await s.visible(image.id, caller: .init(projectID: nil, isAdmin: true)).0, range: nil)! { got += c.readableBytesView }
        #expect(got == data)
        #expect(try await s.tasks(of: copied, caller: .init(projectID: "p", isAdmin: false)).map(\.status) == [.success, .success])
        await h.cleanup()
    }
}

@Suite struct ImageListingSQLTests {
    /// The SQL listing agrees with the in-memory reference on a random catalog, page by page.
    @Test(arguments: Engines.available)
    func sqlListingMatchesTheReference(_ engine: String) async throws {
        let h = try await ImageHarness.make(engine)
        let repo = h.service.repository
        var rng = SystemRandomNumberGenerator()
        var all = [Image]()
        let owners = ["p", "q", "r"]
        for n in 0..<120 {
            var i = Image(id: Identifiers.uuid(), owner: owners[n % 3], now: Date(timeIntervalSince1970: TimeInterval(1_700_000_000 + Int.random(in: 0..<40, using: &rng))))
            i.name = ["alpha", "beta", "gamma", nil][n % 4]
            i.visibility = Visibility.allCases[Int.random(in: 0..<4, using: &rng)]
            i.status = [.active, .queued, .killed, .deactivated][n % 4 == 2 ? 2 : Int.random(in: 0..<4, using: &rng) == 2 ? 0 : n % 2]
            i.size = n % 5 == 0 ? nil : Int64.random(in: 0..<5, using: &rng)
            i.diskFormat = ["raw", "qcow2", nil][n % 3]
            i.osHidden = n % 17 == 0
            i.tags = n % 2 == 0 ? ["even"] : []
            i.properties = n % 3 == 0 ? ["os_distro": "debian"] : [:]
            i.updatedAt = i.createdAt
            try await repo.insert(i)
            all.append(i)
        }
        for (image, member) in [(all[1], "p"), (all[4], "p"), (all[7], "p")] where image.visibility == .shared {
            try await repo.addMember(ImageMember(imageID: image.id, memberID: member, now: Date()), limit: 10)
        }
        let members = try await repo.memberships(of: "p")
        let callers = [ImageCaller(projectID: "p", isAdmin: false), ImageCaller(projectID: "x", isAdmin: true)]
        let queries: [[(String, String)]] = [
            [], [("sort_key", "name"), ("sort_dir", "asc")], [("sort", "size:asc,name:desc")], [("sort_key", "size")],
            [("visibility", "all")], [("member_status", "all"), ("visibility", "shared")], [("tag", "even")], [("os_distro", "debian")],
            [("disk_format", "in:raw,qcow2"), ("sort_key", "disk_format")], [("size_min", "2"), ("size_max", "3")], [("os_hidden", "true")],
            [("created_at", "gte:2023-11-14T22:13:30Z")], [("status", "deactivated")],
        ]
        for caller in callers {
            for query in queries {
                // Walk every page of 7 both ways and compare.
                var marker: String?
                var sqlIDs = [String]()
                var refIDs = [String]()
                repeat {
                    let l = try ImageListing(query: query + [("limit", "7")] + (marker.map { [("marker", $0)] } ?? []))
                    let m = marker.flatMap { id in all.first { $0.id == id } }
                    let page = try await repo.list(l, caller: caller, marker: m)
                    let ref = try l.page(all, caller: caller, members: caller.isAdmin ? [:] : members).images
                    #expect(page.map(\.id) == ref.map(\.id), "query \(query) caller admin=\(caller.isAdmin) after \(marker ?? "start")")
                    sqlIDs += page.map(\.id)
                    refIDs += ref.map(\.id)
                    marker = page.count == 7 ? page.last?.id : nil
                } while marker != nil && sqlIDs.count < 200
                #expect(sqlIDs == refIDs)
                if query.isEmpty || query.first?.0 == "visibility" { #expect(!sqlIDs.isEmpty, "query \(query) lists something") }
            }
        }
        await h.cleanup()
    }
}

@Suite struct ImageRecoveryTests {
    @Test(arguments: Engines.available)
    func crashLeftoversAreRecoveredAtStart(_ engine: String) async throws {
        let h = try await ImageHarness.make(engine)
        let s = h.service
        let a = try await s.create(["name": "a", "disk_format": "raw", "container_format": "bare"], owner: "p")
        let b = try await s.create(["name": "b", "disk_format": "raw", "container_format": "bare"], owner: "p")
        // As a kill -9 mid-upload and mid-stage leaves them.
        try await s.transition(a.id, from: .queued, to: .saving) { $0.size = 10 }
        try await s.transition(b.id, from: .queued, to: .uploading)
        #expect(try await s.recover() == 2)
        let admin = ImageCaller(projectID: nil, isAdmin: true)
        #expect(try await s.visible(a.id, caller: admin).0.status == .queued)
        #expect(try await s.visible(a.id, caller: admin).0.size == nil)
        #expect(try await s.visible(b.id, caller: admin).0.status == .queued)
        // A PATCH made while an upload runs survives the upload's completion.
        let c = try await s.create(["name": "c", "disk_format": "raw", "container_format": "bare", "visibility": "shared"], owner: "p")
        let upload = Task { try await s.upload(c, body: Bytes(data: Array(repeating: 1, count: 2_000_000)), declaredSize: nil) }
        _ = try await s.update(c, patch: try ImagePatch([["op": "replace", "path": "/visibility", "value": "private"]], dialect: .v21), isAdmin: false)
        _ = try await upload.value
        let after = try await s.visible(c.id, caller: admin).0
        #expect(after.status == .active && after.visibility == .private)
        // An import task a crash interrupted (processing, lock held) resumes and finishes.
        let d = try await s.create(["name": "d", "disk_format": "raw", "container_format": "bare"], owner: "p")
        try await s.stage(d, body: Bytes(data: Array(repeating: 3, count: 4000)))
        let task = ImageTask(imageID: d.id, owner: "p", userID: "u", requestID: "req-r",
                             input: ["image_id": .string(d.id), "import_req": ["method": ["name": "glance-direct"]], "backend": [.null]], now: Date())
        var processing = task
        processing.status = .processing
        try await s.repository.insertTask(processing)
        try await s.transition(d.id, from: .uploading, to: .importing) { $0.properties["os_glance_import_task"] = task.id }
        #expect(try await s.recover() == 1)
        let resumed = try await waitFor(s, d.id) { $0.status == .active && $0.properties["os_glance_import_task"] == nil }
        #expect(resumed.size == 4000 && resumed.stores == ["file"])
        #expect(try await s.repository.task(task.id)?.status == .success)
        // Bytes a crash stored but never recorded (and a staged file of no image) are swept at
        // start; recorded data stays.
        let orphan = h.dir + "/images/" + Identifiers.uuid()
        let staged = h.dir + "/staging/" + Identifiers.uuid()
        #expect(FileManager.default.createFile(atPath: orphan, contents: Data("junk".utf8)))
        #expect(FileManager.default.createFile(atPath: staged, contents: Data("junk".utf8)))
        #expect(try await s.recover() == 2)
        #expect(!FileManager.default.fileExists(atPath: orphan) && !FileManager.default.fileExists(atPath: staged))
        var got = [UInt8]()
        for try await chunk in try await s.download(after, range: nil)! { got += chunk.readableBytesView }
        #expect(got.count == 2_000_000)
        await h.cleanup()
    }
}
