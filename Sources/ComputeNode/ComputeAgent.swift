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
    var wakeups: AsyncStream<Void>.Continuation?
    public private(set) var providerID: String?

    /// The node's own API address, sent when it registers (nil: the node inside the controller).
    let endpoint: String?

    public init(host: String, endpoint: String? = nil, driver: any VirtDriver, control: any NodeControl, interval: Duration = .seconds(10),
                logger: Logger) {
        self.host = host
        self.endpoint = endpoint
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
        providerID = try await control.register(NodeInfo(host: host, endpoint: endpoint, hypervisorType: driver.hypervisorType, hypervisorVersion: r.hypervisorVersion,
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
            if let task = d.task {
                busy.insert(d.spec.id)
                Task { await self.work(d, task: task, observed: observed) }
            } else if lastPower[d.spec.id] != observed {
                reports.append(InstanceReport(id: d.spec.id, event: .powerState, powerState: observed))
            }
        }
        if !reports.isEmpty { await send(reports) }
    }

    func send(_ reports: [InstanceReport]) async {
        do {
            try await control.report(host: host, reports)
            for r in reports where r.event == .powerState { lastPower[r.id] = r.powerState }
        } catch {
            logger.error("compute node \(host): report failed (it will be repeated): \(error)")
        }
    }

    func work(_ d: DesiredInstance, task: String, observed: PowerState) async {
        defer { busy.remove(d.spec.id) }
        let id = d.spec.id
        let report: InstanceReport
        do {
            switch task {
            case "scheduling", "networking", "block_device_mapping", "spawning":
                if observed == .noState { try await driver.spawn(d.spec, image: try await control.image(d.spec.imageID)) }
                report = InstanceReport(id: id, event: .spawned, powerState: try await state(id))
            case "image_snapshot", "image_snapshot_pending", "image_pending_upload", "image_uploading":
                try await snapshot(d, task: task)
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
                // the snapshot (uploaded as the shelved image), then the guest stopped
                try await snapshot(d, task: task)
                let now = try await state(id)
                if now != .shutdown && now != .noState && now != .crashed { try await driver.powerOff(id, timeout: .seconds(60)) }
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "shelving_offloading":
                try await driver.destroy(id)
                lastPower[id] = nil
                report = InstanceReport(id: id, event: .taskDone, powerState: .noState, task: task)
            case "unshelving":
                // still here (shelved, not offloaded): start it; offloaded and placed here: build it
                // from the shelved image (the spec names it)
                if observed == .noState {
                    try await driver.spawn(d.spec, image: try await control.image(d.spec.imageID))
                } else if observed != .running {
                    try await driver.powerOn(id)
                }
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "rescuing":
                guard let image = d.taskArguments["rescue_image"] else { throw AgentError(message: "rescue without a rescue image") }
                try await driver.rescue(id, image: try await control.image(image))
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "unrescuing":
                try await driver.unrescue(id)
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            case "deleting", "soft-deleting":
                try await driver.destroy(id)
                lastPower[id] = nil
                report = InstanceReport(id: id, event: .destroyed, powerState: .noState, task: task)
            default:
                try await act(task, id, observed)
                report = InstanceReport(id: id, event: .taskDone, powerState: try await state(id), task: task)
            }
        } catch {
            logger.error("compute node \(host): \(task) of \(id) failed: \(error)")
            let event: InstanceReport.Event = d.vmState == "building" ? .spawnFailed : .taskFailed
            report = InstanceReport(id: id, event: event, powerState: (try? await state(id)) ?? .noState, task: task, message: String(describing: error))
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

    /// The tail of an instance's serial console (the controller's `os-getConsoleOutput`).
    public func consoleLog(_ id: String, lines: Int?) async throws -> String { try await driver.consoleLog(try InstanceID(id), lines: lines) }

    struct AgentError: Error, CustomStringConvertible { let message: String; var description: String { message } }
}
