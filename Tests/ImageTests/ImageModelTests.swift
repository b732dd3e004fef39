import Crypto
import Foundation
import NIOCore
import NIOPosix
import NimbusCore
import Testing
@testable import Image

func image(_ id: String, owner: String, visibility: Visibility = .shared, status: ImageStatus = .active, name: String? = nil,
           size: Int64? = nil, created: TimeInterval = 0, tags: Set<Name> = [], hidden: Bool = false) -> Image {
    var i = Image(id: id, owner: owner, now: Date(timeIntervalSince1970: 1_700_000_000 + created))
    i.visibility = visibility; i.status = status; i.name = name; i.size = size; i.tags = tags; i.osHidden = hidden
    return i
}

@Suite struct ImageStatusTests {
    @Test func transitionsFollowGlance() {
        #expect(ImageStatus.queued.canMove(to: .saving))
        #expect(ImageStatus.saving.canMove(to: .queued))
        #expect(ImageStatus.active.canMove(to: .deactivated))
        #expect(!ImageStatus.active.canMove(to: .saving))
        #expect(!ImageStatus.killed.canMove(to: .active))
        #expect(!ImageStatus.deactivated.canMove(to: .queued))
        #expect(ImageStatus.allCases.allSatisfy { $0 == .deleted || $0.canMove(to: .deleted) })
    }
}

@Suite struct ImagePatchTests {
    let formats = ImageFormats.glanceDefaults

    @Test func bothDialectsParseAndApply() throws {
        var base = image("a", owner: "p", status: .queued)
        base.properties["os_distro"] = "debian"
        let v21 = try ImagePatch([["op": "replace", "path": "/name", "value": "new"], ["op": "add", "path": "/hw_x", "value": "1"],
                                  ["op": "remove", "path": "/os_distro"], ["op": "add", "path": "/disk_format", "value": "qcow2"]], dialect: .v21)
        let out = try v21.apply(to: base, isAdmin: false, formats: formats)
        #expect(out.name == "new" && out.properties == ["hw_x": "1"] && out.diskFormat == "qcow2")
        let v20 = try ImagePatch([["replace": "/name", "value": "x"], ["add": "/k~1v", "value": "y"]], dialect: .v20)
        let out2 = try v20.apply(to: base, isAdmin: false, formats: formats)
        #expect(out2.name == "x" && out2.properties["k/v"] == "y")
    }

    @Test func glanceErrorsForBadChanges() throws {
        let base = image("a", owner: "p", status: .active)
        func fails(_ body: JSONValue, _ dialect: ImagePatch.Dialect = .v21, admin: Bool = false) -> NimbusError? {
            do { _ = try ImagePatch(body, dialect: dialect).apply(to: base, isAdmin: admin, formats: formats); return nil } catch { return error }
        }
        #expect(fails(["op": "replace"])?.message == "Request body must be a JSON array of operation objects.")
        #expect(fails([["op": "move", "path": "/name"]])?.kind == .badRequest)
        #expect(fails([["op": "replace", "path": "name", "value": "x"]])?.kind == .badRequest)
        #expect(fails([["op": "replace", "path": "/a/b", "value": "x"]])?.kind == .badRequest)
        #expect(fails([["op": "replace", "path": "/name"]])?.message == "Operation \"replace\" requires a member named \"value\".")
        #expect(fails([["op": "replace", "path": "/status", "value": "active"]])?.kind == .forbidden)
        #expect(fails([["op": "add", "path": "/os_glance_foo", "value": "x"]])?.message == "Attribute 'os_glance_foo' is reserved.")
        #expect(fails([["op": "replace", "path": "/missing", "value": "x"]])?.kind == .conflict)
        #expect(fails([["op": "remove", "path": "/missing"]])?.kind == .conflict)
        #expect(fails([["op": "remove", "path": "/name"]])?.kind == .forbidden)
        #expect(fails([["add": "/name", "value": "x"]], .v20)?.message == "Property name already present.")
        #expect(fails([["op": "replace", "path": "/disk_format", "value": "raw"]])?.kind == .forbidden)
        #expect(fails([["op": "replace", "path": "/owner", "value": "q"]])?.message == "Owner can't be updated by non admin.")
        #expect(fails([["op": "replace", "path": "/owner", "value": "q"]], admin: true) == nil)
        #expect(fails([["op": "replace", "path": "/visibility", "value": "secret"]])?.kind == .badRequest)
        #expect(fails([["op": "replace", "path": "/min_disk", "value": -1]])?.kind == .badRequest)
        #expect(fails([["op": "add", "path": "/prop", "value": 5]])?.kind == .badRequest)
        #expect(fails([])  == nil)
    }

    @Test func contentTypesPickTheDialect() {
        #expect(ImagePatch.dialect(contentType: "application/openstack-images-v2.1-json-patch") == .v21)
        #expect(ImagePatch.dialect(contentType: "application/openstack-images-v2.0-json-patch; charset=UTF-8") == .v20)
        #expect(ImagePatch.dialect(contentType: "application/json") == nil)
        #expect(ImagePatch.dialect(contentType: nil) == nil)
    }
}

