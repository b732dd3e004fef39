@testable import BlockStorage
import Foundation
import Logging
import NimbusCore
import NimbusStore
import NimbusTestSupport
import StorageNode
import Testing

/// A volume service with a backup service (an in-memory object store), over the fake backend,
/// on SQLite (the backup rules do not touch SQL beyond the documents).
func withBackupService(_ body: (VolumeService, FakeVolumeBackend, FakeBackupObjectStore, Database) async throws -> Void) async throws {
    let (db, close) = try await Engines.open("sqlite")
    do {
        try await Migrator(database: db).migrate(VolumeMigrations.all)
        let backend = FakeVolumeBackend()
        let objects = FakeBackupObjectStore()
        let service = try await VolumeService(store: VolumeStore(database: db), backend: backend, images: nil, backupStore: objects,
                                              backupSettings: smallBackupSettings(mergeGap: 1), logger: Logger(label: "test"))
        try await service.ensureDefaultType()
        try await body(service, backend, objects, db)
    } catch {
        await close()
        throw error
    }
    await close()
}

/// A volume of alice's with `bytes` (their last byte non-zero: the fake drops trailing zeros).
func volumeWith(_ s: VolumeService, _ backend: FakeVolumeBackend, _ bytes: [UInt8], actor: VolumeActor = alice) async throws -> String {
    let id = try #require(try await s.createVolume(blank(1), actor: actor, caller: anyone)["id"]?.stringValue)
    await s.settle()
    backend.setBytes(id, bytes)
    return id
}

func backupOf(_ s: VolumeService, _ volume: String, incremental: Bool = false, actor: VolumeActor = alice, container: String? = nil) async throws -> String {
    var r = BackupCreate(volumeID: volume)
    r.incremental = incremental
    r.container = container
    let id = try #require(try await s.createBackup(r, actor: actor)["id"]?.stringValue)
    await s.settle()
    return id
}

@Suite struct BackupServiceTests {
    @Test func backupAndRestoreRoundTrip() async throws {
        try await withBackupService { s, backend, objects, _ in
            let data = pattern(40_000, seed: 3)
            let vid = try await volumeWith(s, backend, data)
            var r = BackupCreate(volumeID: vid)
            r.name = "b1"
            let created = try await s.createBackup(r, actor: alice)
            let bid = try #require(created["id"]?.stringValue)
            #expect(created["status"]?.stringValue == "creating")
            #expect(status(s, .volume, vid) == "backing-up")
            await s.settle()
            let b = try s.backup(bid, actor: alice)
            #expect(b["status"]?.stringValue == "available" && b["container"]?.stringValue == "volumebackups")
            #expect(b["object_count"]?.intValue == 3 && b["size"]?.intValue == 1)
            #expect(status(s, .volume, vid) == "available")
            // The objects are in alice's account, under Cinder's names.
            let names = objects.names(project: "aaaa", container: "volumebackups")
            #expect(names.count == 5 && names.allSatisfy { $0.hasBytePrefix("volume_\(vid)/") && $0.containsBytes("az_nova_backup_\(bid)") })
            // Into a new volume, then into an existing one: the bytes come back.
            let restore = try await s.restoreBackup(bid, volumeID: nil, name: nil, actor: alice)
            #expect(status(s, .volume, restore.volumeID) == "restoring-backup" && status(s, .backup, bid) == "restoring")
            await s.settle()
            #expect(status(s, .volume, restore.volumeID) == "available" && status(s, .backup, bid) == "available")
            #expect(backend.bytes(of: restore.volumeID) == data)
            let restoredVolume = try s.volume(restore.volumeID, actor: alice)
            #expect(restoredVolume["name"]?.stringValue == "v" && restoredVolume["metadata"]?["src_backup_id"]?.stringValue == bid)
            let other = try await volumeWith(s, backend, pattern(100, seed: 9))
            _ = try await s.restoreBackup(bid, volumeID: other, name: nil, actor: alice)
            await s.settle()
            #expect(backend.bytes(of: other) == data && status(s, .volume, other) == "available")
        }
    }

