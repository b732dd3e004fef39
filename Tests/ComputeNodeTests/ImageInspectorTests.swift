import Foundation
import NimbusCore
import Testing
@testable import ComputeNode

/// Crafted qcow2 headers (big-endian fields at the offsets of the qcow2 spec).
struct QCOW2Builder {
    var version: UInt32 = 3
    var backingOffset: UInt64 = 0
    var backingSize: UInt32 = 0
    var clusterBits: UInt32 = 16
    var size: UInt64 = 64 << 20
    var crypt: UInt32 = 0
    var incompatible: UInt64 = 0
    var autoclear: UInt64 = 0
    var headerLength: UInt32 = 112
    var extensions: [(UInt32, [UInt8])] = []
    var trailer: [UInt8] = []

    func bytes() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 1 << clusterBits)
        func put32(_ o: Int, _ v: UInt32) { for i in 0..<4 { b[o + i] = UInt8(truncatingIfNeeded: v >> (24 - 8 * i)) } }
        func put64(_ o: Int, _ v: UInt64) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (56 - 8 * i)) } }
        b[0] = 0x51; b[1] = 0x46; b[2] = 0x49; b[3] = 0xFB
        put32(4, version); put64(8, backingOffset); put32(16, backingSize); put32(20, clusterBits); put64(24, size)
        put32(32, crypt)
        var o = 72
        if version >= 3 {
            put64(72, incompatible); put64(88, autoclear); put32(96, 4); put32(100, headerLength)
            o = Int(headerLength)
        }
        for (type, data) in extensions {
            if o + 8 + data.count > b.count { b += [UInt8](repeating: 0, count: o + 8 + data.count - b.count) }
            put32(o, type); put32(o + 4, UInt32(data.count))
            for (i, x) in data.enumerated() { b[o + 8 + i] = x }
            o += 8 + (data.count + 7) / 8 * 8
        }
        if backingOffset > 0 { for (i, x) in trailer.enumerated() { b[Int(backingOffset) + i] = x } }
        return b
    }
}

@Suite struct ImageInspectorTests {
    static let limit: UInt64 = 1 << 40

    func inspect(_ bytes: [UInt8], as format: String, fileSize: UInt64? = nil, limit: UInt64 = limit) throws -> InspectedImage {
        try ImageInspector.inspect(header: bytes, fileSize: fileSize ?? UInt64(bytes.count), footer: Array(bytes.suffix(512)),
                                   claimedFormat: format, maxVirtualSize: limit)
    }

    func refusal(_ bytes: [UInt8], as format: String, limit: UInt64 = limit) -> String {
        do {
            _ = try inspect(bytes, as: format, limit: limit)
            return "accepted"
        } catch let e as NimbusError {
            #expect(e.kind == .badRequest)
            return e.message
        } catch { return "\(error)" }
    }

    @Test func cleanQcow2() throws {
        #expect(try inspect(QCOW2Builder().bytes(), as: "qcow2") == InspectedImage(format: .qcow2, virtualSize: 64 << 20))
        #expect(try inspect(QCOW2Builder(version: 2).bytes(), as: "qcow2").virtualSize == 64 << 20)
        // feature names and bitmaps extensions name no file
        let named = QCOW2Builder(extensions: [(0x6803_F857, Array(repeating: 1, count: 48)), (0x2385_2875, Array(repeating: 0, count: 24))])
        #expect(try inspect(named.bytes(), as: "qcow2").format == .qcow2)
    }

    @Test func backingFileIsRefused() {
        let shadow = Array("/etc/shadow".utf8)
        let b = QCOW2Builder(backingOffset: 512, backingSize: UInt32(shadow.count), trailer: shadow)
        #expect(refusal(b.bytes(), as: "qcow2").contains("backing file"))
        #expect(refusal(QCOW2Builder(version: 2, backingOffset: 512, backingSize: 11, trailer: shadow).bytes(), as: "qcow2").contains("backing file"))
        // a size without an offset is still a reference
        #expect(refusal(QCOW2Builder(backingSize: 11).bytes(), as: "qcow2").contains("backing file"))
        #expect(refusal(QCOW2Builder(extensions: [(0xE279_2ACA, Array("raw".utf8))]).bytes(), as: "qcow2").contains("backing format"))
    }

    @Test func externalDataFileIsRefused() {
        #expect(refusal(QCOW2Builder(incompatible: 1 << 2).bytes(), as: "qcow2").contains("external data file"))
        #expect(refusal(QCOW2Builder(autoclear: 1 << 1).bytes(), as: "qcow2").contains("external data file"))
        let ext = QCOW2Builder(extensions: [(0x4441_5441, Array("/dev/sda".utf8))])
        #expect(refusal(ext.bytes(), as: "qcow2").contains("external data file"))
    }