@Suite struct ImageListingTests {
    let me = ImageCaller(projectID: "p", isAdmin: false)
    var images: [Image] {
        [image("1", owner: "p", visibility: .private, name: "mine", size: 10, created: 1),
         image("2", owner: "q", visibility: .public, name: "pub", size: 20, created: 2, tags: ["a", "b"]),
         image("3", owner: "q", visibility: .private, name: "theirs", created: 3),
         image("4", owner: "q", visibility: .shared, name: "shared-accepted", size: 5, created: 4),
         image("5", owner: "q", visibility: .shared, name: "shared-pending", created: 5),
         image("6", owner: "q", visibility: .community, name: "community", created: 6),
         image("7", owner: "p", visibility: .public, name: "hidden", created: 7, hidden: true),
         image("8", owner: "p", visibility: .private, status: .killed, created: 8)]
    }
    let members: [String: ImageMember.Status] = ["4": .accepted, "5": .pending]

    func ids(_ query: [(String, String)], caller: ImageCaller? = nil) throws -> [String] {
        try ImageListing(query: query).page(images, caller: caller ?? me, members: members).images.map(\.id)
    }

    @Test func defaultVisibilityIsPublicOwnAndAcceptedShares() throws {
        #expect(try ids([]) == ["4", "2", "1"])
        #expect(try ids([("visibility", "community")]) == ["6"])
        #expect(try ids([("visibility", "all")]) == ["6", "4", "2", "1"])
        #expect(try ids([("member_status", "pending")]) == ["5", "2", "1"])
        #expect(try ids([("os_hidden", "true")]) == ["7"])
        #expect(try ids([], caller: ImageCaller(projectID: "x", isAdmin: true)) == ["5", "4", "3", "2", "1"])
    }

    @Test func filtersSortingAndPages() throws {
        #expect(try ids([("name", "in:pub,mine")]) == ["2", "1"])
        #expect(try ids([("tag", "a"), ("tag", "b")]) == ["2"])
        #expect(try ids([("size_min", "6"), ("size_max", "20")]) == ["2", "1"])
        #expect(try ids([("sort_key", "name"), ("sort_dir", "asc")]) == ["1", "2", "4"])
        #expect(try ids([("sort", "size:asc")]) == ["4", "1", "2"])
        #expect(try ids([("created_at", "gt:2023-11-14T22:13:21Z")]) == ["4", "2"])
        let first = try ImageListing(query: [("limit", "2")]).page(images, caller: me, members: members)
        #expect(first.images.map(\.id) == ["4", "2"] && first.more)
        let second = try ImageListing(query: [("limit", "2"), ("marker", "2")]).page(images, caller: me, members: members)
        #expect(second.images.map(\.id) == ["1"] && !second.more)
    }

    @Test func badParametersAre400s() {
        for q in [[("limit", "x")], [("limit", "-1")], [("sort_key", "owner")], [("sort_dir", "up")], [("sort", "name"), ("sort_key", "id")],
                  [("visibility", "secret")], [("os_hidden", "maybe")], [("size_min", "big")], [("created_at", "yesterday")],
                  [("name", "like:x")], [("changes-since", "2020-01-01")]] {
            #expect(throws: NimbusError.self) { try ImageListing(query: q) }
        }
        #expect(throws: NimbusError.self) { try ImageListing(query: [("marker", "nope")]).page(images, caller: me, members: members) }
        #expect(throws: NimbusError.self) { try ImageListing(query: [("marker", "3")]).page(images, caller: me, members: members) }
        #expect(try! ImageListing.splitValues("a,\"b,c\",d") == ["a", "b,c", "d"])
    }
}

@Suite struct FileImageStoreTests {
    struct Chunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let parts: [[UInt8]]
        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: [[UInt8]]
            mutating func next() async throws -> ByteBuffer? { rest.isEmpty ? nil : ByteBuffer(bytes: rest.removeFirst()) }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: parts) }
    }

    @Test func writesChecksumsAndReadsRanges() async throws {
        let dir = NSTemporaryDirectory() + "image-store-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FileImageStore(root: dir, pool: .singleton)
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let parts = stride(from: 0, to: bytes.count, by: 100_000).map { Array(bytes[$0..<min($0 + 100_000, bytes.count)]) }
        let stored = try await store.write(imageID: "img-1", body: Chunks(parts: parts), limit: 1 << 30)
        #expect(stored.size == Int64(bytes.count))
        #expect(stored.md5 == Hex.encode(Insecure.MD5.hash(data: bytes)))
        #expect(stored.sha512.count == 128)
        var got = [UInt8]()
        for try await c in try await store.read(location: stored.location, range: nil) { got += c.readableBytesView }
        #expect(got == bytes)
        var part = [UInt8]()
        for try await c in try await store.read(location: stored.location, range: 10..<2_000_010) { part += c.readableBytesView }
        #expect(part == Array(bytes[10..<2_000_010]))
        // Over the limit: 413 and nothing stored.
        await #expect(throws: NimbusError.self) { try await store.write(imageID: "img-2", body: Chunks(parts: parts), limit: 1000) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/img-2"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/tmp").isEmpty)
        try await store.delete(location: stored.location)
        #expect(!FileManager.default.fileExists(atPath: dir + "/img-1"))
        await #expect(throws: (any Error).self) { try await store.write(imageID: "../x", body: Chunks(parts: []), limit: 10) }
    }
}
