import Foundation
import NimbusCore

/// An image as Glance v2 keeps it: the core attributes, the free-form extra properties (strings
/// only) and the tags. `locations` are where the image's bytes are, one per store holding them
/// (never shown; the `stores` field names their stores).
public struct Image: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var status: ImageStatus = .queued
    public var visibility: Visibility = .shared
    public var protected = false
    public var osHidden = false
    public var checksum: String?
    public var osHashAlgo: String?
    public var osHashValue: String?
    public var size: Int64?
    public var virtualSize: Int64?
    public var minDisk: Int64 = 0
    public var minRam: Int64 = 0
    public var diskFormat: String?
    public var containerFormat: String?
    public var owner: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// Byte-distinct: `caf\u{E9}` and `cafe\u{301}` are two tags, as in Glance.
    public var tags: Set<Name> = []
    /// Extra properties, byte-keyed: `caf\u{E9}` and `cafe\u{301}` are two properties, as in Glance.
    public var properties: [Name: String] = [:]
    public var locations: [ImageLocation] = []

    public init(id: String, owner: String?, now: Date) {
        self.id = id
        self.owner = owner
        self.createdAt = now
        self.updatedAt = now
    }
}

/// A copy of an image's bytes: the store holding it and where in that store.
public struct ImageLocation: Sendable, Equatable {
    public var store: String
    public var url: String
    public init(store: String, url: String) { self.store = store; self.url = url }
}

extension Image {
    /// The ids of the stores holding the image's data, sorted (Glance orders them by store
    /// weight; every Nimbus store weighs 0).
    public var stores: [String] { Array(Set(locations.map(\.store))).sorted() }
}

public enum Visibility: String, Sendable, CaseIterable {
    case `public`, `private`, shared, community
}

/// Glance's status machine (`glance/domain/__init__.py`).
public enum ImageStatus: String, Sendable, CaseIterable {
    case queued, saving, uploading, importing, active, deactivated, killed, deleted
    case pendingDelete = "pending_delete"

    var targets: Set<ImageStatus> {
        switch self {
        case .queued: [.saving, .uploading, .importing, .active, .deleted]
        case .saving: [.active, .killed, .deleted, .queued]
        case .uploading: [.importing, .queued, .deleted]
        case .importing: [.active, .deleted, .queued]
        case .active: [.pendingDelete, .deleted, .deactivated]
        case .killed: [.deleted]
        case .pendingDelete: [.deleted, .active]
        case .deleted: []
        case .deactivated: [.active, .deleted]
        }
    }

    public func canMove(to next: ImageStatus) -> Bool { targets.contains(next) }
}

/// A project an image is shared with, and whether it accepted.
public struct ImageMember: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable { case pending, accepted, rejected }
    public var imageID: String
    public var memberID: String
    public var status: Status
    public var createdAt: Date
    public var updatedAt: Date

    public init(imageID: String, memberID: String, status: Status = .pending, now: Date) {
        self.init(imageID: imageID, memberID: memberID, status: status, created: now, updated: now)
    }

    public init(imageID: String, memberID: String, status: Status, created: Date, updated: Date) {
        self.imageID = imageID; self.memberID = memberID; self.status = status; self.createdAt = created; self.updatedAt = updated
    }
}

/// Who is asking, as far as image visibility goes.
public struct ImageCaller: Sendable {
    public var projectID: String?
    public var isAdmin: Bool
    public init(projectID: String?, isAdmin: Bool) { self.projectID = projectID; self.isAdmin = isAdmin }
}

extension Image {
    /// Core attributes a request may never set (`glance/domain` read-only list).
    static let readOnly: Set<String> = ["created_at", "updated_at", "status", "checksum", "size", "virtual_size", "os_hash_algo", "os_hash_value",
                                        "direct_url", "self", "file", "schema", "id", "stores"]
    /// Whether `key` names an extra property a client may set through a patch path: not a
    /// core, read-only or reserved attribute, also after the whitespace trimming that JSON
    /// pointer tokens get here (Nova's `/images/{id}/metadata` proxy writes keys as paths).
    public static func isSettableProperty(_ key: String) -> Bool {
        let trimmed = key.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.elementsEqual(key.utf8), !trimmed.isEmpty else { return false }
        return !ImageSchema.core.containsBytes(trimmed) && !readOnly.containsBytes(trimmed) && !isReserved(trimmed)
    }

    /// Keys no extra property may use.
    static func isReserved(_ key: String) -> Bool {
        // Python's `in` and `startswith`: code points (bytes), so `os_glance\u{301}…` is reserved too.
        ["location", "deleted", "deleted_at"].containsBytes(key) || key.hasBytePrefix("os_glance")
    }

    /// Whether `caller` may see this image at all (`glance/db/utils.py is_image_visible`):
    /// admins see everything; others see public and community images, their own, and shared
    /// images they are a member of (in any member status).
    public func isVisible(to caller: ImageCaller, memberStatus: ImageMember.Status?) -> Bool {
        if caller.isAdmin { return true }
        if visibility == .public || visibility == .community { return true }
        if let p = caller.projectID, owner == p { return true }
        return visibility == .shared && memberStatus != nil
    }
}
