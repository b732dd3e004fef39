import Foundation
import Logging
import NimbusCore
import Testing
@testable import ComputeNode

@Suite struct BaseImageCacheTests {
    let raw = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) }

    func cache(_ dir: TempDir, limit: UInt64 = 1 << 40) -> BaseImageCache {
        BaseImageCache(dir: dir.path + "/_base", maxVirtualSize: limit, logger: Logger(label: "test"))
    }

    func files(_ dir: TempDir) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/_base")) ?? []).sorted()
    }

    @Test func fetchesOnceVerifiesAndKeepsReadOnly() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let c = cache(dir)
        let source = BytesImageSource(format: "raw", data: raw, chunk: 4096)
        async let a = c.fetch(source)
        async let b = c.fetch(source)
        let (x, y) = try await (a, b)
        #expect(x == y && x.image == InspectedImage(format: .raw, virtualSize: 300_000))
        #expect(source.downloads == 1)
        #expect(try FileIO.read(x.path, count: 1 << 20) == raw)
        var st = stat()
        stat(x.path, &st)
        #expect(st.st_mode & 0o777 == 0o444)
        #expect(files(dir) == [BaseImageCache.key(source)])
        _ = try await c.fetch(source)
        #expect(source.downloads == 1)
        // the same id with other checksums is another file
        let other = BytesImageSource(format: "raw", data: Array(raw.reversed()))
        #expect(try await c.fetch(other).path != x.path)
    }

    @Test func checksumsAndSizeMustMatch() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let c = cache(dir)
        let cases: [(BytesImageSource, String)] = [
            (BytesImageSource(format: "raw", data: raw, md5: .some("0" + String(repeating: "a", count: 31))), "MD5"),
            (BytesImageSource(format: "raw", data: raw, sha512: .some(String(repeating: "b", count: 128))), "SHA-512"),
            (BytesImageSource(format: "raw", data: raw, size: 1000), "more bytes"),
            (BytesImageSource(format: "raw", data: raw, size: 400_000), "recorded size"),
            (BytesImageSource(format: "raw", data: raw, md5: .some(nil), sha512: .some(nil)), "no checksum"),
            (BytesImageSource(format: "qcow2", data: raw), "data is raw"),
        ]
        for (source, reason) in cases {
            do {
                _ = try await c.fetch(source)
                Issue.record("accepted: \(reason)")
            } catch let e as NimbusError {
                #expect(e.kind == .badRequest && e.message.contains(reason), "\(e.message)")
            }
        }
        #expect(files(dir).isEmpty, "nothing refused is cached, no temporary file is left")
        // one good checksum suffices; an upper-case one is fine
        let md5Only = BytesImageSource(format: "raw", data: raw, sha512: .some(nil))
        _ = try await c.fetch(md5Only)
        let upper = BytesImageSource(id: "img-2", format: "raw", data: raw)
        let shouting = BytesImageSource(id: "img-2", format: "raw", data: raw, md5: .some(upper.md5!.uppercased()))
        _ = try await c.fetch(shouting)
    }

    @Test func hostileQcow2IsNeverCached() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let shadow = Array("/etc/shadow".utf8)
        let hostile = QCOW2Builder(backingOffset: 512, backingSize: UInt32(shadow.count), trailer: shadow).bytes()
        await #expect(throws: NimbusError.self) { try await cache(dir).fetch(BytesImageSource(format: "qcow2", data: hostile)) }
        let huge = QCOW2Builder(size: 1 << 50).bytes()
        await #expect(throws: NimbusError.self) { try await cache(dir, limit: 1 << 40).fetch(BytesImageSource(format: "qcow2", data: huge)) }
        #expect(files(dir).isEmpty)
    }

    @Test func idsAreHashedNotUsedAsPaths() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let e = try await cache(dir).fetch(BytesImageSource(id: "../../etc/passwd", format: "raw", data: raw))
        #expect(e.path.hasPrefix(dir.path + "/_base/") && !e.path.contains(".."))
    }

    @Test func sweepRemovesLeftovers() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try FileIO.makeDirectory(dir.path + "/_base")
        try FileIO.writeAtomically(dir.path + "/_base/.tmp-abc123", [1], mode: 0o600)
        cache(dir).sweep()
        #expect(files(dir).isEmpty)
    }
}
