import BlockStorage
import Foundation
import Logging
import NimbusCore
import NimbusStore
import NimbusTestSupport
import StorageNode
import Testing

/// A volume service on a fresh, migrated store of each engine, over the fake backend.
func withVolumeService(engines: [String] = Engines.available,
                       _ body: (VolumeService, FakeVolumeBackend, Database) async throws -> Void) async throws {
    for engine in engines {
        let (db, close) = try await Engines.open(engine)
        do {
            try await Migrator(database: db).migrate(VolumeMigrations.all)
            let backend = FakeVolumeBackend()
            let service = try await VolumeService(store: VolumeStore(database: db), backend: backend, images: nil, logger: Logger(label: "test"))
            try await service.ensureDefaultType()
            try await body(service, backend, db)
        } catch {
            await close()
            throw error
        }
        await close()
    }
}

let alice = VolumeActor(projectID: "aaaa", userID: "u-alice", isAdmin: false)
let bob = VolumeActor(projectID: "bbbb", userID: "u-bob", isAdmin: false)
let admin = VolumeActor(projectID: "admin", userID: "u-admin", isAdmin: true)
let anyone = AuthContext(token: "t", user: .init(id: "u", name: "u", domainID: "default", domainName: "Default"),
                         scope: .project(.init(id: "aaaa", name: "p", domainID: "default", domainName: "Default")), roles: [], methods: ["password"],
                         issuedAt: Date(), expiresAt: Date().addingTimeInterval(60), auditIDs: [])

func blank(_ size: Int64, name: String = "v") -> VolumeCreate {
    var r = VolumeCreate()
    r.sizeGB = size
    r.name = name
    return r
}

func status(_ s: VolumeService, _ kind: VolumeKind, _ id: String) -> String? { s.state[kind, id]?["status"]?.stringValue }

@Suite struct VolumeServiceTests {
    @Test func createMakesBytesThenAvailable() async throws {
        try await withVolumeService { s, backend, _ in
            let v = try await s.createVolume(blank(2), actor: alice, caller: anyone)
            let id = try #require(v["id"]?.stringValue)
            #expect(v["status"]?.stringValue == "creating")
            await s.settle()
            #expect(status(s, .volume, id) == "available")
            #expect(backend.size(of: id) == 2)
            #expect(s.state[.volume, id]?["volume_type_id"]?.stringValue == s.state.volumeType("__DEFAULT__")?["id"]?.stringValue)
        }
    }

    @Test func projectDefaultTypesWinOverTheConfiguredOne() async throws {
        try await withVolumeService { s, _, _ in
            let gold = try await s.createType(name: "gold", description: nil, isPublic: true, extraSpecs: [:])
            let goldID = try #require(gold["id"]?.stringValue)
            _ = try await s.setProjectDefaultType("aaaa", type: "gold")
            #expect(try s.defaultType(actor: alice)["id"]?.stringValue == goldID)
            #expect(try s.defaultType(actor: bob)["name"]?.stringValue == "__DEFAULT__")
            let a = try await s.createVolume(blank(1), actor: alice, caller: anyone)
            let b = try await s.createVolume(blank(1), actor: bob, caller: anyone)
            #expect(a["volume_type_id"]?.stringValue == goldID)
            #expect(b["volume_type_id"]?.stringValue != goldID)
            await s.settle()
            // A project's default cannot be deleted, even with no volume of it left.
            _ = try await s.deleteVolume(try #require(a["id"]?.stringValue), cascade: false, force: false, actor: alice)
            await s.settle()
            await #expect(throws: NimbusError.self) { try await s.deleteType(goldID) }
            // An unknown type is refused; unsetting twice is fine.
            await #expect(throws: NimbusError.self) { try await s.setProjectDefaultType("aaaa", type: "GOLD") }
            try await s.unsetProjectDefaultType("aaaa")
            try await s.unsetProjectDefaultType("aaaa")
            #expect(s.projectDefaultType("aaaa") == nil)
            try await s.deleteType(goldID)
        }
    }

    @Test func otherProjectsSeeNothing() async throws {
        try await withVolumeService { s, _, _ in
            let id = try #require(try await s.createVolume(blank(1), actor: alice, caller: anyone)["id"]?.stringValue)
            await s.settle()
            #expect(throws: NimbusError.self) { try s.volume(id, actor: bob) }
            await #expect(throws: NimbusError.self) { try await s.deleteVolume(id, cascade: true, force: false, actor: bob) }
            await #expect(throws: NimbusError.self) {
                try await s.createSnapshot(volumeID: id, name: nil, description: nil, metadata: [:], force: false, actor: bob)
            }
            #expect(try s.volume(id, actor: admin)["id"]?.stringValue == id)
        }
    }

    @Test func quotasAreCountedFromDocuments() async throws {
        try await withVolumeService { s, _, _ in
            try await s.setQuotas(project: "aaaa", ["volumes": 1, "gigabytes": 3])
            _ = try await s.createVolume(blank(2), actor: alice, caller: anyone)
            await #expect(throws: NimbusError.self) { try await s.createVolume(blank(1), actor: alice, caller: anyone) }
            try await s.setQuotas(project: "aaaa", ["volumes": 5])
            do {
                _ = try await s.createVolume(blank(2), actor: alice, caller: anyone)
                Issue.record("2 + 2 GiB passed a 3 GiB quota")
            } catch let e as NimbusError {
                #expect(e.status == 413)
                #expect(e.message.contains("exceed"))
            }
            await s.settle()
            #expect(s.usage(project: "aaaa", s.state)["gigabytes"] == 2)
            // A limit under what is in use is refused.
            await #expect(throws: NimbusError.self) { try await s.setQuotas(project: "aaaa", ["gigabytes": 1]) }
        }
    }

