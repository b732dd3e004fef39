import Crypto
import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// How backups are cut into objects (Cinder's chunked driver options, `[backup]` in nimbus.conf).
public struct BackupSettings: Sendable {
    /// Cinder's `backup_swift_container`.
    public var defaultContainer = "volumebackups"
    /// The largest object a backup writes (Cinder's `backup_swift_object_size`, 50 MiB); a
    /// backup holds two such chunks in memory (one read ahead while the other is stored).
    public var chunkSizeBytes = 52_428_800
    /// The unit an incremental backup compares (Cinder's `backup_swift_block_size`, 32 KiB).
    public var blockSizeBytes = 32_768
    /// Runs of blocks to store that are closer than this many blocks become one object.
    public var mergeGapBlocks = 32
    /// Backups and restores moving bytes at once (Cinder's `backup_max_operations`).
    public var maxOperations = 4
    /// What `export_record` names as the backup service (Tempest checks the Cinder prefix).
    public var serviceName = "cinder.backup.drivers.swift.SwiftBackupDriver"
    /// The largest metadata object a restore reads.
    public var maxMetadataBytes = 64 << 20
    /// Cinder's `backup_compression_algorithm` (its default: zlib).
    public var compression = BackupCompression.zlib(name: "zlib")
    public init() {}
}

/// Why a backup stopped before it finished: an admin force-deleted it (Cinder's
/// `BackupRestoreCancel` and the delete check in the chunked driver's loop).
public struct BackupCancelled: Error {}

/// Cinder's chunked backup driver over a `BackupObjectStore`: a backup is chunk objects
/// (`<prefix>-00001`, …) holding the volume's non-zero runs of blocks (a full backup) or the runs
/// whose SHA-256 changed since the parent (an incremental one), a `<prefix>_sha256file` with the
/// digest of every block, and `<prefix>_metadata` describing the objects, written last.
///
/// Objects are compressed as Cinder compresses them (`BackupSettings.compression`, per object
/// when that makes it smaller; the MD5 is the uncompressed bytes'). Two departures from Cinder,
/// both for bounded memory: the digests are stored as 32 raw bytes each, so an incremental backup
/// reads only the parent's digests of the chunk at hand (a range read) instead of a JSON list of
/// the whole volume (2 GB for 1 TiB); and runs of zero blocks are not stored at all.
public struct ChunkedBackup: Sendable {
    public let store: any BackupObjectStore
    public let settings: BackupSettings
    let zeroDigest: [UInt8]

    public static let version = "1.0.0"

    public init(store: any BackupObjectStore, settings: BackupSettings) {
        self.store = store
        self.settings = settings
        self.zeroDigest = Array(SHA256.hash(data: [UInt8](repeating: 0, count: settings.blockSizeBytes)))
    }

    /// What the metadata object says about the backup besides its objects.
    public struct Description: Sendable {
        public var backupID: String
        public var volumeID: String
        public var name: String?
        public var description: String?
        public var createdAt: String
        public var parentID: String?
        /// The volume's metadata as Cinder's `BackupMetadataAPI` serializes it (a JSON string).
        public var volumeMeta: String?
        public init(backupID: String, volumeID: String, name: String?, description: String?, createdAt: String, parentID: String?, volumeMeta: String?) {
            self.backupID = backupID
            self.volumeID = volumeID
            self.name = name
            self.description = description
            self.createdAt = createdAt
            self.parentID = parentID
            self.volumeMeta = volumeMeta
        }
    }

