@testable import BlockStorage
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NimbusCore
import StorageNode
import Synchronization
import Testing

/// Small blocks and chunks, so a few KiB exercise several chunks and runs.
/// Small blocks and chunks; objects stored uncompressed unless asked (their sizes are checked).
func smallBackupSettings(mergeGap: Int = 0, compression: BackupCompression = .none) -> BackupSettings {
    var s = BackupSettings()
    s.blockSizeBytes = 4096
    s.chunkSizeBytes = 4 * 4096
    s.mergeGapBlocks = mergeGap
    s.compression = compression
    return s
}

/// A temporary file with `bytes`, removed after `body`.
func withTempFile<R>(_ bytes: [UInt8], _ body: (String) async throws -> R) async throws -> R {
    let path = NSTemporaryDirectory() + "/nimbus-backup-test-" + Identifiers.hex32()
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Restores `chain` into an empty file and returns its bytes, padded with zeros to `size`.
func restored(_ engine: ChunkedBackup, _ chain: [BackupLocation], size: Int) async throws -> [UInt8] {
    try await withTempFile([]) { path in
        _ = try await engine.restore(chain, into: path, cancelled: { false })
        var out = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        out += [UInt8](repeating: 0, count: max(0, size - out.count))
        return out
    }
}

/// Deterministic non-zero bytes.
func pattern(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 * 31 + Int(seed)) | 1 } }

func describe(_ id: String, parent: String? = nil) -> ChunkedBackup.Description {
    .init(backupID: id, volumeID: "vol", name: "n", description: nil, createdAt: "2026-01-01T00:00:00.000000", parentID: parent, volumeMeta: "{}")
}

@Suite struct BackupExtentsTests {
    @Test(arguments: [
        ([false, true, true, false, false, true], 0, [1..<3, 5..<6]),
        ([false, true, true, false, false, true], 2, [1..<3, 5..<6]),
        ([false, true, true, false, false, true], 3, [1..<6]),
        ([false, false, false], 5, []),
        ([true, true, true], 0, [0..<3]),
        ([true, false, true, false, true], 1, [0..<1, 2..<3, 4..<5]),
        ([true, false, true, false, true], 2, [0..<5]),
    ] as [([Bool], Int, [Range<Int>])])
    func runs(needed: [Bool], gap: Int, expected: [Range<Int>]) {
        #expect(BackupExtents.runs(needed, mergeGap: gap) == expected)
    }

    @Test func digestsFlagZeroBlocksWithoutHashingThem() {
        let zero = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 4)))
        // Three blocks of 4 bytes and a short last one: zero, data, zero, short zero.
        let chunk: [UInt8] = [0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0]
        let (digests, zeros) = BackupExtents.digests(chunk, blockSize: 4, zeroDigest: zero)
        #expect(zeros == [true, false, true, false])
        #expect(digests.count == 4 * 32)
        #expect(Array(digests[0..<32]) == zero && Array(digests[64..<96]) == zero)
        #expect(Array(digests[32..<64]) == Array(SHA256.hash(data: [1, 2, 3, 4] as [UInt8])))
        // A short block is hashed as it is, even when zero: it is not a whole block.
        #expect(Array(digests[96..<128]) == Array(SHA256.hash(data: [0, 0] as [UInt8])))
    }

    @Test func changedComparesDigestByDigest() {
        let a = [UInt8](repeating: 1, count: 32) + [UInt8](repeating: 2, count: 32) + [UInt8](repeating: 3, count: 32)
        var b = a
        b[40] = 9
        #expect(BackupExtents.changed(b, parent: a) == [false, true, false])
        // Blocks past the parent's end are new.
        #expect(BackupExtents.changed(a, parent: Array(a[0..<32])) == [false, true, true])
    }

    @Test func zeroScanSeesAnyNonZeroByte() {
        for i in 0..<13 {
            var bytes = [UInt8](repeating: 0, count: 13)
            #expect(bytes.withUnsafeBytes { BackupExtents.isZero($0) })
            bytes[i] = 1
            #expect(!bytes.withUnsafeBytes { BackupExtents.isZero($0) })
        }
    }
}

