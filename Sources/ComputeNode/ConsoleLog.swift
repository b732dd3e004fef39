import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The serial console log of one guest: QEMU appends to it (`-chardev file,append=on`, so
/// O_APPEND) and the driver keeps it under `maxBytes` by dropping its oldest part.
///
/// Why a file rather than a socket that Nimbus reads: the file keeps capturing while Nimbus is
/// down or restarting (a guest's boot messages are not lost to an agent restart), needs no reader
/// task per guest, and survives the guest's power off for `console log show`. The cap is soft: the
/// log can pass `maxBytes` by what the guest writes between two trims (the driver trims at every
/// start, every console read, every `instances()` sweep and in `trimConsoleLogs()`).
///
/// Trimming uses `fallocate(FALLOC_FL_COLLAPSE_RANGE)` (ext4, XFS): the file's head is cut out in
/// place, atomically with respect to QEMU's appends, so nothing the guest writes is lost. Where
/// the file system cannot (tmpfs, btrfs), the tail is copied to the front and the file shortened;
/// bytes QEMU appends during that copy can be lost.
struct ConsoleLog: Sendable {
    let path: String
    let maxBytes: Int

    /// Cuts the log back to about half of `maxBytes` once it is larger than `maxBytes`.
    func trim() {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) > maxBytes else { return }
        let size = Int(st.st_size)
        var fs = statvfs()
        let block = fstatvfs(fd, &fs) == 0 && fs.f_bsize > 0 ? Int(fs.f_bsize) : 4096
        let drop = (size - maxBytes / 2) / block * block
        if drop > 0 && LibC.fallocate(fd, LibC.FALLOC_FL_COLLAPSE_RANGE, 0, drop) == 0 { return }
        // Fallback: move the tail to the front.
        let keep = maxBytes / 2
        var tail = [UInt8](repeating: 0, count: keep)
        let got = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, keep, off_t(size - keep)) }
        guard got > 0 else { return }
        _ = tail.withUnsafeBytes { pwrite(fd, $0.baseAddress, got, 0) }
        ftruncate(fd, off_t(got))
    }

    /// The last `lines` lines (all kept when nil) of at most `maxReadBytes` bytes of the log's
    /// end, invalid UTF-8 replaced. A partial first line (cut by the byte limit) is dropped.
    func tail(lines: Int?, maxReadBytes: Int) -> String {
        guard let size = FileIO.size(path), size > 0 else { return "" }
        let count = Int(min(size, UInt64(maxReadBytes)))
        guard var bytes = try? FileIO.read(path, offset: size - UInt64(count), count: count) else { return "" }
        if UInt64(count) < size, let nl = bytes.firstIndex(of: 0x0A) { bytes.removeSubrange(...nl) }
        if let lines {
            guard lines > 0 else { return "" }
            var seen = 0
            var start = bytes.startIndex
            // Count newlines from the end; a final newline does not start a line.
            var i = bytes.endIndex - 1
            if i >= 0 && bytes[i] == 0x0A { i -= 1 }
            while i >= 0 {
                if bytes[i] == 0x0A {
                    seen += 1
                    if seen == lines { start = i + 1; break }
                }
                i -= 1
            }
            bytes = Array(bytes[start...])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
