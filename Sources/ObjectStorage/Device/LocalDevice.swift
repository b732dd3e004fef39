import Crypto
import Foundation
import NIOCore
import NIOPosix
import NimbusCore

/// A device that is a directory on this machine, laid out as Swift lays out an object device:
/// `objects/<partition>/<suffix>/<hash>/<timestamp>.data` (and `.meta`), with `tmp/` for
/// uploads in flight and `quarantined/` for copies that failed their checksum.
///
/// A `.data` file is the object's bytes followed by a trailer: the metadata as JSON, its length
/// (UInt32 LE) and the magic `NMB1`. A `.meta` file is only a trailer. All blocking file work
/// runs on a dedicated thread pool, never on the event loops.
public final class LocalDevice: ObjectDevice {
    public let ring: RingDevice
    public let root: String
    let pool: NIOThreadPool

    static let magic: [UInt8] = Array("NMB1".utf8)
    static let trailerFixed = 8

    public init(ring: RingDevice, root: String, pool: NIOThreadPool) throws {
        self.ring = ring
        self.root = root
        self.pool = pool
        for sub in ["objects", "tmp", "quarantined/objects"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
    }

    func hashDir(_ partition: Int, _ hash: String) -> String {
        "\(root)/objects/\(partition)/\(hash.suffix(3))/\(hash)"
    }

    // MARK: writing

    public func writer(partition: Int, hash: String, timestamp: String) async throws -> any ObjectWriter {
        LocalWriter(device: self, partition: partition, hash: hash, timestamp: timestamp)
    }

    public func writeMeta(partition: Int, hash: String, metadata: DiskMetadata) async throws {
        let dir = hashDir(partition, hash)
        let bytes = Self.trailer(metadata)
        let tmp = "\(root)/tmp/\(Identifiers.hex32())"
        try await pool.runIfActive {
            guard FileManager.default.fileExists(atPath: dir) else { throw ReplicaError.notFound }
            let fd = try Posix.create(tmp)
            defer { close(fd) }
            try Posix.writeAll(fd, bytes)
            try Posix.fsync(fd, tmp)
            try Self.install(tmp: tmp, dir: dir, file: metadata.timestamp + ".meta")
        }
    }

    /// Renames a finished temporary file into its hash directory and makes the rename durable,
    /// creating (and fsyncing the parents of) any directories that did not exist.
    static func install(tmp: String, dir: String, file: String) throws {
        var created = [String]()
        var d = dir
        while !FileManager.default.fileExists(atPath: d) {
            created.append(d)
            d = (d as NSString).deletingLastPathComponent
        }
        if !created.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        guard rename(tmp, dir + "/" + file) == 0 else { throw POSIXError.current("rename into \(dir)") }
        try DurableFile.fsyncDirectory(dir)
        for c in created { try DurableFile.fsyncDirectory((c as NSString).deletingLastPathComponent) }
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
    static func readTrailer(_ fd: Int32, path: String) throws -> (DiskMetadata, Int) {
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
        guard let meta = DiskMetadata.decode(json), meta.size == start else { throw ReplicaError.corrupt }
        return (meta, start)
    }

    public func read(partition: Int, hash: String, timestamp: String, range: Range<Int>?) async throws -> any ObjectReadStream {
        let path = hashDir(partition, hash) + "/" + timestamp + ".data"
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
        let path = hashDir(partition, hash) + "/" + timestamp + ".meta"
        return try await pool.runIfActive {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ReplicaError.notFound }
            defer { close(fd) }
            return try Self.readTrailer(fd, path: path).0
        }
    }

    /// Moves a bad copy out of the way, where the replicator will no longer find it.
    func quarantine(path: String, hash: String) {
        let name = (path as NSString).lastPathComponent
        let dest = "\(root)/quarantined/objects/\(hash)-\(name)"
        _ = rename(path, dest)
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
        let dir = hashDir(partition, hash)
        try await pool.runIfActive {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
            var removed = false
            var remaining = 0
            for f in files {
                if which.matches(f), unlink(dir + "/" + f) == 0 { removed = true } else { remaining += 1 }
            }
            if remaining == 0 {
                rmdir(dir)
                rmdir((dir as NSString).deletingLastPathComponent)
            } else if removed {
                try DurableFile.fsyncDirectory(dir)
            }
        }
    }

    public func list(partition: Int) async throws -> [String: HashState] {
        let base = "\(root)/objects/\(partition)"
        return try await pool.runIfActive {
            var out = [String: HashState]()
            let fm = FileManager.default
            for suffix in (try? fm.contentsOfDirectory(atPath: base)) ?? [] {
                for hash in (try? fm.contentsOfDirectory(atPath: base + "/" + suffix)) ?? [] {
                    var state = HashState()
                    for f in (try? fm.contentsOfDirectory(atPath: base + "/" + suffix + "/" + hash)) ?? [] {
                        if f.hasSuffix(".data") { state.data.append(String(f.dropLast(5))) }
                        else if f.hasSuffix(".meta") { state.meta.append(String(f.dropLast(5))) }
                    }
                    state.data.sort(); state.meta.sort()
                    out[hash] = state
                }
            }
            return out
        }
    }

    public func partitions() async throws -> [Int] {
        let base = "\(root)/objects"
        return try await pool.runIfActive {
            ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted()
        }
    }

    public func audit(bytesPerSecond: Int) async throws -> (checked: Int, quarantined: Int) {
        var checked = 0, quarantined = 0
        for p in try await partitions() {
            for (hash, state) in try await list(partition: p) {
                for ts in state.data {
                    let path = hashDir(p, hash) + "/" + ts + ".data"
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
    /// The chain of background writes; its value is the temporary file's descriptor and how
    /// many bytes have been written to it.
    var inflight: Task<(fd: Int32, written: Int), any Error>?
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
        let (fd, written) = try await inflight?.value ?? (-1, 0)
        let (tmp, pool) = (self.tmp, device.pool)
        inflight = Task {
            try await pool.runIfActive {
                let fd = fd >= 0 ? fd : try Posix.create(tmp)
                do { try Posix.writeAll(fd, bytes) } catch {
                    close(fd)
                    unlink(tmp)
                    throw error
                }
                // Start writing these pages back now (as Swift's object server does), so the
                // fsync at commit finds little left to do. DONTNEED on dirty pages starts their
                // writeback without waiting for it.
                _ = posix_fadvise(fd, off_t(written), off_t(bytes.count), POSIX_FADV_DONTNEED)
                return (fd, written + bytes.count)
            }
        }
    }

    func commit(_ metadata: DiskMetadata) async throws {
        pending += LocalDevice.trailer(metadata)
        let bytes = pending
        pending = []
        let previous = inflight
        inflight = nil
        let existing = try await previous?.value.fd ?? -1
        let tmp = self.tmp
        let dir = device.hashDir(partition, hash)
        let file = timestamp + ".data"
        try await device.pool.runIfActive {
            let fd = existing >= 0 ? existing : try Posix.create(tmp)
            do {
                try Posix.writeAll(fd, bytes)
                try Posix.fsync(fd, tmp)
                close(fd)
            } catch {
                close(fd)
                unlink(tmp)
                throw error
            }
            do { try LocalDevice.install(tmp: tmp, dir: dir, file: file) } catch { unlink(tmp); throw error }
        }
    }

    func abort() async {
        let previous = inflight
        inflight = nil
        pending = []
        let fd = (try? await previous?.value.fd) ?? -1
        let tmp = self.tmp
        _ = try? await device.pool.runIfActive {
            if fd >= 0 { close(fd) }
            unlink(tmp)
        }
    }

    deinit {
        // Dropped without commit or abort (a cancelled upload): close and remove the file once
        // the last background write is done.
        if let previous = inflight {
            let tmp = self.tmp
            Task {
                if let fd = try? await previous.value.fd { close(fd) }
                unlink(tmp)
            }
        }
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
