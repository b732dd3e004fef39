import NimbusCore

/// `qemu-system-x86_64`: the argv of a guest, of the KVM probe, and `--version`. Pure argv
/// building here; starting and watching the process is `QEMUDriver`'s.
struct QEMUSystem: Sendable {
    static let versionTimeout: Duration = .seconds(30)
    let binary: String
    let runner: any CommandRunner

    /// Everything that goes into one guest's command line.
    struct Launch: Sendable, Equatable {
        var id: InstanceID
        var vcpus: Int
        var memoryMB: Int
        var accelerator: ResolvedAccelerator
        var paths: InstancePaths
        var disks: [Disk]
        /// Start paused, waiting for `migrate-incoming` (resume of a suspended guest).
        var incoming = false
        /// Network interfaces: tap devices the host's network agent plugs into their networks.
        var nics: [GuestNIC] = []
        /// Attached volumes: NBD exports of the storage node.
        var volumes: [GuestVolume] = []
    }

    /// One guest disk: a format node over a file, with its backing chain spelled out.
    struct Disk: Sendable, Equatable {
        enum Bus: Sendable, Equatable {
            case virtio, ideCD
            /// A stable-device rescue disk (Nova's `hw_rescue_bus`/`hw_rescue_device`), each on a
            /// bus of its own: the first IDE channel, a virtio-scsi or AHCI (SATA) controller, or an
            /// xHCI USB controller made for it.
            case rescueIDE(cdrom: Bool), rescueSCSI(cdrom: Bool), rescueSATA(cdrom: Bool), rescueUSB
        }
        var node: String
        var path: String
        var format: DiskImageFormat
        var readOnly = false
        /// The base of an overlay (always opened read-only, never with a backing of its own).
        var backing: (path: String, format: DiskImageFormat)?
        var bus: Bus
        var bootIndex: Int?

        static func == (a: Disk, b: Disk) -> Bool {
            a.node == b.node && a.path == b.path && a.format == b.format && a.readOnly == b.readOnly
                && a.backing?.path == b.backing?.path && a.backing?.format == b.backing?.format
                && a.bus == b.bus && a.bootIndex == b.bootIndex
        }
    }

    func guestArguments(_ l: Launch) -> [String] {
        var a = [binary,
                 "-name", "guest=\(l.id.rawValue),debug-threads=on",
                 "-machine", "pc", "-accel", l.accelerator.accel, "-cpu", l.accelerator.cpu,
                 "-smp", String(l.vcpus), "-m", String(l.memoryMB),
                 "-no-user-config", "-nodefaults", "-display", "none", "-msg", "timestamp=on",
                 "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                 "-pidfile", l.paths.pidfile,
                 // The serial port: a socket for the interactive console (one client at a
                 // time), with everything the guest writes also appended to the log, connected
                 // or not (as libvirt's <log file> does for Nova's serial console).
                 "-chardev", "socket,id=console,server=on,wait=off,path=\(Self.optionValue(l.paths.serial)),"
                     + "logfile=\(Self.optionValue(l.paths.console)),logappend=on",
                 "-serial", "chardev:console",
                 // A VGA display behind a VNC server on a unix socket: only the node reaches it.
                 "-device", "VGA", "-vnc", "unix:\(Self.optionValue(l.paths.vnc))",
                 "-chardev", "socket,id=qmp,server=on,wait=off,path=\(Self.optionValue(l.paths.qmp))",
                 "-mon", "chardev=qmp,mode=control",
                 "-chardev", "socket,id=status,server=on,wait=off,path=\(Self.optionValue(l.paths.statusQMP))",
                 "-mon", "chardev=status,mode=control"]
        if l.id.isUUID { a += ["-uuid", l.id.rawValue] }
        // A root volume first: the guest names disks in PCI order, so it is vda.
        for v in l.volumes where v.bootIndex == 0 { a += ["-blockdev", JSONValue.object(Self.volumeNode(v)).serializedString(), "-device", Self.volumeDevice(v)] }
        for d in l.disks { a += Self.diskArguments(d) }
        for nic in l.nics {
            // QEMU opens the tap by name (the agent may have made it already, persistent) and
            // runs no script: the network agent wires it. Ids by port, so a hot unplug finds them.
            a += ["-netdev", "tap,id=\(nic.netdevID),ifname=\(Self.optionValue(nic.device)),script=no,downscript=no",
                  "-device", "virtio-net-pci,netdev=\(nic.netdevID),id=\(nic.deviceID),mac=\(Self.optionValue(nic.mac)),host_mtu=\(nic.mtu)"]
        }
        for v in l.volumes where v.bootIndex != 0 { a += ["-blockdev", JSONValue.object(Self.volumeNode(v)).serializedString(), "-device", Self.volumeDevice(v)] }
        if l.incoming { a += ["-S", "-incoming", "defer"] }
        return a
    }

