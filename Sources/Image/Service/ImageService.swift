import Foundation
import Logging
import NIOCore
import NimbusCore

public struct ImageSettings: Sendable {
    public var formats = ImageFormats.glanceDefaults
    /// `image_size_cap`: the largest image accepted (1 TiB, as Glance).
    public var sizeCap: Int64 = 1 << 40
    public var tagLimit = 128
    public var propertyLimit = 128
    public var memberLimit = 128
    public var importMethods = ["glance-direct", "copy-image"]
    public init() {}
}

/// The image service's rules, below HTTP: creation, updates, the status machine around data
/// upload and import, tags, members and deletion. Authorization (policy) is the API's; this
/// layer assumes the caller may act and enforces what Glance's domain layer enforces.
public final class ImageService: Sendable {
    public let repository: ImageRepository
    public let store: any ImageDataStore
    let staging: any ImageDataStore
    public let settings: ImageSettings
    /// Unified limits (Glance's `use_keystone_limits`); nil: not enforced.
    let limitSource: (any ImageLimitSource)?
    let logger: Logger

    public init(repository: ImageRepository, store: any ImageDataStore, staging: any ImageDataStore, settings: ImageSettings,
                limits: (any ImageLimitSource)? = nil, logger: Logger) {
        self.repository = repository
        self.store = store
        self.staging = staging
        self.settings = settings
        self.limitSource = limits
        self.logger = logger
    }

    static let coreCreateKeys: Set<String> = ["id", "name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "disk_format",
                                               "container_format", "owner", "tags"]

    // MARK: create and read

    /// `POST /v2/images`. `owner` is the project the image will belong to.
    public func create(_ body: [String: JSONValue], owner: String?, now: Date = Date()) async throws -> Image {
        for key in ["direct_url", "self", "file", "schema", "stores"] where body[key] != nil {
            throw NimbusError.forbidden("Attribute '\(key)' is read-only.")
        }
        var id = Identifiers.uuid()
        if let v = body["id"] {
            guard case .string(let s) = v, Self.isUUID(s) else { throw ImageSchema.mismatch("\(v.rendered) does not match the UUID pattern") }
            id = s.lowercased()
        }
        var image = Image(id: id, owner: owner, now: now)
        for (key, value) in body.sorted(by: { $0.key < $1.key }) where key != "id" {
            if ["created_at", "updated_at", "status", "checksum", "size", "virtual_size"].contains(key) {
                throw NimbusError.forbidden("Attribute '\(key)' is read-only.")
            }
            if key == "owner" { continue }
            if key == "os_hash_algo" || key == "os_hash_value" { continue }  // Glance ignores them
            if key == "locations" { throw NimbusError.forbidden("Attribute '\(key)' is reserved.") }
            if !Self.coreCreateKeys.contains(key) {
                guard key.count <= 255 else { throw NimbusError.badRequest("Custom property should not be greater than 255 characters.") }
                if Image.isReserved(key) { throw NimbusError.forbidden("Attribute '\(key)' is reserved.") }
                try Self.checkCustom(key, value)
            }
            try ImageSchema.set(key, value, on: &image, formats: settings.formats)
        }
        image.owner = owner
        try checkLimits(image)
        try await enforce(.countTotal, project: owner, delta: 1)
        try await repository.insert(image)
        return image
    }

    /// Glance's `schema-image.json` adds typed properties; values are checked against them.
    static func checkCustom(_ key: String, _ value: JSONValue) throws(NimbusError) {
        switch key {
        case "kernel_id", "ramdisk_id":
            if value == .null { return }
            guard case .string(let s) = value, isUUID(s) else { throw ImageSchema.mismatch("\(value.rendered) does not match the UUID pattern") }
        default: return
        }
    }

