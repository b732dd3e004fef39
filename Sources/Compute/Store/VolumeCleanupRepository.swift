import Foundation
import NimbusCore
import NimbusStore
import SQLKit

/// Volumes a server let go of that still need the block storage service: the attachment to
/// delete, and the volume to delete (`delete_on_termination`, or made for a build that was
/// undone) once it is no longer being made. Kept in SQL so that a restart finishes them.
public struct VolumeCleanupRepository: Sendable {
    public struct Entry: Sendable, Equatable {
        public var volumeID: String
        public var attachmentID: String
        /// Acted on only once this instance is deleted (nil: at once).
        public var instanceID: String?
        public var projectID: String
        public var deleteVolume: Bool
        public var createdAt: Date
    }

    let database: Database

    public init(database: Database) { self.database = database }

    func add(_ entries: [Entry]) async throws {
        guard !entries.isEmpty else { return }
        try await database.transaction { db in
            for e in entries {
                try await db.raw("""
                    DELETE FROM compute_volume_cleanups WHERE volume_id = \(bind: e.volumeID) AND attachment_id = \(bind: e.attachmentID)
                    """).run()
                try await db.raw("""
                    INSERT INTO compute_volume_cleanups (volume_id, attachment_id, instance_id, project_id, delete_volume, created_at)
                    VALUES (\(bind: e.volumeID), \(bind: e.attachmentID), \(bind: e.instanceID), \(bind: e.projectID), \(bind: e.deleteVolume),
                    \(bind: Micros.of(e.createdAt)))
                    """).run()
            }
        }
    }

    func all() async throws -> [Entry] {
        try await database.sql.raw("""
            SELECT volume_id, attachment_id, instance_id, project_id, delete_volume, created_at FROM compute_volume_cleanups ORDER BY created_at
            """).all().map { row in
            Entry(volumeID: try row.decode(column: "volume_id", as: String.self), attachmentID: try row.decode(column: "attachment_id", as: String.self),
                  instanceID: try row.decode(column: "instance_id", as: String?.self), projectID: try row.decode(column: "project_id", as: String.self),
                  deleteVolume: try row.decode(column: "delete_volume", as: Bool.self),
                  createdAt: Micros.date(try row.decode(column: "created_at", as: Int64.self)))
        }
    }

    func remove(_ e: Entry) async throws {
        try await database.transaction { db in
            try await db.raw("""
                DELETE FROM compute_volume_cleanups WHERE volume_id = \(bind: e.volumeID) AND attachment_id = \(bind: e.attachmentID)
                """).run()
        }
    }
}