    /// A volume's block node: raw bytes from the storage node's NBD export (the qcow2 is the
    /// storage node's business).
    static func volumeNode(_ v: GuestVolume) -> JSONObject {
        var node: JSONObject = ["driver": "raw", "node-name": .string(v.nodeName), "discard": "unmap", "file": .object(nbdNode(v))]
        if v.readOnly { node["read-only"] = true }
        return node
    }

    /// QMP `block_set_io_throttle` arguments for a volume's limits (Nova's names, as libvirt's
    /// `iotune`): bytes and operations per second in total, read and write, and the size one
    /// operation counts for. QEMU takes a total or read/write limits of one kind, not both: the
    /// total wins. Nil when the volume has no limits.
    static func throttleArguments(_ v: GuestVolume) -> JSONObject? {
        guard let t = v.throttle, t.values.contains(where: { $0 > 0 }) else { return nil }
        func n(_ key: String) -> Int64 { max(0, t[key] ?? 0) }
        let bps = n("total_bytes_sec"), iops = n("total_iops_sec")
        // The block backend is the virtio device's `virtio-backend` child, not the PCI proxy.
        var args: JSONObject = ["id": .string("/machine/peripheral/\(v.deviceID)/virtio-backend"), "bps": .int(bps), "bps_rd": .int(bps > 0 ? 0 : n("read_bytes_sec")),
                                "bps_wr": .int(bps > 0 ? 0 : n("write_bytes_sec")), "iops": .int(iops),
                                "iops_rd": .int(iops > 0 ? 0 : n("read_iops_sec")), "iops_wr": .int(iops > 0 ? 0 : n("write_iops_sec"))]
        if n("size_iops_sec") > 0 { args["iops_size"] = .int(n("size_iops_sec")) }
        return args
    }

    /// Seconds a volume's NBD client keeps the guest's requests and reconnects when the storage
    /// node drops the connection (it does so to grow an export), before failing them.
    static let nbdReconnectDelay: Int64 = 30

    /// The NBD client of a volume's export (named when `name` is given).
    static func nbdNode(_ v: GuestVolume, name: String? = nil) -> JSONObject {
        var node: JSONObject = ["driver": "nbd", "server": ["type": "unix", "path": .string(v.socketPath)], "export": .string(v.export),
                                "reconnect-delay": .int(nbdReconnectDelay)]
        if let name { node["node-name"] = .string(name) }
        if v.readOnly { node["read-only"] = true }
        return node
    }

    static func volumeDevice(_ v: GuestVolume) -> String {
        "virtio-blk-pci,drive=\(v.nodeName),id=\(v.deviceID),serial=\(v.serial)" + (v.bootIndex.map { ",bootindex=\($0)" } ?? "")
    }

