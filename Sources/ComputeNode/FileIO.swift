import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Small blocking file helpers with errors that name the path.
package enum FileIO {
    struct Failure: Error, CustomStringConvertible {
        var what: String
        var path: String
        var code: Int32
        var description: String { "\(what) \(path): \(String(cString: strerror(code)))" }
    }

    /// Writes `bytes` to a temporary file next to `path`, fsyncs it, renames it over `path` and
    /// fsyncs the directory: readers see the old file or the whole new one.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(what: "cannot create", path: tmp, code: errno) }
        do {
            try writeAll(fd, bytes, path: tmp)
            guard fsync(fd) == 0 else { throw Failure(what: "cannot fsync", path: tmp, code: errno) }
            close(fd)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let code = errno
            unlink(tmp)
            throw Failure(what: "cannot rename to", path: path, code: code)
        }
        syncDirectory(of: path)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure(what: "cannot write", path: path, code: errno)
                }
                off += n
            }
        }
    }

    package static func syncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    package static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw Failure(what: "cannot create directory", path: path, code: errno) }
    }

    package static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func size(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_size)
    }

    /// Reads up to `count` bytes at `offset` (fewer at the end of the file).
    static func read(_ path: String, offset: UInt64 = 0, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(what: "cannot open", path: path, code: errno) }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, count - got, off_t(offset) + off_t(got)) }
            if n < 0 { if errno == EINTR { continue }; throw Failure(what: "cannot read", path: path, code: errno) }
            if n == 0 { break }
            got += n
        }
        return Array(out[0..<got])
    }

    package static func removeTree(_ path: String) throws {
        guard exists(path) else { return }
        try FileManager.default.removeItem(atPath: path)
    }
}
