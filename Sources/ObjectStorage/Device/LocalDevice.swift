import Crypto
import Foundation
import NIOCore
import NIOPosix
import NimbusCore

/// A device that is a directory on this machine: `objects/<partition>/<hash>.<timestamp>.data`
/// (and `.meta`), and `quarantined/` for copies that failed their checksum. Files are written
/// as unnamed `O_TMPFILE` inodes and named when complete (`tmp/` serves filesystems without
/// `O_TMPFILE`). Unlike Swift's `<partition>/<suffix>/<hash>/` directories, a partition is one
/// flat directory: a new object costs one inode and one directory fsync per replica instead of
/// three of each, which was a third of the CPU of a small PUT (ARCHITECTURE.md). A device in the
/// nested layout of earlier versions is converted when it is opened.
///
/// A `.data` file is the object's bytes followed by a trailer: the metadata as JSON, its length
/// (UInt32 LE) and the magic `NMB1`. A `.meta` file is only a trailer. All blocking file work
/// runs on a dedicated thread pool, never on the event loops.
///
/// Storage policies share a device as Swift's do: policy 0's files are under `objects/`, policy
/// N's under `objects-N/` (one `LocalDevice` per policy; `tmp/` is shared, so a file is named
/// into place on one filesystem).
public final class LocalDevice: ObjectDevice {
    public let ring: RingDevice
    public let root: String
    /// The storage policy whose files this is (`objects` or `objects-<policy>`).
    public let policy: Int
    let objects: String
    let pool: NIOThreadPool

    /// The directory of a policy's files on a device: Swift's `objects` and `objects-<n>`.
    public static func objectsDirectory(policy: Int) -> String { policy == 0 ? "objects" : "objects-\(policy)" }

    /// The policies that have a directory on the device at `root` (0 always).
    public static func policies(onDeviceAt root: String) -> [Int] {
        var out: Set<Int> = [0]
        for name in listing(root) where name.hasPrefix("objects-") {
            if let n = Int(name.dropFirst(8)), n > 0, objectsDirectory(policy: n) == name { out.insert(n) }
        }
        return out.sorted()
    }

    static let magic: [UInt8] = Array("NMB1".utf8)
    static let trailerFixed = 8

    public init(ring: RingDevice, root: String, policy: Int = 0, pool: NIOThreadPool) throws {
        self.ring = ring
        self.root = root
        self.policy = policy
        let dirName = Self.objectsDirectory(policy: policy)
        self.objects = root + "/" + dirName
        self.pool = pool
        for sub in [dirName, "tmp", "quarantined/" + dirName] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        try flattenNestedLayout()
    }

    func partitionDir(_ partition: Int) -> String { "\(objects)/\(partition)" }

    /// The path of one of a hash's files (`<timestamp>.data` or `<timestamp>.meta`).
    func path(_ partition: Int, _ hash: String, _ file: String) -> String { "\(objects)/\(partition)/\(hash).\(file)" }

    /// The files of `hash` in a partition directory's listing, by their names without the hash.
    static func files(of hash: String, in names: [String]) -> [String] {
        let prefix = hash + "."
        return names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    static func listing(_ dir: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] }

    /// Moves the files of the nested layout (`<partition>/<suffix>/<hash>/<file>`) into their
    /// partition directory, durably, and removes the emptied directories. Suffix directories are
    /// the only 3-character names in a partition, so a flat device is checked without a stat.
    func flattenNestedLayout() throws {
        for p in Self.listing(objects) where Int(p) != nil {
            let dir = objects + "/" + p
            var moved = false
            for suffix in Self.listing(dir) where suffix.count == 3 {
                for hash in Self.listing(dir + "/" + suffix) {
                    let hashDir = dir + "/" + suffix + "/" + hash
                    for f in Self.listing(hashDir) where rename(hashDir + "/" + f, dir + "/" + hash + "." + f) == 0 { moved = true }
                    rmdir(hashDir)
                }
                rmdir(dir + "/" + suffix)
            }
            if moved { try DurableFile.fsyncDirectory(dir) }
        }
    }

    // MARK: writing

    public func writer(partition: Int, hash: String, timestamp: String) async throws -> any ObjectWriter {
        LocalWriter(device: self, partition: partition, hash: hash, timestamp: timestamp)
    }

