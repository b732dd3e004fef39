import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// Diagnostics and crash dumps of a running guest, read from QEMU's monitor and `/proc`, as
/// Nova's libvirt driver reads them from libvirt: vCPU time per vCPU thread, block statistics
/// per disk, the process's resident memory, its uptime.
extension QEMUDriver {
    public func diagnostics(_ id: InstanceID) async throws -> GuestDiagnostics {
        let paths = try existing(id)
        let record = try InstanceRecord.load(paths.record)
        let state = await actualState(paths)
        guard let pid = GuestProcess(paths: paths, runner: runner).pid() else {
            return GuestDiagnostics(state: state, hypervisor: "qemu", uptimeSeconds: 0, configDrive: record.hasConfigDrive, cpuTimes: [],
                                    memoryMaxMB: record.spec.memoryMB, memoryUsedMB: nil, disks: [], nics: 0)
        }
        let status = QMPClient(socketPath: paths.statusQMP, timeout: .seconds(5))
        let cpus = try await status.execute("query-cpus-fast")
        let blocks = try await status.execute("query-blockstats")
        let accel = try await accelerator.choice().accel
        var cpuTimes = [Int64]()
        if case .array(let list) = cpus {
            for cpu in list.sorted(by: { ($0["cpu-index"]?.intValue ?? 0) < ($1["cpu-index"]?.intValue ?? 0) }) {
                guard let tid = cpu["thread-id"]?.intValue else { continue }
                cpuTimes.append(Self.cpuNanoseconds(pid: pid, thread: Int(tid)) ?? 0)
            }
        }
        var disks = [GuestDiagnostics.Disk]()
        var virtio = 0
        for d in self.disks(record, paths) {
            let name: String
            switch d.bus {
            case .virtio:
                name = "vd" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(min(virtio, 25))))
                virtio += 1
            case .ideCD: name = "hdc"
            case .rescueIDE: name = "hda"
            case .rescueSCSI, .rescueSATA, .rescueUSB: name = "sda"
            }
            var stats: JSONValue?
            if case .array(let list) = blocks {
                stats = list.first { entry in
                    let qdev = entry["qdev"]?.stringValue ?? ""
                    return qdev.hasByteSuffix("/\(d.node)-disk") || qdev.utf8.contains(Array("/\(d.node)-disk/".utf8))
                        || entry["node-name"]?.stringValue == d.node
                }?["stats"]
            }
            func n(_ key: String) -> Int64 { stats?[key]?.intValue ?? 0 }
            disks.append(.init(name: name, readBytes: n("rd_bytes"), readRequests: n("rd_operations"), writeBytes: n("wr_bytes"),
                               writeRequests: n("wr_operations"), errors: n("failed_rd_operations") + n("failed_wr_operations")))
        }
        return GuestDiagnostics(state: state, hypervisor: accel == "kvm" ? "kvm" : "qemu", uptimeSeconds: Self.uptimeSeconds(pid: pid) ?? 0,
                                configDrive: record.hasConfigDrive, cpuTimes: cpuTimes, memoryMaxMB: record.spec.memoryMB,
                                memoryUsedMB: Self.residentMB(pid: pid), disks: disks, nics: 0)
    }

    public func injectNMI(_ id: InstanceID) async throws {
        let paths = try existing(id)
        try await locks.withLock(id) {
            let state = await actualState(paths)
            guard state == .running || state == .paused else { throw NimbusError(.conflict, "Instance \(id) is not running.") }
            _ = try await QMPClient(socketPath: paths.qmp).execute("inject-nmi")
        }
    }

    /// The fields of `/proc/<pid>[/task/<tid>]/stat` after the command name (field 3 first).
    static func statFields(_ path: String) -> [Substring]? {
        guard let bytes = try? FileIO.read(path, count: 4096), let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        return String(decoding: bytes[(close + 1)...], as: UTF8.self).splitBytes(" ")
    }

    static var clockTicks: Int64 { Int64(max(1, sysconf(Int32(_SC_CLK_TCK)))) }

    /// utime + stime of one vCPU thread, in nanoseconds.
    static func cpuNanoseconds(pid: Int32, thread: Int) -> Int64? {
        guard let f = statFields("/proc/\(pid)/task/\(thread)/stat"), f.count > 12, let user = Int64(f[11]), let system = Int64(f[12]) else { return nil }
        let ticks = user.addingReportingOverflow(system)
        let (ns, overflow) = ticks.partialValue.multipliedReportingOverflow(by: 1_000_000_000 / clockTicks)
        return ticks.overflow || overflow ? Int64.max : ns
    }

    static func uptimeSeconds(pid: Int32) -> Int? {
        guard let f = statFields("/proc/\(pid)/stat"), f.count > 19, let start = Int64(f[19]),
              let up = try? FileIO.read("/proc/uptime", count: 64),
              let seconds = Double(String(decoding: up, as: UTF8.self).splitBytes(" ").first ?? "") else { return nil }
        return max(0, Int(seconds - Double(start) / Double(clockTicks)))
    }

    static func residentMB(pid: Int32) -> Int? {
        guard let bytes = try? FileIO.read("/proc/\(pid)/status", count: 8192) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).splitBytes("\n") where line.hasBytePrefix("VmRSS:") {
            // "VmRSS:\t   12345 kB"
            let digits = line.utf8.filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            if let kb = Int(String(decoding: digits, as: UTF8.self)) { return kb / 1024 }
        }
        return nil
    }
}
