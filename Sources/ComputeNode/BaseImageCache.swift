import Crypto
import Foundation
import Logging
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// Base images on this node, in `_base/`, one read-only file per (image id, checksums), fetched
/// once through `ImageSource.bytes()` no matter how many instances start from it at once.
/// Bytes are written to a temporary file, counted, hashed (MD5 and SHA-512) and inspected; only an
/// image whose size and every recorded checksum match and whose format passes `ImageInspector` is
/// fsync'd and renamed into place, so the cache never holds a partial, corrupt or refused image.
package final class BaseImageCache: Sendable {
    let dir: String
    let maxVirtualSize: UInt64
    let logger: Logger
    private let downloads = KeyedLock<String>()

    package init(dir: String, maxVirtualSize: UInt64, logger: Logger) {
        self.dir = dir; self.maxVirtualSize = maxVirtualSize; self.logger = logger
    }

    package struct Entry: Sendable, Equatable {
        package var path: String
        package var image: InspectedImage
    }

    /// The cache file name: SHA-256 of the id and the recorded checksums, so any text may be an
    /// image id, and new bytes under an old id (a different checksum) are a different file.
    static func key(_ source: any ImageSource) -> String {
        let material = "\(source.id)\u{0}\(source.md5?.lowercased() ?? "")\u{0}\(source.sha512?.lowercased() ?? "")"
        return SHA256.hash(data: Array(material.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The cached, inspected base image of `source`, fetching it first if needed.
    package func fetch(_ source: any ImageSource) async throws -> Entry {
        guard source.md5 != nil || source.sha512 != nil else {
            throw ImageInspector.refused("the image service recorded no checksum for image \(source.id)")
        }
        let path = dir + "/" + Self.key(source)
        return try await downloads.withLock(path) {
            if !FileIO.exists(path) { try await download(source, to: path) }
            let image = try ImageInspector.inspect(path: path, claimedFormat: source.diskFormat, maxVirtualSize: maxVirtualSize)
            return Entry(path: path, image: image)
        }
    }

    /// Removes temporary files a crash left behind (call before any fetch).
    package func sweep() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasBytePrefix(".tmp-") {
            unlink(dir + "/" + name)
        }
    }

    private func download(_ source: any ImageSource, to path: String) async throws {
        try FileIO.makeDirectory((dir as NSString).deletingLastPathComponent)
        try FileIO.makeDirectory(dir)
        var template = Array((dir + "/.tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileIO.Failure(what: "cannot create a temporary file in", path: dir, code: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)   // (a guest started meanwhile must not inherit it)
        let tmp = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var closed = false
        defer {
            if !closed { close(fd) }
            unlink(tmp)
        }
        let started = ContinuousClock.now
        var md5 = Insecure.MD5(), sha512 = SHA512()
        var written: Int64 = 0
        for try await chunk in try await source.bytes() {
            written += Int64(chunk.count)
            guard written <= source.size else {
                throw ImageInspector.refused("image \(source.id) has more bytes than its recorded size \(source.size)")
            }
            md5.update(data: chunk)
            sha512.update(data: chunk)
            try FileIO.writeAll(fd, chunk, path: tmp)
        }
        try verify(source, written: written, md5: hex(md5.finalize()), sha512: hex(sha512.finalize()))
        _ = try ImageInspector.inspect(path: tmp, claimedFormat: source.diskFormat, maxVirtualSize: maxVirtualSize)
        let syncFD = fd
        try await Blocking.run {
            guard fsync(syncFD) == 0 else { throw FileIO.Failure(what: "cannot fsync", path: tmp, code: errno) }
        }
        fchmod(fd, 0o444)
        close(fd)
        closed = true
        guard rename(tmp, path) == 0 else { throw FileIO.Failure(what: "cannot rename to", path: path, code: errno) }
        FileIO.syncDirectory(of: path)
        logger.info("cached base image \(source.id) (\(written) bytes) in \(started.duration(to: .now))")
    }

    private func verify(_ s: any ImageSource, written: Int64, md5: String, sha512: String) throws {
        guard written == s.size else {
            throw ImageInspector.refused("image \(s.id) has \(written) bytes, its recorded size is \(s.size)")
        }
        if let want = s.md5, !want.lowercased().sameBytes(as: md5) {
            throw ImageInspector.refused("image \(s.id) has MD5 \(md5), its recorded checksum is \(want)")
        }
        if let want = s.sha512, !want.lowercased().sameBytes(as: sha512) {
            throw ImageInspector.refused("image \(s.id) has SHA-512 \(sha512), not its recorded os_hash_value")
        }
    }

    private func hex(_ digest: some Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}
