import Foundation
import NimbusCore
import Testing
@testable import ComputeNode

@Suite struct ConfigDriveTests {
    let drive = ConfigDrive(metaData: #"{"uuid": "u", "hostname": "cfg-host"}"#, userData: Data([0x23, 0x21, 0xFF, 0x00]),
                            networkData: #"{"links": [1]}"#, vendorData2: #"{"v": 2}"#)

    @Test func layoutAsNovaWritesIt() throws {
        let files = try ConfigDriveLayout.files(drive)
        let byPath = Dictionary(uniqueKeysWithValues: files.map { ($0.path, $0.bytes) })
        #expect(files.count == byPath.count)
        #expect(byPath["openstack/latest/meta_data.json"] == Array(drive.metaData.utf8))
        #expect(byPath["openstack/latest/user_data"] == [0x23, 0x21, 0xFF, 0x00])
        #expect(byPath["openstack/latest/network_data.json"] == Array(#"{"links": [1]}"#.utf8))
        #expect(byPath["openstack/latest/vendor_data.json"] == Array("{}".utf8))
        #expect(byPath["openstack/latest/vendor_data2.json"] == Array(#"{"v": 2}"#.utf8))
        // the oldest version has only meta data and user data
        #expect(Set(files.map(\.path).filter { $0.hasPrefix("openstack/2012-08-10/") }) ==
                ["openstack/2012-08-10/meta_data.json", "openstack/2012-08-10/user_data"])
        #expect(byPath["openstack/2013-10-17/vendor_data.json"] != nil && byPath["openstack/2013-10-17/network_data.json"] == nil)
        #expect(byPath["openstack/2015-10-15/network_data.json"] != nil && byPath["openstack/2015-10-15/vendor_data2.json"] == nil)
        #expect(byPath["openstack/2016-10-06/vendor_data2.json"] != nil)
        #expect(Set(files.map { $0.path.split(separator: "/")[1] }) == Set(ConfigDriveLayout.versions.map { Substring($0) }))
    }

    @Test func defaultsAndNoUserData() throws {
        let files = try ConfigDriveLayout.files(ConfigDrive(metaData: "{}"))
        let byPath = Dictionary(uniqueKeysWithValues: files.map { ($0.path, String(decoding: $0.bytes, as: UTF8.self)) })
        #expect(byPath["openstack/latest/user_data"] == nil)
        #expect(byPath["openstack/latest/network_data.json"] == #"{"links": [], "networks": [], "services": []}"#)
        #expect(byPath["openstack/latest/vendor_data2.json"] == "{}")
    }

    @Test func tooLarge() {
        let big = ConfigDrive(metaData: "{}", userData: Data(count: 2 << 20))
        #expect(throws: NimbusError.self) { try ConfigDriveLayout.files(big) }
    }

    /// The real genisoimage: volume label config-2 and every file, read back with isoinfo.
    @Test(.enabled(if: onPath("genisoimage") && onPath("isoinfo"))) func isoImage() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let runner = ProcessCommandRunner()
        try ConfigDriveLayout.write(try ConfigDriveLayout.files(drive), under: dir.path + "/tree")
        try await GenISOImage(binary: "genisoimage", runner: runner).build(output: dir.path + "/cd.iso", tree: dir.path + "/tree")
        let pvd = try FileIO.read(dir.path + "/cd.iso", offset: 32768, count: 72)
        #expect(Array(pvd[1..<6]) == Array("CD001".utf8))
        #expect(String(decoding: pvd[40..<72], as: UTF8.self).trimmingCharacters(in: .whitespaces) == "config-2")
        let list = try await runner.run(["isoinfo", "-R", "-f", "-i", dir.path + "/cd.iso"], timeout: .seconds(30)).check().stdoutText
        let paths = Set(list.split(separator: "\n").map(String.init))
        for f in try ConfigDriveLayout.files(drive) { #expect(paths.contains("/" + f.path), "\(f.path)") }
        let user = try await runner.run(["isoinfo", "-R", "-x", "/openstack/latest/user_data", "-i", dir.path + "/cd.iso"],
                                        timeout: .seconds(30)).check()
        #expect(user.stdout == [0x23, 0x21, 0xFF, 0x00])
    }
}
