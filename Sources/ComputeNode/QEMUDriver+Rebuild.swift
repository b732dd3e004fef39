import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// Rebuild and same-host resize, as Nova's libvirt driver does them: the guest is stopped (a
/// clean ACPI shutdown first), its disks changed, and it is started again when it was meant to
/// run. Every step is safe to repeat: the record on disk says what was done.
extension QEMUDriver {
    static let cleanShutdown: Duration = .seconds(60)

    public func rebuild(_ spec: InstanceSpec, image: any ImageSource, preserveEphemeral: Bool, powerOn: Bool) async throws {
        try spec.validate(image: image)
        let paths = try existing(spec.id)
        try await locks.withLock(spec.id) {
            var r = try InstanceRecord.load(paths.record)
            if r.spec != spec || FileIO.exists(paths.rebuildMarker) {
                try FileIO.writeAtomically(paths.rebuildMarker, Array(spec.imageID.utf8), mode: 0o600)
                try await stopGuest(paths, acpiTimeout: await actualState(paths) == .running ? Self.cleanShutdown : .zero)
                unlink(paths.memoryState)
                let base = try await cache.fetch(image)
                let rootBytes = try Self.rootDiskBytes(spec, image: base.image)
                r = InstanceRecord(spec: spec, basePath: base.path, baseFormat: base.image.format, baseVirtualSize: base.image.virtualSize,
                                   rootDiskBytes: rootBytes, hasEphemeral: spec.ephemeralGB > 0, hasSwap: spec.swapMB > 0,
                                   hasConfigDrive: spec.configDrive != nil)
                unlink(paths.rootDisk)
                unlink(paths.configDrive)
                unlink(paths.swapDisk)
                if !preserveEphemeral { unlink(paths.ephemeralDisk) }
                try await createDisks(r, paths, keepExisting: true)
                try r.save(paths.record)
                unlink(paths.rebuildMarker)
            }
            try await setPower(r, paths, on: powerOn)
        }
    }

    public func resize(_ spec: InstanceSpec, powerOn: Bool) async throws {
        let paths = try existing(spec.id)
        try await locks.withLock(spec.id) {
            var r = try InstanceRecord.load(paths.record)
            if r.spec != spec {
                let newRoot = spec.rootGB > 0 && !r.volumeBacked ? UInt64(spec.rootGB) * Self.gib : r.rootDiskBytes
                guard newRoot >= r.rootDiskBytes, spec.ephemeralGB >= r.spec.ephemeralGB else {
                    throw NimbusError.badRequest("Resize error: Unable to resize disk down.")
                }
                try await stopGuest(paths, acpiTimeout: await actualState(paths) == .running ? Self.cleanShutdown : .zero)
                unlink(paths.memoryState)
                // Keep what a revert puts back: the record and the disks the resize changes.
                if !FileIO.exists(paths.resizeBackup + "/instance.json") {
                    try FileIO.removeTree(paths.resizeBackup)
                    try FileIO.makeDirectory(paths.resizeBackup + ".partial")
                    for file in [paths.rootDisk, paths.ephemeralDisk, paths.swapDisk, paths.configDrive] where FileIO.exists(file) {
                        try FileManager.default.copyItem(atPath: file, toPath: paths.resizeBackup + ".partial/" + (file as NSString).lastPathComponent)
                    }
                    try r.save(paths.resizeBackup + ".partial/instance.json")
                    guard rename(paths.resizeBackup + ".partial", paths.resizeBackup) == 0 else {
                        throw NimbusError(.internal, "cannot keep the disks before the resize: \(String(cString: strerror(errno)))")
                    }
                }
                if !r.volumeBacked { try await img.resize(path: paths.rootDisk, sizeBytes: newRoot) }
                if spec.ephemeralGB > 0 {
                    if FileIO.exists(paths.ephemeralDisk) {
                        try await img.resize(path: paths.ephemeralDisk, sizeBytes: UInt64(spec.ephemeralGB) * Self.gib)
                    } else {
                        try await img.createBlank(path: paths.ephemeralDisk, sizeBytes: UInt64(spec.ephemeralGB) * Self.gib)
                    }
                }
                unlink(paths.swapDisk)
                unlink(paths.configDrive)
                r.spec = spec
                r.rootDiskBytes = newRoot
                r.hasEphemeral = spec.ephemeralGB > 0
                r.hasSwap = spec.swapMB > 0
                r.hasConfigDrive = spec.configDrive != nil
                try await createDisks(r, paths, keepExisting: true)
                try r.save(paths.record)
            }
            try await setPower(r, paths, on: powerOn)
        }
    }