    @Test func otherBadQcow2() {
        #expect(refusal(QCOW2Builder(crypt: 1).bytes(), as: "qcow2").contains("encrypted"))
        #expect(refusal(QCOW2Builder(extensions: [(0x0537_BE77, [0, 0, 0, 0, 0, 0, 0, 0])]).bytes(), as: "qcow2").contains("encrypted"))
        #expect(refusal(QCOW2Builder(incompatible: 1 << 1).bytes(), as: "qcow2").contains("corrupt"))
        #expect(refusal(QCOW2Builder(incompatible: 1 << 9).bytes(), as: "qcow2").contains("unknown incompatible"))
        #expect(refusal(QCOW2Builder(version: 4).bytes(), as: "qcow2").contains("version"))
        #expect(refusal(QCOW2Builder(clusterBits: 8).bytes().prefix(512) + [], as: "qcow2").contains("cluster"))
        #expect(refusal(QCOW2Builder(headerLength: 100).bytes(), as: "qcow2").contains("header length"))
        #expect(refusal(Array(QCOW2Builder().bytes().prefix(40)), as: "qcow2").contains("truncated"))
        // an extension chain that never ends inside the first cluster
        let endless = QCOW2Builder(extensions: (0..<70).map { _ in (UInt32(0x1234), [UInt8](repeating: 7, count: 8)) })
        #expect(refusal(endless.bytes(), as: "qcow2").contains("extensions"))
        let long = QCOW2Builder(extensions: [(0x1234, [UInt8](repeating: 7, count: 70_000))])
        #expect(refusal(long.bytes(), as: "qcow2").contains("past the first cluster"))
    }

    @Test func hugeOrEmptyVirtualSize() {
        #expect(refusal(QCOW2Builder(size: 1 << 60).bytes(), as: "qcow2").contains("above the limit"))
        #expect(refusal(QCOW2Builder(size: 2 << 30).bytes(), as: "qcow2", limit: 1 << 30).contains("above the limit"))
        #expect(refusal(QCOW2Builder(size: 0).bytes(), as: "qcow2").contains("virtual size is 0"))
        #expect(refusal([], as: "raw").contains("virtual size is 0"))
    }

    @Test func formatMustMatchTheClaim() throws {
        let raw = [UInt8](repeating: 0xAB, count: 4096)
        #expect(try inspect(raw, as: "raw") == InspectedImage(format: .raw, virtualSize: 4096))
        #expect(refusal(raw, as: "qcow2").contains("data is raw, but its disk_format is qcow2"))
        #expect(refusal(QCOW2Builder().bytes(), as: "raw").contains("data is qcow2, but its disk_format is raw"))
        #expect(refusal(Array("KDMV".utf8) + raw, as: "raw").contains("vmdk"))
        #expect(refusal(Array("# Disk DescriptorFile\nRW 8 FLAT \"/etc/shadow\" 0\n".utf8), as: "raw").contains("vmdk"))
        #expect(refusal(Array("vhdxfile".utf8) + raw, as: "raw").contains("vhdx"))
        #expect(refusal(raw + Array("conectix".utf8) + [UInt8](repeating: 0, count: 504), as: "raw").contains("vpc"))
        #expect(refusal(Array("QFI".utf8) + [0] + raw, as: "raw").contains("qed"))
        #expect(refusal(Array("LUKS".utf8) + [0xBA, 0xBE] + raw, as: "raw").contains("luks"))
        var vdi = raw
        vdi[0x40] = 0x7F; vdi[0x41] = 0x10; vdi[0x42] = 0xDA; vdi[0x43] = 0xBE
        #expect(refusal(vdi, as: "raw").contains("vdi"))
    }

    @Test(arguments: ["vmdk", "vhd", "vdi", "iso", "ami", "QCOW2", "Raw", ""])
    func unsupportedDiskFormats(_ format: String) {
        #expect(refusal([UInt8](repeating: 0, count: 4096), as: format).contains("not supported"))
    }

    /// Images made by the real qemu-img: clean ones pass, ones with host references do not.
    @Test(.enabled(if: onPath("qemu-img"))) func imagesMadeByQemuImg() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let run = ProcessCommandRunner()
        func img(_ args: String...) async throws { try await run.run(["qemu-img"] + args, timeout: .seconds(60)).check() }
        try await img("create", "-q", "-f", "qcow2", dir.path + "/clean.qcow2", "1G")
        try await img("create", "-q", "-f", "qcow2", "-o", "compat=0.10", dir.path + "/v2.qcow2", "1G")
        try await img("create", "-q", "-f", "qcow2", "-u", "-F", "raw", "-b", "/etc/shadow", dir.path + "/shadow.qcow2", "1G")
        try await img("create", "-q", "-f", "qcow2", "-o", "data_file=\(dir.path)/data.raw", dir.path + "/datafile.qcow2", "1G")
        try await img("create", "-q", "-f", "qcow2", "-o", "data_file=\(dir.path)/data2.raw,data_file_raw=on", dir.path + "/rawdata.qcow2", "1G")
        try await img("create", "-q", "-f", "raw", dir.path + "/disk.raw", "1M")
        try await img("create", "-q", "-f", "vmdk", dir.path + "/disk.vmdk", "1M")
        func check(_ name: String, _ format: String) -> String {
            do {
                return "\(try ImageInspector.inspect(path: dir.path + "/" + name, claimedFormat: format, maxVirtualSize: Self.limit).virtualSize)"
            } catch { return error.message }
        }
        #expect(check("clean.qcow2", "qcow2") == "\(1 << 30)")
        #expect(check("v2.qcow2", "qcow2") == "\(1 << 30)")
        #expect(check("shadow.qcow2", "qcow2").contains("backing file"))
        #expect(check("datafile.qcow2", "qcow2").contains("external data file"))
        #expect(check("rawdata.qcow2", "qcow2").contains("external data file"))
        #expect(check("disk.raw", "raw") == "\(1 << 20)")
        #expect(check("disk.raw", "qcow2").contains("data is raw"))
        #expect(check("clean.qcow2", "raw").contains("data is qcow2"))
        #expect(check("disk.vmdk", "raw").contains("vmdk"))
        #expect(check("missing", "raw").contains("cannot read"))
    }
}
