import Foundation
import NIOCore
import NimbusCore

/// Reads image data from a URL for the deprecated `import` task (`POST /v2/tasks`). The
/// composition root supplies one only when the operator has allowed hosts to import from.
public protocol ImageURLFetcher: Sendable {
    /// Refuses (400) a URL this site will not fetch from.
    func check(_ url: URL) throws
    func fetch(_ url: URL, sizeCap: Int64) async throws -> AsyncThrowingStream<ByteBuffer, any Error>
}

/// The deprecated tasks API: `import` tasks that create an image from `image_properties` and
/// fill it from `import_from`. Tasks share the `image_tasks` table with the import tasks of
/// `POST /v2/images/{id}/import` (type `import` versus `api_image_import`).
extension ImageService {
    public static let legacyTaskTypes = ["import", "api_image_import", "location_import"]

    /// Checks a task request as Glance's deserializer and controller do, and returns the URL to
    /// import from.
    public func checkLegacyTask(_ body: JSONObject) throws -> (input: JSONObject, url: URL) {
        for key in ["type", "input"] where body[key] == nil { throw NimbusError.badRequest("Task '\(key)' is required") }
        guard case .string(let type)? = body["type"], Self.legacyTaskTypes.contains(type) else {
            throw NimbusError.badRequest("Provided object does not match schema 'task': \(body["type"]!.rendered) is not one of ['import', 'api_image_import', 'location_import']")
        }
        var input = JSONObject()
        switch body["input"]! {
        case .object(let o): input = o
        case .null: break
        case let v: throw NimbusError.badRequest("Provided object does not match schema 'task': \(v.rendered) is not of type 'null', 'object'")
        }
        guard type == "import" else {
            throw NimbusError.badRequest("Task type '\(type)' is run by the image import API (POST /v2/images/{image_id}/import), not by /v2/tasks.")
        }
        let from = input["import_from"]?.stringValue ?? ""
        guard !from.isEmpty else { throw NimbusError.badRequest("Invalid location: \(input["import_from"]?.rendered ?? "None")") }
        guard let url = URL(string: from), let scheme = url.scheme?.lowercased() else { throw NimbusError.badRequest("Invalid location: \(from)") }
        if scheme == "file" { throw NimbusError.badRequest("File based imports are not allowed. Please use a non-local source of image data.") }
        guard scheme == "http" || scheme == "https" else {
            throw NimbusError.badRequest("The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http', 'https']")
        }
        if let v = input["image_properties"], v.objectValue == nil {
            throw NimbusError.badRequest("Provided object does not match schema 'task': 'image_properties' must be an object")
        }
        if let v = input["import_from_format"], v.stringValue == nil {
            throw NimbusError.badRequest("Provided object does not match schema 'task': 'import_from_format' must be a string")
        }
        guard let fetcher = urlFetcher else {
            throw NimbusError.badRequest("URI for legacy import task does not pass filtering: \(from)")
        }
        try fetcher.check(url)
        return (input, url)
    }

    /// Records the task (pending) and runs it in the background.
    public func createLegacyTask(_ body: JSONObject, caller: ImportCaller) async throws -> ImageTask {
        let (input, url) = try checkLegacyTask(body)
        var task = ImageTask(imageID: "", owner: caller.projectID, userID: caller.userID, requestID: caller.requestID, input: .object(input), now: Date())
        task.type = "import"
        try await repository.insertTask(task)
        let started = task
        Task { await self.runLegacyTask(started, input: input, url: url) }
        return task
    }

    /// pending → processing → success (`result: {"image_id"}`) | failure (`message`).
    func runLegacyTask(_ start: ImageTask, input: JSONObject, url: URL) async {
        var task = start
        task.status = .processing
        task.updatedAt = Date()
        try? await repository.updateTask(task)
        var created: Image?
        do {
            guard let fetcher = urlFetcher else { throw NimbusError.badRequest("Importing from a URL is not enabled at this site.") }
            let image = try await create(input["image_properties"]?.objectValue ?? [:], owner: task.owner)
            created = image
            task.result = ["image_id": .string(image.id)]
            let stream = try await fetcher.fetch(url, sizeCap: settings.sizeCap)
            _ = try await upload(image, body: stream, declaredSize: nil)
            task.status = .success
        } catch {
            task.status = .failure
            task.message = (error as? NimbusError)?.message ?? "Image import failed: \(error)"
            if let created { try? await delete(created) }
            task.result = nil
            logger.info("legacy import task \(task.id) failed: \(error)")
        }
        task.updatedAt = Date()
        task.expiresAt = task.updatedAt.addingTimeInterval(ImageTask.timeToLive)
        try? await repository.updateTask(task)
    }