@Suite struct ChunkedBackupTests {
    let full = BackupLocation(project: "p1", container: "c", prefix: "volume_vol/20260101000000/az_nova_backup_full")
    let incr = BackupLocation(project: "p1", container: "c", prefix: "volume_vol/20260101000001/az_nova_backup_incr")

    /// 10 blocks: data, zeros, data ×2, zeros ×3, data, zeros, a short data block.
    func volume() -> [UInt8] {
        var v = [UInt8]()
        for (i, b) in [true, false, true, true, false, false, false, true, false].enumerated() {
            v += b ? pattern(4096, seed: UInt8(i)) : [UInt8](repeating: 0, count: 4096)
        }
        return v + pattern(100, seed: 99)
    }

    @Test func fullBackupStoresOnlyNonZeroRunsAndRestoresTheBytes() async throws {
        let store = FakeBackupObjectStore()
        let engine = ChunkedBackup(store: store, settings: smallBackupSettings())
        let data = volume()
        let count = try await withTempFile(data) { try await engine.backup(file: $0, to: full, parent: nil, describe("full"), cancelled: { false }) }
        // Chunks of 4 blocks: [d z d d] [z z z d] [z s]: runs 0, 2–3, 7, the short block.
        #expect(count == 4)
        #expect(store.names(project: "p1", container: "c") == [full.chunkName(1), full.chunkName(2), full.chunkName(3), full.chunkName(4),
                                                                 full.metadataName, full.sha256Name])
        #expect(store.object(project: "p1", container: "c", name: full.chunkName(2))?.count == 2 * 4096)
        #expect(store.object(project: "p1", container: "c", name: full.sha256Name)?.count == 10 * 32)
        let meta = try await engine.readMetadata(full)
        #expect(meta["size_bytes"]?.intValue == Int64(data.count) && meta["objects"]?.arrayValue?.count == 4)
        let second = meta["objects"]?.arrayValue?[1].objectValue?[full.chunkName(2)]
        #expect(second?["offset"]?.intValue == Int64(2 * 4096) && second?["length"]?.intValue == Int64(2 * 4096))
        #expect(try await restored(engine, [full], size: data.count) == data)
        // Nothing lands in another project's account.
        #expect(store.names(project: "p2", container: "c").isEmpty)
    }

    @Test func incrementalStoresOnlyChangedRunsAndTheChainRestores() async throws {
        let store = FakeBackupObjectStore()
        let engine = ChunkedBackup(store: store, settings: smallBackupSettings())
        let original = volume()
        _ = try await withTempFile(original) { try await engine.backup(file: $0, to: full, parent: nil, describe("full"), cancelled: { false }) }
        var changed = original
        changed.replaceSubrange(4096..<4106, with: pattern(10, seed: 7))          // a zero block gets data
        changed.replaceSubrange(7 * 4096..<8 * 4096, with: [UInt8](repeating: 0, count: 4096)) // a data block is zeroed
        let before = store.written.withLock { $0.count }
        let count = try await withTempFile(changed) { try await engine.backup(file: $0, to: incr, parent: full, describe("incr", parent: "full"), cancelled: { false }) }
        #expect(count == 2)
        let written = store.written.withLock { Array($0[before...]) }
        #expect(written == [incr.chunkName(1), incr.chunkName(2), incr.sha256Name, incr.metadataName])
        #expect(store.object(project: "p1", container: "c", name: incr.chunkName(1))?.count == 4096)
        #expect(try await restored(engine, [full, incr], size: changed.count) == changed)
        #expect(try await restored(engine, [full], size: original.count) == original)
        // A chain out of order is refused.
        await #expect(throws: NimbusError.self) { _ = try await restored(engine, [incr, full], size: changed.count) }
    }

    /// Holes of a sparse raw image are zero blocks without being read; a hole where the parent
    /// had data is stored as zeros by the incremental backup.
    @Test func holesOfASparseImageAreZeroBlocks() async throws {
        let store = FakeBackupObjectStore()
        let engine = ChunkedBackup(store: store, settings: smallBackupSettings())
        let chunk = 4 * 4096
        let path = NSTemporaryDirectory() + "/nimbus-backup-sparse-" + Identifiers.hex32()
        defer { unlink(path) }
        func sparse(dataAt: Int?) throws {
            unlink(path)
            let fd = open(path, O_WRONLY | O_CREAT, 0o600)
            defer { close(fd) }
            #expect(ftruncate(fd, off_t(4 * chunk)) == 0)
            if let at = dataAt {
                let bytes = pattern(4096, seed: 8)
                #expect(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, off_t(at)) } == 4096)
            }
        }
        try sparse(dataAt: chunk + 4096)
        let count = try await engine.backup(file: path, to: full, parent: nil, describe("full"), cancelled: { false })
        #expect(count == 1)
        var expected = [UInt8](repeating: 0, count: 4 * chunk)
        expected.replaceSubrange((chunk + 4096)..<(chunk + 8192), with: pattern(4096, seed: 8))
        #expect(try await restored(engine, [full], size: 4 * chunk) == expected)
        try sparse(dataAt: 3 * chunk)
        let changed = try await engine.backup(file: path, to: incr, parent: full, describe("incr", parent: "full"), cancelled: { false })
        #expect(changed == 2)
        var now = [UInt8](repeating: 0, count: 4 * chunk)
        now.replaceSubrange((3 * chunk)..<(3 * chunk + 4096), with: pattern(4096, seed: 8))
        #expect(try await restored(engine, [full, incr], size: 4 * chunk) == now)
    }

    @Test func anIncrementalOfAGrownVolumeIsRefused() async throws {
        let store = FakeBackupObjectStore()
        let engine = ChunkedBackup(store: store, settings: smallBackupSettings())
        _ = try await withTempFile(volume()) { try await engine.backup(file: $0, to: full, parent: nil, describe("full"), cancelled: { false }) }
        await #expect(throws: NimbusError.self) {
            _ = try await withTempFile(self.volume() + pattern(4096, seed: 1)) {
                try await engine.backup(file: $0, to: self.incr, parent: self.full, describe("incr"), cancelled: { false })
            }
        }
        #expect(store.names(project: "p1", container: "c").allSatisfy { $0.hasBytePrefix(full.prefix) })
    }

    @Test func aFailedOrCancelledBackupLeavesNoObjects() async throws {
        let store = FakeBackupObjectStore()
        let engine = ChunkedBackup(store: store, settings: smallBackupSettings())
        store.failAfter.withLock { $0 = 3 }
        await #expect(throws: NimbusError.self) {
            _ = try await withTempFile(self.volume()) { try await engine.backup(file: $0, to: self.full, parent: nil, describe("full"), cancelled: { false }) }
        }
        #expect(store.names(project: "p1", container: "c").isEmpty)
        store.failAfter.withLock { $0 = nil }
        let asked = Mutex(0)
        await #expect(throws: BackupCancelled.self) {
            _ = try await withTempFile(self.volume()) {
                try await engine.backup(file: $0, to: self.full, parent: nil, describe("full"), cancelled: { asked.withLock { $0 += 1; return $0 > 1 } })
            }
        }
        #expect(store.names(project: "p1", container: "c").isEmpty)
    }

    @Test func aRestoreChecksEveryObject() async throws {
        let store = FakeBackupObjectStore()
        let engine = ChunkedBackup(store: store, settings: smallBackupSettings())
        let data = volume()
        _ = try await withTempFile(data) { try await engine.backup(file: $0, to: full, parent: nil, describe("full"), cancelled: { false }) }
        var bytes = try #require(store.object(project: "p1", container: "c", name: full.chunkName(2)))
        bytes[5] ^= 0xff
        store.setObject(project: "p1", container: "c", name: full.chunkName(2), bytes)
        await #expect(throws: NimbusError.self) { _ = try await restored(engine, [self.full], size: data.count) }
        store.setObject(project: "p1", container: "c", name: full.chunkName(2), Array(bytes.dropLast()))
        await #expect(throws: NimbusError.self) { _ = try await restored(engine, [self.full], size: data.count) }
        try await engine.delete(full)
        #expect(store.names(project: "p1", container: "c").isEmpty)
        await #expect(throws: NimbusError.self) { _ = try await engine.readMetadata(self.full) }
    }

    @Test func objectNamesAreCinders() {
        let prefix = BackupLocation.prefix(volumeID: "v1", backupID: "b1", zone: "nova", at: "20260102030405")
        #expect(prefix == "volume_v1/20260102030405/az_nova_backup_b1")
        let l = BackupLocation(project: "p", container: "c", prefix: prefix)
        #expect(l.chunkName(1) == prefix + "-00001" && l.chunkName(123456) == prefix + "-123456")
        #expect(l.metadataName == prefix + "_metadata" && l.sha256Name == prefix + "_sha256file")
        #expect(BackupLocation.validContainer("volumebackups") && !BackupLocation.validContainer("a/b") && !BackupLocation.validContainer(""))
    }

    /// Names are bytes: containers spelled precomposed and decomposed are two containers.
    @Test func locationsCompareAsBytes() async throws {
        let nfc = BackupLocation(project: "p", container: "caf\u{E9}", prefix: "x")
        let nfd = BackupLocation(project: "p", container: "cafe\u{301}", prefix: "x")
        #expect(nfc.container == nfd.container)   // Swift's String ==: canonical equivalence
        #expect(nfc != nfd)
        let store = FakeBackupObjectStore()
        let engine = ChunkedBackup(store: store, settings: smallBackupSettings())
        _ = try await withTempFile(volume()) { try await engine.backup(file: $0, to: nfc, parent: nil, describe("b"), cancelled: { false }) }
        #expect(store.names(project: "p", container: "cafe\u{301}").isEmpty && !store.names(project: "p", container: "caf\u{E9}").isEmpty)
        await #expect(throws: NimbusError.self) { _ = try await engine.readMetadata(nfd) }
        try await engine.delete(nfd)
        #expect(try await engine.readMetadata(nfc)["backup_id"]?.stringValue == "b")
    }
}