    /// Backs up the raw image at `file` to `location`; with `parent`, only the blocks whose
    /// digest changed. `cancelled` is asked before each chunk; when it says yes, or anything
    /// fails, what was written is deleted. Returns the number of chunk objects.
    public func backup(file: String, to location: BackupLocation, parent: BackupLocation?, _ d: Description,
                       cancelled: @Sendable () async -> Bool) async throws -> Int {
        let source = try RawFile.open(file, writing: false)
        let size = source.size
        var parentSize: Int64 = 0
        if let parent {
            let meta = try await readMetadata(parent)
            guard meta["sha256_block_size"]?.intValue == Int64(settings.blockSizeBytes) else {
                throw NimbusError.badRequest("Invalid backup: Hash block size has changed since the last backup. Do a full backup.")
            }
            parentSize = meta["size_bytes"]?.intValue ?? 0
            guard size <= parentSize else { throw NimbusError.badRequest("Invalid backup: Volume size increased since the last backup. Do a full backup.") }
        }
        try await store.ensureContainer(project: location.project, container: location.container)
        let digestFile = file + ".sha256"
        defer { unlink(digestFile) }
        do {
            let digests = try RawFile.open(digestFile, writing: true)
            let objects = try await writeChunks(source, size: size, to: location, parent: parent, digests: digests, cancelled: cancelled)
            _ = try await store.put(project: location.project, container: location.container, name: location.sha256Name, file: digestFile)
            let meta: JSONObject = [
                "version": .string(Self.version), "backup_id": .string(d.backupID), "volume_id": .string(d.volumeID),
                "backup_name": JSONValue(d.name), "backup_description": JSONValue(d.description), "created_at": .string(d.createdAt),
                "parent_id": JSONValue(d.parentID), "objects": .array(objects), "volume_meta": JSONValue(d.volumeMeta),
                "size_bytes": .int(size), "sha256_block_size": .int(Int64(settings.blockSizeBytes)), "sha256_format": "binary",
            ]
            let described = JSONValue.object(meta).serialized()
            // What a restore would refuse to read is refused now, while the backup can still fail.
            guard described.count <= settings.maxMetadataBytes else {
                throw NimbusError(.internal, "the backup would need a metadata object of \(described.count) bytes, over \(settings.maxMetadataBytes)")
            }
            _ = try await store.put(project: location.project, container: location.container, name: location.metadataName, bytes: described)
            return objects.count
        } catch {
            try? await delete(location)
            throw error
        }
    }

    /// One chunk read and hashed (a hole of the sparse image is not read: `bytes` stays empty).
    struct Chunk: Sendable {
        var offset: Int64
        var length: Int
        var bytes: [UInt8]
        var digests: [UInt8]
        var zeros: [Bool]
    }

    func prepare(_ source: RawFile, at offset: Int64, size: Int64) async throws -> Chunk {
        let block = settings.blockSizeBytes, zero = zeroDigest
        let length = Int(min(Int64(settings.chunkSizeBytes), size - offset))
        if length % block == 0, !source.mayHaveData(at: offset, count: length) {
            // A hole of the sparse raw image: zero blocks, known without reading them.
            return Chunk(offset: offset, length: length, bytes: [], digests: Array([[UInt8]](repeating: zero, count: length / block).joined()),
                         zeros: Array(repeating: true, count: length / block))
        }
        let bytes = try await source.read(at: offset, count: length)
        let (digests, zeros) = try await RawFile.offload { BackupExtents.digests(bytes, blockSize: block, zeroDigest: zero) }
        return Chunk(offset: offset, length: bytes.count, bytes: bytes, digests: digests, zeros: zeros)
    }