    public func writeMeta(partition: Int, hash: String, metadata: DiskMetadata) async throws {
        let dir = partitionDir(partition)
        let bytes = Self.trailer(metadata)
        let tmp = "\(root)/tmp/\(Identifiers.hex32())"
        try await pool.runIfActive {
            guard Self.files(of: hash, in: Self.listing(dir)).contains(where: { $0.hasSuffix(".data") }) else { throw ReplicaError.notFound }
            let file = try PendingFile(dir: dir, fallback: tmp)
            do {
                try Posix.writeAll(file.fd, bytes)
                try file.install(dir: dir, name: hash + "." + metadata.timestamp + ".meta")
            } catch {
                file.discard()
                throw error
            }
        }
    }

    static func trailer(_ m: DiskMetadata) -> [UInt8] {
        var out = m.encoded()
        let n = UInt32(out.count)
        out += [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), UInt8((n >> 16) & 0xff), UInt8(n >> 24)]
        out += magic
        return out
    }

    // MARK: reading

    /// Reads the trailer of an open file: (metadata, offset where the trailer starts).
    /// The trailer of a `.data` file (after the object's `size` bytes) or, `metaFile`, of a
    /// `.meta` file (only the trailer: its `size` is the object's, not the file's).
    static func readTrailer(_ fd: Int32, path: String, metaFile: Bool = false) throws -> (DiskMetadata, Int) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw POSIXError.current("stat \(path)") }
        let size = Int(st.st_size)
        guard size >= trailerFixed else { throw ReplicaError.corrupt }
        let fixed = try Posix.pread(fd, count: trailerFixed, offset: size - trailerFixed)
        guard fixed.count == trailerFixed, Array(fixed[4...]) == magic else { throw ReplicaError.corrupt }
        let n = Int(fixed[0]) | Int(fixed[1]) << 8 | Int(fixed[2]) << 16 | Int(fixed[3]) << 24
        let start = size - trailerFixed - n
        guard n > 0, start >= 0 else { throw ReplicaError.corrupt }
        let json = try Posix.pread(fd, count: n, offset: start)
        guard let meta = DiskMetadata.decode(json), metaFile ? start == 0 : meta.size == start else { throw ReplicaError.corrupt }
        return (meta, start)
    }

    public func read(partition: Int, hash: String, timestamp: String, range: Range<Int>?) async throws -> any ObjectReadStream {
        let path = path(partition, hash, timestamp + ".data")
        return try await pool.runIfActive { [self] in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT || errno == ENOTDIR { throw ReplicaError.notFound }
                throw ReplicaError.unavailable(String(cString: strerror(errno)))
            }
            do {
                let meta: DiskMetadata
                do { (meta, _) = try Self.readTrailer(fd, path: path) } catch ReplicaError.corrupt {
                    close(fd)
                    quarantine(path: path, hash: hash)
                    throw ReplicaError.corrupt
                }
                let r = range ?? 0..<meta.size
                if range == nil && meta.size <= verifyLimit {
                    let bytes = try Posix.pread(fd, count: meta.size, offset: 0)
                    close(fd)
                    guard bytes.count == meta.size, Hex.encode(Insecure.MD5.hash(data: bytes)) == meta.etag else {
                        quarantine(path: path, hash: hash)
                        throw ReplicaError.corrupt
                    }
                    return BufferedReadStream(metadata: meta, buffer: ByteBuffer(bytes: bytes))
                }
                return LocalReadStream(device: self, fd: fd, path: path, hash: hash, metadata: meta, range: r, verify: range == nil)
            } catch let e as ReplicaError {
                throw e
            } catch {
                close(fd)
                throw error
            }
        }
    }

    public func readMeta(partition: Int, hash: String, timestamp: String) async throws -> DiskMetadata {
        let path = path(partition, hash, timestamp + ".meta")
        return try await pool.runIfActive {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ReplicaError.notFound }
            defer { close(fd) }
            return try Self.readTrailer(fd, path: path, metaFile: true).0
        }
    }

    /// Moves a bad copy out of the way, where the replicator will no longer find it.
    func quarantine(path: String, hash: String) {
        let name = (path as NSString).lastPathComponent
        _ = rename(path, "\(root)/quarantined/\(Self.objectsDirectory(policy: policy))/\(name)")
    }

    // MARK: housekeeping

    /// Deletes temporary files older than `age` seconds: uploads that a crash (`kill -9`)
    /// interrupted. Run with 0 when the process starts, when nothing can be in flight.
    @discardableResult
    public func sweepTemporaryFiles(olderThan age: TimeInterval) async throws -> Int {
        try await pool.runIfActive { [self] in sweepTemporaryFilesNow(olderThan: age) }
    }

    /// `sweepTemporaryFiles`, blocking the caller (for startup).
    @discardableResult
    public func sweepTemporaryFilesNow(olderThan age: TimeInterval) -> Int {
        let dir = root + "/tmp"
        let limit = Date().addingTimeInterval(-age)
        var n = 0
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            let path = dir + "/" + f
            let mtime = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
            if let mtime, mtime <= limit, unlink(path) == 0 { n += 1 }
        }
        return n
    }

    public func remove(partition: Int, hash: String, _ which: Removal) async throws {
        let dir = partitionDir(partition)
        try await pool.runIfActive {
            let candidates: [String]
            switch which {
            case .timestamp(let t): candidates = [t + ".data", t + ".meta"]
            case .files(let names): candidates = names
            case .olderThan: candidates = Self.files(of: hash, in: Self.listing(dir))
            }
            var removed = false
            for f in candidates where which.matches(f) && StorageNames.isFile(f) {
                if unlink(dir + "/" + hash + "." + f) == 0 { removed = true }
            }
            if removed { try DurableFile.fsyncDirectory(dir) }
        }
    }

    public func list(partition: Int) async throws -> [String: HashState] {
        let dir = partitionDir(partition)
        return try await pool.runIfActive {
            var out = [String: HashState]()
            for name in Self.listing(dir) {
                guard let dot = name.firstIndex(of: ".") else { continue }
                let hash = String(name[..<dot])
                let file = name[name.index(after: dot)...]
                if file.hasSuffix(".data") { out[hash, default: HashState()].data.append(String(file.dropLast(5))) }
                else if file.hasSuffix(".meta") { out[hash, default: HashState()].meta.append(String(file.dropLast(5))) }
            }
            for k in out.keys { out[k]!.data.sort(); out[k]!.meta.sort() }
            return out
        }
    }

    public func partitions() async throws -> [Int] {
        let base = objects
        return try await pool.runIfActive {
            ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted()
        }
    }

    public func audit(bytesPerSecond: Int) async throws -> (checked: Int, quarantined: Int) {
        var checked = 0, quarantined = 0
        for p in try await partitions() {
            for (hash, state) in try await list(partition: p) {
                for ts in state.data {
                    let path = path(p, hash, ts + ".data")
                    let (ok, bytes) = try await pool.runIfActive { Self.verify(path: path) }
                    checked += 1
                    if !ok {
                        quarantine(path: path, hash: hash)
                        quarantined += 1
                    }
                    if bytesPerSecond > 0, bytes > 0 {
                        try? await Task.sleep(for: .milliseconds(max(0, bytes * 1000 / bytesPerSecond)))
                    }
                }
            }
        }
        return (checked, quarantined)
    }

    /// Whether a `.data` file's bytes match its trailer's MD5; also the bytes read.
    static func verify(path: String) -> (Bool, Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (true, 0) }  // gone meanwhile: nothing to judge
        defer { close(fd) }
        guard let (meta, dataEnd) = try? readTrailer(fd, path: path) else { return (false, 0) }
        var md5 = Insecure.MD5()
        var offset = 0
        while offset < dataEnd {
            guard let chunk = try? Posix.pread(fd, count: min(1 << 20, dataEnd - offset), offset: offset), !chunk.isEmpty else { return (false, offset) }
            md5.update(data: chunk)
            offset += chunk.count
        }
        return (Hex.encode(md5.finalize()) == meta.etag, offset)
    }
}

