import Foundation
import NimbusCore

/// What the driver keeps about an instance in `instance.json`, written once its disks exist: the
/// spec and the base image, so the guest can be started again (power on, resume, reboot) by a
/// driver that did not create it, e.g. after Nimbus restarted.
struct InstanceRecord: Codable, Sendable, Equatable {
    var spec: InstanceSpec
    var basePath: String
    var baseFormat: DiskImageFormat
    var baseVirtualSize: UInt64
    var rootDiskBytes: UInt64
    var hasEphemeral: Bool
    var hasSwap: Bool
    var hasConfigDrive: Bool
    /// While rescued: the rescue image's cached base, which `disk.rescue` overlays.
    var rescue: RescueBase? = nil

    struct RescueBase: Codable, Sendable, Equatable {
        var basePath: String
        var baseFormat: DiskImageFormat
        var virtualSize: UInt64
        /// A stable-device rescue (the rescue image's `hw_rescue_bus`/`hw_rescue_device`): the
        /// guest's disks stay as they are and the rescue disk is added on this bus and boots.
        /// Nil: the legacy rescue (the rescue disk first, the root disk second).
        var bus: RescueDevice? = nil
    }

    static func load(_ path: String) throws -> InstanceRecord {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(InstanceRecord.self, from: data)
    }

    func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileIO.writeAtomically(path, Array(try encoder.encode(self)), mode: 0o600)
    }
}

extension InstanceRecord {
    /// The record of an instance built fresh from `spec` over `base` (spawn, a live migration's
    /// destination, a cold move's destination once its disks are in).
    init(spec: InstanceSpec, base: BaseImageCache.Entry, rootDiskBytes: UInt64) {
        self.init(spec: spec, basePath: base.path, baseFormat: base.image.format, baseVirtualSize: base.image.virtualSize,
                  rootDiskBytes: rootDiskBytes, hasEphemeral: spec.ephemeralGB > 0, hasSwap: spec.swapMB > 0,
                  hasConfigDrive: spec.configDrive != nil)
    }

    /// The record of a volume-backed instance: no base image, no local root disk.
    init(volumeBacked spec: InstanceSpec) {
        self.init(spec: spec, basePath: "", baseFormat: .raw, baseVirtualSize: 0, rootDiskBytes: 0, hasEphemeral: spec.ephemeralGB > 0,
                  hasSwap: spec.swapMB > 0, hasConfigDrive: spec.configDrive != nil)
    }

    /// The root disk is a volume on the storage node (`spec.bootVolume`).
    var volumeBacked: Bool { basePath.isEmpty }
}