    /// `GET /v2/tasks`: filters `status` and `type`, `sort_key`/`sort_dir`, `marker`, `limit`.
    public struct TaskListing: Sendable {
        public var status: String?
        public var type: String?
        public var sortKey = "created_at"
        public var ascending = false
        public var marker: String?
        public var limit = 20
        public static let maxLimit = 1000
        static let sortKeys: Set<String> = ["created_at", "updated_at", "id", "status", "type", "owner", "expires_at"]

        public init(query: [(String, String)]) throws {
            for (k, v) in query {
                switch k {
                case "status":
                    guard ImageTask.Status(rawValue: v) != nil else { throw NimbusError.badRequest("Invalid status value: \(v)") }
                    status = v
                case "type":
                    guard v == "import" else { throw NimbusError.badRequest("Invalid type value: \(v)") }
                    type = v
                case "sort_key":
                    guard Self.sortKeys.contains(v) else { throw NimbusError.badRequest("Unsupported sort_key. Acceptable values: \(Self.sortKeys.sorted().joined(separator: ", "))") }
                    sortKey = v
                case "sort_dir":
                    guard v == "asc" || v == "desc" else { throw NimbusError.badRequest("Invalid sort direction: \(v)") }
                    ascending = v == "asc"
                case "marker":
                    guard ImageService.isUUID(v) else { throw NimbusError.badRequest("Invalid marker format") }
                    marker = v
                case "limit":
                    guard let n = Int(v) else { throw NimbusError.badRequest("limit param must be an integer") }
                    guard n >= 0 else { throw NimbusError.badRequest("limit param must be positive") }
                    limit = min(n, Self.maxLimit)
                default: continue
                }
            }
        }

        func key(_ t: ImageTask) -> String {
            switch sortKey {
            case "updated_at": String(format: "%020lld", Int64(t.updatedAt.timeIntervalSince1970))
            case "expires_at": t.expiresAt.map { String(format: "%020lld", Int64($0.timeIntervalSince1970)) } ?? ""
            case "id": t.id
            case "status": t.status.rawValue
            case "type": t.type
            case "owner": t.owner ?? ""
            default: String(format: "%020lld", Int64(t.createdAt.timeIntervalSince1970))
            }
        }
    }

    /// One page of the tasks the caller may see (admins: all; others: their project's) that have
    /// not expired, and whether there may be more.
    public func legacyTasks(_ l: TaskListing, caller: ImageCaller) async throws -> (page: [ImageTask], more: Bool) {
        var all = try await repository.allTasks(now: Date())
        if !caller.isAdmin { all = all.filter { $0.owner != nil && $0.owner!.sameBytes(as: caller.projectID ?? "") } }
        if let s = l.status { all = all.filter { $0.status.rawValue == s } }
        if let t = l.type { all = all.filter { $0.type == t } }
        all.sort { a, b in
            let x = l.key(a), y = l.key(b)
            if !x.sameBytes(as: y) { return l.ascending ? x.bytesPrecede(y) : y.bytesPrecede(x) }
            if a.createdAt != b.createdAt { return l.ascending ? a.createdAt < b.createdAt : a.createdAt > b.createdAt }
            return l.ascending ? a.id.bytesPrecede(b.id) : b.id.bytesPrecede(a.id)
        }
        if let marker = l.marker {
            guard let i = all.firstIndex(where: { $0.id == marker }) else { throw NimbusError.badRequest("Task with identifier \(marker) not found") }
            all.removeFirst(i + 1)
        }
        let page = Array(all.prefix(l.limit))
        return (page, !page.isEmpty && page.count == l.limit)
    }

    public func legacyTask(_ id: String, caller: ImageCaller) async throws -> ImageTask {
        guard let t = try await repository.task(id), t.expiresAt.map({ $0 > Date() }) ?? true,
              caller.isAdmin || (t.owner != nil && t.owner!.sameBytes(as: caller.projectID ?? "")) else {
            throw NimbusError.notFound("Could not find task \(id)")
        }
        return t
    }
}
