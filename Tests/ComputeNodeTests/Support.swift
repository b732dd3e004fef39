import Crypto
import Foundation
import NimbusCore
import Synchronization
@testable import ComputeNode

/// An image from bytes in memory, with the checksums the image service would record (or the
/// ones a test wants to lie about).
final class BytesImageSource: ImageSource {
    let id: String
    let diskFormat: String
    let size: Int64
    let md5: String?
    let sha512: String?
    private let data: [UInt8]
    private let chunk: Int
    private let reads = Mutex(0)

    init(id: String = "img-1", format: String, data: [UInt8], chunk: Int = 1 << 16, size: Int64? = nil,
         md5: String?? = .none, sha512: String?? = .none) {
        self.id = id; diskFormat = format; self.data = data; self.chunk = chunk
        self.size = size ?? Int64(data.count)
        self.md5 = md5 ?? Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined()
        self.sha512 = sha512 ?? SHA512.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// How many times `bytes()` was called (a download).
    var downloads: Int { reads.withLock { $0 } }

    func bytes() async throws -> any AsyncSequence<[UInt8], any Error> {
        reads.withLock { $0 += 1 }
        let data = self.data, chunk = self.chunk
        return AsyncThrowingStream<[UInt8], any Error> { c in
            var i = 0
            while i < data.count {
                c.yield(Array(data[i..<min(i + chunk, data.count)]))
                i += chunk
            }
            c.finish()
        }
    }
}

/// A file as an image source (the test guest image).
func fileImageSource(_ path: String, id: String, format: String) throws -> BytesImageSource {
    BytesImageSource(id: id, format: format, data: Array(try Data(contentsOf: URL(fileURLWithPath: path))), chunk: 1 << 20)
}

func spec(_ id: String = "6c2bd1c5-4c8c-4a4b-9a64-6b0a7a3c2f10", hostname: String = "vm-1", memoryMB: Int = 128,
          rootGB: Int = 0, ephemeralGB: Int = 0, swapMB: Int = 0, imageID: String = "img-1",
          configDrive: ConfigDrive? = nil) throws -> InstanceSpec {
    InstanceSpec(id: try InstanceID(id), name: hostname, hostname: hostname, projectID: "p", userID: "u", vcpus: 1,
                 memoryMB: memoryMB, rootGB: rootGB, ephemeralGB: ephemeralGB, swapMB: swapMB, imageID: imageID,
                 configDrive: configDrive)
}

/// A fresh directory under /tmp (short, so QEMU's socket paths fit), removed by `cleanup`.
struct TempDir {
    let path: String
    init() throws {
        var template = Array("/tmp/nimbus-cn-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { throw POSIXError(.EIO) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Whether `program` is on PATH.
func onPath(_ program: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(program)")
    }
}
