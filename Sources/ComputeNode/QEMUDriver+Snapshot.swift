import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

extension QEMUDriver {
    /// Nova's libvirt snapshot, done with QEMU's own block job: while the guest runs (or is
    /// paused), `blockdev-backup` copies the root disk as of the job's start into a new qcow2
    /// (guest writes during the copy go to the disk, not the copy); a stopped or suspended guest's
    /// disk is read with `qemu-img`. Either way `qemu-img convert` then writes the standalone,
    /// sparse file that is uploaded.
    public func snapshot(_ id: InstanceID) async throws -> SnapshotImage {
        let paths = try existing(id)
        return try await locks.withLock(id) {
            let r = try InstanceRecord.load(paths.record)
            let output = paths.dir + "/snapshot-\(Identifiers.hex32().prefix(8)).qcow2"
            let work = paths.dir + "/snapshot.work"
            unlink(work)
            defer { unlink(work) }
            do {
                switch await actualState(paths) {
                case .running, .paused:
                    try await img.createBlank(path: work, sizeBytes: r.rootDiskBytes)
                    try await backupRunningDisk(paths, into: work)
                    try await img.convert(source: work, sourceFormat: .qcow2, output: output, outputFormat: .qcow2)
                default:
                    try await img.convert(source: paths.rootDisk, sourceFormat: .qcow2, output: output, outputFormat: .qcow2)
                }
            } catch {
                unlink(output)
                throw error
            }
            return SnapshotImage(path: output, diskFormat: DiskImageFormat.qcow2.rawValue, virtualSize: r.rootDiskBytes)
        }
    }

    /// `blockdev-add` of the target, `blockdev-backup` (sync full) of node `root`, waiting for
    /// the job to conclude, then the target removed from QEMU again (also on failure).
    func backupRunningDisk(_ paths: InstancePaths, into target: String) async throws {
        let qmp = QMPClient(socketPath: paths.qmp, timeout: .seconds(30))
        let node = "snapshot-target"
        try await qmp.execute("blockdev-add", ["driver": "qcow2", "node-name": .string(node),
                                               "file": ["driver": "file", "filename": .string(target)]])
        do {
            try await qmp.execute("blockdev-backup", ["job-id": "snapshot", "device": "root", "target": .string(node), "sync": "full",
                                                      "auto-dismiss": false])
            try await waitForJob(qmp, "snapshot")
        } catch {
            _ = try? await qmp.execute("job-cancel", ["id": "snapshot"])
            _ = try? await qmp.execute("job-dismiss", ["id": "snapshot"])
            _ = try? await qmp.execute("blockdev-del", ["node-name": .string(node)])
            throw error
        }
        try await qmp.execute("blockdev-del", ["node-name": .string(node)])
    }

    /// Polls `query-jobs` until `id` concludes; its `error` (if any) is thrown; the job is dismissed.
    func waitForJob(_ qmp: QMPClient, _ id: String, timeout: Duration = .seconds(3600)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let jobs = try await qmp.execute("query-jobs").arrayValue ?? []
            guard let job = jobs.first(where: { $0["id"]?.stringValue == id }) else {
                throw NimbusError(.internal, "QEMU block job \(id) vanished")
            }
            if job["status"]?.stringValue == "concluded" {
                _ = try? await qmp.execute("job-dismiss", ["id": .string(id)])
                if let message = job["error"]?.stringValue { throw NimbusError(.internal, "QEMU block job \(id) failed: \(message)") }
                return
            }
            guard ContinuousClock.now < deadline else { throw NimbusError(.internal, "QEMU block job \(id) did not finish in time") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