    static func isUUID(_ s: String) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        return parts.map(\.count) == [8, 4, 4, 4, 12] && parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    func checkLimits(_ image: Image) throws(NimbusError) {
        if image.tags.count > settings.tagLimit {
            throw NimbusError(.payloadTooLarge, "Image tag limit exceeded for image \(image.id): The limit has been exceeded on the number of allowed image tags. Attempted: \(image.tags.count), Maximum: \(settings.tagLimit)")
        }
        let props = image.properties.keys.filter { !$0.hasPrefix("os_glance") }.count
        if props > settings.propertyLimit {
            throw NimbusError(.payloadTooLarge, "The limit has been exceeded on the number of allowed image properties. Attempted: \(props), Maximum: \(settings.propertyLimit)")
        }
    }

    /// The image, if `caller` may see it, with the caller's member status; 404 otherwise.
    public func visible(_ id: String, caller: ImageCaller) async throws -> (Image, ImageMember.Status?) {
        guard let image = try await repository.get(id) else { throw NimbusError.notFound("No image found with ID \(id)") }
        var status: ImageMember.Status?
        if let p = caller.projectID, image.owner != p, image.visibility == .shared {
            status = try await repository.member(id, p)?.status
        }
        guard image.isVisible(to: caller, memberStatus: status) else { throw NimbusError.notFound("No image found with ID \(id)") }
        return (image, status)
    }

    /// One page of images, and whether a `next` link is due (Glance gives one whenever the
    /// page is full).
    public func list(_ listing: ImageListing, caller: ImageCaller) async throws -> (images: [Image], more: Bool) {
        var marker: Image?
        if let id = listing.marker {
            guard let m = try await repository.get(id) else { throw NimbusError.badRequest("No image found with ID \(id)") }
            var status: ImageMember.Status?
            if let p = caller.projectID, m.owner != p, m.visibility == .shared { status = try await repository.member(id, p)?.status }
            guard m.isVisible(to: caller, memberStatus: status) else { throw NimbusError.forbidden("You are not authorized to complete get_image action.") }
            marker = m
        }
        let page = try await repository.list(listing, caller: caller, marker: marker)
        return (page, listing.limit > 0 && page.count == listing.limit)
    }

    // MARK: changes

    public func update(_ image: Image, patch: ImagePatch, isAdmin: Bool, now: Date = Date()) async throws -> Image {
        var updated = try patch.apply(to: image, isAdmin: isAdmin, formats: settings.formats)
        if updated == image { return image }
        try checkLimits(updated)
        updated.updatedAt = max(now, image.updatedAt)
        try await save(updated, from: image.status)
        return updated
    }

    func save(_ image: Image, from status: ImageStatus) async throws {
        guard try await repository.save(image, expecting: status) else {
            throw NimbusError.conflict("The image changed while it was being updated; retry.")
        }
    }

    public func delete(_ image: Image) async throws {
        if image.protected { throw NimbusError.forbidden("Image \(image.id) is protected and cannot be deleted.") }
        var gone = image
        gone.status = .deleted
        gone.updatedAt = Date()
        try await save(gone, from: image.status)
        if let location = image.location { try? await store.delete(location: location) }
        if let staged = image.properties["os_glance_staged"] { try? await staging.delete(location: staged) }
    }

    public func addTag(_ image: Image, _ tag: String) async throws {
        guard tag.count <= 255 else { throw ImageSchema.mismatch("'\(tag)' is too long") }
        var updated = image
        updated.tags.insert(tag)
        try checkLimits(updated)
        updated.updatedAt = Date()
        try await save(updated, from: image.status)
    }

    public func removeTag(_ image: Image, _ tag: String) async throws {
        var updated = image
        guard updated.tags.remove(tag) != nil else { throw NimbusError.notFound("The resource could not be found.") }
        updated.updatedAt = Date()
        try await save(updated, from: image.status)
    }

    public func deactivate(_ image: Image) async throws {
        switch image.status {
        case .deactivated: return
        case .active: try await move(image, to: .deactivated)
        default: throw NimbusError.forbidden("Not allowed to deactivate image in status '\(image.status.rawValue)'")
        }
    }

    public func reactivate(_ image: Image) async throws {
        switch image.status {
        case .active: return
        case .deactivated: try await move(image, to: .active)
        default: throw NimbusError.forbidden("Not allowed to reactivate image in status '\(image.status.rawValue)'")
        }
    }