/// A whole small object, already read and verified.
final class BufferedReadStream: ObjectReadStream, @unchecked Sendable {
    let metadata: DiskMetadata
    var buffer: ByteBuffer?
    let length: Int

    init(metadata: DiskMetadata, buffer: ByteBuffer) {
        self.metadata = metadata
        self.length = buffer.readableBytes
        self.buffer = buffer
    }

    func next() async throws -> ByteBuffer? {
        defer { buffer = nil }
        return buffer
    }

    func close() async { buffer = nil }
}

/// Streams a file (or a range of it) in 256 KiB reads; a whole-object read is checked against
/// the MD5 at the end and a bad copy quarantined. Used by one task at a time.
final class LocalReadStream: ObjectReadStream, @unchecked Sendable {
    let device: LocalDevice
    var fd: Int32
    let path: String
    let hash: String
    let metadata: DiskMetadata
    var offset: Int
    let end: Int
    var md5: Insecure.MD5?
    var length: Int { end - start }
    let start: Int

    init(device: LocalDevice, fd: Int32, path: String, hash: String, metadata: DiskMetadata, range: Range<Int>, verify: Bool) {
        self.device = device; self.fd = fd; self.path = path; self.hash = hash; self.metadata = metadata
        self.start = range.lowerBound
        self.offset = range.lowerBound
        self.end = range.upperBound
        self.md5 = verify ? Insecure.MD5() : nil
    }

