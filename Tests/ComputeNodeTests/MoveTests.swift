import Foundation
import NimbusCore
import Testing
@testable import ComputeNode

/// Moves between two fake drivers (the copy goes through a `MigrationSource` as through the
/// agent API), the agent's choice of which end acts, and the live-migration target's wire form.
@Suite struct MoveTests {
    let image = BytesImageSource(format: "raw", data: [1, 2, 3])

    /// The source's disks read straight from its driver (what the agent API serves).
    struct DriverSource: MigrationSource {
        let driver: any VirtDriver
        let id: InstanceID
        let migration: String
        func disks() async throws -> [MigrationDisk] { try await driver.outgoingDisks(id, migration: migration) }
        func download(_ disk: String, to path: String) async throws {
            let from = try await driver.outgoingDiskPath(id, migration: migration, disk: disk)
            try FileManager.default.copyItem(atPath: from, toPath: path)
        }
    }

    @Test func coldMoveCarriesTheDiskAndOnlyTheNamedMigrationReadsIt() async throws {
        let a = FakeDriver(), b = FakeDriver()
        let s = try spec()
        try await a.spawn(s, image: image)
        try await a.reboot(s.id, hard: true)   // two boots on the source's "disk"
        // not moving out: nothing to read
        await #expect(throws: NimbusError.self) { _ = try await a.outgoingDisks(s.id, migration: "m1") }
        try await a.migrateOut(s.id, migration: "m1")
        #expect(try await a.powerState(s.id) == .shutdown)
        await #expect(throws: NimbusError.self) { _ = try await a.outgoingDisks(s.id, migration: "other") }
        try await b.migrateIn(s, image: image, from: DriverSource(driver: a, id: s.id, migration: "m1"), powerOn: true)
        #expect(try await b.powerState(s.id) == .running)
        #expect(try await b.consoleLog(s.id, lines: nil).components(separatedBy: "nimbus-test ready").count - 1 == 3)
        // repeated: only the power state
        try await b.migrateIn(s, image: image, from: DriverSource(driver: a, id: s.id, migration: "m1"), powerOn: false)
        #expect(try await b.powerState(s.id) == .shutdown)
        // revert at the source starts its copy again
        try await a.revertMigrateOut(s.id, powerOn: true)
        #expect(try await a.powerState(s.id) == .running)
        await #expect(throws: NimbusError.self) { _ = try await a.outgoingDisks(s.id, migration: "m1") }
    }

    @Test func liveMoveIsRepeatable() async throws {
        let a = FakeDriver(), b = FakeDriver()
        let s = try spec()
        try await a.spawn(s, image: image)
        let target = try await b.prepareIncoming(s, image: image, address: "127.0.0.1")
        #expect(try await b.prepareIncoming(s, image: image, address: "127.0.0.1") == target)
        #expect(try await b.powerState(s.id) == .paused)
        try await a.liveMigrate(s.id, to: target)
        try await a.liveMigrate(s.id, to: target)   // a repeated report: done already
        #expect(try await a.instances().isEmpty)
        await #expect(throws: NimbusError.self) { try await a.liveMigrate(s.id, to: "fake:elsewhere") }
        try await b.finishIncoming(s.id, run: true)
        #expect(try await b.powerState(s.id) == .running)
    }

    @Test func whichEndActs() throws {
        let s = try spec()
        func d(_ task: String?, _ args: [String: String], role: DesiredInstance.Role? = nil) -> DesiredInstance {
            DesiredInstance(spec: s, vmState: "active", task: task, taskArguments: args, role: role)
        }
        let prepare = [MoveTask.phase: "prepare"], migrate = [MoveTask.phase: "migrate"], rollback = [MoveTask.phase: "rollback"]
        // the source holds a live-migrating instance: it streams, it does not prepare
        #expect(ComputeAgent.waitsForOtherEnd(d("migrating", prepare)))
        #expect(!ComputeAgent.waitsForOtherEnd(d("migrating", migrate)))
        #expect(ComputeAgent.actsHere(d("migrating", prepare, role: .dest)))
        #expect(ComputeAgent.actsHere(d("migrating", rollback, role: .dest)))
        #expect(!ComputeAgent.actsHere(d("migrating", migrate, role: .dest)))
        // a confirmed cold move: the destination holds it, the source cleans up
        #expect(ComputeAgent.waitsForOtherEnd(d("resize_confirming", [MoveTask.move: "true"])))
        #expect(!ComputeAgent.waitsForOtherEnd(d("resize_confirming", [:])))
        #expect(ComputeAgent.actsHere(d(MoveTask.cleanup, [:], role: .source)))
        #expect(!ComputeAgent.actsHere(d("deleting", [:], role: .source)))
        // a volume-backed rebuild: the node waits while the controller re-images the root volume
        let volume = [ComputeAgent.volumeRebuild: "true"]
        #expect(ComputeAgent.waitsForOtherEnd(d("rebuild_block_device_mapping", volume)))
        #expect(!ComputeAgent.waitsForOtherEnd(d("rebuilding", volume)))
        #expect(!ComputeAgent.waitsForOtherEnd(d("rebuild_spawning", volume)))
        #expect(!ComputeAgent.waitsForOtherEnd(d("rebuild_block_device_mapping", [:])))
    }

    @Test func liveTargetRoundTripsAndRefusesOtherText() throws {
        let t = LiveMigrationTarget(migrateURI: "tcp:127.0.0.1:4444", nbdHost: "127.0.0.1", nbdPort: 5555, disks: ["root", "swap"])
        #expect(try LiveMigrationTarget(parsing: t.serialized) == t)
        #expect(throws: NimbusError.self) { try LiveMigrationTarget(parsing: "exec:rm -rf /") }
        #expect(throws: NimbusError.self) {
            try LiveMigrationTarget(parsing: #"{"migrate":"exec:sh","nbd_host":"h","nbd_port":1,"disks":[]}"#)
        }
        #expect(throws: NimbusError.self) {
            try LiveMigrationTarget(parsing: #"{"migrate":"tcp:h:1","nbd_host":"h","nbd_port":70000,"disks":[]}"#)
        }
    }
}
