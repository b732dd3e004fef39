import Crypto
import Foundation
import NimbusCore

/// Where a compute node keeps its files, under `<data dir>/compute/`:
///
///     _base/<sha256>           cached base images, read-only, keyed by image id and checksums
///     accelerator.json         the KVM probe's verdict, keyed by QEMU version and host kernel
///     instances/<id>/          one directory per instance (`InstancePaths`)
struct NodeLayout: Sendable {
    /// sun_path holds 108 bytes including the terminating NUL, but SwiftNIO (the console
    /// relay connects with it) refuses paths over 103 bytes.
    static let maxSocketPathBytes = 103

    let root: String
    var baseDir: String { root + "/_base" }
    var instancesDir: String { root + "/instances" }
    var acceleratorVerdict: String { root + "/accelerator.json" }
    var acceleratorProbeLog: String { root + "/accelerator-probe.log" }

    /// Where instances' monitor sockets go: their own directory when the paths fit in a unix
    /// socket address (107 bytes), else a short directory under `/run` (or the temporary
    /// directory when not root) named by a hash of this node's root, so the same data dir finds
    /// its guests' sockets again after a restart.
    let socketRoot: String?

    init(dataDir: String) {
        root = dataDir + "/compute"
        let sample = root + "/instances/00000000-0000-0000-0000-000000000000/status.sock"
        if sample.utf8.count <= Self.maxSocketPathBytes {
            socketRoot = nil
        } else {
            let digest = SHA256.hash(data: Array(root.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
            let base = getuid() == 0 ? "/run/nimbus-compute" : NSTemporaryDirectory() + "/nimbus-compute-\(getuid())"
            socketRoot = base + "/" + digest
        }
    }

    func instance(_ id: InstanceID) -> InstancePaths {
        InstancePaths(dir: instancesDir + "/" + id.rawValue, socketDir: socketRoot.map { $0 + "/" + id.rawValue })
    }

    /// Throws unless a UUID-named instance's sockets fit in a unix socket address.
    func checkSocketPaths() throws(NimbusError) {
        let sample = instance(try InstanceID("00000000-0000-0000-0000-000000000000"))
        let longest = [sample.qmp, sample.statusQMP, sample.serial, sample.vnc].map(\.utf8.count).max()!
        guard longest <= Self.maxSocketPathBytes else {
            throw NimbusError(.internal, "compute data dir \(root) is too long: QEMU's sockets need paths of at most "
                + "\(Self.maxSocketPathBytes) bytes, and an instance's would have \(longest)")
        }
    }
}

/// The files of one instance.
struct InstancePaths: Sendable, Equatable {
    let dir: String
    /// The monitor sockets' directory when it is not `dir` (a data dir too long for them).
    var socketDir: String? = nil
    /// `InstanceRecord` as JSON: what is needed to start the guest again after a restart.
    var record: String { dir + "/instance.json" }
    var rootDisk: String { dir + "/disk" }
    var ephemeralDisk: String { dir + "/disk.eph0" }
    var swapDisk: String { dir + "/disk.swap" }
    var configDrive: String { dir + "/disk.config" }
    var configDriveTree: String { dir + "/config-drive.tmp" }
    /// The serial console, appended to by QEMU and trimmed by `ConsoleLog`.
    var console: String { dir + "/console.log" }
    /// QEMU's own stdout and stderr (start errors, warnings).
    var qemuLog: String { dir + "/qemu.log" }
    /// Control monitor (power actions, migration), used under the instance's lock.
    var qmp: String { (socketDir ?? dir) + "/qmp.sock" }
    /// Second monitor for status queries, so a long action never blocks a power-state read.
    var statusQMP: String { (socketDir ?? dir) + "/status.sock" }
    /// The serial port's interactive end (QEMU's socket server; the log is `console`).
    var serial: String { (socketDir ?? dir) + "/serial.sock" }
    /// QEMU's VNC server.
    var vnc: String { (socketDir ?? dir) + "/vnc.sock" }
    var pidfile: String { dir + "/qemu.pid" }
    /// What a resize keeps until it is confirmed or reverted: the previous record and disks.
    var resizeBackup: String { dir + "/resize-backup" }
    /// Present while a rebuild replaces the disks (a rebuild cut short is done again).
    var rebuildMarker: String { dir + "/rebuilding" }
    /// The rescue boot disk (an overlay of the rescue image) while rescued.
    var rescueDisk: String { dir + "/disk.rescue" }
    /// The guest's memory while suspended (written as `.partial`, renamed when complete).
    var memoryState: String { dir + "/memory.state" }
    var memoryStatePartial: String { dir + "/memory.state.partial" }

    func checkSocketPaths() throws(NimbusError) {
        let longest = [qmp, statusQMP, serial, vnc].map(\.utf8.count).max()!
        guard longest <= NodeLayout.maxSocketPathBytes else {
            throw NimbusError(.badRequest, "instance id too long for this node's data dir: socket paths would have \(longest) bytes")
        }
    }
}