    /// Stores the runs of each chunk that need storing and the chunk's digests; the next chunk
    /// is read and hashed while this one's objects are written (two chunks in memory at most).
    func writeChunks(_ source: RawFile, size: Int64, to location: BackupLocation, parent: BackupLocation?, digests: RawFile,
                     cancelled: @Sendable () async -> Bool) async throws -> [JSONValue] {
        let block = settings.blockSizeBytes
        var objects = [JSONValue]()
        var next: Task<Chunk, any Error>? = size > 0 ? Task { try await self.prepare(source, at: 0, size: size) } : nil
        defer { next?.cancel() }
        while let pending = next {
            if await cancelled() { throw BackupCancelled() }
            var chunk = try await pending.value
            if chunk.length == 0 { break }
            let end = chunk.offset + Int64(chunk.length)
            next = end < size ? Task { try await self.prepare(source, at: end, size: size) } : nil
            var needed = chunk.zeros.map { !$0 }
            if let parent {
                let first = Int(chunk.offset) / block * 32
                var old = [UInt8]()
                try await store.read(project: parent.project, container: parent.container, name: parent.sha256Name,
                                     range: first..<(first + chunk.digests.count)) { old += $0 }
                needed = BackupExtents.changed(chunk.digests, parent: old)
            }
            let runs = BackupExtents.runs(needed, mergeGap: settings.mergeGapBlocks)
            // A hole whose blocks had data in the parent: the zeros are stored.
            if !runs.isEmpty && chunk.bytes.isEmpty { chunk.bytes = [UInt8](repeating: 0, count: chunk.length) }
            for run in runs {
                let bytes = Array(chunk.bytes[(run.lowerBound * block)..<min(chunk.length, run.upperBound * block)])
                let name = location.chunkName(objects.count + 1)
                let compression = settings.compression
                // The MD5 is the uncompressed bytes': the store's own when they are stored as they are.
                let (stored, algorithm, packedMD5) = try await RawFile.offload { () -> ([UInt8], String, String?) in
                    if let packed = compression.compress(bytes) { return (packed, compression.name, Hex.encode(Insecure.MD5.hash(data: bytes))) }
                    return (bytes, "none", nil)
                }
                let storedMD5 = try await store.put(project: location.project, container: location.container, name: name, bytes: stored)
                let md5 = packedMD5 ?? storedMD5
                objects.append([name: ["offset": .int(chunk.offset + Int64(run.lowerBound * block)), "length": .int(Int64(bytes.count)),
                                       "compression": .string(algorithm), "md5": .string(md5)]])
            }
            try await digests.write(chunk.digests, at: chunk.offset / Int64(block) * 32)
        }
        return objects
    }

    /// The metadata object of a backup (404 when the backup's objects are not there).
    public func readMetadata(_ location: BackupLocation) async throws -> JSONObject {
        var bytes = [UInt8]()
        let limit = settings.maxMetadataBytes
        try await store.read(project: location.project, container: location.container, name: location.metadataName, range: nil) { piece in
            bytes += piece
            if bytes.count > limit { throw NimbusError(.internal, "the metadata object of \(location.prefix) is larger than \(limit) bytes") }
        }
        guard case .object(let o)? = try? JSONValue.parse(bytes), o["version"]?.stringValue == Self.version else {
            throw NimbusError(.internal, "the metadata object of \(location.prefix) is not a backup description this service reads")
        }
        return o
    }

    /// Writes a chain of backups (the full one first, then each incremental on top) into the
    /// raw image at `file`, which must read as zeros where nothing is written. Every object's
    /// length and MD5 are checked. Returns the newest backup's metadata.
    /// `capacity` is the target volume's size: an object past its end (a metadata object
    /// saying the backup is larger than it is) would grow the volume beyond its recorded size.
    public func restore(_ chain: [BackupLocation], into file: String, capacity: Int64 = .max,
                        cancelled: @Sendable () async -> Bool) async throws -> JSONObject {
        let target = try RawFile.open(file, writing: true)
        var newest = JSONObject()
        var previousID: String?
        for location in chain {
            let meta = try await readMetadata(location)
            if let previousID, meta["parent_id"]?.stringValue?.sameBytes(as: previousID) != true {
                throw NimbusError(.internal, "backup \(meta["backup_id"]?.stringValue ?? "") is not an increment of \(previousID)")
            }
            previousID = meta["backup_id"]?.stringValue
            let size = meta["size_bytes"]?.intValue ?? 0
            var pieces = [(name: String, offset: Int64, length: Int64, md5: String, compression: BackupCompression)]()
            for entry in meta["objects"]?.arrayValue ?? [] {
                guard let (name, o) = entry.objectValue?.sortedMembers.first, let offset = o["offset"]?.intValue, let length = o["length"]?.intValue,
                      offset >= 0, length >= 0, length <= 1 << 30,
                      // Added without trapping: a crafted offset near Int64.max must not crash the service.
                      case let (end, overflow) = offset.addingReportingOverflow(length), !overflow, end <= size, end <= capacity,
                      let compression = o["compression"]?.stringValue.flatMap(BackupCompression.init(name:)), let md5 = o["md5"]?.stringValue else {
                    throw NimbusError(.internal, "the metadata object of \(location.prefix) lists an object it cannot describe")
                }
                pieces.append((name, offset, length, md5, compression))
            }
            // The objects of one backup do not overlap: two are fetched at once. The next
            // backup of the chain starts only when this one is written (it overwrites it).
            try await withThrowingTaskGroup(of: Void.self) { group in
                var running = 0
                for p in pieces {
                    if await cancelled() { throw BackupCancelled() }
                    if running == 2 { try await group.next(); running -= 1 }
                    group.addTask {
                        if p.compression == .none {
                            try await self.restoreObject(location, name: p.name, offset: p.offset, length: p.length, md5: p.md5, into: target)
                        } else {
                            try await self.restoreCompressed(location, name: p.name, offset: p.offset, length: p.length, md5: p.md5,
                                                             compression: p.compression, into: target)
                        }
                    }
                    running += 1
                }
                try await group.waitForAll()
            }
            newest = meta
        }
        try await target.sync()
        return newest
    }

