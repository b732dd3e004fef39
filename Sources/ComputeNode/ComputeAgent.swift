import Foundation
import Logging
import NimbusCore

/// A compute node's agent: registers the node, then converges its instances to what the
/// controller wants — level-triggered, every `interval` and whenever poked. For each instance it
/// does the pending task (spawn, power off/on, reboot, pause, suspend, delete) through the
/// driver and reports the outcome; with no task it reports the observed power state. Every step
/// is idempotent, so a restarted agent (or a lost report) just repeats it; guests keep running
/// while the agent is away and are re-adopted from the driver's `instances()`.
public actor ComputeAgent {
    public let host: String
    let driver: any VirtDriver
    let control: any NodeControl
    let logger: Logger
    let interval: Duration
    /// Instances whose task is being worked on (a slow spawn is not started twice).
    var busy = Set<InstanceID>()
    var lastPower = [InstanceID: PowerState]()
    /// The attachment ids last reported per guest.
    var lastVolumes = [InstanceID: Set<String>]()
    /// The sizes of extended volumes last reported, per instance.
    var lastVolumeSizes = [InstanceID: [String: UInt64]]()
    var wakeups: AsyncStream<Void>.Continuation?
    public private(set) var providerID: String?

    /// The node's own API address, sent when it registers (nil: the node inside the controller).
    let endpoint: String?
    /// Where this node's console streams are served (`nimbus compute`'s console listener).
    let consoleEndpoint: String?
    /// The address live migrations into this node stream to (Nova's `live_migration_inbound_addr`).
    let migrationAddress: String

    public init(host: String, endpoint: String? = nil, consoleEndpoint: String? = nil, migrationAddress: String = "127.0.0.1", driver: any VirtDriver, control: any NodeControl,
                interval: Duration = .seconds(10), logger: Logger) {
        self.host = host
        self.endpoint = endpoint
        self.consoleEndpoint = consoleEndpoint
        self.migrationAddress = migrationAddress
        self.driver = driver
        self.control = control
        self.interval = interval
        self.logger = logger
    }

    /// Asks for a reconcile soon (the controller pokes the in-process agent after a change).
    public func poke() { wakeups?.yield() }

    /// Registers, then reconciles until cancelled.
    public func run() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wakeups = continuation
        while !Task.isCancelled {
            do {
                try await register()
                break
            } catch {
                logger.error("compute node \(host): registration failed, retrying: \(error)")
                try? await Task.sleep(for: .seconds(2))
            }
        }
        let ticker = Task { [interval] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                continuation.yield()
            }
        }
        defer { ticker.cancel() }
        continuation.yield()
        for await _ in stream {
            if Task.isCancelled { break }
            await reconcile()
        }
    }

    func register() async throws {
        let r = try await driver.hostResources()
        providerID = try await control.register(NodeInfo(host: host, endpoint: endpoint, consoleEndpoint: consoleEndpoint, hypervisorType: driver.hypervisorType, hypervisorVersion: r.hypervisorVersion,
                                                         vcpus: r.vcpus, memoryMB: r.memoryMB, diskGB: r.diskGB, cpuModel: r.cpuModel))
    }

    /// One pass: every desired instance's task started (in its own task), power states reported.
    public func reconcile() async {
        let desired: [DesiredInstance]
        let actual: [InstanceID: PowerState]
        do {
            desired = try await control.desired(host: host)
            actual = try await driver.instances()
        } catch {
            logger.error("compute node \(host): cannot read desired or actual state: \(error)")
            return
        }
        var reports = [InstanceReport]()
        for d in desired where !busy.contains(d.spec.id) {
            let observed = actual[d.spec.id] ?? .noState
            if d.role != nil || Self.waitsForOtherEnd(d) {
                // One end of a move while the other acts (or the instance is placed elsewhere):
                // act only on this end's step, and report no power state.
                if let task = d.task, Self.actsHere(d) {
                    busy.insert(d.spec.id)
                    Task { await self.work(d, task: task, observed: observed) }
                }
                continue
            }
            if let task = d.task {
                busy.insert(d.spec.id)
                Task { await self.work(d, task: task, observed: observed) }
                continue
            }
            if lastPower[d.spec.id] != observed {
                reports.append(InstanceReport(id: d.spec.id, event: .powerState, powerState: observed))
            }
            // Interfaces attached or detached since the guest was built: hot-plugged.
            if observed != .noState, let wanted = d.spec.nics,
               let have = try? await driver.interfaces(d.spec.id), Set(have.map(\.portID)) != Set(wanted.map(\.portID)) {
                busy.insert(d.spec.id)
                Task { await self.syncInterfaces(d.spec.id, wanted) }
                continue
            }
            // Volumes likewise; the controller hears which are plugged in once they change.
            if observed != .noState, let have = try? await driver.volumes(d.spec.id) {
                let wanted = d.spec.volumes ?? []
                if Set(have.map(\.attachmentID)) != Set(wanted.map(\.attachmentID)) || !GuestVolume.resized(have: have, wanted: wanted).isEmpty {
                    busy.insert(d.spec.id)
                    Task { await self.syncVolumes(d.spec.id, wanted) }
                } else if lastVolumes[d.spec.id] != Set(have.map(\.attachmentID)) {
                    reports.append(InstanceReport(id: d.spec.id, event: .volumes, powerState: observed,
                                                  detail: JSONValue(have.map(\.attachmentID)).serializedString()))
                } else if let sizes = Self.sizes(have), lastVolumeSizes[d.spec.id] != sizes {
                    reports.append(InstanceReport(id: d.spec.id, event: .volumesResized, powerState: observed,
                                                  detail: JSONValue.object(JSONObject(sizes.mapValues { JSONValue.int(Int64($0)) })).serializedString()))
                }
            }
        }
        if !reports.isEmpty { await send(reports) }
    }

    /// The image a guest is built from; none for a volume-backed one (its root is a volume).
    func bootImage(_ spec: InstanceSpec) async throws -> (any ImageSource)? {
        spec.imageID.isEmpty && spec.bootVolume != nil ? nil : try await control.image(spec.imageID)
    }

    /// The sizes of the volumes that were extended while attached, by attachment (nil: none).
    static func sizes(_ volumes: [GuestVolume]) -> [String: UInt64]? {
        let s = Dictionary(volumes.compactMap { v in v.sizeBytes.map { (v.attachmentID, $0) } }, uniquingKeysWith: { a, _ in a })
        return s.isEmpty ? nil : s
    }

    func syncVolumes(_ id: InstanceID, _ volumes: [GuestVolume]) async {
        do {
            try await driver.setVolumes(id, volumes)
            busy.remove(id)
            // Another pass at once: it reports what is plugged now, so the attachment completes
            // (or goes) without waiting for the next interval. (A failure waits for the interval.)
            poke()
        } catch {
            busy.remove(id)
            logger.warning("compute node \(host): volumes of \(id) not in place yet: \(error)")
        }
    }

    func syncInterfaces(_ id: InstanceID, _ nics: [GuestNIC]) async {
        defer { busy.remove(id) }
        var failure: String?
        do {
            try await driver.setInterfaces(id, nics)
        } catch {
            failure = String(describing: error)
            logger.warning("compute node \(host): interfaces of \(id) not in place yet: \(error)")
        }
        // The controller hears what is plugged now: an interface attach waits for it.
        guard let have = try? await driver.interfaces(id) else { return }
        await send([InstanceReport(id: id, event: .interfaces, powerState: (try? await state(id)) ?? .noState, message: failure,
                                   detail: JSONValue(have.map(\.portID)).serializedString())])
    }

    func send(_ reports: [InstanceReport]) async {
        do {
            try await control.report(host: host, reports)
            for r in reports where r.event == .powerState { lastPower[r.id] = r.powerState }
            for r in reports where r.event == .volumes {
                lastVolumes[r.id] = Set((try? JSONValue.parse(Array((r.detail ?? "[]").utf8)))?.arrayValue?.compactMap(\.stringValue) ?? [])
            }
            for r in reports where r.event == .volumesResized {
                let o = (try? JSONValue.parse(Array((r.detail ?? "{}").utf8)))?.objectValue
                lastVolumeSizes[r.id] = Dictionary((o?.sortedMembers ?? []).compactMap { k, v in v.intValue.map { (k, UInt64(max(0, $0))) } },
                                                   uniquingKeysWith: { a, _ in a })
            }
        } catch {
            logger.error("compute node \(host): report failed (it will be repeated): \(error)")
        }
    }

    /// Steps of a move the node the instance is placed on does not do: a live migration's
    /// prepare and rollback (the destination's, while the source holds the instance) and the
    /// confirmation of a cold move (the source's clean-up, while the destination holds it).
    /// Task argument of a volume-backed server's rebuild (`ComputeService.volumeRebuild`).
    public static let volumeRebuild = "volume_rebuild"

    static func waitsForOtherEnd(_ d: DesiredInstance) -> Bool {
        guard d.role == nil, let task = d.task else { return false }
        if d.taskArguments[MoveTask.scheduling] == "true" { return true }
        let phase = d.taskArguments[MoveTask.phase]
        if task == "migrating" { return phase != MoveTask.Phase.migrate.rawValue && phase != MoveTask.Phase.finish.rawValue }
        if task == "resize_confirming", d.taskArguments[MoveTask.move] == "true" { return true }
        // The controller re-images and connects a volume-backed server's root volume.
        if task == "rebuild_block_device_mapping", d.taskArguments[volumeRebuild] == "true" { return true }
        return false
    }

    /// Whether this node acts on a move entry: the source cleans up; the destination of a live
    /// migration prepares or rolls back.
    static func actsHere(_ d: DesiredInstance) -> Bool {
        switch d.role {
        case .source?: return d.task == MoveTask.cleanup
        case .dest?:
            if d.task == MoveTask.cleanup { return true }
            let phase = d.taskArguments[MoveTask.phase]
            return d.task == "migrating" && (phase == MoveTask.Phase.prepare.rawValue || phase == MoveTask.Phase.rollback.rawValue)
        case nil: return false
        }
    }

    func work(_ d: DesiredInstance, task: String, observed: PowerState) async {
        defer { busy.remove(d.spec.id) }
        let id = d.spec.id
        let report: InstanceReport
        let migration = d.taskArguments[MoveTask.migration]
        let phase = d.taskArguments[MoveTask.phase]
        let moving = d.taskArguments[MoveTask.move] == "true"
        do {
            switch task {
            case MoveTask.cleanup:
                try await driver.destroy(id)
                report = InstanceReport(id: id, event: .taskDone, powerState: .noState, task: task, migration: migration)
            case "migrating" where phase == MoveTask.Phase.prepare.rawValue:
                let target = try await driver.prepareIncoming(d.spec, image: try await control.image(d.spec.imageID), address: migrationAddress)
                report = InstanceReport(id: id, event: .migrationPrepared, powerState: try await state(id), task: task, migration: migration,
                                        detail: target)
            case "migrating" where phase == MoveTask.Phase.rollback.rawValue:
                try await driver.destroy(id)
                report = InstanceReport(id: id, event: .taskDone, powerState: .noState, task: task, migration: migration)
            case "migrating" where phase == MoveTask.Phase.migrate.rawValue:
                guard let uri = d.taskArguments[MoveTask.uri] else { throw AgentError(message: "live migration without a destination") }
                try await driver.liveMigrate(id, to: uri)
                lastPower[id] = nil
                lastVolumes[id] = nil
                lastVolumeSizes[id] = nil
                report = InstanceReport(id: id, event: .taskDone, powerState: .noState, task: task, migration: migration)
            case "migrating" where phase == MoveTask.Phase.finish.rawValue:
                try await driver.finishIncoming(id, run: d.vmState != "paused")
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task, migration: migration)
            case "resize_migrating" where moving, "resize_prep" where moving:
                guard let migration else { throw AgentError(message: "a move without a migration") }
                try await driver.migrateOut(id, migration: migration)
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task, migration: migration)
            case "resize_finish" where moving, "resize_migrated" where moving:
                guard let migration else { throw AgentError(message: "a move without a migration") }
                let source = try control.migrationSource(base: d.taskArguments[MoveTask.sourceBase], instance: id, migration: migration)
                try await driver.migrateIn(d.spec, image: try await control.image(d.spec.imageID), from: source,
                                           powerOn: d.taskArguments["power_on"] != "false")
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task, migration: migration)
            case "resize_reverting" where moving && phase == MoveTask.Phase.dest.rawValue:
                try await driver.destroy(id)
                lastPower[id] = nil
                lastVolumes[id] = nil
                lastVolumeSizes[id] = nil
                report = InstanceReport(id: id, event: .taskDone, powerState: .noState, task: task, migration: migration)
            case "resize_reverting" where moving:
                try await driver.revertMigrateOut(id, powerOn: d.taskArguments["power_on"] != "false")
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task, migration: migration)
            case "rebuilding" where d.taskArguments[MoveTask.evacuate] == "true", "rebuild_spawning" where d.taskArguments[MoveTask.evacuate] == "true":
                // Evacuated here: built anew from the image (no storage is shared with the dead host).
                if observed == .noState { try await driver.spawn(d.spec, image: try await bootImage(d.spec)) }
                if d.taskArguments["power_on"] == "false", try await state(id) != .shutdown { try await driver.powerOff(id, timeout: .seconds(60)) }
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task, migration: migration)
            case "scheduling", "networking", "block_device_mapping", "spawning":
                if observed == .noState { try await driver.spawn(d.spec, image: try await bootImage(d.spec)) }
                report = InstanceReport(id: id, event: .spawned, powerState: try await state(id))
            case "image_snapshot", "image_snapshot_pending", "image_pending_upload", "image_uploading", "image_backup":
                try await snapshot(d, task: task)
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "rebuilding" where d.taskArguments[Self.volumeRebuild] == "true":
                // A volume-backed server: the guest goes (and lets go of its volumes) while the
                // controller re-images and connects the root volume; then it is built again.
                let now = try await state(id)
                if now == .running || now == .paused { try await driver.powerOff(id, timeout: .seconds(60)) }
                try await driver.destroy(id)
                lastPower[id] = nil
                lastVolumes[id] = nil
                lastVolumeSizes[id] = nil
                report = InstanceReport(id: id, event: .taskDone, powerState: .noState, task: task)
            case "rebuild_spawning" where d.taskArguments[Self.volumeRebuild] == "true":
                if observed == .noState { try await driver.spawn(d.spec, image: try await bootImage(d.spec)) }
                if d.taskArguments["power_on"] == "false", try await state(id) != .shutdown { try await driver.powerOff(id, timeout: .seconds(60)) }
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "rebuilding", "rebuild_block_device_mapping", "rebuild_spawning":
                try await driver.rebuild(d.spec, image: try await control.image(d.spec.imageID),
                                         preserveEphemeral: d.taskArguments["preserve_ephemeral"] == "true",
                                         powerOn: d.taskArguments["power_on"] != "false")
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "resize_prep", "resize_migrating", "resize_migrated", "resize_finish":
                try await driver.resize(d.spec, powerOn: d.taskArguments["power_on"] != "false")
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "resize_confirming":
                try await driver.confirmResize(id)
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "resize_reverting":
                try await driver.revertResize(id, powerOn: d.taskArguments["power_on"] != "false")
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "shelving", "shelving_image_pending_upload", "shelving_image_uploading":
                // the snapshot (uploaded as the shelved image; none for a volume-backed server),
                // then the guest stopped
                if !(d.taskArguments["image_id"] ?? "").isEmpty { try await snapshot(d, task: task) }
                let now = try await state(id)
                if now != .shutdown && now != .noState && now != .crashed { try await driver.powerOff(id, timeout: .seconds(60)) }
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "shelving_offloading":
                try await driver.destroy(id)
                lastPower[id] = nil
                lastVolumes[id] = nil
                lastVolumeSizes[id] = nil
                report = InstanceReport(id: id, event: .taskDone, powerState: .noState, task: task)
            case "unshelving":
                // still here (shelved, not offloaded): start it; offloaded and placed here: build it
                // from the shelved image (the spec names it)
                if observed == .noState {
                    try await driver.spawn(d.spec, image: try await bootImage(d.spec))
                } else if observed != .running {
                    try await driver.powerOn(id)
                }
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "rescuing":
                guard let image = d.taskArguments["rescue_image"] else { throw AgentError(message: "rescue without a rescue image") }
                let device = d.taskArguments["rescue_bus"].flatMap { bus in
                    RescueDevice.supported(bus: bus, device: d.taskArguments["rescue_device"] ?? "disk")
                }
                try await driver.rescue(id, image: try await control.image(image), device: device)
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "unrescuing":
                try await driver.unrescue(id)
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "deleting", "soft-deleting":
                try await driver.destroy(id)
                lastPower[id] = nil
                lastVolumes[id] = nil
                lastVolumeSizes[id] = nil
                report = InstanceReport(id: id, event: .destroyed, powerState: .noState, task: task)
            default:
                try await act(task, id, observed)
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            }
        } catch {
            logger.error("compute node \(host): \(task) of \(id) failed: \(error)")
            let event: InstanceReport.Event = d.vmState == "building" && d.role == nil ? .spawnFailed : .taskFailed
            report = InstanceReport(id: id, event: event, powerState: (try? await state(id)) ?? .noState, task: task, message: String(describing: error),
                                    migration: migration)
        }
        lastPower[id] = report.powerState
        await send([report])
    }

    /// createImage: the driver's snapshot file, uploaded as the image the task names.
    func snapshot(_ d: DesiredInstance, task: String) async throws {
        guard let imageID = d.taskArguments["image_id"] else { throw AgentError(message: "\(task) without an image_id") }
        let snap = try await driver.snapshot(d.spec.id)
        defer { try? FileManager.default.removeItem(atPath: snap.path) }
        let size = Int64(FileIO.size(snap.path) ?? 0)
        try await control.uploadImage(imageID, instance: d.spec.id, host: host, diskFormat: snap.diskFormat, size: size,
                                      bytes: FileByteChunks(path: snap.path))
    }

    /// The power actions of Nova's task states.
    func act(_ task: String, _ id: InstanceID, _ observed: PowerState) async throws {
        switch task {
        case "powering-off": if observed != .shutdown && observed != .crashed { try await driver.powerOff(id, timeout: .seconds(60)) }
        case "powering-on": if observed != .running { try await driver.powerOn(id) }
        case "rebooting", "reboot_pending", "reboot_started": try await driver.reboot(id, hard: false)
        case "rebooting_hard", "reboot_pending_hard", "reboot_started_hard": try await driver.reboot(id, hard: true)
        case "pausing": if observed != .paused { try await driver.pause(id) }
        case "unpausing": if observed == .paused { try await driver.unpause(id) }
        case "suspending": if observed != .suspended { try await driver.suspend(id) }
        case "resuming": if observed == .suspended { try await driver.resume(id) }
        default: throw AgentError(message: "the compute node does not know the task \(task)")
        }
    }

    func state(_ id: InstanceID) async throws -> PowerState { try await driver.instances()[id] ?? .noState }

    public func diagnostics(_ id: String) async throws -> GuestDiagnostics { try await driver.diagnostics(try InstanceID(id)) }
    public func injectNMI(_ id: String) async throws { try await driver.injectNMI(try InstanceID(id)) }
    public func controlMigration(_ id: String, _ action: MigrationControl) async throws { try await driver.controlMigration(try InstanceID(id), action) }

    /// What an outgoing instance offers the destination of `migration` (the agent API serves it).
    public func outgoingDisks(_ id: String, migration: String) async throws -> [MigrationDisk] {
        try await driver.outgoingDisks(try InstanceID(id), migration: migration)
    }

    public func outgoingDiskPath(_ id: String, migration: String, disk: String) async throws -> String {
        try await driver.outgoingDiskPath(try InstanceID(id), migration: migration, disk: disk)
    }

    /// The tail of an instance's serial console (the controller's `os-getConsoleOutput`).
    public func consoleLog(_ id: String, lines: Int?) async throws -> String { try await driver.consoleLog(try InstanceID(id), lines: lines) }

    /// Throws unless the instance's interactive console of that kind can be opened now.
    public func checkConsole(_ id: String, _ kind: ConsoleKind) async throws { try await driver.checkConsole(try InstanceID(id), kind) }
    /// Runs `body` with the instance's interactive console open (the console proxy's end).
    public func withConsole(_ id: String, _ kind: ConsoleKind, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {
        try await driver.withConsole(try InstanceID(id), kind, body)
    }

    struct AgentError: Error, CustomStringConvertible { let message: String; var description: String { message } }
}
