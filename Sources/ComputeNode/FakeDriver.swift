import Foundation
import NimbusCore
import Synchronization

/// A driver with no processes and no files: instances are entries in a dictionary and every
/// action is the `PowerState.after(_:)` table applied at once. One fake node costs a dictionary
/// and a lock, so one process can host a thousand (scale tests of the scheduler and agents).
/// The console shows the test image's banner line with the instance's hostname, so tests that
/// read console output work against it too. `failNext` makes the next call of an operation fail.
public final class FakeDriver: VirtDriver {
    public enum Operation: String, Sendable, CaseIterable {
        case spawn, destroy, powerOff, powerOn, reboot, pause, unpause, suspend, resume, snapshot, rebuild, resize, confirmResize, revertResize
        case rescue, unrescue, injectNMI, migrateOut, migrateIn, prepareIncoming, liveMigrate, finishIncoming
        /// A hot-plug of new interfaces into a guest (`setInterfaces` adding a port).
        case plugInterface
    }

    struct Instance {
        var spec: InstanceSpec
        var state: PowerState
        var boots: Int
        /// The spec before a resize, until it is confirmed or reverted.
        var beforeResize: InstanceSpec?
        /// The rescue image's id while rescued.
        var rescueImage: String?
        /// The migration it is moving out for (cold), or whether it waits for a live migration.
        var outgoing: String? = nil
        var incoming = false
        /// NMIs injected (crash dumps asked for).
        var nmis = 0
    }

    private struct State {
        var instances: [InstanceID: Instance] = [:]
        var failures: [Operation: NimbusError] = [:]
        /// Operations that fail every time (`[compute_node] fake_failing_operations`), for tests
        /// of what the controller does when a host fails.
        var alwaysFailing: Set<Operation> = []
        /// Instances that left by live migration, by the target they left for.
        var migrated: [InstanceID: String] = [:]
    }

    public let hypervisorType = "fake"
    private let resources: HostResources
    private let state: Mutex<State>

    public static let defaultResources = HostResources(vcpus: 64, memoryMB: 256 * 1024, diskGB: 4096, cpuModel: "Fake CPU",
                                                       hypervisorVersion: 1000)

    public init(resources: HostResources = FakeDriver.defaultResources, alwaysFailing: Set<Operation> = []) {
        self.resources = resources
        self.state = Mutex(State(alwaysFailing: alwaysFailing))
    }

    /// The next call of `operation` throws `error` (once).
    public func failNext(_ operation: Operation, with error: NimbusError = NimbusError(.internal, "injected fake failure")) {
        state.withLock { $0.failures[operation] = error }
    }

    public func hostResources() async throws -> HostResources { resources }

    public func spawn(_ spec: InstanceSpec, image: (any ImageSource)?) async throws {
        try spec.validate(image: image)
        try state.withLock { s throws(NimbusError) in
            try Self.takeFailure(&s, .spawn)
            if var existing = s.instances[spec.id] {   // a repeated build: make sure it runs
                if existing.state == .shutdown || existing.state == .crashed { existing.state = .running; existing.boots += 1 }
                s.instances[spec.id] = existing
                return
            }
            s.instances[spec.id] = Instance(spec: spec, state: .running, boots: 1, beforeResize: nil)
        }
    }

    public func destroy(_ id: InstanceID) async throws {
        try state.withLock { s throws(NimbusError) in
            try Self.takeFailure(&s, .destroy)
            s.instances[id] = nil
        }
    }

    public func powerOff(_ id: InstanceID, timeout: Duration) async throws { try apply(.powerOff, .powerOff, id) }
    public func powerOn(_ id: InstanceID) async throws { try apply(.powerOn, .powerOn, id) }
    public func reboot(_ id: InstanceID, hard: Bool) async throws { try apply(hard ? .hardReboot : .softReboot, .reboot, id) }
    public func pause(_ id: InstanceID) async throws { try apply(.pause, .pause, id) }
    public func unpause(_ id: InstanceID) async throws { try apply(.unpause, .unpause, id) }
    public func suspend(_ id: InstanceID) async throws { try apply(.suspend, .suspend, id) }
    public func resume(_ id: InstanceID) async throws { try apply(.resume, .resume, id) }

    public func powerState(_ id: InstanceID) async throws -> PowerState {
        try state.withLock { s throws(NimbusError) in try Self.instance(s, id).state }
    }

    public func instances() async throws -> [InstanceID: PowerState] {
        state.withLock { $0.instances.mapValues(\.state) }
    }

    public func consoleLog(_ id: InstanceID, lines: Int?) async throws -> String {
        let (spec, boots) = try state.withLock { s throws(NimbusError) in
            let i = try Self.instance(s, id)
            return (i.spec, i.boots)
        }
        var out: [String] = []
        for n in 0..<boots {
            out += ["fake boot \(n + 1) of \(spec.id)", "=== nimbus-test ready: hostname=\(spec.hostname) ip=none ==="]
        }
        if let lines { out = Array(out.suffix(max(0, lines))) }
        return out.map { $0 + "\n" }.joined()
    }

