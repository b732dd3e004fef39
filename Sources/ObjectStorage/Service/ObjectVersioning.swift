import Foundation
import NIOCore
import NimbusCore

/// How a container versions its objects (Swift's object_versioning middleware,
/// `X-Versions-Enabled`).
public enum Versioning: Sendable, Equatable {
    /// Never enabled (or the cluster does not allow it): writes replace objects.
    case never
    /// Every PUT, COPY or POST-created object is a new version; a DELETE writes a delete marker.
    case enabled
    /// Enabled once, now off: versions stay and can be read, promoted and deleted; writes
    /// replace the plain (`null`) object, and a DELETE removes the current object only.
    case suspended
}

extension ObjectStorageService {
    public func versioning(of container: ContainerRow) -> Versioning {
        guard settings.allowObjectVersioning, container.metadata[ObjectIndex.versionsContainerKey] != nil else { return .never }
        return container.metadata[ObjectIndex.versionsEnabledKey].map { $0.sameBytes(as: "True") } == true ? .enabled : .suspended
    }

    /// Where version `id` of an object keeps its files: where Swift keeps the version object
    /// (`/<account>/\0versions\0<container>/\0<name>\0<inverted id>`), so that every version
    /// has a hash of its own and no replacement of another version (or of the plain object)
    /// ever touches its files.
    /// The versions container has its container's storage policy, as Swift makes it.
    func versionPlacement(account: String, container: String, name: String, id: String, policy: Int) throws(NimbusError) -> Placement {
        let c = "\u{0}versions\u{0}" + container, o = "\u{0}" + name + "\u{0}" + ObjectIndex.versionKey(id)
        let (part, hash) = try location(account: account, container: c, object: o, policy: policy)
        return Placement(part: part, hash: hash, path: "/\(account)/\(c)/\(o)", policy: policy)
    }

    /// Commits are retried at most this often when a plain object must be archived first and
    /// keeps changing meanwhile.
    static let maxVersionCommitAttempts = 3

    /// A PUT into a container with versioning on: the bytes are stored as a new version (id:
    /// the write's timestamp, no X-Delete-At: that stays with the object's current row, as
    /// Swift's versions symlink keeps it) and the object then shows it. Returns the object's
    /// current row as this write made it.
    func putVersion<S: AsyncSequence>(_ u: Upload, body: S, policy: Int) async throws -> ObjectRow where S.Element == ByteBuffer {
        let ts = timestamp()
        let place = try versionPlacement(account: u.account, container: u.container, name: u.name, id: VersionID.of(timestamp: ts), policy: policy)
        var data = u
        data.deleteAt = nil
        var version = try await store(data, at: place, timestamp: ts, body: body)
        version.versionID = VersionID.of(timestamp: ts)
        version.isVersionRecord = true
        do {
            _ = try await commitVersion(version, marker: false, deleteAt: u.deleteAt)
        } catch {
            Task { await self.removeVersion(place, timestamp: ts) }
            throw error
        }
        var shown = version
        shown.isVersionRecord = false
        shown.deleteAt = u.deleteAt
        return shown
    }

    /// Commits a new version or delete marker; a plain current object it replaces is archived
    /// first (copied to its version's place), as Swift's `_copy_current` does. Returns the
    /// current row before the write.
    func commitVersion(_ v: ObjectRow, marker: Bool, deleteAt: Int?) async throws -> ObjectRow? {
        var archived: ObjectIndex.Archived?
        for _ in 0..<Self.maxVersionCommitAttempts {
            switch try await index.commitVersion(v, marker: marker, deleteAt: deleteAt, archived: archived) {
            case .committed(let before, let after):
                if let before, before.versionID == nil, !(after.map { before.isSameRecord(as: $0) } ?? false) { removeFiles(of: before) }
                return before
            case .needsArchive(let current):
                archived = try? await archive(current)
            case .containerMissing:
                throw NimbusError.notFound("The container does not exist.")
            case .duplicate, .versionMissing:
                throw NimbusError(.serviceUnavailable, "Service Unavailable: another version was written at the same time; retry.")
            }
        }
        throw NimbusError(.serviceUnavailable, "Service Unavailable: the object kept changing while its version was being kept; retry.")
    }