@Suite struct BackupCompressionTests {
    let full = BackupLocation(project: "p1", container: "c", prefix: "volume_vol/20260101000000/az_nova_backup_full")

    /// Python's `zlib.compress(b"nimbus backup " * 40)` and `bz2.compress(...)`: Cinder's objects.
    static let text = Array(String(repeating: "nimbus backup ", count: 40).utf8)
    static let pythonZlib = "789ccbcbcc4d2a2d56484a4cce2e2d50c81be58df2f0f2001cc9d2a1"
    static let pythonBz2 = "425a6839314159265359c713f84a0000c791804000382b4a002000508069a680a55068c342684f44f04c89813427e2644c09b09b1322705dc914e142431c4fe128"

    static func bytes(_ hex: String) -> [UInt8] {
        var out = [UInt8]()
        var i = hex.utf8.makeIterator()
        while let a = i.next(), let b = i.next() { out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16)!) }
        return out
    }

    @Test func cindersNamesAndWhatTheyMean() {
        #expect(BackupCompression(name: "ZLIB") == .zlib(name: "zlib"))
        #expect(BackupCompression(name: "gzip") == .zlib(name: "gzip"))
        #expect(BackupCompression(name: "bzip2") == .bz2(name: "bzip2"))
        #expect(BackupCompression(name: "off") == BackupCompression.none)
        #expect(BackupCompression(name: "zstd") == nil && BackupCompression(name: "") == nil)
    }

    @Test func pythonsStreamsDecompressAndOursAreSmaller() throws {
        #expect(try BackupCompression.zlib(name: "zlib").decompress(Self.bytes(Self.pythonZlib), length: Self.text.count) == Self.text)
        #expect(try BackupCompression.bz2(name: "bz2").decompress(Self.bytes(Self.pythonBz2), length: Self.text.count) == Self.text)
        for c in [BackupCompression.zlib(name: "zlib"), .bz2(name: "bz2")] {
            let packed = try #require(c.compress(Self.text))
            #expect(packed.count < Self.text.count)
            #expect(try c.decompress(packed, length: Self.text.count) == Self.text)
            // A recorded length the stream does not match is an error either way (no bigger
            // allocation than the record, no short write).
            #expect(throws: NimbusError.self) { try c.decompress(packed, length: Self.text.count - 1) }
            #expect(throws: NimbusError.self) { try c.decompress(packed, length: Self.text.count + 1) }
            #expect(throws: NimbusError.self) { try c.decompress(Array(packed.dropLast(3)), length: Self.text.count) }
            #expect(throws: NimbusError.self) { try c.decompress([], length: 0) }
        }
        // Incompressible bytes are stored as they are.
        var random = SystemRandomNumberGenerator()
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }
        #expect(BackupCompression.zlib(name: "zlib").compress(noise) == nil)
        #expect(BackupCompression.bz2(name: "bz2").compress(noise) == nil)
        // Past 256 KiB the first 64 KiB decide: noise there, nothing is compressed; text there
        // and the whole object is.
        let big = (0..<(512 << 10)).map { _ in UInt8.random(in: 0...255, using: &random) }
        #expect(BackupCompression.zlib(name: "zlib").compress(big) == nil)
        let textFirst = Array(repeating: UInt8(0x62), count: 64 << 10) + big
        let packed = try #require(BackupCompression.zlib(name: "zlib").compress(textFirst))
        #expect(try BackupCompression.zlib(name: "zlib").decompress(packed, length: textFirst.count) == textFirst)
    }

    @Test(arguments: [BackupCompression.zlib(name: "zlib"), .bz2(name: "bzip2")])
    func compressedBackupsRecordTheirAlgorithmAndRestore(_ compression: BackupCompression) async throws {
        let store = FakeBackupObjectStore()
        let engine = ChunkedBackup(store: store, settings: smallBackupSettings(compression: compression))
        var random = SystemRandomNumberGenerator()
        // Compressible, zeros, noise (stored as it is), zeros, compressible: three objects.
        let zeros = [UInt8](repeating: 0, count: 4096)
        let data = [UInt8](repeating: 0x61, count: 4096) + zeros + (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }
            + zeros + Array(String(repeating: "volume ", count: 600).utf8.prefix(4096))
        let count = try await withTempFile(data) { try await engine.backup(file: $0, to: full, parent: nil, describe("full"), cancelled: { false }) }
        #expect(count == 3)
        let meta = try await engine.readMetadata(full)
        let objects = try #require(meta["objects"]?.arrayValue).compactMap { $0.objectValue?.sortedMembers.first?.value.objectValue }
        #expect(objects.map { $0["compression"]?.stringValue } == [compression.name, "none", compression.name])
        #expect(objects.map { $0["length"]?.intValue } == [4096, 4096, 4096])
        #expect(try #require(store.object(project: "p1", container: "c", name: full.chunkName(1))).count < 200)
        #expect(try await restored(engine, [full], size: data.count) == data)
        // A compressed object whose bytes were altered fails the restore.
        var packed = try #require(store.object(project: "p1", container: "c", name: full.chunkName(3)))
        packed[packed.count / 2] ^= 0x55
        store.setObject(project: "p1", container: "c", name: full.chunkName(3), packed)
        await #expect(throws: NimbusError.self) { _ = try await restored(engine, [self.full], size: data.count) }
    }
}