    public func checkConsole(_ id: InstanceID, _ kind: ConsoleKind) async throws {
        let running = try state.withLock { s throws(NimbusError) in try Self.instance(s, id).state }
        guard running == .running || running == .paused else { throw NimbusError.conflict("Instance \(id) is not running, so its console is not available.") }
    }

    public func withConsole(_ id: InstanceID, _ kind: ConsoleKind, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {
        try await checkConsole(id, kind)
        // The console ends with its instance (as QEMU's socket goes with the guest).
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await FakeConsole.run(kind, name: "fake \(id)", body) }
            group.addTask {
                while !Task.isCancelled, self.state.withLock({ $0.instances[id] != nil }) { try await Task.sleep(for: .milliseconds(500)) }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    public func rebuild(_ spec: InstanceSpec, image: any ImageSource, preserveEphemeral: Bool, powerOn: Bool) async throws {
        try spec.validate(image: image)
        try change(spec.id, .rebuild, powerOn: powerOn) { (i: inout Instance) throws(NimbusError) in
            if i.spec != spec { i.spec = spec; i.boots += powerOn ? 1 : 0; i.state = powerOn ? .running : .shutdown }
        }
    }

    public func resize(_ spec: InstanceSpec, powerOn: Bool) async throws {
        try change(spec.id, .resize, powerOn: powerOn) { (i: inout Instance) throws(NimbusError) in
            guard i.spec != spec else { return }
            guard spec.bootVolume != nil || spec.rootGB == 0 || spec.rootGB >= i.spec.rootGB, spec.ephemeralGB >= i.spec.ephemeralGB else {
                throw NimbusError.badRequest("Resize error: Unable to resize disk down.")
            }
            if i.beforeResize == nil { i.beforeResize = i.spec }
            i.spec = spec
            i.boots += powerOn ? 1 : 0
            i.state = powerOn ? .running : .shutdown
        }
    }

    public func confirmResize(_ id: InstanceID) async throws {
        try change(id, .confirmResize, powerOn: nil) { (i: inout Instance) throws(NimbusError) in i.beforeResize = nil }
    }

    public func revertResize(_ id: InstanceID, powerOn: Bool) async throws {
        try change(id, .revertResize, powerOn: powerOn) { (i: inout Instance) throws(NimbusError) in
            guard let before = i.beforeResize else { return }
            i.spec = before
            i.beforeResize = nil
            i.boots += powerOn ? 1 : 0
            i.state = powerOn ? .running : .shutdown
        }
    }

    public func rescue(_ id: InstanceID, image: any ImageSource, device: RescueDevice?) async throws {
        try change(id, .rescue, powerOn: true) { (i: inout Instance) throws(NimbusError) in
            if i.rescueImage == nil { i.rescueImage = image.id; i.boots += 1 }
        }
    }

    public func unrescue(_ id: InstanceID) async throws {
        try change(id, .unrescue, powerOn: true) { (i: inout Instance) throws(NimbusError) in
            if i.rescueImage != nil { i.rescueImage = nil; i.boots += 1 }
        }
    }

    /// The rescue image of a rescued instance (tests).
    public func rescueImage(of id: InstanceID) -> String? { state.withLock { $0.instances[id]?.rescueImage } }

    private func change(_ id: InstanceID, _ op: Operation, powerOn: Bool?, _ body: (inout Instance) throws(NimbusError) -> Void) throws(NimbusError) {
        try state.withLock { s throws(NimbusError) in
            try Self.takeFailure(&s, op)
            var i = try Self.instance(s, id)
            try body(&i)
            if let powerOn {
                if powerOn, i.state != .running { i.state = .running; i.boots += 1 }
                if !powerOn { i.state = .shutdown }
            }
            s.instances[id] = i
        }
    }

    /// A small raw file standing for the root disk (the fake has no disks): its bytes name the
    /// instance and its boot count, so a test can tell snapshots apart.
    public func interfaces(_ id: InstanceID) async throws -> [GuestNIC] {
        try state.withLock { s throws(NimbusError) in try Self.instance(s, id).spec.nics ?? [] }
    }

    public func setInterfaces(_ id: InstanceID, _ nics: [GuestNIC]) async throws {
        try state.withLock { s throws(NimbusError) in
            var i = try Self.instance(s, id)
            if i.state == .suspended { throw NimbusError.conflict("a suspended guest keeps its devices until it resumes") }
            let have = i.spec.nics ?? [], wanted = Set(nics.map(\.portID)), present = Set(have.map(\.portID))
            if !wanted.isSubset(of: present) { try Self.takeFailure(&s, .plugInterface) }
            i.spec.nics = have.filter { wanted.contains($0.portID) } + nics.filter { !present.contains($0.portID) }
            s.instances[id] = i
        }
    }

    public func volumes(_ id: InstanceID) async throws -> [GuestVolume] {
        try state.withLock { s throws(NimbusError) in try Self.instance(s, id).spec.volumes ?? [] }
    }

    public func setVolumes(_ id: InstanceID, _ volumes: [GuestVolume]) async throws {
        try state.withLock { s throws(NimbusError) in
            var i = try Self.instance(s, id)
            let have = i.spec.volumes ?? [], wanted = Set(volumes.map(\.attachmentID)), present = Set(have.map(\.attachmentID))
            // Sizes change on a suspended guest too (its record); its devices do not.
            if i.state == .suspended, wanted != present { throw NimbusError.conflict("a suspended guest keeps its devices until it resumes") }
            i.spec.volumes = have.filter { wanted.contains($0.attachmentID) } + volumes.filter { !present.contains($0.attachmentID) }
            for v in GuestVolume.resized(have: i.spec.volumes ?? [], wanted: volumes) {
                if let k = i.spec.volumes?.firstIndex(where: { $0.attachmentID == v.attachmentID }) { i.spec.volumes?[k].sizeBytes = v.sizeBytes }
            }
            s.instances[id] = i
        }
    }

    public func snapshot(_ id: InstanceID) async throws -> SnapshotImage {
        let (spec, boots) = try state.withLock { s throws(NimbusError) in
            try Self.takeFailure(&s, .snapshot)
            let i = try Self.instance(s, id)
            return (i.spec, i.boots)
        }
        // A real snapshot takes a while: the server stays in `image_snapshot` long enough for a
        // client's next request to find it there (Tempest's second-image test), not 20 ms.
        try await Task.sleep(for: .milliseconds(300))
        var bytes = Array("fake root disk of \(spec.id) after \(boots) boots\n".utf8)
        bytes += [UInt8](repeating: 0, count: 4096 - bytes.count % 4096)
        let path = NSTemporaryDirectory() + "/nimbus-fake-snapshot-\(UUID().uuidString).raw"
        try FileIO.writeAtomically(path, bytes, mode: 0o600)
        return SnapshotImage(path: path, diskFormat: "raw", virtualSize: UInt64(bytes.count))
    }

    /// The fake's diagnostics: its state and spec, and made-up counters that grow with its boots
    /// (the fake has no guest to measure; Nova's fake driver returns constants).
    public func diagnostics(_ id: InstanceID) async throws -> GuestDiagnostics {
        let i = try state.withLock { s throws(NimbusError) in try Self.instance(s, id) }
        let n = Int64(i.boots)
        return GuestDiagnostics(state: i.state, hypervisor: "fake", uptimeSeconds: 0, configDrive: i.spec.configDrive != nil,
                                cpuTimes: Array(repeating: 1_000_000_000 * n, count: i.spec.vcpus), memoryMaxMB: i.spec.memoryMB,
                                memoryUsedMB: i.spec.memoryMB / 2,
                                disks: [.init(name: "vda", readBytes: 4096 * n, readRequests: n, writeBytes: 0, writeRequests: 0, errors: 0)], nics: 0)
    }

    public func injectNMI(_ id: InstanceID) async throws {
        try change(id, .injectNMI, powerOn: nil) { (i: inout Instance) throws(NimbusError) in
            guard i.state == .running || i.state == .paused else { throw .conflict("Instance \(id) is not running.") }
            i.nmis += 1
        }
    }

    /// NMIs injected into an instance (tests).
    public func nmiCount(of id: InstanceID) -> Int { state.withLock { $0.instances[id]?.nmis ?? 0 } }

    // MARK: moves. The fake's "disk" is one line naming the instance and its boot count, copied
    // by the destination through the agent API like a real disk, so a move keeps the count.

    public func migrateOut(_ id: InstanceID, migration: String) async throws {
        try change(id, .migrateOut, powerOn: false) { (i: inout Instance) throws(NimbusError) in i.outgoing = migration }
    }

    public func outgoingDisks(_ id: InstanceID, migration: String) async throws -> [MigrationDisk] {
        [MigrationDisk(name: "disk", size: Int64(try outgoingDisk(id, migration: migration).count))]
    }

    public func outgoingDiskPath(_ id: InstanceID, migration: String, disk: String) async throws -> String {
        let bytes = try outgoingDisk(id, migration: migration)
        guard disk == "disk" else { throw NimbusError.notFound("Instance \(id) has no disk \(disk)") }
        let dir = NSTemporaryDirectory() + "/nimbus-fake-disks-\(getpid())"
        try FileIO.makeDirectory(dir)
        let path = dir + "/" + id.rawValue
        try FileIO.writeAtomically(path, bytes, mode: 0o600)
        return path
    }

    private func outgoingDisk(_ id: InstanceID, migration: String) throws(NimbusError) -> [UInt8] {
        try state.withLock { s throws(NimbusError) in
            let i = try Self.instance(s, id)
            guard i.outgoing == migration else { throw .notFound("Instance \(id) is not moving out for migration \(migration)") }
            return Array("fake root disk of \(id) after \(i.boots) boots\n".utf8)
        }
    }

    public func migrateIn(_ spec: InstanceSpec, image: any ImageSource, from source: any MigrationSource, powerOn: Bool) async throws {
        try spec.validate(image: image)
        if state.withLock({ $0.instances[spec.id] != nil }) {
            try change(spec.id, .migrateIn, powerOn: powerOn) { (_: inout Instance) throws(NimbusError) in }
            return
        }
        let disks = try await source.disks()
        guard disks.contains(where: { $0.name == "disk" }) else { throw NimbusError(.internal, "the source offers no root disk") }
        let path = NSTemporaryDirectory() + "/nimbus-fake-in-\(UUID().uuidString)"
        defer { unlink(path) }
        try await source.download("disk", to: path)
        let line = String(decoding: try FileIO.read(path, count: 4096), as: UTF8.self)
        let prefix = "fake root disk of \(spec.id) after "
        guard line.hasBytePrefix(prefix), let boots = Int(line.dropFirst(prefix.utf8.count).prefix { $0.isNumber }) else {
            throw NimbusError(.internal, "the disk copied from the source is not \(spec.id)'s: \(line)")
        }
        try state.withLock { s throws(NimbusError) in
            try Self.takeFailure(&s, .migrateIn)
            s.instances[spec.id] = Instance(spec: spec, state: powerOn ? .running : .shutdown, boots: boots + (powerOn ? 1 : 0), beforeResize: nil)
        }
    }

    public func revertMigrateOut(_ id: InstanceID, powerOn: Bool) async throws {
        try change(id, .migrateOut, powerOn: powerOn) { (i: inout Instance) throws(NimbusError) in i.outgoing = nil }
    }

    public func prepareIncoming(_ spec: InstanceSpec, image: any ImageSource, address: String) async throws -> String {
        try spec.validate(image: image)
        return try state.withLock { s throws(NimbusError) in
            try Self.takeFailure(&s, .prepareIncoming)
            if s.instances[spec.id]?.incoming != true {
                s.instances[spec.id] = Instance(spec: spec, state: .paused, boots: 0, beforeResize: nil, incoming: true)
            }
            return "fake:\(address)/\(spec.id)"
        }
    }

    public func liveMigrate(_ id: InstanceID, to uri: String) async throws {
        try state.withLock { s throws(NimbusError) in
            if s.migrated[id] == uri { return }
            try Self.takeFailure(&s, .liveMigrate)
            let i = try Self.instance(s, id)
            guard i.state == .running || i.state == .paused else { throw .conflict("Instance \(id) has no running guest to migrate") }
            s.instances[id] = nil
            s.migrated[id] = uri
        }
    }

    public func finishIncoming(_ id: InstanceID, run: Bool) async throws {
        try change(id, .finishIncoming, powerOn: nil) { (i: inout Instance) throws(NimbusError) in
            i.incoming = false
            i.state = run ? .running : .paused
            if i.boots == 0 { i.boots = 1 }
        }
    }

    /// The fake's live migration is over before it could be forced or aborted.
    public func controlMigration(_ id: InstanceID, _ action: MigrationControl) async throws {}

    /// Simulates the guest's process dying (`kill -9`): the instance reads as shut down.
    public func simulateCrash(_ id: InstanceID) {
        state.withLock { s in s.instances[id]?.state = .shutdown }
    }

    private func apply(_ action: PowerAction, _ operation: Operation, _ id: InstanceID) throws(NimbusError) {
        try state.withLock { s throws(NimbusError) in
            try Self.takeFailure(&s, operation)
            var i = try Self.instance(s, id)
            guard let next = try i.state.after(action) else { return }
            let starts = next == .running && (i.state != .paused && i.state != .suspended || action == .hardReboot)
            if starts || action == .softReboot { i.boots += 1 }
            i.state = next
            s.instances[id] = i
        }
    }

    private static func instance(_ s: State, _ id: InstanceID) throws(NimbusError) -> Instance {
        guard let i = s.instances[id] else { throw .notFound("Instance \(id) could not be found on this host.") }
        return i
    }

    private static func takeFailure(_ s: inout State, _ op: Operation) throws(NimbusError) {
        if let e = s.failures.removeValue(forKey: op) { throw e }
        if s.alwaysFailing.contains(op) { throw NimbusError(.internal, "\(op.rawValue) failed (fake_failing_operations)") }
    }
}