    @Test func incrementalBackupsChainAndGuardTheirParents() async throws {
        try await withBackupService { s, backend, objects, _ in
            var data = pattern(40_000, seed: 1)
            let vid = try await volumeWith(s, backend, data)
            await #expect(throws: NimbusError.self) { _ = try await backupOf(s, vid, incremental: true) }
            let full = try await backupOf(s, vid)
            data.replaceSubrange(20_000..<20_010, with: [UInt8](repeating: 0xee, count: 10))
            backend.setBytes(vid, data)
            let before = objects.written.withLock { $0.count }
            let incr = try await backupOf(s, vid, incremental: true)
            let b = try s.backup(incr, actor: alice)
            #expect(b["status"]?.stringValue == "available" && b["parent_id"]?.stringValue == full && b["object_count"]?.intValue == 1)
            #expect(objects.written.withLock { $0.count } - before == 3)
            #expect(s.hasDependents(full, s.state) && !s.hasDependents(incr, s.state))
            await #expect(throws: NimbusError.self) { try await s.deleteBackup(full, force: false, actor: alice) }
            let restore = try await s.restoreBackup(incr, volumeID: nil, name: "r", actor: alice)
            await s.settle()
            #expect(backend.bytes(of: restore.volumeID) == data)
            try await s.deleteBackup(incr, force: false, actor: alice)
            await s.settle()
            try await s.deleteBackup(full, force: false, actor: alice)
            await s.settle()
            #expect(s.state.all(.backup).isEmpty)
            #expect(objects.names(project: "aaaa", container: "volumebackups").isEmpty)
        }
    }

    @Test func quotasCountBackups() async throws {
        try await withBackupService { s, backend, _, _ in
            let vid = try await volumeWith(s, backend, pattern(100, seed: 1))
            try await s.setQuotas(project: "aaaa", ["backups": 1])
            _ = try await backupOf(s, vid)
            #expect(s.usage(project: "aaaa", s.state)["backups"] == 1 && s.usage(project: "aaaa", s.state)["backup_gigabytes"] == 1)
            do {
                _ = try await backupOf(s, vid)
                Issue.record("a second backup passed a quota of one")
            } catch let e as NimbusError {
                #expect(e.status == 413 && e.message.contains("exceed"))
            }
            try await s.setQuotas(project: "aaaa", ["backups": 5, "backup_gigabytes": 1])
            await #expect(throws: NimbusError.self) { _ = try await backupOf(s, vid) }
            await #expect(throws: NimbusError.self) { try await s.setQuotas(project: "aaaa", ["backups": 0]) }
        }
    }

    @Test func otherProjectsSeeNoBackups() async throws {
        try await withBackupService { s, backend, _, _ in
            let vid = try await volumeWith(s, backend, pattern(100, seed: 1))
            let bid = try await backupOf(s, vid)
            #expect(throws: NimbusError.self) { try s.backup(bid, actor: bob) }
            await #expect(throws: NimbusError.self) { try await s.deleteBackup(bid, force: false, actor: bob) }
            await #expect(throws: NimbusError.self) { _ = try await s.restoreBackup(bid, volumeID: nil, name: nil, actor: bob) }
            await #expect(throws: NimbusError.self) { _ = try await backupOf(s, vid, actor: bob) }
            // Nor restore into another project's volume.
            let bobs = try await volumeWith(s, backend, pattern(10, seed: 2), actor: bob)
            await #expect(throws: NimbusError.self) { _ = try await s.restoreBackup(bid, volumeID: bobs, name: nil, actor: alice) }
        }
    }

    @Test func exportAndImportARecord() async throws {
        try await withBackupService { s, backend, _, _ in
            let data = pattern(10_000, seed: 5)
            let vid = try await volumeWith(s, backend, data)
            let bid = try await backupOf(s, vid)
            let record = try s.exportBackupRecord(bid, actor: admin)
            #expect(record.service.hasBytePrefix("cinder.backup.drivers"))
            await #expect(throws: NimbusError.self) { _ = try await s.importBackupRecord(service: record.service, url: record.url, actor: admin) }
            // The same record under another id: a second backup of the same objects.
            guard case .object(var fields)? = try? JSONValue.parse(Array(Data(base64Encoded: record.url)!)) else { Issue.record("no record"); return }
            let newID = Identifiers.uuid()
            fields["id"] = .string(newID)
            let url = Data(JSONValue.object(fields).serialized()).base64EncodedString()
            _ = try await s.importBackupRecord(service: record.service, url: url, actor: admin)
            await s.settle()
            #expect(status(s, .backup, newID) == "available")
            #expect(s.state[.backup, newID]?["project_id"]?.stringValue == "admin")
            // Deleting the original keeps the objects the import still names.
            try await s.deleteBackup(bid, force: false, actor: alice)
            await s.settle()
            let restore = try await s.restoreBackup(newID, volumeID: nil, name: nil, actor: admin)
            await s.settle()
            #expect(backend.bytes(of: restore.volumeID) == data)
            await #expect(throws: NimbusError.self) { _ = try await s.importBackupRecord(service: record.service, url: "%%%", actor: admin) }
        }
    }