    @Test func snapshotsBlockDeleteUnlessCascade() async throws {
        try await withVolumeService { s, backend, _ in
            let id = try #require(try await s.createVolume(blank(1), actor: alice, caller: anyone)["id"]?.stringValue)
            await s.settle()
            let snap = try #require(try await s.createSnapshot(volumeID: id, name: "s", description: nil, metadata: [:], force: false, actor: alice)["id"]?.stringValue)
            await s.settle()
            #expect(status(s, .snapshot, snap) == "available")
            await #expect(throws: NimbusError.self) { try await s.deleteVolume(id, cascade: false, force: false, actor: alice) }
            try await s.deleteVolume(id, cascade: true, force: false, actor: alice)
            await s.settle()
            #expect(s.state[.volume, id] == nil)
            #expect(s.state[.snapshot, snap] == nil)
            let inventory = try await backend.inventory()
            #expect(inventory.volumes.isEmpty && inventory.snapshots.isEmpty)
        }
    }

    @Test func sizesFollowSources() async throws {
        try await withVolumeService { s, _, _ in
            let id = try #require(try await s.createVolume(blank(3), actor: alice, caller: anyone)["id"]?.stringValue)
            await s.settle()
            let snap = try #require(try await s.createSnapshot(volumeID: id, name: nil, description: nil, metadata: [:], force: false, actor: alice)["id"]?.stringValue)
            await s.settle()
            var fromSnap = VolumeCreate()
            fromSnap.snapshotID = snap
            #expect(try await s.createVolume(fromSnap, actor: alice, caller: anyone)["size"]?.intValue == 3)
            fromSnap.sizeGB = 2
            await #expect(throws: NimbusError.self) { try await s.createVolume(fromSnap, actor: alice, caller: anyone) }
            var clone = VolumeCreate()
            clone.sourceVolumeID = id
            clone.sizeGB = 4
            #expect(try await s.createVolume(clone, actor: alice, caller: anyone)["size"]?.intValue == 4)
            await s.settle()
            try await s.extendVolume(id, newSize: 5, allowInUse: false, actor: alice)
            await s.settle()
            #expect(s.state[.volume, id]?["size"]?.intValue == 5)
            await #expect(throws: NimbusError.self) { try await s.extendVolume(id, newSize: 5, allowInUse: false, actor: alice) }
        }
    }

    @Test func aFailedCreateEndsInError() async throws {
        try await withVolumeService { s, backend, _ in
            var r = VolumeCreate()
            r.sizeGB = 1
            r.snapshotID = "missing"
            await #expect(throws: NimbusError.self) { try await s.createVolume(r, actor: alice, caller: anyone) }
            let id = try #require(try await s.createVolume(blank(1), actor: alice, caller: anyone)["id"]?.stringValue)
            await s.settle()
            backend.failing.withLock { _ = $0.insert(id) }
            try await s.extendVolume(id, newSize: 2, allowInUse: false, actor: alice)
            await s.settle()
            #expect(status(s, .volume, id) == "error_extending")
        }
    }

    @Test func transfersMoveVolumesWithTheKeyOnly() async throws {
        try await withVolumeService { s, _, _ in
            let id = try #require(try await s.createVolume(blank(1), actor: alice, caller: anyone)["id"]?.stringValue)
            await s.settle()
            let (t, key) = try await s.createTransfer(volumeID: id, name: "t", noSnapshots: false, actor: alice)
            let tid = try #require(t["id"]?.stringValue)
            #expect(status(s, .volume, id) == "awaiting-transfer")
            #expect(t["crypt_hash"]?.stringValue != key)
            await #expect(throws: NimbusError.self) { try await s.acceptTransfer(tid, key: "0000000000000000", actor: bob) }
            _ = try await s.acceptTransfer(tid, key: key, actor: bob)
            #expect(try s.volume(id, actor: bob)["status"]?.stringValue == "available")
            #expect(throws: NimbusError.self) { try s.volume(id, actor: alice) }
        }
    }

    @Test func recoveryLeavesNothingHalfMade() async throws {
        for engine in Engines.available {
            let (db, close) = try await Engines.open(engine)
            defer { Task { await close() } }
            try await Migrator(database: db).migrate(VolumeMigrations.all)
            let backend = FakeVolumeBackend()
            let first = try await VolumeService(store: VolumeStore(database: db), backend: backend, images: nil, logger: Logger(label: "test"))
            try await first.ensureDefaultType()
            let id = try #require(try await first.createVolume(blank(1), actor: alice, caller: anyone)["id"]?.stringValue)
            await first.settle()
            // A crash mid-create: the document says `creating`, the backend holds partial bytes,
            // and the backend has a volume no document names.
            try await first.resetVolumeStatus(id, status: "creating", attachStatus: nil, migrationStatus: nil, actor: admin)
            try await backend.create(volume: "0000-orphan", sizeGB: 1, from: .blank)
            let second = try await VolumeService(store: VolumeStore(database: db), backend: backend, images: nil, logger: Logger(label: "test"))
            try await second.recover()
            await second.settle()
            #expect(status(second, .volume, id) == "error")
            let inventory = try await backend.inventory()
            #expect(inventory.volumes.isEmpty)
            await close()
        }
    }
}