    func move(_ image: Image, to status: ImageStatus) async throws {
        var updated = image
        updated.status = status
        updated.updatedAt = Date()
        try await save(updated, from: image.status)
    }

    // MARK: data

    /// `PUT /v2/images/{id}/file`: queued → saving → active. On any failure the image goes back
    /// to `queued` with no data, so the upload can be retried.
    public func upload<S: AsyncSequence & Sendable>(_ image: Image, body: S, declaredSize: Int64?) async throws -> Image where S.Element == ByteBuffer {
        guard image.status == .queued else {
            throw NimbusError.conflict("Image status transition from \(image.status.rawValue) to saving is not allowed")
        }
        try Self.requireFormats(image)
        try await enforce(.sizeTotal, project: image.owner, delta: (declaredSize ?? 0) >> 20)
        try await enforce(.countUploading, project: image.owner, delta: 1)
        var saving = image
        saving.status = .saving
        saving.updatedAt = Date()
        try await save(saving, from: .queued)
        do {
            let stored = try await store.write(imageID: image.id, body: body, limit: try await uploadLimit(image, declaredSize: declaredSize))
            if let declaredSize, stored.size != declaredSize {
                try? await store.delete(location: stored.location)
                throw NimbusError.badRequest("The image data is \(stored.size) bytes, not the \(declaredSize) bytes declared.")
            }
            let active = await activated(saving, with: stored)
            guard try await repository.save(active, expecting: .saving) else {
                try? await store.delete(location: stored.location)
                throw NimbusError(.gone, "Image \(image.id) could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.")
            }
            return active
        } catch {
            var back = saving
            back.status = .queued
            back.size = nil
            back.virtualSize = nil
            back.updatedAt = Date()
            _ = try? await repository.save(back, expecting: .saving)
            throw error
        }
    }

    /// `image` made active with the data `stored` describes.
    func activated(_ image: Image, with stored: StoredImageData) async -> Image {
        var active = image
        active.status = .active
        active.location = stored.location
        active.size = stored.size
        active.checksum = stored.md5
        active.osHashAlgo = "sha512"
        active.osHashValue = stored.sha512
        active.virtualSize = try? await virtualSize(stored: stored, format: image.diskFormat)
        active.updatedAt = Date()
        return active
    }

    /// The most bytes an upload may bring: the size cap, the declared size, and what is left of
    /// the owner's `image_size_total` when limits are enforced.
    func uploadLimit(_ image: Image, declaredSize: Int64?) async throws -> Int64 {
        var limit = min(settings.sizeCap, declaredSize ?? settings.sizeCap)
        if let source = limitSource, let owner = image.owner {
            let total = try await source.limits(project: owner)[ImageQuota.sizeTotal.rawValue] ?? 0
            let used = try await usage(project: owner)[.sizeTotal] ?? 0
            limit = min(limit, max(0, total - used) << 20)
        }
        return limit
    }

    static func requireFormats(_ image: Image) throws(NimbusError) {
        let missing = [("disk_format", image.diskFormat), ("container_format", image.containerFormat)].filter { $0.1 == nil }.map(\.0)
        guard missing.isEmpty else {
            throw .badRequest(missing.count == 1 ? "Property \(missing[0]) must be set prior to saving data."
                                                 : "Properties \(missing.joined(separator: ", ")) must be set prior to saving data.")
        }
    }

    /// The guest-visible size: from the qcow2 header, or the byte size for raw images.
    func virtualSize(stored: StoredImageData, format: String?) async throws -> Int64? {
        guard stored.size > 0 else { return nil }
        switch format {
        case "raw", "iso": return stored.size
        case "qcow2":
            var header = [UInt8]()
            for try await chunk in try await store.read(location: stored.location, range: 0..<min(32, stored.size)) {
                header += chunk.readableBytesView
            }
            guard header.count >= 32, header[0..<4] == [0x51, 0x46, 0x49, 0xFB] else { return nil }
            return header[24..<32].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        default: return nil
        }
    }

