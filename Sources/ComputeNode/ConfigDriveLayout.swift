import Foundation
import NimbusCore

/// The files of a config drive, laid out as Nova's `InstanceMetadata.metadata_for_config_drive`
/// writes them: under `openstack/<version>/` for every metadata version and `latest`,
/// `meta_data.json` and `user_data` (when there is one) everywhere, `vendor_data.json` from
/// 2013-10-17, `network_data.json` from 2015-10-15 and `vendor_data2.json` from 2016-10-06.
/// (The same `meta_data.json` text goes to every version; Nova trims older versions' documents.
/// Nova's `ec2/` tree is not written.)
enum ConfigDriveLayout {
    static let versions = ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06",
                           "2017-02-22", "2018-08-27", "2020-10-14", "latest"]
    static let vendorDataSince = "2013-10-17"
    static let networkDataSince = "2015-10-15"
    static let vendorData2Since = "2016-10-06"
    static let emptyNetworkData = #"{"links": [], "networks": [], "services": []}"#
    /// Refuse a config drive above this (Nova limits user data to 64 KiB; meta data is small).
    static let maxBytes = 16 << 20

    struct File: Equatable {
        var path: String
        var bytes: [UInt8]
    }

    static func files(_ drive: ConfigDrive) throws(NimbusError) -> [File] {
        var out: [File] = []
        for v in versions {
            func since(_ first: String) -> Bool { v == "latest" || !v.bytesPrecede(first) }
            out.append(File(path: "openstack/\(v)/meta_data.json", bytes: Array(drive.metaData.utf8)))
            if let user = drive.userData { out.append(File(path: "openstack/\(v)/user_data", bytes: Array(user))) }
            if since(vendorDataSince) {
                out.append(File(path: "openstack/\(v)/vendor_data.json", bytes: Array((drive.vendorData ?? "{}").utf8)))
            }
            if since(networkDataSince) {
                out.append(File(path: "openstack/\(v)/network_data.json", bytes: Array((drive.networkData ?? emptyNetworkData).utf8)))
            }
            if since(vendorData2Since) {
                out.append(File(path: "openstack/\(v)/vendor_data2.json", bytes: Array((drive.vendorData2 ?? "{}").utf8)))
            }
        }
        let total = out.reduce(0) { $0 + $1.bytes.count }
        guard total <= maxBytes else { throw .badRequest("config drive too large: \(total) bytes, at most \(maxBytes)") }
        return out
    }

    /// Writes the files under `root` (which must not exist yet); the paths are this type's own,
    /// never user text.
    static func write(_ files: [File], under root: String) throws {
        try FileIO.makeDirectory(root)
        for f in files {
            var dir = root
            for part in f.path.splitBytes("/").dropLast() {
                dir += "/" + part
                try FileIO.makeDirectory(dir, mode: 0o755)
            }
            let path = root + "/" + f.path
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FileIO.Failure(what: "cannot create", path: path, code: errno) }
            defer { close(fd) }
            try FileIO.writeAll(fd, f.bytes, path: path)
        }
    }
}

/// The config drive's files (path, bytes), for the metadata service, which serves the same tree.
public enum ConfigDriveFiles {
    public static func list(_ drive: ConfigDrive) throws -> [(path: String, bytes: [UInt8])] {
        try ConfigDriveLayout.files(drive).map { ($0.path, $0.bytes) }
    }
}
