import Foundation
import NimbusCore

/// An import task (`api_image_import`), as `GET /v2/images/{id}/tasks` shows it: created by
/// `POST /v2/images/{id}/import`, it moves `pending` → `processing` → `success` | `failure` and
/// expires 48 hours after it ends.
public struct ImageTask: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, processing, success, failure }
    public static let timeToLive: TimeInterval = 48 * 3600

    public var id: String
    public var imageID: String
    public var type = "api_image_import"
    public var status: Status = .pending
    public var owner: String?
    public var userID: String?
    public var requestID: String?
    /// `{"image_id", "import_req" (the request body verbatim), "backend" (the target stores)}`.
    public var input: JSONValue
    public var result: JSONValue?
    public var message = ""
    public var createdAt: Date
    public var updatedAt: Date
    public var expiresAt: Date?

    public init(id: String = Identifiers.uuid(), imageID: String, owner: String?, userID: String?, requestID: String?, input: JSONValue, now: Date) {
        self.id = id
        self.imageID = imageID
        self.owner = owner
        self.userID = userID
        self.requestID = requestID
        self.input = input
        self.createdAt = now
        self.updatedAt = now
    }

    public var isFinished: Bool { status == .success || status == .failure }

    /// Whether a lock held by this task may be broken (Glance's `_enforce_import_lock`): the
    /// task ended, or it has not moved for an hour (two while still pending).
    public func isStale(now: Date) -> Bool {
        isFinished || now.timeIntervalSince(updatedAt) >= (status == .pending ? 7200 : 3600)
    }
}

/// How an import reads its targets: the stores to write, and whether one failing fails it all.
public struct ImportRequest: Sendable, Equatable {
    public enum Method: String, Sendable { case glanceDirect = "glance-direct", copyImage = "copy-image" }
    public var method: Method
    public var stores: [String]
    public var allStoresMustSucceed: Bool
    public init(method: Method, stores: [String], allStoresMustSucceed: Bool) {
        self.method = method; self.stores = stores; self.allStoresMustSucceed = allStoresMustSucceed
    }
}