    public func confirmResize(_ id: InstanceID) async throws {
        let paths = try existing(id)
        try await locks.withLock(id) {
            try FileIO.removeTree(paths.resizeBackup)
            try FileIO.removeTree(paths.resizeBackup + ".partial")
        }
    }

    public func revertResize(_ id: InstanceID, powerOn: Bool) async throws {
        let paths = try existing(id)
        try await locks.withLock(id) {
            if FileIO.exists(paths.resizeBackup + "/instance.json") {
                try await stopGuest(paths, acpiTimeout: await actualState(paths) == .running ? Self.cleanShutdown : .zero)
                unlink(paths.memoryState)
                for file in [paths.rootDisk, paths.ephemeralDisk, paths.swapDisk, paths.configDrive] {
                    let saved = paths.resizeBackup + "/" + (file as NSString).lastPathComponent
                    unlink(file)
                    if FileIO.exists(saved) { guard rename(saved, file) == 0 else { throw NimbusError(.internal, "cannot restore \(file)") } }
                }
                // The record last: until it is back, a repeated revert finds the backup again.
                guard rename(paths.resizeBackup + "/instance.json", paths.record) == 0 else {
                    throw NimbusError(.internal, "cannot restore the instance record")
                }
                try FileIO.removeTree(paths.resizeBackup)
            }
            try FileIO.removeTree(paths.resizeBackup + ".partial")
            try await setPower(try InstanceRecord.load(paths.record), paths, on: powerOn)
        }
    }

    /// Starts a stopped guest or stops a running one, so the instance ends as the task asks.
    public func rescue(_ id: InstanceID, image: any ImageSource, device: RescueDevice?) async throws {
        let paths = try existing(id)
        try await locks.withLock(id) {
            var r = try InstanceRecord.load(paths.record)
            if r.rescue == nil {
                try await stopGuest(paths, acpiTimeout: await actualState(paths) == .running ? Self.cleanShutdown : .zero)
                unlink(paths.memoryState)
                let base = try await cache.fetch(image)
                unlink(paths.rescueDisk)
                try await img.createOverlay(path: paths.rescueDisk, base: base.path, baseFormat: base.image.format,
                                            sizeBytes: base.image.virtualSize)
                r.rescue = .init(basePath: base.path, baseFormat: base.image.format, virtualSize: base.image.virtualSize, bus: device)
                try r.save(paths.record)
            }
            try await setPower(r, paths, on: true)
        }
    }

    public func unrescue(_ id: InstanceID) async throws {
        let paths = try existing(id)
        try await locks.withLock(id) {
            var r = try InstanceRecord.load(paths.record)
            if r.rescue != nil {
                try await stopGuest(paths, acpiTimeout: .zero)   // Nova destroys the rescued guest
                r.rescue = nil
                try r.save(paths.record)
            }
            unlink(paths.rescueDisk)
            try await setPower(r, paths, on: true)
        }
    }

    func setPower(_ r: InstanceRecord, _ paths: InstancePaths, on: Bool) async throws {
        let state = await actualState(paths)
        if on, state == .shutdown || state == .crashed || state == .noState {
            try await launch(r, paths)
        } else if !on, state != .shutdown {
            try await stopGuest(paths, acpiTimeout: state == .running ? Self.cleanShutdown : .zero)
        }
    }
}