    /// The bytes of an active image (nil: the image has no data, answered with 204).
    public func download(_ image: Image, range: Range<Int64>?) async throws -> ImageDataStream? {
        guard let location = image.location, image.status == .active || image.status == .deactivated else { return nil }
        return try await store.read(location: location, range: range)
    }

    // MARK: interoperable import

    /// `PUT /v2/images/{id}/stage`: queued → uploading, the data in the staging area.
    public func stage<S: AsyncSequence & Sendable>(_ image: Image, body: S) async throws where S.Element == ByteBuffer {
        guard settings.importMethods.contains("glance-direct") else {
            throw NimbusError.notFound("'glance-direct' method is not available at this site.")
        }
        guard image.status == .queued else {
            throw NimbusError.conflict("Image status transition from \(image.status.rawValue) to uploading is not allowed")
        }
        try await enforce(.stageTotal, project: image.owner, delta: 0)
        try await enforce(.countUploading, project: image.owner, delta: 1)
        var uploading = image
        uploading.status = .uploading
        uploading.updatedAt = Date()
        try await save(uploading, from: .queued)
        do {
            let stored = try await staging.write(imageID: image.id, body: body, limit: settings.sizeCap)
            var staged = uploading
            staged.size = stored.size
            staged.properties["os_glance_staged"] = stored.location
            guard try await repository.save(staged, expecting: .uploading) else {
                try? await staging.delete(location: stored.location)
                throw NimbusError(.gone, "Image \(image.id) could not be found after upload.")
            }
        } catch {
            var back = uploading
            back.status = .queued
            back.size = nil
            _ = try? await repository.save(back, expecting: .uploading)
            throw error
        }
    }

    /// `POST /v2/images/{id}/import` with glance-direct: checks, then (in the background) moves
    /// the staged data into the store, as Glance's import task does. Returns once the import is
    /// under way (the API answers 202).
    public func importStaged(_ image: Image) async throws {
        if image.status == .active { throw NimbusError.conflict("Image with status active cannot be target for import") }
        guard image.status == .uploading, let staged = image.properties["os_glance_staged"] else {
            throw NimbusError.conflict("Image needs to be staged before 'glance-direct' method can be used")
        }
        if image.containerFormat == nil { throw NimbusError.conflict("'container_format' needs to be set before import") }
        if image.diskFormat == nil { throw NimbusError.conflict("'disk_format' needs to be set before import") }
        var importing = image
        importing.status = .importing
        importing.properties["os_glance_importing_to_stores"] = ""
        importing.properties["os_glance_failed_import"] = ""
        importing.updatedAt = Date()
        try await save(importing, from: .uploading)
        Task { await self.finishImport(importing, staged: staged) }
    }

    func finishImport(_ image: Image, staged: String) async {
        do {
            let data = try await staging.read(location: staged, range: nil)
            let stored = try await store.write(imageID: image.id, body: data, limit: settings.sizeCap)
            var active = await activated(image, with: stored)
            active.properties["os_glance_staged"] = nil
            if try await repository.save(active, expecting: .importing) {
                try? await staging.delete(location: staged)
            } else {
                try? await store.delete(location: stored.location)
            }
        } catch {
            // As Glance: a failed glance-direct import leaves the image `importing`.
            logger.error("import of image \(image.id) failed: \(error)")
        }
    }

    // MARK: members

    public func addMember(_ image: Image, member: String) async throws -> ImageMember {
        guard image.visibility == .shared else { throw NimbusError.forbidden("Not allowed to create members for image \(image.id).") }
        let m = ImageMember(imageID: image.id, memberID: member, now: Date())
        try await repository.addMember(m, limit: settings.memberLimit)
        return m
    }

    public func updateMember(_ image: Image, _ member: ImageMember, status: ImageMember.Status) async throws -> ImageMember {
        guard image.visibility == .shared else { throw NimbusError.forbidden("Not allowed to update members for image \(image.id).") }
        var m = member
        m.status = status
        m.updatedAt = Date()
        try await repository.updateMember(m)
        return m
    }
}