    func next() async throws -> ByteBuffer? {
        guard offset < end, fd >= 0 else {
            if let m = md5 {
                md5 = nil
                if Hex.encode(m.finalize()) != metadata.etag {
                    await close()
                    device.quarantine(path: path, hash: hash)
                    throw ReplicaError.corrupt
                }
            }
            return nil
        }
        let (fd, offset, count) = (self.fd, self.offset, min(256 * 1024, end - self.offset))
        let bytes = try await device.pool.runIfActive { try Posix.pread(fd, count: count, offset: offset) }
        guard !bytes.isEmpty else { throw ReplicaError.corrupt }
        self.offset += bytes.count
        md5?.update(data: bytes)
        return ByteBuffer(bytes: bytes)
    }

    func close() async {
        if fd >= 0 { Foundation.close(fd); fd = -1 }
    }

    deinit { if fd >= 0 { Foundation.close(fd) } }
}

/// Buffers small objects in memory and writes them in one go at commit (one trip to the thread
/// pool per replica); larger ones spill to the temporary file in 1 MiB writes that run in the
/// background, one at a time per writer, while the next MiB arrives. So the replicas of a large
/// upload are written in parallel, and overlap with receiving it. Used by one task at a time.
final class LocalWriter: ObjectWriter, @unchecked Sendable {
    let device: LocalDevice
    let partition: Int
    let hash: String
    let timestamp: String
    let tmp: String
    var pending: [UInt8] = []
    /// The chain of background writes; its value is the file being written and how many bytes
    /// have been written to it.
    var inflight: Task<(file: PendingFile, written: Int), any Error>?
    static let spill = 1 << 20

    init(device: LocalDevice, partition: Int, hash: String, timestamp: String) {
        self.device = device; self.partition = partition; self.hash = hash; self.timestamp = timestamp
        self.tmp = "\(device.root)/tmp/\(Identifiers.hex32())"
    }

    func write(_ chunk: ByteBuffer) async throws {
        pending.append(contentsOf: chunk.readableBytesView)
        if pending.count >= Self.spill { try await flush() }
    }

    /// Queues `pending` behind the previous background write, after waiting for that one to
    /// finish (so at most one MiB per replica is in flight, and errors surface on the next call).
    private func flush() async throws {
        let bytes = pending
        pending = []
        pending.reserveCapacity(Self.spill + 65536)
        let previous = try await inflight?.value
        let (tmp, pool, dir) = (self.tmp, device.pool, device.partitionDir(partition))
        let written = previous?.written ?? 0
        inflight = Task {
            try await pool.runIfActive {
                let file = try previous?.file ?? PendingFile(dir: dir, fallback: tmp)
                do { try Posix.writeAll(file.fd, bytes) } catch {
                    file.discard()
                    throw error
                }
                // Start writing these pages back now (as Swift's object server does), so the
                // fsync at commit finds little left to do. DONTNEED on dirty pages starts their
                // writeback without waiting for it.
                _ = posix_fadvise(file.fd, off_t(written), off_t(bytes.count), POSIX_FADV_DONTNEED)
                return (file, written + bytes.count)
            }
        }
    }

    func commit(_ metadata: DiskMetadata) async throws {
        pending += LocalDevice.trailer(metadata)
        let bytes = pending
        pending = []
        let previous = inflight
        inflight = nil
        let existing = try await previous?.value.file
        let tmp = self.tmp
        let dir = device.partitionDir(partition)
        let name = hash + "." + timestamp + ".data"
        try await device.pool.runIfActive {
            let file = try existing ?? PendingFile(dir: dir, fallback: tmp)
            do {
                try Posix.writeAll(file.fd, bytes)
            } catch {
                file.discard()
                throw error
            }
            do { try file.install(dir: dir, name: name) } catch {
                if let path = file.path { unlink(path) }
                throw error
            }
        }
    }