    @Test func withoutAnObjectStoreBackupsEndInError() async throws {
        try await withVolumeService(engines: ["sqlite"]) { s, _, _ in
            let vid = try #require(try await s.createVolume(blank(1), actor: alice, caller: anyone)["id"]?.stringValue)
            await s.settle()
            let bid = try await backupOf(s, vid)
            let b = try s.backup(bid, actor: alice)
            #expect(b["status"]?.stringValue == "error" && b["fail_reason"]?.stringValue == "Service not found for creating backup.")
            #expect(status(s, .volume, vid) == "available")
            #expect(!s.services().contains { $0["binary"]?.stringValue == "cinder-backup" })
            try await s.deleteBackup(bid, force: false, actor: alice)
            await s.settle()
            #expect(s.state[.backup, bid] == nil)
        }
    }

    @Test func aRestartResolvesBackupsInFlight() async throws {
        let (db, close) = try await Engines.open("sqlite")
        try await Migrator(database: db).migrate(VolumeMigrations.all)
        let backend = FakeVolumeBackend()
        let objects = FakeBackupObjectStore()
        func service() async throws -> VolumeService {
            try await VolumeService(store: VolumeStore(database: db), backend: backend, images: nil, backupStore: objects,
                                    backupSettings: smallBackupSettings(), logger: Logger(label: "test"))
        }
        let first = try await service()
        try await first.ensureDefaultType()
        let vid = try await volumeWith(first, backend, pattern(30_000, seed: 4))
        let done = try await backupOf(first, vid)
        let target = try await volumeWith(first, backend, pattern(10, seed: 4))
        // What a kill -9 leaves: a backup `creating` with some of its objects written and its
        // volume `backing-up`; a restore with the backup `restoring` and its volume `restoring-backup`.
        let stuck = "5e6f0000-0000-4000-8000-000000000001"
        let prefix = "volume_\(vid)/20260101000000/az_nova_backup_\(stuck)"
        try await objects.ensureContainer(project: "aaaa", container: "volumebackups")
        _ = try await objects.put(project: "aaaa", container: "volumebackups", name: prefix + "-00001", bytes: [1, 2, 3])
        try await first.write { s in
            var b = s[.backup, done]!
            b["id"] = .string(stuck)
            b["status"] = "creating"
            b["service_metadata"] = .string(prefix)
            s.put(.backup, b)
            var v = s[.volume, vid]!
            v["status"] = "backing-up"
            v["previous_status"] = "available"
            s.put(.volume, v)
            var r = s[.backup, done]!
            r["status"] = "restoring"
            r["restore_volume_id"] = .string(target)
            s.put(.backup, r)
            var t = s[.volume, target]!
            t["status"] = "restoring-backup"
            s.put(.volume, t)
        }
        let second = try await service()
        try await second.recover()
        await second.settle()
        let b = try second.backup(stuck, actor: alice)
        #expect(b["status"]?.stringValue == "error" && b["fail_reason"]?.stringValue == "incomplete backup reset on manager restart")
        #expect(status(second, .volume, vid) == "available")
        #expect(!objects.names(project: "aaaa", container: "volumebackups").contains { $0.hasBytePrefix(prefix) })
        #expect(status(second, .backup, done) == "available" && status(second, .volume, target) == "error_restoring")
        // The finished backup's objects are untouched and it still restores.
        let again = try await second.restoreBackup(done, volumeID: nil, name: nil, actor: alice)
        await second.settle()
        #expect(backend.bytes(of: again.volumeID) == pattern(30_000, seed: 4))
        await close()
    }
}
