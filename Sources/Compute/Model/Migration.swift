import Foundation
import NimbusCore

/// A move of an instance between hosts (`nova/objects/migration.py`): resize, cold or live
/// migration, evacuation. Nimbus has no moves yet; resize and migrate record these when they
/// come, and `os-migrations` lists them.
public struct ComputeMigration: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case migration
        case resize
        case liveMigration = "live-migration"
        case evacuation
    }

    public var id: Int
    public var uuid: String
    public var sourceCompute: String?
    public var destCompute: String?
    public var sourceNode: String?
    public var destNode: String?
    public var destHost: String?
    public var oldFlavorID: Int?
    public var newFlavorID: Int?
    public var instanceID: String?
    public var status: String?
    public var kind: Kind
    public var hidden: Bool
    public var memoryTotal: Int64?
    public var memoryProcessed: Int64?
    public var memoryRemaining: Int64?
    public var diskTotal: Int64?
    public var diskProcessed: Int64?
    public var diskRemaining: Int64?
    public var crossCellMove: Bool
    public var userID: String?
    public var projectID: String?
    public var createdAt: Date
    public var updatedAt: Date?

    public init(uuid: String = Identifiers.uuid(), instanceID: String, kind: Kind, status: String, sourceCompute: String?,
                destCompute: String? = nil, userID: String?, projectID: String?, createdAt: Date = Date()) {
        self.id = 0; self.uuid = uuid; self.instanceID = instanceID; self.kind = kind; self.status = status
        self.sourceCompute = sourceCompute; self.sourceNode = sourceCompute; self.destCompute = destCompute; self.destNode = destCompute
        self.hidden = false; self.crossCellMove = false; self.userID = userID; self.projectID = projectID; self.createdAt = createdAt
    }

    /// A move's record: source and destination (nil: not chosen yet) and the two flavors
    /// (Nova shows its flavors' table ids; Nimbus has only the flavor ids).
    static func move(_ uuid: String, instance: Instance, kind: Kind, status: String, source: String, dest: String?, newFlavor: Flavor,
                     oldFlavor: Flavor? = nil, caller: String) -> ComputeMigration {
        var m = ComputeMigration(uuid: uuid, instanceID: instance.id, kind: kind, status: status, sourceCompute: source, destCompute: dest,
                                 userID: caller, projectID: instance.projectID)
        m.destHost = dest
        m.oldFlavorID = Int((oldFlavor ?? instance.flavor).id)
        m.newFlavorID = Int(newFlavor.id)
        return m
    }

    /// Statuses of a live migration still running (Nova's `live_migration_in_progress`).
    static let liveInProgress = ["queued", "preparing", "running", "post-migrating"]
}
