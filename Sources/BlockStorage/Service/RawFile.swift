import Dispatch
import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// A raw image file read and written at offsets. Every call runs on a dispatch queue, off the
/// cooperative thread pool, so a backup's disk I/O and hashing never stall request handling.
final class RawFile: Sendable {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Opens `path` for reading, or for writing (created when missing, never truncated).
    static func open(_ path: String, writing: Bool) throws -> RawFile {
        let fd = writing ? Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600) : Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NimbusError(.internal, "cannot open \(path): errno \(errno)") }
        return RawFile(fd: fd, path: path)
    }

    deinit { Glibc.close(fd) }

    var size: Int64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// Whether any byte of `count` bytes at `offset` may be data rather than a hole
    /// (`SEEK_DATA`; a file system that cannot tell says data everywhere).
    func mayHaveData(at offset: Int64, count: Int) -> Bool {
        let next = lseek(fd, off_t(offset), 3 /* SEEK_DATA */)
        if next < 0 { return errno != ENXIO }
        return Int64(next) < offset + Int64(count)
    }

    /// Runs blocking work on a global queue.
    static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            DispatchQueue.global().async { c.resume(with: Result { try body() }) }
        }
    }

    /// Up to `count` bytes at `offset` (fewer only at the end of the file).
    func read(at offset: Int64, count: Int) async throws -> [UInt8] {
        let fd = self.fd, path = self.path
        return try await Self.offload {
            var buffer = [UInt8](repeating: 0, count: count)
            var done = 0
            try buffer.withUnsafeMutableBytes { raw in
                while done < count {
                    let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw NimbusError(.internal, "cannot read \(path): errno \(errno)")
                    }
                    if n == 0 { break }
                    done += n
                }
            }
            if done < count { buffer.removeLast(count - done) }
            return buffer
        }
    }

    func write(_ bytes: [UInt8], at offset: Int64) async throws {
        let fd = self.fd, path = self.path
        try await Self.offload {
            try bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw NimbusError(.internal, "cannot write \(path): errno \(errno)")
                    }
                    done += n
                }
            }
        }
    }

    /// Appends (a file opened for writing that only this writer extends).
    func append(_ bytes: [UInt8]) async throws { try await write(bytes, at: size) }

    func sync() async throws {
        let fd = self.fd, path = self.path
        try await Self.offload { if fsync(fd) != 0 { throw NimbusError(.internal, "cannot sync \(path): errno \(errno)") } }
    }
}
