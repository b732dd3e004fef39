import Foundation
import NimbusCore
import Testing
@testable import ComputeNode

@Suite struct ArgvTests {
    let runner = RecordingCommandRunner()
    let id = try! InstanceID("6c2bd1c5-4c8c-4a4b-9a64-6b0a7a3c2f10")

    func launch(dataDir: String = "/srv/nimbus", incoming: Bool = false) -> QEMUSystem.Launch {
        let paths = NodeLayout(dataDir: dataDir).instance(id)
        let disks: [QEMUSystem.Disk] = [
            .init(node: "root", path: paths.rootDisk, format: .qcow2, backing: ("/srv/nimbus/compute/_base/abc", .qcow2), bus: .virtio, bootIndex: 0),
            .init(node: "ephemeral0", path: paths.ephemeralDisk, format: .qcow2, bus: .virtio),
            .init(node: "config", path: paths.configDrive, format: .raw, readOnly: true, bus: .ideCD),
        ]
        return .init(id: id, vcpus: 2, memoryMB: 256, accelerator: .tcg(cpu: nil, reason: "test"), paths: paths, disks: disks,
                     incoming: incoming)
    }

    /// The value after the n-th occurrence of `flag`.
    func values(_ argv: [String], _ flag: String) -> [String] {
        argv.indices.dropLast().filter { argv[$0] == flag }.map { argv[$0 + 1] }
    }

