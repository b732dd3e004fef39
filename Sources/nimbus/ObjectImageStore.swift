import Foundation
import Image
import NIOCore
import NimbusCore
import ObjectStorage

/// Glance's object-storage store, in-process: each image is the object `<image id>` in the
/// container `glance` of the account `.glance`, stored (and replicated, audited) by the object
/// store like any other object. No Keystone project maps to that account, so through the Swift
/// API only ResellerAdmin reaches it; image data is read and written only through the image
/// API. Images are single objects, so the object store's `max_file_size` (5 GiB) caps them.
final class ObjectImageStore: ImageDataStore {
    let id = "object"
    static let account = ".glance"
    let objects: ObjectStorageService
    let account: String
    let container = "glance"

    init(objects: ObjectStorageService, account: String) {
        self.objects = objects
        self.account = account
    }

    /// Creates the container if it is missing.
    func prepare() async throws {
        _ = try await objects.index.putContainer(account, container, timestamp: objects.timestamp(), policy: objects.policies.defaultPolicy.index) { _ in }
    }

    func write<S: AsyncSequence & Sendable>(imageID: String, body: S, limit: Int64) async throws -> StoredImageData where S.Element == ByteBuffer {
        let digest = ImageDigest()
        let upload = ObjectStorageService.Upload(account: account, container: container, name: imageID,
                                                 contentType: "application/octet-stream", metadata: [:])
        let row = try await objects.put(upload, body: HashingBody(body, digest: digest, limit: limit))
        let (size, md5, sha512) = digest.finish()
        guard row.etag == md5, Int64(row.size) == size else {
            throw NimbusError(.internal, "the object store stored other bytes than it was given for image \(imageID)")
        }
        return StoredImageData(location: "object://\(account)/\(container)/\(imageID)", size: size, md5: md5, sha512: sha512)
    }

    func name(_ location: String) throws -> String {
        let prefix = "object://\(account)/\(container)/"
        guard location.hasPrefix(prefix) else { throw NimbusError(.internal, "image data not in this store: \(location)") }
        return String(location.dropFirst(prefix.count))
    }

    func read(location: String, range: Range<Int64>?) async throws -> ImageDataStream {
        guard let row = try await objects.index.object(account, container, try name(location)) else {
            throw NimbusError.notFound("Image data not found in the store.")
        }
        let stream = try await objects.open(row, range: range.map { Int($0.lowerBound)..<Int($0.upperBound) })
        return ImageDataStream(next: { try await stream.next() }, close: { Task { await stream.close() } })
    }

    /// Only objects older than an hour: another controller sharing the object store may be
    /// between storing an image and recording it.
    func storedLocations() async throws -> [String] {
        var out = [String]()
        var q = ListingQuery()
        let cutoff = Date().timeIntervalSince1970 - 3600
        while true {
            let page = try await objects.index.listObjects(account, container, q)
            for case .row(let row) in page where (Double(row.timestamp) ?? .infinity) < cutoff {
                out.append("object://\(account)/\(container)/\(row.name)")
            }
            guard case .row(let last)? = page.last, page.count == q.limit else { return out }
            q.marker = last.name
        }
    }

    func delete(location: String) async throws {
        _ = try await objects.delete(account: account, container: container, name: try name(location))
    }
}
