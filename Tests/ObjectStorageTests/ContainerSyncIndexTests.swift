import Foundation
import NIOCore
import NimbusCore
import NimbusTestSupport
import Testing
@testable import ObjectStorage

/// The change log the triggers of migration 3 write, and the sync points, on each engine.
@Suite struct ContainerSyncIndexTests {
    func syncedContainer(_ h: Harness, _ name: String) async throws {
        _ = try await h.service.index.putContainer("AUTH_t", name, timestamp: h.service.timestamp()) {
            $0["x-container-sync-to"] = "//realm1/name1/AUTH_u/d"
            $0["x-container-sync-key"] = "k"
        }
    }

    @Test(arguments: Engines.available)
    func writesOfSyncedContainersAreLogged(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        do {
            let index = h.service.index
            try await syncedContainer(h, "synced")
            let row = try await h.put("o", "one", container: "synced")
            _ = try await h.put("other", "x", container: "plain")
            var log = try await index.syncLog("AUTH_t", "synced", after: 0, limit: 10)
            #expect(log.map(\.name) == ["o"] && log[0].timestamp == row.timestamp && !log[0].deleted)
            #expect(try await index.syncLog("AUTH_t", "plain", after: 0, limit: 10).isEmpty, "containers without sync-to are not logged")
            let posted = try await h.service.updateMetadata(row, metadata: ["x-object-meta-b": "2"], contentType: "text/plain", deleteAt: nil)
            try await h.service.delete(account: "AUTH_t", container: "synced", name: "o")
            log = try await index.syncLog("AUTH_t", "synced", after: 0, limit: 10)
            #expect(log.count == 3)
            #expect(log[1].timestamp == posted.lastModified && !log[1].deleted)
            #expect(log[2].deleted && log[2].timestamp > posted.lastModified && log[2].timestamp.utf8.count == 16)
            #expect(log.map(\.seq) == log.map(\.seq).sorted())

            // A delete from a sync peer: only over an older object, stamped with the peer's time.
            let again = try await h.put("o", "two", container: "synced")
            let older = ObjectStorageService.format((Double(again.timestamp)! - 1))
            #expect(try await h.service.deleteFromSync(account: "AUTH_t", container: "synced", name: "o", timestamp: older) == .newer)
            let newer = ObjectStorageService.format((Double(again.timestamp)! + 1))
            guard case .deleted = try await h.service.deleteFromSync(account: "AUTH_t", container: "synced", name: "o", timestamp: newer) else {
                Issue.record("not deleted"); return await h.cleanup()
            }
            #expect(try await h.service.deleteFromSync(account: "AUTH_t", container: "synced", name: "o", timestamp: newer) == .notFound)
            log = try await index.syncLog("AUTH_t", "synced", after: 0, limit: 10)
            #expect(log.last?.deleted == true && log.last?.timestamp == newer)
            #expect(try await index.container("AUTH_t", "synced")?.objectCount == 0)

            // Saving a point forgets the rows it passed; dropping sync-to forgets the rest.
            try await index.saveSyncPoint("AUTH_t", "synced", SyncPoint(syncTo: "//realm1/name1/AUTH_u/d", initialMarker: nil, logSeq: log[2].seq))
            #expect(try await index.syncLog("AUTH_t", "synced", after: 0, limit: 10).count == 2)
            #expect(try await index.syncPoint("AUTH_t", "synced")?.logSeq == log[2].seq)
            #expect(try await index.syncedContainers(after: nil, limit: 10).map(\.name) == ["synced"])
            _ = try await index.updateContainerMetadata("AUTH_t", "synced") { $0["x-container-sync-to"] = nil }
            try await index.forgetUnsyncedContainers()
            #expect(try await index.syncLog("AUTH_t", "synced", after: 0, limit: 10).isEmpty)
            #expect(try await index.syncPoint("AUTH_t", "synced") == nil)
        } catch {
            await h.cleanup()
            throw error
        }
        await h.cleanup()
    }

    /// Only the key `x-container-sync-to` makes a container synced: a metadata value (or a
    /// longer key) spelled so once logged every write of a container that never syncs, forever.
    @Test(arguments: Engines.available)
    func aValueSpelledLikeTheKeyIsNotSync(_ engine: String) async throws {
        let h = try await Harness.make(engine)
        do {
            let index = h.service.index
            _ = try await index.putContainer("AUTH_t", "decoy", timestamp: h.service.timestamp()) {
                $0["x-container-meta-a"] = "x-container-sync-to"
                $0["x-container-meta-x-container-sync-to"] = "\",\"x-container-sync-to\":"
            }
            _ = try await h.put("o", "one", container: "decoy")
            #expect(try await index.syncLog("AUTH_t", "decoy", after: 0, limit: 10).isEmpty)
            #expect(try await index.syncedContainers(after: nil, limit: 10).isEmpty)
            // With other metadata before and after the key, a synced container still is one.
            _ = try await index.putContainer("AUTH_t", "synced", timestamp: h.service.timestamp()) {
                $0["x-container-meta-a"] = "1"
                $0["x-container-sync-to"] = "//realm1/name1/AUTH_u/d"
                $0["x-container-sync-key"] = "k"
            }
            _ = try await h.put("p", "two", container: "synced")
            #expect(try await index.syncLog("AUTH_t", "synced", after: 0, limit: 10).map(\.name) == ["p"])
            #expect(try await index.syncedContainers(after: nil, limit: 10).map(\.name) == ["synced"])
        } catch {
            await h.cleanup()
            throw error
        }
        await h.cleanup()
    }
}