    @Test func guestCommandLine() throws {
        let argv = QEMUSystem(binary: "qemu-system-x86_64", runner: runner).guestArguments(launch())
        let dir = "/srv/nimbus/compute/instances/\(id)"
        #expect(argv.first == "qemu-system-x86_64")
        #expect(values(argv, "-accel") == ["tcg"] && values(argv, "-cpu") == ["max"])
        #expect(values(argv, "-m") == ["256"] && values(argv, "-smp") == ["2"] && values(argv, "-uuid") == [id.rawValue])
        #expect(values(argv, "-pidfile") == [dir + "/qemu.pid"])
        #expect(values(argv, "-chardev") == ["socket,id=console,server=on,wait=off,path=\(dir)/serial.sock,logfile=\(dir)/console.log,logappend=on",
                                             "socket,id=qmp,server=on,wait=off,path=\(dir)/qmp.sock",
                                             "socket,id=status,server=on,wait=off,path=\(dir)/status.sock"])
        #expect(values(argv, "-mon") == ["chardev=qmp,mode=control", "chardev=status,mode=control"])
        #expect(values(argv, "-sandbox") == ["on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"])
        #expect(argv.contains("-nodefaults") && argv.contains("-no-user-config"))
        #expect(!argv.contains("-daemonize") && !argv.contains("-incoming") && !argv.contains("-S"))
        #expect(!argv.contains("-drive"), "disks only as -blockdev with explicit formats")
        #expect(values(argv, "-serial") == ["chardev:console"] && values(argv, "-vnc") == ["unix:\(dir)/vnc.sock"])
        #expect(values(argv, "-device") == ["VGA", "virtio-blk-pci,drive=root,id=root-disk,bootindex=0",
                                            "virtio-blk-pci,drive=ephemeral0,id=ephemeral0-disk",
                                            "ide-cd,drive=config,id=config-disk,bus=ide.1,unit=0"])
    }

    /// Every format is explicit and the chain ends: the base is read-only with `backing: null`.
    @Test func blockdevsSpellOutTheChain() throws {
        let argv = QEMUSystem(binary: "q", runner: runner).guestArguments(launch())
        let nodes = try values(argv, "-blockdev").map { try JSONValue.parse(string: $0) }
        let root = nodes[0]
        #expect(root["driver"] == "qcow2" && root["node-name"] == "root")
        #expect(root["file"] == ["driver": "file", "filename": .string("/srv/nimbus/compute/instances/\(id)/disk")])
        let base = try #require(root["backing"])
        #expect(base["driver"] == "qcow2" && base["read-only"] == true && base["backing"] == .null)
        #expect(base["file"] == ["driver": "file", "filename": "/srv/nimbus/compute/_base/abc", "read-only": true])
        #expect(nodes[1]["driver"] == "qcow2" && nodes[1]["backing"] == .null)
        #expect(nodes[2]["driver"] == "raw" && nodes[2]["read-only"] == true && nodes[2]["backing"] == nil)
        #expect(nodes[2]["file"]?["read-only"] == true)
    }

    @Test func rawBaseHasNoBackingOption() throws {
        let d = QEMUSystem.Disk(node: "root", path: "/d/disk", format: .qcow2, backing: ("/d/base", .raw), bus: .virtio)
        let node = try JSONValue.parse(string: QEMUSystem.diskArguments(d)[1])
        #expect(node["backing"]?["driver"] == "raw" && node["backing"]?["backing"] == nil)
    }

    /// Commas in option strings are QEMU's separators: doubled. The JSON needs no escaping.
    @Test func commasInPathsAreEscaped() throws {
        let argv = QEMUSystem(binary: "q", runner: runner).guestArguments(launch(dataDir: "/srv/a,b=c"))
        #expect(values(argv, "-chardev")[0] == "socket,id=console,server=on,wait=off,path=/srv/a,,b=c/compute/instances/\(id)/serial.sock,"
                + "logfile=/srv/a,,b=c/compute/instances/\(id)/console.log,logappend=on")
        #expect(values(argv, "-vnc") == ["unix:/srv/a,,b=c/compute/instances/\(id)/vnc.sock"])
        let root = try JSONValue.parse(string: values(argv, "-blockdev")[0])
        #expect(root["file"]?["filename"] == .string("/srv/a,b=c/compute/instances/\(id)/disk"))
        #expect(values(argv, "-pidfile") == ["/srv/a,b=c/compute/instances/\(id)/qemu.pid"])
    }

    @Test func stableRescueDisksGetTheirBusAndBoot() {
        let paths = NodeLayout(dataDir: "/srv/nimbus").instance(id)
        func devices(_ bus: QEMUSystem.Disk.Bus) -> [String] {
            let d = QEMUSystem.Disk(node: "rescue", path: paths.rescueDisk, format: .qcow2, backing: ("/b", .raw), bus: bus, bootIndex: 0)
            return values(QEMUSystem.diskArguments(d), "-device")
        }
        #expect(devices(.virtio) == ["virtio-blk-pci,drive=rescue,id=rescue-disk,bootindex=0"])
        #expect(devices(.rescueIDE(cdrom: true)) == ["ide-cd,drive=rescue,id=rescue-disk,bus=ide.0,unit=0,bootindex=0"])
        #expect(devices(.rescueSCSI(cdrom: false)) == ["virtio-scsi-pci,id=rescue-scsi", "scsi-hd,drive=rescue,id=rescue-disk,bus=rescue-scsi.0,bootindex=0"])
        #expect(devices(.rescueSATA(cdrom: true)) == ["ich9-ahci,id=rescue-ahci", "ide-cd,drive=rescue,id=rescue-disk,bus=rescue-ahci.0,bootindex=0"])
        #expect(devices(.rescueUSB) == ["qemu-xhci,id=rescue-usb", "usb-storage,drive=rescue,id=rescue-disk,bus=rescue-usb.0,bootindex=0"])
        // What the image properties may ask for: a CD-ROM needs a bus that takes one.
        #expect(RescueDevice.supported(bus: "scsi", device: "cdrom") == RescueDevice(bus: .scsi, kind: .cdrom))
        #expect(RescueDevice.supported(bus: "virtio", device: "cdrom") == nil)
        #expect(RescueDevice.supported(bus: "usb", device: "cdrom") == nil)
        #expect(RescueDevice.supported(bus: "fdc", device: "floppy") == nil)
    }

    @Test func incomingStartsStoppedAndWaiting() {
        let argv = QEMUSystem(binary: "q", runner: runner).guestArguments(launch(incoming: true))
        #expect(Array(argv.suffix(3)) == ["-S", "-incoming", "defer"])
    }

    @Test func kvmUsesHostCPU() {
        var l = launch()
        l.accelerator = .kvm(cpu: nil, reason: "")
        let argv = QEMUSystem(binary: "q", runner: runner).guestArguments(l)
        #expect(values(argv, "-accel") == ["kvm"] && values(argv, "-cpu") == ["host"])
        l.accelerator = .tcg(cpu: "Haswell", reason: "")
        #expect(values(QEMUSystem(binary: "q", runner: runner).guestArguments(l), "-cpu") == ["Haswell"])
    }

    @Test func probeCommandLine() {
        let argv = QEMUSystem(binary: "q", runner: runner).probeArguments(accelerator: .kvm(cpu: nil, reason: ""),
                                                                           kernel: "/boot/vmlinuz-6.1", serialLog: "/d/probe.log")
        #expect(argv == ["q", "-accel", "kvm", "-cpu", "host", "-m", "128", "-no-user-config", "-nodefaults", "-display", "none",
                         "-no-reboot", "-chardev", "file,id=console,path=/d/probe.log", "-serial", "chardev:console",
                         "-kernel", "/boot/vmlinuz-6.1", "-append", "console=ttyS0 panic=-1 quiet"])
    }

    @Test func versionNumbers() async throws {
        #expect(QEMUSystem.versionNumber("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)") == 7_002_022)
        #expect(QEMUSystem.versionNumber("QEMU emulator version 8.2") == 8_002_000)
        #expect(QEMUSystem.versionNumber("garbage") == 0)
        let fake = RecordingCommandRunner { CommandResult(argv: $0, stdout: Array("QEMU emulator version 7.2.22 (x)\nCopyright\n".utf8)) }
        let v = try await QEMUSystem(binary: "qemu-system-x86_64", runner: fake).version()
        #expect(v.text == "QEMU emulator version 7.2.22 (x)" && v.number == 7_002_022)
        #expect(fake.calls == [.run(["qemu-system-x86_64", "--version"])])
    }

    @Test func qemuImgCommandLines() async throws {
        let img = QEMUImg(binary: "qemu-img", runner: runner)
        try await img.createOverlay(path: "/i/disk", base: "/b/abc", baseFormat: .raw, sizeBytes: 1 << 30)
        try await img.createBlank(path: "/i/disk.swap", sizeBytes: 512 << 20)
        #expect(runner.argvs(of: "qemu-img") == [
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/b/abc", "/i/disk", "1073741824"],
            ["qemu-img", "create", "-q", "-f", "qcow2", "/i/disk.swap", "536870912"],
        ])
    }

    @Test func genisoimageCommandLine() {
        #expect(GenISOImage(binary: "genisoimage", runner: runner).arguments(output: "/i/disk.config", tree: "/i/cd") == [
            "genisoimage", "-o", "/i/disk.config", "-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-publisher", "Nimbus",
            "-quiet", "-J", "-r", "-V", "config-2", "/i/cd",
        ])
    }

    @Test func failuresCarryArgvStatusAndOutput() async throws {
        let failing = RecordingCommandRunner { CommandResult(argv: $0, status: 1, stdout: Array("o".utf8), stderr: Array("qemu-img: boom".utf8)) }
        do {
            try await QEMUImg(binary: "qemu-img", runner: failing).createBlank(path: "/i/x", sizeBytes: 1)
            Issue.record("no error")
        } catch let e as CommandError {
            #expect(e.argv == ["qemu-img", "create", "-q", "-f", "qcow2", "/i/x", "1"] && e.status == 1)
            #expect(e.stderr == "qemu-img: boom" && e.stdout == "o")
            #expect("\(e)" == "command qemu-img create -q -f qcow2 /i/x 1 exited with status 1; stderr: qemu-img: boom; stdout: o")
        }
    }
}