    /// Copies a plain object's bytes and metadata (system metadata included: an SLO manifest
    /// stays a manifest, a symlink a symlink) to the place of its version, whose id is the
    /// object's data timestamp. Nothing is committed: the copy's files stay orphans (and the
    /// replicator removes them) unless a commit names them.
    func archive(_ current: ObjectRow) async throws -> ObjectIndex.Archived {
        let id = VersionID.of(timestamp: current.timestamp)
        let place = try versionPlacement(account: current.account, container: current.container, name: current.name, id: id, policy: current.policy)
        let u = Upload(account: current.account, container: current.container, name: current.name, contentType: current.contentType,
                       metadata: current.metadata, contentLength: current.size, expectedETag: current.etag)
        var copy = try await store(u, at: place, timestamp: current.timestamp,
                                   body: Pieces(pieces: current.size > 0 ? [(current, 0..<current.size)] : [], service: self))
        copy.versionID = id
        copy.isVersionRecord = true
        return .init(copy: copy, source: current)
    }

    public struct DeleteResult: Sendable {
        /// Whether the object existed (204) or not (404).
        public var deleted: Bool
        /// The delete marker written (versioning on).
        public var markerID: String?
    }

    /// A DELETE of an object as a client (or bulk delete) makes it: with versioning on, a
    /// delete marker (the data stays as versions; a plain object is archived first); suspended,
    /// the current row only (a version it showed stays); never versioned, the legacy modes'
    /// DELETE or a plain delete.
    public func deleteObject(account: String, container: ContainerRow, name: String) async throws -> DeleteResult {
        switch versioning(of: container) {
        case .enabled:
            let ts = timestamp()
            let place = try versionPlacement(account: account, container: container.name, name: name, id: VersionID.of(timestamp: ts), policy: container.policy)
            let u = Upload(account: account, container: container.name, name: name, contentType: ObjectIndex.deleteMarkerContentType,
                           metadata: [:], contentLength: 0)
            var marker = try await store(u, at: place, timestamp: ts, body: Pieces(pieces: [], service: self))
            marker.versionID = VersionID.of(timestamp: ts)
            marker.isVersionRecord = true
            let before: ObjectRow?
            do { before = try await commitVersion(marker, marker: true, deleteAt: nil) } catch {
                Task { await self.removeVersion(place, timestamp: ts) }
                throw error
            }
            let now = Int(Date().timeIntervalSince1970)
            return DeleteResult(deleted: before.map { !$0.expired(at: now) } ?? false, markerID: marker.timestamp)
        case .suspended:
            return DeleteResult(deleted: try await delete(account: account, container: container.name, name: name) != nil)
        case .never:
            return DeleteResult(deleted: try await versionedDelete(account: account, container: container, name: name))
        }
    }

    /// `PUT ?version-id=<id>`: the object shows version `id` from now on (a plain object it
    /// replaces is kept as a version while versioning is on; suspended, it is replaced, as any
    /// write then replaces it).
    public func promote(account: String, container: ContainerRow, name: String, id: String, deleteAt: Int?) async throws -> ObjectRow {
        var archived: ObjectIndex.Archived?
        for _ in 0..<Self.maxVersionCommitAttempts {
            switch try await index.promoteVersion(account, container.name, name, id: id, deleteAt: deleteAt,
                                                  keepPlain: versioning(of: container) == .enabled, archived: archived) {
            case .committed(let before, let after):
                if let before, before.versionID == nil { removeFiles(of: before) }
                if let after { return after }
            case .needsArchive(let current):
                archived = try? await archive(current)
            case .versionMissing:
                throw NimbusError.notFound("The specified version does not exist")
            case .containerMissing, .duplicate:
                throw NimbusError.notFound("The resource could not be found.")
            }
        }
        throw NimbusError(.serviceUnavailable, "Service Unavailable: the object kept changing while its version was being kept; retry.")
    }

    /// `DELETE ?version-id=<id>`: that version goes (with its files), and the object's current
    /// row with it when it showed that version. Returns the deleted version and the current
    /// row afterwards.
    public func deleteVersion(account: String, container: String, name: String, id: String) async throws -> (deleted: ObjectRow?, current: ObjectRow?) {
        let result = try await index.deleteVersion(account, container, name, id: id)
        if let deleted = result.deleted { removeFiles(of: deleted) }
        return result
    }
}
