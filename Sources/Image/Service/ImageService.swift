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
    public let stores: ImageStores
    let staging: any ImageDataStore
    public let settings: ImageSettings
    /// Unified limits (Glance's `use_keystone_limits`); nil: not enforced.
    let limitSource: (any ImageLimitSource)?
    let logger: Logger
    /// Fetches `import_from` URLs for the deprecated `import` task; nil: such tasks are refused.
    let urlFetcher: (any ImageURLFetcher)?

    public init(repository: ImageRepository, stores: ImageStores, staging: any ImageDataStore, settings: ImageSettings,
                limits: (any ImageLimitSource)? = nil, urlFetcher: (any ImageURLFetcher)? = nil, logger: Logger) {
        self.urlFetcher = urlFetcher
        self.repository = repository
        self.stores = stores
        self.staging = staging
        self.settings = settings
        self.limitSource = limits
        self.logger = logger
    }

    static let coreCreateKeys = ImageSchema.core.union(["id"])

    // MARK: create and read

    /// `POST /v2/images`. `owner` is the project the image will belong to.
    public func create(_ body: JSONObject, owner: String?, now: Date = Date()) async throws -> Image {
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
                guard key.scalarCount <= 255 else { throw NimbusError.badRequest("Custom property should not be greater than 255 characters.") }
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
        let parts = s.splitBytes("-", omittingEmpty: false)
        return parts.map(\.count) == [8, 4, 4, 4, 12] && parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    func checkLimits(_ image: Image) throws(NimbusError) {
        try Self.checkLimits(image, tagLimit: settings.tagLimit, propertyLimit: settings.propertyLimit)
    }

    static func checkLimits(_ image: Image, tagLimit: Int, propertyLimit: Int) throws(NimbusError) {
        if image.tags.count > tagLimit {
            throw NimbusError(.payloadTooLarge, "Image tag limit exceeded for image \(image.id): The limit has been exceeded on the number of allowed image tags. Attempted: \(image.tags.count), Maximum: \(tagLimit)")
        }
        let props = image.properties.keys.filter { !$0.string.hasBytePrefix("os_glance") }.count
        if props > propertyLimit {
            throw NimbusError(.payloadTooLarge, "The limit has been exceeded on the number of allowed image properties. Attempted: \(props), Maximum: \(propertyLimit)")
        }
    }

    /// The image, if `caller` may see it, with the caller's member status; 404 otherwise.
    public func visible(_ id: String, caller: ImageCaller) async throws -> (Image, ImageMember.Status?) {
        guard let image = try await repository.get(id) else { throw NimbusError.notFound("No image found with ID \(id)") }
        let status = try await memberStatus(image, caller)
        guard image.isVisible(to: caller, memberStatus: status) else { throw NimbusError.notFound("No image found with ID \(id)") }
        return (image, status)
    }

    /// The caller's member status for a shared image of another project (nil otherwise).
    func memberStatus(_ image: Image, _ caller: ImageCaller) async throws -> ImageMember.Status? {
        guard let p = caller.projectID, image.owner != p, image.visibility == .shared else { return nil }
        return try await repository.member(image.id, p)?.status
    }

    /// The members of a shared image `caller` may see: all of them for the owner and admins, the
    /// caller's own row for a member project.
    public func members(of image: Image, caller: ImageCaller) async throws -> [ImageMember] {
        guard image.visibility == .shared else {
            throw NimbusError.forbidden("Not allowed to list members for image \(image.id): Only shared images have members.")
        }
        let members = try await repository.members(of: image.id)
        return caller.isAdmin || image.owner == caller.projectID ? members : members.filter { $0.memberID == caller.projectID }
    }

    /// One page of images, and whether a `next` link is due (Glance gives one whenever the
    /// page is full).
    public func list(_ listing: ImageListing, caller: ImageCaller) async throws -> (images: [Image], more: Bool) {
        var marker: Image?
        if let id = listing.marker {
            guard let m = try await repository.get(id) else { throw NimbusError.badRequest("No image found with ID \(id)") }
            guard m.isVisible(to: caller, memberStatus: try await memberStatus(m, caller)) else { throw NimbusError.forbidden("You are not authorized to complete get_image action.") }
            marker = m
        }
        let page = try await repository.list(listing, caller: caller, marker: marker)
        return (page, listing.limit > 0 && page.count == listing.limit)
    }

    // MARK: changes

    /// Applies `change` to the current row in one transaction; 404 if the image is gone.
    @discardableResult
    func modify(_ id: String, _ change: @escaping @Sendable (inout Image) throws -> Void) async throws -> Image {
        guard let image = try await repository.modify(id, change) else { throw NimbusError.notFound("No image found with ID \(id)") }
        return image
    }

    /// A JSON patch, applied to the image as it is when the change commits.
    public func update(_ image: Image, patch: ImagePatch, isAdmin: Bool) async throws -> Image {
        let formats = settings.formats
        let (tagLimit, propertyLimit) = (settings.tagLimit, settings.propertyLimit)
        return try await modify(image.id) { current in
            let updated = try patch.apply(to: current, isAdmin: isAdmin, formats: formats)
            guard updated != current else { return }
            try Self.checkLimits(updated, tagLimit: tagLimit, propertyLimit: propertyLimit)
            current = updated
            current.updatedAt = Date()
        }
    }

    public func delete(_ image: Image) async throws {
        let gone = try await modify(image.id) { current in
            if current.protected { throw NimbusError.forbidden("Image \(current.id) is protected and cannot be deleted.") }
            current.status = .deleted
            current.updatedAt = Date()
        }
        await deleteData(gone.locations)
        if let staged = gone.properties["os_glance_staged"] { try? await staging.delete(location: staged) }
    }

    public func addTag(_ image: Image, _ tag: String) async throws {
        guard tag.scalarCount <= 255 else { throw ImageSchema.mismatch("'\(tag)' is too long") }
        let (tagLimit, propertyLimit) = (settings.tagLimit, settings.propertyLimit)
        try await modify(image.id) { current in
            current.tags.insert(Name(tag))
            try Self.checkLimits(current, tagLimit: tagLimit, propertyLimit: propertyLimit)
            current.updatedAt = Date()
        }
    }

    public func removeTag(_ image: Image, _ tag: String) async throws {
        try await modify(image.id) { current in
            guard current.tags.remove(Name(tag)) != nil else { throw NimbusError.notFound("The resource could not be found.") }
            current.updatedAt = Date()
        }
    }

    public func deactivate(_ image: Image) async throws {
        try await modify(image.id) { current in
            switch current.status {
            case .deactivated: return
            case .active: current.status = .deactivated; current.updatedAt = Date()
            default: throw NimbusError.forbidden("Not allowed to deactivate image in status '\(current.status.rawValue)'")
            }
        }
    }

    public func reactivate(_ image: Image) async throws {
        try await modify(image.id) { current in
            switch current.status {
            case .active: return
            case .deactivated: current.status = .active; current.updatedAt = Date()
            default: throw NimbusError.forbidden("Not allowed to reactivate image in status '\(current.status.rawValue)'")
            }
        }
    }

    /// Moves the image from `from` to `to` (409 from any other status), changing only what
    /// `change` sets besides.
    @discardableResult
    func transition(_ id: String, from: ImageStatus, to: ImageStatus, _ change: @escaping @Sendable (inout Image) -> Void = { _ in }) async throws -> Image {
        try await modify(id) { current in
            guard current.status == from else {
                throw NimbusError.conflict("Image status transition from \(current.status.rawValue) to \(to.rawValue) is not allowed")
            }
            current.status = to
            change(&current)
            current.updatedAt = Date()
        }
    }

    // MARK: data

    /// `PUT /v2/images/{id}/file`: queued → saving → active, the data in `storeID` (the default
    /// store when nil). On any failure the image goes back to `queued` with no data, so the
    /// upload can be retried.
    public func upload<S: AsyncSequence & Sendable>(_ image: Image, body: S, declaredSize: Int64?, storeID: String? = nil) async throws -> Image where S.Element == ByteBuffer {
        let store = try stores.require(storeID ?? stores.defaultID)
        guard image.status == .queued else {
            throw NimbusError.conflict("Image status transition from \(image.status.rawValue) to saving is not allowed")
        }
        try Self.requireFormats(image)
        if let declaredSize, declaredSize > settings.sizeCap {
            throw NimbusError(.payloadTooLarge, "The incoming image is too large: the limit is \(settings.sizeCap) bytes.")
        }
        try await enforce(.sizeTotal, project: image.owner, delta: (declaredSize ?? 0) >> 20)
        try await enforce(.countUploading, project: image.owner, delta: 1)
        try await transition(image.id, from: .queued, to: .saving)
        do {
            let stored = try await store.write(imageID: image.id, body: body, limit: try await uploadLimit(image, declaredSize: declaredSize))
            if let declaredSize, stored.size != declaredSize {
                try? await store.delete(location: stored.location)
                throw NimbusError.badRequest("The image data is \(stored.size) bytes, not the \(declaredSize) bytes declared.")
            }
            let data = await dataFields(stored, in: store, format: image.diskFormat)
            do {
                return try await transition(image.id, from: .saving, to: .active, data)
            } catch {
                // Deleted (or changed) during the upload: the data goes.
                try? await store.delete(location: stored.location)
                throw NimbusError(.gone, "Image \(image.id) could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.")
            }
        } catch {
            _ = try? await transition(image.id, from: .saving, to: .queued) { $0.size = nil; $0.virtualSize = nil }
            throw error
        }
    }

    /// What storing `stored` (the image's first copy) sets on an image.
    func dataFields(_ stored: StoredImageData, in store: any ImageDataStore, format: String?) async -> @Sendable (inout Image) -> Void {
        let virtual = try? await virtualSize(stored: stored, in: store, format: format)
        let location = ImageLocation(store: store.id, url: stored.location)
        return { i in
            i.locations = [location]
            i.size = stored.size
            i.checksum = stored.md5
            i.osHashAlgo = "sha512"
            i.osHashValue = stored.sha512
            i.virtualSize = virtual ?? nil
        }
    }

    /// The most bytes an upload (or, with `.stageTotal`, a stage) may bring: the size cap, the
    /// declared size, and what is left of the owner's `quota` when limits are enforced.
    func uploadLimit(_ image: Image, declaredSize: Int64?, quota: ImageQuota = .sizeTotal) async throws -> Int64 {
        var limit = min(settings.sizeCap, declaredSize ?? settings.sizeCap)
        if let source = limitSource, let owner = image.owner {
            let total = try await source.limits(project: owner)[quota.rawValue] ?? 0
            if total >= 0 {
                let used = try await usage(project: owner)[quota] ?? 0
                let (bytes, overflow) = max(0, total - used).multipliedReportingOverflow(by: 1 << 20)
                limit = min(limit, overflow ? Int64.max : bytes)
            }
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
    func virtualSize(stored: StoredImageData, in store: any ImageDataStore, format: String?) async throws -> Int64? {
        guard stored.size > 0 else { return nil }
        switch format {
        case "raw", "iso": return stored.size
        case "qcow2":
            var header = [UInt8]()
            for try await chunk in try await store.read(location: stored.location, range: 0..<min(32, stored.size)) {
                header += chunk.readableBytesView
            }
            guard header.count >= 32, header[0..<4] == [0x51, 0x46, 0x49, 0xFB] else { return nil }
            let v = header[24..<32].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return v > UInt64(Int64.max) ? nil : Int64(v)
        default: return nil
        }
    }

    /// The bytes of an active image (nil: the image has no data, answered with 204), from the
    /// first of its stores that has them, the `prefer`red stores first.
    public func download(_ image: Image, range: Range<Int64>?, prefer: [String] = []) async throws -> ImageDataStream? {
        guard !image.locations.isEmpty, image.status == .active || image.status == .deactivated else { return nil }
        var failure: (any Error)?
        let ordered = image.locations.filter { prefer.contains($0.store) } + image.locations.filter { !prefer.contains($0.store) }
        for location in ordered {
            guard let store = stores[location.store] else { continue }
            do { return try await store.read(location: location.url, range: range) } catch { failure = error }
        }
        throw failure ?? NimbusError.notFound("Image data not found in the store.")
    }

    /// Removes stored copies (best effort: a copy that cannot be removed stays as garbage).
    func deleteData(_ locations: [ImageLocation]) async {
        for location in locations {
            do { try await stores[location.store]?.delete(location: location.url) } catch {
                logger.warning("could not delete image data at \(location.url): \(error)")
            }
        }
    }

    /// `DELETE /v2/stores/{store}/{image}`: drops the image's copy in one store.
    public func deleteFromStore(_ image: Image, storeID: String) async throws {
        guard stores.multiple else { throw NimbusError.notFound("The resource could not be found.") }
        guard stores[storeID] != nil else { throw NimbusError.conflict("The selected store \(storeID) is not available on this node.") }
        let removed = (try await repository.get(image.id))?.locations.filter { $0.store == storeID } ?? []
        try await modify(image.id) { current in
            guard current.status == .active else {
                throw NimbusError.conflict("It's not allowed to remove image data from store if image status is not 'active'")
            }
            guard current.locations.count > 1 else {
                throw NimbusError.forbidden("Cannot delete image data from the only store containing it. Consider deleting the image instead.")
            }
            guard current.locations.contains(where: { $0.store == storeID }) else { throw NimbusError.notFound("Image \(image.id) is not stored in store \(storeID).") }
            guard current.locations.filter({ $0.store == storeID }) == removed else {
                throw NimbusError.conflict("Image \(image.id) changed meanwhile; try again.")
            }
            current.locations.removeAll { $0.store == storeID }
            current.updatedAt = Date()
        }
        await deleteData(removed)
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
        let limit = try await uploadLimit(image, declaredSize: nil, quota: .stageTotal)
        try await transition(image.id, from: .queued, to: .uploading)
        do {
            let stored = try await staging.write(imageID: image.id, body: body, limit: limit)
            do {
                try await modify(image.id) { current in
                    guard current.status == .uploading else { throw NimbusError(.gone, "Image \(image.id) could not be found after upload.") }
                    current.size = stored.size
                    current.properties["os_glance_staged"] = stored.location
                }
            } catch {
                try? await staging.delete(location: stored.location)
                throw error
            }
        } catch {
            _ = try? await transition(image.id, from: .uploading, to: .queued) { $0.size = nil }
            throw error
        }
    }

    /// The stores an import request names (Glance's `get_stores_from_request`): `all_stores`,
    /// else the `stores` list, else the `X-Image-Meta-Store` header, else the default store.
    /// In single-store mode, always the one store.
    public func importTargets(body: JSONObject, header: String?) throws(NimbusError) -> [String] {
        guard stores.multiple else { return [stores.defaultID] }
        var targets: [String]
        if body["all_stores"]?.boolValue == true {
            if body["stores"] != nil || header != nil {
                throw .badRequest("All_stores parameter can't be used with x-image-meta-store header or stores parameter")
            }
            targets = stores.ids
        } else if let list = body["stores"] {
            if header != nil { throw .badRequest("Stores parameter and x-image-meta-store header can't be both specified") }
            let ids = list.arrayValue?.compactMap(\.stringValue) ?? []
            guard !ids.isEmpty, ids.count == list.arrayValue?.count else {
                throw .badRequest("'stores' must be a non-empty list of store identifiers")
            }
            targets = ids
        } else {
            targets = [header ?? stores.defaultID]
        }
        for id in targets where stores[id] == nil { throw .conflict("Unknown scheme '\(id)' found in URI") }
        var seen = Set<String>()
        return targets.filter { seen.insert($0).inserted }
    }

    /// Who asked for an import, for its task record.
    public struct ImportCaller: Sendable {
        public var projectID: String?
        public var userID: String?
        public var requestID: String?
        public init(projectID: String?, userID: String?, requestID: String?) {
            self.projectID = projectID; self.userID = userID; self.requestID = requestID
        }
    }

    /// Whether the image's status and formats allow an import by `method` (Glance checks this
    /// before the policy, so these 409s come first).
    public static func checkImportable(_ image: Image, _ method: ImportRequest.Method) throws(NimbusError) {
        switch method {
        case .glanceDirect:
            if image.status == .active { throw .conflict("Image with status active cannot be target for import") }
            guard image.status == .uploading, image.properties["os_glance_staged"] != nil else {
                throw .conflict("Image needs to be staged before 'glance-direct' method can be used")
            }
        case .copyImage:
            guard image.status == .active else { throw .conflict("Only images with status active can be targeted for copying") }
        }
        if image.containerFormat == nil { throw .conflict("'container_format' needs to be set before import") }
        if image.diskFormat == nil { throw .conflict("'disk_format' needs to be set before import") }
    }

    /// `POST /v2/images/{id}/import` after the request is parsed and authorized: checks the
    /// image, takes the import lock (`os_glance_import_task`) and starts the task, which runs in
    /// the background as Glance's does. Returns the task, or nil when a copy had nothing left
    /// to do (the API answers 202 either way).
    @discardableResult
    public func startImport(_ image: Image, _ request: ImportRequest, body: JSONValue, allStores: Bool, caller: ImportCaller) async throws -> ImageTask? {
        var targets = request.stores
        try Self.checkImportable(image, request.method)
        let now = Date()
        var staleLock: String?
        if let held = image.properties["os_glance_import_task"] {
            if let task = try await repository.task(held), !task.isStale(now: now) {
                throw NimbusError.conflict("Image has active task")
            }
            staleLock = held
        }
        if request.method == .copyImage {
            let present = Set(image.locations.map(\.store))
            if allStores {
                targets.removeAll { present.contains($0) }
                if targets.isEmpty { return nil }
            } else if let there = targets.first(where: { present.contains($0) }) {
                throw NimbusError.badRequest("Image is already present at store '\(there)'")
            }
        }
        try await enforce(.sizeTotal, project: image.owner, delta: (image.size ?? 0) >> 20)
        let backend: JSONValue = stores.multiple ? .array(targets.map { .string($0) }) : .array([.null])
        let task = ImageTask(imageID: image.id, owner: caller.projectID, userID: caller.userID, requestID: caller.requestID,
                             input: ["image_id": .string(image.id), "import_req": body, "backend": backend], now: now)
        try await repository.insertTask(task)
        let (multiple, method) = (stores.multiple, request.method)
        let (importing, lockSeen) = (targets, staleLock)
        do {
            try await modify(image.id) { current in
                guard current.properties["os_glance_import_task"] == lockSeen else {
                    throw NimbusError.conflict("New operation on image '\(image.id)' is not permitted as prior operation is still in progress")
                }
                if method == .glanceDirect {
                    guard current.status == .uploading else {
                        throw NimbusError.conflict("Image needs to be staged before 'glance-direct' method can be used")
                    }
                    current.status = .importing
                } else {
                    guard current.status == .active else { throw NimbusError.conflict("Only images with status active can be targeted for copying") }
                }
                current.properties["os_glance_import_task"] = task.id
                let failed = Set((current.properties["os_glance_failed_import"] ?? "").splitBytes(",").map(String.init)).subtracting(importing)
                current.properties["os_glance_importing_to_stores"] = multiple ? importing.sorted().joined(separator: ",") : ""
                current.properties["os_glance_failed_import"] = failed.sorted().joined(separator: ",")
                current.updatedAt = Date()
            }
        } catch {
            var t = task
            t.status = .failure
            t.message = "\(error)"
            t.updatedAt = Date()
            t.expiresAt = t.updatedAt.addingTimeInterval(ImageTask.timeToLive)
            try? await repository.updateTask(t)
            throw error
        }
        let run = ImportRequest(method: request.method, stores: targets, allStoresMustSucceed: request.allStoresMustSucceed)
        Task { await self.runImport(task, run) }
        return task
    }

    /// The import task: writes the data (the staged file, or for copy-image the image's current
    /// bytes) into each target store in turn, recording each copy as it lands. A glance-direct
    /// image becomes active after the last store, or after the first when not every store must
    /// succeed. Drops the lock at the end.
    func runImport(_ task: ImageTask, _ request: ImportRequest) async {
        var task = task
        task.status = .processing
        task.updatedAt = Date()
        try? await repository.updateTask(task)
        let (id, taskID) = (task.imageID, task.id)
        var failure: String?
        var succeeded = 0
        for (index, storeID) in request.stores.enumerated() {
            do {
                guard let image = try await repository.get(id) else { failure = "Image \(id) was deleted during the import."; break }
                if image.locations.contains(where: { $0.store == storeID }) { succeeded += 1; continue }  // resumed after a crash
                guard let store = stores[storeID] else { throw NimbusError.conflict("Unknown scheme '\(storeID)' found in URI") }
                let source: ImageDataStream
                switch request.method {
                case .glanceDirect:
                    guard let staged = image.properties["os_glance_staged"] else { throw NimbusError.conflict("The staged data of image \(id) is gone.") }
                    source = try await staging.read(location: staged, range: nil)
                case .copyImage:
                    guard let s = try await download(image, range: nil) else { throw NimbusError.conflict("Image \(id) has no data to copy.") }
                    source = s
                }
                let stored = try await store.write(imageID: id, body: source, limit: settings.sizeCap)
                if let size = image.size, stored.size != size {
                    try? await store.delete(location: stored.location)
                    throw NimbusError.badRequest("Image size mismatch: the data is \(stored.size) bytes, the image \(size).")
                }
                if let md5 = image.checksum, stored.md5 != md5 {
                    try? await store.delete(location: stored.location)
                    throw NimbusError.badRequest("Image checksum mismatch in store \(storeID).")
                }
                let first = image.locations.isEmpty ? await dataFields(stored, in: store, format: image.diskFormat) : nil
                let activate = request.method == .glanceDirect && (!request.allStoresMustSucceed || index == request.stores.count - 1)
                let location = ImageLocation(store: storeID, url: stored.location)
                do {
                    try await modify(id) { current in
                        guard current.properties["os_glance_import_task"] == taskID else {
                            throw NimbusError.conflict("The import lock of image \(id) was taken over.")
                        }
                        if let first, current.locations.isEmpty { first(&current) } else { current.locations.append(location) }
                        Self.dropTarget(storeID, from: &current)
                        if activate && current.status == .importing { current.status = .active }
                        current.updatedAt = Date()
                    }
                } catch {
                    try? await store.delete(location: stored.location)
                    throw error
                }
                succeeded += 1
            } catch {
                logger.error("import of image \(id) into store \(storeID) failed: \(error)")
                _ = try? await modify(id) { current in
                    Self.dropTarget(storeID, from: &current)
                    if request.allStoresMustSucceed || request.stores.count == 1 { current.properties["os_glance_importing_to_stores"] = "" }
                    var failed = Set((current.properties["os_glance_failed_import"] ?? "").splitBytes(",").map(String.init))
                    if self.stores.multiple { failed.insert(storeID) }
                    current.properties["os_glance_failed_import"] = failed.sorted().joined(separator: ",")
                    current.updatedAt = Date()
                }
                if request.allStoresMustSucceed {
                    failure = (error as? NimbusError)?.message ?? "Task failed due to Internal Error"
                    break
                }
            }
        }
        if failure == nil && succeeded == 0 { failure = "The image could not be imported into any store." }
        task.status = failure == nil ? .success : .failure
        task.message = failure ?? ""
        task.result = failure == nil ? ["image_id": .string(id)] : nil
        task.updatedAt = Date()
        task.expiresAt = task.updatedAt.addingTimeInterval(ImageTask.timeToLive)
        try? await repository.updateTask(task)
        // The end: staged data goes once it is in a store; the lock is dropped either way.
        let staged = try? await repository.get(id)?.properties["os_glance_staged"]
        let succeeds = failure == nil
        let done = try? await modify(id) { current in
            guard current.properties["os_glance_import_task"] == taskID else { return }
            current.properties["os_glance_import_task"] = nil
            // A failed glance-direct import leaves the image `importing`, as in Glance.
            if request.method == .glanceDirect && succeeds {
                current.properties["os_glance_staged"] = nil
                if current.status == .importing { current.status = .active }
            }
            current.updatedAt = Date()
        }
        if request.method == .glanceDirect, succeeds, done != nil, let staged = staged ?? nil { try? await staging.delete(location: staged) }
    }

    static func dropTarget(_ store: String, from image: inout Image) {
        let left = (image.properties["os_glance_importing_to_stores"] ?? "").splitBytes(",").map(String.init).filter { $0 != store }
        image.properties["os_glance_importing_to_stores"] = left.joined(separator: ",")
    }

    /// The image's import tasks the caller may see (admins: all; others: their project's).
    public func tasks(of image: Image, caller: ImageCaller) async throws -> [ImageTask] {
        let all = try await repository.tasks(of: image.id, now: Date())
        return caller.isAdmin ? all : all.filter { $0.owner == caller.projectID }
    }

    // MARK: recovery

    /// Deletes data no image records: bytes stored just before a crash cut off the update that
    /// would have named them, and staged files of images that are gone. Returns how many.
    func sweepUnrecordedData(_ images: [Image]) async -> Int {
        var named = Set(images.flatMap { $0.locations.map(\.url) })
        named.formUnion(images.compactMap { $0.properties["os_glance_staged"] })
        var n = 0
        for store in stores.entries.map(\.store) + [staging] {
            guard let held = try? await store.storedLocations() else { continue }
            for url in held where !named.contains(url) {
                do {
                    try await store.delete(location: url)
                    logger.info("removed image data no image names: \(url)")
                    n += 1
                } catch {
                    logger.warning("could not remove unrecorded image data \(url): \(error)")
                }
            }
        }
        return n
    }

    /// Run once at start, when no upload or import of this process can be in flight: images a
    /// crash left `saving` go back to `queued` (their partial data was never installed);
    /// `uploading` images whose staging did not finish go back to `queued`; interrupted import
    /// tasks resume (stores that already got their copy are skipped). Returns how many images
    /// were touched.
    @discardableResult
    public func recover() async throws -> Int {
        var n = 0
        var resumed = Set<String>()
        for task in try await repository.unfinishedTasks() {
            guard let image = try await repository.get(task.imageID), image.properties["os_glance_import_task"] == task.id,
                  case .object(let input) = task.input, case .object(let req)? = input["import_req"],
                  case .object(let method)? = req["method"], let name = method["name"]?.stringValue,
                  let m = ImportRequest.Method(rawValue: name) else {
                var t = task
                t.status = .failure
                t.message = "Interrupted by a restart."
                t.updatedAt = Date()
                t.expiresAt = t.updatedAt.addingTimeInterval(ImageTask.timeToLive)
                try await repository.updateTask(t)
                continue
            }
            var targets = [String]()
            if case .array(let b)? = input["backend"] { targets = b.compactMap(\.stringValue) }
            if targets.isEmpty { targets = [stores.defaultID] }
            let mustSucceed = req["all_stores_must_succeed"]?.boolValue ?? true
            Task { await self.runImport(task, ImportRequest(method: m, stores: targets, allStoresMustSucceed: mustSucceed)) }
            resumed.insert(image.id)
            n += 1
        }
        let images = try await repository.all()
        n += await sweepUnrecordedData(images)
        for image in images where !resumed.contains(image.id) {
            switch image.status {
            case .saving:
                _ = try? await transition(image.id, from: .saving, to: .queued) { $0.size = nil; $0.virtualSize = nil }
                n += 1
            case .uploading where image.properties["os_glance_staged"] == nil:
                _ = try? await transition(image.id, from: .uploading, to: .queued) { $0.size = nil }
                n += 1
            case .importing where image.properties["os_glance_staged"] != nil && image.properties["os_glance_import_task"] == nil:
                // Imported by a version without task records: resume into the default store.
                let task = ImageTask(imageID: image.id, owner: image.owner, userID: nil, requestID: nil,
                                     input: ["image_id": .string(image.id), "import_req": ["method": ["name": "glance-direct"]], "backend": [.string(stores.defaultID)]],
                                     now: Date())
                try await repository.insertTask(task)
                try await modify(image.id) { $0.properties["os_glance_import_task"] = task.id }
                Task { await self.runImport(task, ImportRequest(method: .glanceDirect, stores: [self.stores.defaultID], allStoresMustSucceed: true)) }
                n += 1
            default: break
            }
        }
        return n
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
