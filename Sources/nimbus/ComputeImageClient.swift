import Compute
import ComputeNode
import Foundation
import Image
import NIOCore
import NimbusCore

/// The compute service's `ImageClient` over the image service in this process: images as the
/// caller may see them (Glance's visibility rules), and their bytes for compute nodes.
struct ComputeImageClient: ImageClient {
    let images: ImageService

    func image(_ id: String, caller: AuthContext) async throws -> ImageInfo? {
        let c = ImageCaller(projectID: caller.projectID, isAdmin: caller.hasRole("admin"))
        guard let (i, _) = try? await images.visible(id, caller: c) else { return nil }
        return Self.info(i)
    }

    static func info(_ i: Image) -> ImageInfo {
        ImageInfo(id: i.id, name: i.name, status: i.status.rawValue, diskFormat: i.diskFormat, containerFormat: i.containerFormat, size: i.size,
                  minDiskGB: Int(i.minDisk), minRamMB: Int(i.minRam), md5: i.checksum, sha512: i.osHashValue, properties: i.properties)
    }

    func source(_ id: String) async throws -> any ImageSource {
        guard let i = try await images.repository.get(id), i.status == .active else { throw NimbusError.notFound("Image \(id) is not available.") }
        return Source(image: i, service: images)
    }

    struct Source: ImageSource {
        let image: Image
        let service: ImageService
        var id: String { image.id }
        var diskFormat: String { image.diskFormat ?? "" }
        var size: Int64 { image.size ?? 0 }
        var md5: String? { image.checksum }
        var sha512: String? { image.osHashValue }

        func bytes() async throws -> any AsyncSequence<[UInt8], any Error> {
            guard let stream = try await service.download(image, range: nil) else { throw NimbusError.notFound("Image \(image.id) has no data.") }
            return stream.map { Array($0.readableBytesView) }
        }
    }
}