    func restoreObject(_ location: BackupLocation, name: String, offset: Int64, length: Int64, md5 expected: String, into target: RawFile) async throws {
        var hasher = Insecure.MD5()
        var written: Int64 = 0
        var buffer = [UInt8]()
        try await store.read(project: location.project, container: location.container, name: name, range: nil) { piece in
            guard written + Int64(buffer.count + piece.count) <= length else { throw NimbusError(.internal, "backup object \(name) is longer than recorded") }
            hasher.update(data: piece)
            buffer += piece
            // Written 4 MiB at a time: each write is a hop to a dispatch queue.
            if buffer.count >= 4 << 20 {
                try await target.write(buffer, at: offset + written)
                written += Int64(buffer.count)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        if !buffer.isEmpty {
            try await target.write(buffer, at: offset + written)
            written += Int64(buffer.count)
        }
        let md5 = Hex.encode(hasher.finalize())
        guard written == length, md5 == expected else {
            throw NimbusError(.internal, "backup object \(name) does not hold the bytes recorded (\(written) of \(length) bytes, MD5 \(md5))")
        }
    }

    /// A compressed object: read whole (it is smaller than its recorded length, else it would
    /// have been stored as it is), decompressed to exactly that length, checked, written.
    func restoreCompressed(_ location: BackupLocation, name: String, offset: Int64, length: Int64, md5 expected: String,
                           compression: BackupCompression, into target: RawFile) async throws {
        var body = [UInt8]()
        try await store.read(project: location.project, container: location.container, name: name, range: nil) { piece in
            guard body.count + piece.count <= length else { throw NimbusError(.internal, "backup object \(name) is longer than recorded") }
            body += piece
        }
        let packed = body
        let (bytes, md5) = try await RawFile.offload { () -> ([UInt8], String) in
            let bytes = try compression.decompress(packed, length: Int(length))
            return (bytes, Hex.encode(Insecure.MD5.hash(data: bytes)))
        }
        guard md5 == expected else {
            throw NimbusError(.internal, "backup object \(name) does not hold the bytes recorded (MD5 \(md5) after \(compression.name))")
        }
        try await target.write(bytes, at: offset)
    }

    /// Deletes every object of a backup (what a crashed or cancelled one left too).
    public func delete(_ location: BackupLocation) async throws {
        var marker: String?
        while true {
            let names = try await store.list(project: location.project, container: location.container, prefix: location.prefix, marker: marker, limit: 1000)
            guard let last = names.last else { return }
            for name in names { try await store.delete(project: location.project, container: location.container, name: name) }
            marker = last
        }
    }
}
