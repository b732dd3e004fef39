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

    func createSnapshot(_ r: SnapshotRequest) async throws -> String {
        let shared = !r.ownerProject.sameBytes(as: r.instanceProject)
        let core: [(String, JSONValue)] = [("name", .string(r.name)), ("min_disk", .int(Int64(r.minDiskGB))), ("min_ram", .int(Int64(r.minRamMB))),
                                           ("visibility", .string(shared ? "shared" : "private"))]
        let coreNames = Set(core.map { Name($0.0) })
        let properties = r.properties.filter { !coreNames.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key.string, JSONValue.string($0.value)) }
        let image = try await images.create(JSONObject(pairs: core + properties), owner: r.ownerProject)
        if shared { _ = try await images.addMember(image, member: r.instanceProject) }
        return image.id
    }

    func uploadSnapshot(_ imageID: String, diskFormat: String, size: Int64, bytes: any AsyncSequence<ByteBuffer, any Error> & Sendable) async throws {
        guard var image = try await images.repository.get(imageID) else { throw NimbusError.notFound("Image \(imageID) could not be found.") }
        let patch = try ImagePatch([["op": "replace", "path": "/disk_format", "value": .string(diskFormat)],
                                    ["op": "replace", "path": "/container_format", "value": "bare"]], dialect: .v21)
        image = try await images.update(image, patch: patch, isAdmin: true)
        _ = try await images.upload(image, body: bytes, declaredSize: size)
    }

    func deleteImage(_ id: String) async throws {
        guard let image = try await images.repository.get(id) else { return }
        try await images.delete(image)
    }

    func backups(instance: String, backupType: String, owner: String) async throws -> [String] {
        // Only the backups the requesting project owns: another project could forge images with
        // these properties, and Nova deletes with the requester's rights.
        var listing = try ImageListing(query: [("instance_uuid", instance), ("image_type", "backup"), ("backup_type", backupType),
                                               ("owner", owner), ("sort_key", "created_at"), ("sort_dir", "desc")])
        listing.limit = ImageListing.maxLimit
        return try await images.list(listing, caller: ImageCaller(projectID: owner, isAdmin: false)).images
            .filter { $0.owner?.sameBytes(as: owner) == true }.map(\.id)
    }

    static func caller(_ c: AuthContext) -> ImageCaller { ImageCaller(projectID: c.projectID, isAdmin: c.hasRole("admin")) }

    static func proxied(_ i: Image) -> ProxiedImage {
        ProxiedImage(id: i.id, name: i.name, status: i.status.rawValue, minDiskGB: Int(i.minDisk), minRamMB: Int(i.minRam), size: i.size,
                     createdAt: i.createdAt, updatedAt: i.updatedAt, properties: i.properties)
    }

    func list(caller: AuthContext, query: [(String, String)], limit: Int, marker: String?) async throws -> [ProxiedImage] {
        var listing = try ImageListing(query: query)
        listing.limit = min(limit, ImageListing.maxLimit)
        listing.marker = marker
        return try await images.list(listing, caller: Self.caller(caller)).images.map(Self.proxied)
    }

    func proxied(_ id: String, caller: AuthContext) async throws -> ProxiedImage? {
        guard let (i, _) = try? await images.visible(id, caller: Self.caller(caller)) else { return nil }
        return Self.proxied(i)
    }

    /// Glance's `modify_image` / `delete_image` default: admin, or a member of the owning project.
    static func mayChange(_ i: Image, _ c: AuthContext) -> Bool {
        c.hasRole("admin") || (c.hasRole("member") && c.projectID.map { p in i.owner?.sameBytes(as: p) == true } == true)
    }

    func delete(_ id: String, caller: AuthContext) async throws {
        let (image, _) = try await images.visible(id, caller: Self.caller(caller))
        guard Self.mayChange(image, caller) else { throw NimbusError.forbidden("You are not allowed to delete the image.") }
        do { try await images.delete(image) } catch let e as NimbusError where e.kind == .forbidden {
            throw NimbusError.forbidden("You are not allowed to delete the image.")
        }
    }

    func replaceProperties(_ id: String, caller: AuthContext, _ properties: [Name: String]) async throws -> [Name: String] {
        let (image, _) = try await images.visible(id, caller: Self.caller(caller))
        guard Self.mayChange(image, caller) else { throw NimbusError.forbidden("You are not authorized to access image \(id).") }
        // Keys are written as patch paths: none may name a core, read-only or reserved attribute
        // (Glance refuses those, or checks `publicize_image` for visibility).
        for (key, value) in properties where image.properties[key].map({ !$0.sameBytes(as: value) }) ?? true {
            guard Image.isSettableProperty(key.string) else { throw NimbusError.forbidden("Attribute '\(key.string)' cannot be set as image metadata.") }
        }
        // Nova's glance client sends the difference as a v2 patch (purge_props).
        var ops = [JSONValue]()
        for key in image.properties.keys.sorted() where properties[key] == nil {
            ops.append(["op": "remove", "path": .string("/" + Self.pointer(key.string))])
        }
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) where image.properties[key].map({ !$0.sameBytes(as: value) }) ?? true {
            ops.append(["op": "add", "path": .string("/" + Self.pointer(key.string)), "value": .string(value)])
        }
        guard !ops.isEmpty else { return image.properties }
        let updated = try await images.update(image, patch: try ImagePatch(.array(ops), dialect: .v21), isAdmin: caller.hasRole("admin"))
        return updated.properties
    }

    /// A JSON pointer segment (`~` → `~0`, `/` → `~1`).
    static func pointer(_ key: String) -> String { key.replacingBytes("~", with: "~0").replacingBytes("/", with: "~1") }

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