    /// `-blockdev` as JSON (no option-string escaping to get wrong) with the whole chain given:
    /// QEMU reads no file name and no format from any image header.
    static func diskArguments(_ d: Disk) -> [String] {
        func file(_ path: String, readOnly: Bool) -> JSONValue {
            var f: JSONObject = ["driver": "file", "filename": .string(path)]
            if readOnly { f["read-only"] = true }
            return .object(f)
        }
        var node: JSONObject = ["driver": .string(d.format.rawValue), "node-name": .string(d.node),
                                "file": file(d.path, readOnly: d.readOnly)]
        if d.readOnly { node["read-only"] = true }
        if d.format == .qcow2 {
            if let b = d.backing {
                var base: JSONObject = ["driver": .string(b.format.rawValue), "node-name": .string(d.node + "-base"),
                                        "read-only": true, "file": file(b.path, readOnly: true)]
                if b.format == .qcow2 { base["backing"] = .null }
                node["backing"] = .object(base)
            } else {
                node["backing"] = .null
            }
        }
        var device: String
        var controller: [String] = []
        switch d.bus {
        case .virtio: device = "virtio-blk-pci,drive=\(d.node),id=\(d.node)-disk"
        case .ideCD: device = "ide-cd,drive=\(d.node),id=\(d.node)-disk,bus=ide.1,unit=0"
        case .rescueIDE(let cdrom): device = "\(cdrom ? "ide-cd" : "ide-hd"),drive=\(d.node),id=\(d.node)-disk,bus=ide.0,unit=0"
        case .rescueSCSI(let cdrom):
            controller = ["-device", "virtio-scsi-pci,id=\(d.node)-scsi"]
            device = "\(cdrom ? "scsi-cd" : "scsi-hd"),drive=\(d.node),id=\(d.node)-disk,bus=\(d.node)-scsi.0"
        case .rescueSATA(let cdrom):
            controller = ["-device", "ich9-ahci,id=\(d.node)-ahci"]
            device = "\(cdrom ? "ide-cd" : "ide-hd"),drive=\(d.node),id=\(d.node)-disk,bus=\(d.node)-ahci.0"
        case .rescueUSB:
            controller = ["-device", "qemu-xhci,id=\(d.node)-usb"]
            device = "usb-storage,drive=\(d.node),id=\(d.node)-disk,bus=\(d.node)-usb.0"
        }
        if let i = d.bootIndex { device += ",bootindex=\(i)" }
        return ["-blockdev", JSONValue.object(node).serializedString()] + controller + ["-device", device]
    }

    /// The KVM probe: the host's own kernel, no initrd, straight to "Kernel panic … unable to
    /// mount root fs", then `-no-reboot` makes QEMU exit. That runs every early boot step a real
    /// guest runs (the hang this machine shows happens there), in about a second where KVM works.
    func probeArguments(accelerator: ResolvedAccelerator, kernel: String, serialLog: String) -> [String] {
        [binary, "-accel", accelerator.accel, "-cpu", accelerator.cpu, "-m", "128",
         "-no-user-config", "-nodefaults", "-display", "none", "-no-reboot",
         "-chardev", "file,id=console,path=\(Self.optionValue(serialLog))", "-serial", "chardev:console",
         "-kernel", kernel, "-append", "console=ttyS0 panic=-1 quiet"]
    }

    /// `QEMU emulator version 7.2.22 (Debian …)` → (the line, 7002022).
    func version() async throws -> (text: String, number: Int) {
        let r = try await runner.run([binary, "--version"], timeout: Self.versionTimeout).check()
        let line = r.stdoutText.split(separator: "\n").first.map(String.init) ?? ""
        return (line, Self.versionNumber(line))
    }

    static func versionNumber(_ line: String) -> Int {
        guard let range = line.range(of: "version ") else { return 0 }
        let digits = line[range.upperBound...].prefix { $0.isNumber || $0 == "." }
        let parts = digits.splitBytes(".").compactMap { Int($0) } + [0, 0, 0]
        return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]
    }

    /// A value inside a QEMU option string: commas are doubled (`,,`), QEMU's escape.
    static func optionValue(_ s: String) -> String { s.replacingBytes(",", with: ",,") }
}
