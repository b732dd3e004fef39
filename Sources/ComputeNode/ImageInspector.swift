import NimbusCore

/// The disk formats this driver boots. Anything else is refused.
public enum DiskImageFormat: String, Sendable, Codable {
    case raw, qcow2
}

/// A disk image as its bytes say it is, after every check passed.
public struct InspectedImage: Sendable, Equatable {
    public var format: DiskImageFormat
    /// The size the guest sees, in bytes.
    public var virtualSize: UInt64
}

/// Reads what an image really is before QEMU ever opens it, as Glance's and Nova's format
/// inspectors do, and refuses:
/// * a `disk_format` other than `raw` or `qcow2`;
/// * bytes whose real format differs from the claimed one (a qcow2 uploaded as `raw` would be
///   harmless to QEMU with `format=raw`, but is refused as Glance refuses it; a "qcow2" that is
///   raw bytes is refused);
/// * a qcow2 that names anything outside itself: a backing file, a backing format, an external
///   data file (incompatible feature bit 2, autoclear bit 1 or the data-file header extension),
///   or encryption (the LUKS header extension or `crypt_method`);
/// * a qcow2 marked corrupt, of an unknown version, with unknown incompatible features or a
///   malformed header;
/// * a virtual size of zero or above `maxVirtualSize`.
///
/// QEMU is then always told the format (`-blockdev` with `driver=qcow2|raw` and the backing chain
/// spelled out, `backing: null` on the base), so no header can make it open a host file even if
/// this check had a gap.
public enum ImageInspector {
    /// The header bytes that `inspect(header:fileSize:footer:…)` needs: the first cluster of a
    /// qcow2 holds its header and extensions (cluster sizes are at most 2 MiB).
    static let headerBytes = 2 << 20
    static let maxHeaderExtensions = 64

    public static func inspect(path: String, claimedFormat: String, maxVirtualSize: UInt64) throws(NimbusError) -> InspectedImage {
        guard let size = FileIO.size(path) else { throw refused("cannot read the image file") }
        let header: [UInt8], footer: [UInt8]
        do {
            header = try FileIO.read(path, count: headerBytes)
            footer = size >= 512 ? try FileIO.read(path, offset: size - 512, count: 512) : []
        } catch {
            throw refused("cannot read the image file: \(error)")
        }
        return try inspect(header: header, fileSize: size, footer: footer, claimedFormat: claimedFormat, maxVirtualSize: maxVirtualSize)
    }

    public static func inspect(header: [UInt8], fileSize: UInt64, footer: [UInt8], claimedFormat: String,
                               maxVirtualSize: UInt64) throws(NimbusError) -> InspectedImage {
        guard let claimed = DiskImageFormat(rawValue: claimedFormat) else {
            throw refused("disk format \(claimedFormat) is not supported (raw and qcow2 are)")
        }
        let detected = detectFormat(header: header, footer: footer)
        guard detected == claimed.rawValue else {
            throw refused("its data is \(detected), but its disk_format is \(claimed.rawValue)")
        }
        let image: InspectedImage
        switch claimed {
        case .raw: image = InspectedImage(format: .raw, virtualSize: fileSize)
        case .qcow2: image = InspectedImage(format: .qcow2, virtualSize: try QCOW2Header(header).check())
        }
        guard image.virtualSize > 0 else { throw refused("its virtual size is 0") }
        guard image.virtualSize <= maxVirtualSize else {
            throw refused("its virtual size (\(image.virtualSize) bytes) is above the limit of \(maxVirtualSize) bytes")
        }
        return image
    }

    /// The format the bytes have, by the magic numbers of the formats QEMU knows; `raw` when none
    /// matches (raw disks, ISO and partition tables are all raw to QEMU).
    static func detectFormat(header h: [UInt8], footer: [UInt8]) -> String {
        func at(_ offset: Int, _ magic: [UInt8]) -> Bool {
            h.count >= offset + magic.count && Array(h[offset..<offset + magic.count]) == magic
        }
        if at(0, [0x51, 0x46, 0x49, 0xFB]) { return "qcow2" }                    // QFI\xfb
        if at(0, Array("QFI".utf8) + [0]) { return "qed" }
        if at(0, Array("KDMV".utf8)) || at(0, Array("COWD".utf8)) || at(0, Array("# Disk DescriptorFile".utf8)) { return "vmdk" }
        if at(0, Array("vhdxfile".utf8)) { return "vhdx" }
        if at(0, Array("conectix".utf8)) || footer.starts(with: Array("conectix".utf8)) { return "vpc" }
        if at(0x40, [0x7F, 0x10, 0xDA, 0xBE]) { return "vdi" }
        if at(0, Array("LUKS".utf8) + [0xBA, 0xBE]) { return "luks" }
        if at(0, Array("WithoutFreeSpace".utf8)) || at(0, Array("WithouFreSpacExt".utf8)) { return "parallels" }
        if at(0, Array("cloop".utf8)) || at(0, Array("#!/bin/sh\n#V2.0 Format".utf8)) { return "cloop" }
        if at(0, Array("\u{7F}10DMG".utf8)) { return "dmg" }
        return "raw"
    }