    func abort() async {
        let previous = inflight
        inflight = nil
        pending = []
        guard let file = try? await previous?.value.file else { return }
        _ = try? await device.pool.runIfActive { file.discard() }
    }

    deinit {
        // Dropped without commit or abort (a cancelled upload): close and remove the file once
        // the last background write is done.
        if let previous = inflight {
            Task { (try? await previous.value.file)?.discard() }
        }
    }
}

/// A file being written before it has its name: an unnamed `O_TMPFILE` inode in its partition
/// directory (a crash leaves nothing behind, and creating it touches no directory), or, where
/// the filesystem has no `O_TMPFILE`, a file in the device's `tmp/`.
struct PendingFile: Sendable {
    let fd: Int32
    let path: String?
    /// Linux's `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which Glibc's module does not export.
    static let tmpfile: Int32 = 0o20000000 | O_DIRECTORY

    /// Opens the file in `dir`, creating `dir` (durably: its new parents are fsync'd) if missing.
    init(dir: String, fallback: String) throws {
        var fd = open(dir, Self.tmpfile | O_WRONLY | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            try Self.makeDirectory(dir)
            fd = open(dir, Self.tmpfile | O_WRONLY | O_CLOEXEC, 0o644)
        }
        if fd >= 0 {
            (self.fd, self.path) = (fd, nil)
        } else if errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL {
            (self.fd, self.path) = (try Posix.create(fallback), fallback)
        } else {
            throw POSIXError.current("create a file in \(dir)")
        }
    }

    static func makeDirectory(_ dir: String) throws {
        var created = [String]()
        var d = dir
        while !FileManager.default.fileExists(atPath: d) {
            created.append(d)
            d = (d as NSString).deletingLastPathComponent
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for c in created.reversed() { try DurableFile.fsyncDirectory((c as NSString).deletingLastPathComponent) }
    }

    /// Gives the written (not yet synced) file its name in `dir`, then fsyncs the file and the
    /// directory; returns only when both are durable. Naming the file before its fsync lets one
    /// disk flush carry the data and the name (ext4 syncs a new inode's parent entry with it,
    /// and a journal commit carries both), so the directory's fsync usually finds nothing left
    /// to do. Until this returns nothing acknowledges the file; a copy a crash cuts short fails
    /// its trailer check and is quarantined, or is removed by the replicator as a file the
    /// index does not name. Closes the descriptor.
    func install(dir: String, name: String) throws {
        defer { close(fd) }
        let final = dir + "/" + name
        if let path {
            guard rename(path, final) == 0 else { throw POSIXError.current("rename into \(dir)") }
        } else {
            let source = "/proc/self/fd/\(fd)"
            var r = linkat(AT_FDCWD, source, AT_FDCWD, final, AT_SYMLINK_FOLLOW)
            if r != 0 && errno == EEXIST {  // the same version again (a replicator retry): replace it
                unlink(final)
                r = linkat(AT_FDCWD, source, AT_FDCWD, final, AT_SYMLINK_FOLLOW)
            }
            guard r == 0 else { throw POSIXError.current("link into \(dir)") }
        }
        do {
            try Posix.fsync(fd, final)
            try DurableFile.fsyncDirectory(dir)
        } catch {
            unlink(final)
            throw error
        }
    }

    /// Drops an unfinished file.
    func discard() {
        close(fd)
        if let path { unlink(path) }
    }
}

/// Thin, throwing wrappers over the POSIX calls the devices use.
enum Posix {
    static func create(_ path: String, mode: mode_t = 0o644) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw POSIXError.current("create \(path)") }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; throw POSIXError.current("write") }
                off += n
            }
        }
    }

    static func fsync(_ fd: Int32, _ what: String) throws {
        guard Foundation.fsync(fd) == 0 else { throw POSIXError.current("fsync \(what)") }
    }

    static func pread(_ fd: Int32, count: Int, offset: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { Foundation.pread(fd, $0.baseAddress! + got, count - got, off_t(offset + got)) }
            if n < 0 { if errno == EINTR { continue }; throw POSIXError.current("read") }
            if n == 0 { break }
            got += n
        }
        if got < count { out.removeLast(count - got) }
        return out
    }
}
