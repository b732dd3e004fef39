import Foundation
import NIOCore
import NimbusCore

/// Swift's legacy versioned writes: in a container with `X-Versions-Location` (stack mode) or
/// `X-History-Location`, an overwrite first copies the current object into the versions
/// container as `<name length, 3 hex digits><name>/<timestamp>`.
extension ObjectStorageService {
    public static func versionName(_ name: String, _ timestamp: String) -> String {
        String(format: "%03x", name.utf8.count) + name + "/" + timestamp
    }

    /// The object as readers see it: nil when missing or past its X-Delete-At.
    public func visibleObject(_ account: String, _ container: String, _ name: String) async throws -> ObjectRow? {
        guard let row = try await index.object(account, container, name) else { return nil }
        if let at = row.deleteAt, at <= Int(Date().timeIntervalSince1970) { return nil }
        return row
    }

    /// The versions (or history) container of `container`, if versioning is on.
    public func versionsContainer(of container: ContainerRow) -> String? {
        container.metadata["x-versions-location"] ?? container.metadata["x-history-location"]
    }

    /// Copies the current version of the object into `versions` before it is overwritten or
    /// deleted. DLO manifests are not archived, as in Swift.
    public func archive(account: String, container: String, name: String, into versions: String) async throws {
        guard let current = try await visibleObject(account, container, name), current.metadata["x-object-manifest"] == nil else { return }
        guard try await index.container(account, versions) != nil else {
            throw NimbusError.preconditionFailed("The versions container \(versions) does not exist.")
        }
        try await copy(current, toContainer: versions, name: Self.versionName(name, current.timestamp))
    }

    /// DELETE in a versioned container. Stack mode restores the newest archived version in
    /// place of the object; history mode archives the object and records a delete marker.
    /// Returns false when there was nothing to delete.
    public func versionedDelete(account: String, container: ContainerRow, name: String) async throws -> Bool {
        if let history = container.metadata["x-history-location"] {
            try await archive(account: account, container: container.name, name: name, into: history)
            guard try await delete(account: account, container: container.name, name: name) != nil else { return false }
            let marker = Upload(account: account, container: history, name: Self.versionName(name, timestamp()),
                                contentType: "application/x-deleted;swift_versions_deleted=1", metadata: [:], contentLength: 0)
            _ = try? await put(marker, body: Pieces(pieces: [], service: self))
            return true
        }
        if let versions = container.metadata["x-versions-location"], try await index.container(account, versions) != nil {
            var q = ListingQuery()
            q.prefix = String(format: "%03x", name.utf8.count) + name + "/"
            q.reverse = true
            q.limit = 1
            if case .row(let newest)? = try await index.listObjects(account, versions, q).first {
                try await copy(newest, toContainer: container.name, name: name)
                try await delete(account: account, container: versions, name: newest.name, onlyTimestamp: newest.timestamp)
                return true
            }
        }
        return try await delete(account: account, container: container.name, name: name) != nil
    }
}