    static func refused(_ reason: String) -> NimbusError {
        NimbusError(.badRequest, "Image is unacceptable: \(reason)")
    }
}

/// The fields of a qcow2 header (https://qemu-project.gitlab.io/qemu/interop/qcow2.html) that
/// decide whether the image is self-contained.
struct QCOW2Header {
    static let extensionEnd: UInt32 = 0
    static let extensionBackingFormat: UInt32 = 0xE279_2ACA
    static let extensionFeatureNames: UInt32 = 0x6803_F857
    static let extensionBitmaps: UInt32 = 0x2385_2875
    static let extensionEncryption: UInt32 = 0x0537_BE77
    static let extensionDataFile: UInt32 = 0x4441_5441
    /// Incompatible feature bits: dirty, corrupt, external data file, compression type, extended L2.
    static let knownIncompatible: UInt64 = 0b11111
    static let incompatibleCorrupt: UInt64 = 1 << 1
    static let incompatibleDataFile: UInt64 = 1 << 2
    static let autoclearRawDataFile: UInt64 = 1 << 1

    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func u32(_ o: Int) -> UInt32? {
        guard o >= 0, o + 4 <= bytes.count else { return nil }
        return bytes[o..<o + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    func u64(_ o: Int) -> UInt64? {
        guard o >= 0, o + 8 <= bytes.count else { return nil }
        return bytes[o..<o + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The virtual size, when every rule holds.
    func check() throws(NimbusError) -> UInt64 {
        func refuse(_ reason: String) -> NimbusError { ImageInspector.refused("qcow2 \(reason)") }
        guard let version = u32(4), let backingOffset = u64(8), let backingSize = u32(16), let clusterBits = u32(20),
              let size = u64(24), let crypt = u32(32)
        else { throw refuse("header is truncated") }
        guard version == 2 || version == 3 else { throw refuse("version \(version) is not supported") }
        guard (9...21).contains(clusterBits) else { throw refuse("cluster size 2^\(clusterBits) is invalid") }
        guard backingOffset == 0, backingSize == 0 else { throw refuse("image has a backing file") }
        guard crypt == 0 else { throw refuse("image is encrypted") }
        var extensionsStart = 72
        if version == 3 {
            guard let incompatible = u64(72), let autoclear = u64(88), let headerLength = u32(100) else {
                throw refuse("header is truncated")
            }
            guard incompatible & Self.incompatibleDataFile == 0, autoclear & Self.autoclearRawDataFile == 0 else {
                throw refuse("image has an external data file")
            }
            guard incompatible & Self.incompatibleCorrupt == 0 else { throw refuse("image is marked corrupt") }
            guard incompatible & ~Self.knownIncompatible == 0 else {
                throw refuse("image has unknown incompatible features (0x\(String(incompatible, radix: 16)))")
            }
            guard headerLength >= 104, headerLength % 8 == 0, Int(headerLength) <= 1 << clusterBits else {
                throw refuse("header length \(headerLength) is invalid")
            }
            extensionsStart = Int(headerLength)
        }
        try checkExtensions(from: extensionsStart, clusterSize: 1 << Int(clusterBits))
        return size
    }

    /// Walks the header extensions (they end within the first cluster) and refuses any that makes
    /// QEMU open another file.
    private func checkExtensions(from start: Int, clusterSize: Int) throws(NimbusError) {
        func refuse(_ reason: String) -> NimbusError { ImageInspector.refused("qcow2 \(reason)") }
        var offset = start
        for _ in 0..<ImageInspector.maxHeaderExtensions {
            guard offset + 8 <= clusterSize, let type = u32(offset), let length = u32(offset + 4) else {
                throw refuse("header extensions are truncated or run past the first cluster")
            }
            switch type {
            case Self.extensionEnd: return
            case Self.extensionBackingFormat: throw refuse("image names a backing format")
            case Self.extensionDataFile: throw refuse("image has an external data file")
            case Self.extensionEncryption: throw refuse("image is encrypted")
            default: break   // feature names, bitmaps and unknown extensions name no file
            }
            let padded = (Int(length) + 7) / 8 * 8
            offset += 8 + padded
            guard offset <= clusterSize else { throw refuse("header extension runs past the first cluster") }
        }
        throw refuse("image has more than \(ImageInspector.maxHeaderExtensions) header extensions")
    }
}
