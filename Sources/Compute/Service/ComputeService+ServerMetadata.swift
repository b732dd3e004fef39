import Foundation
import NimbusCore
import Synchronization

/// Server metadata and tags, with the checks of Nova's `update_instance_metadata`,
/// `delete_instance_metadata` (lock, then vm and task state, then the `metadata_items` quota)
/// and of `server_tags.py` (vm state only; 50 tags).
extension ComputeService {
    /// vm_states metadata and tags may change in (`check_instance_state` of those calls).
    static let metadataStates: Set<VMState> = [.active, .paused, .suspended, .stopped]
    /// `MAX_TAG_COUNT`.
    public static let maxTags = 50

    public enum MetadataChange: Sendable {
        /// Sets these keys, keeping the others (POST and PUT of one key).
        case merge([Name: String])
        /// Replaces everything (PUT of the whole set).
        case replace([Name: String])
        case delete(Name)
    }

    /// Applies a metadata change as `caller` (`isAdmin` overrides the lock, as Nova's
    /// `check_instance_lock` lets admins through); returns the new metadata.
    public func changeMetadata(_ id: String, _ change: MetadataChange, caller: AuthContext, isAdmin: Bool) async throws -> [Name: String] {
        let current = try await server(id, caller: caller, isAdmin: isAdmin)
        // Nova's `limit_check` counts against the caller's project and user.
        let limit = try await quotaLimits(project: caller.projectID ?? current.projectID, user: caller.user.id)[.metadataItems] ?? -1
        let method: String
        if case .delete = change { method = "delete metadata" } else { method = "update metadata" }
        let updated = try await instances.modify(current.id) { i in
            guard !i.deleted else { throw NimbusError.notFound("Instance \(id) could not be found.") }
            if i.locked && !isAdmin { throw NimbusError.conflict("Instance \(i.id) is locked") }
            guard Self.metadataStates.contains(i.vmState) else { throw Self.invalidState(i, "vm_state", i.vmState.rawValue, method) }
            if let t = i.taskState { throw Self.invalidState(i, "task_state", t.rawValue, method) }
            switch change {
            case .merge(let m): i.metadata.merge(m) { _, new in new }
            case .replace(let m): i.metadata = m
            case .delete(let key):
                guard i.metadata.removeValue(forKey: key) != nil else { throw NimbusError.notFound("Metadata item was not found") }
                return
            }
            if !i.metadata.isEmpty, !Self.within(limit, i.metadata.count) {
                throw NimbusError.forbidden("Maximum number of metadata items exceeds \(limit)")
            }
        }
        guard let updated else { throw NimbusError.notFound("Instance \(id) could not be found.") }
        return updated.metadata
    }

    /// Changes a server's tags; `change` sees the current tags (byte order, no duplicates) and
    /// returns whether it changed them. Refused (409) unless the server is active, paused,
    /// suspended or stopped. Returns the tags after the change and whether it changed them.
    public func changeTags(_ i: Instance, action: String, _ change: @escaping @Sendable (inout [String]) throws -> Bool) async throws -> ([String], Bool) {
        let changed = Mutex(false)
        let updated = try await instances.modify(i.id) { cur in
            guard !cur.deleted else { throw NimbusError.notFound("Instance \(i.id) could not be found.") }
            guard Self.metadataStates.contains(cur.vmState) else { throw Self.invalidState(cur, "vm_state", cur.vmState.rawValue, action) }
            var tags = Self.normalizedTags(cur.tags)
            let did = try change(&tags)
            cur.tags = Self.normalizedTags(tags)
            changed.withLock { $0 = did }
        }
        guard let updated else { throw NimbusError.notFound("Instance \(i.id) could not be found.") }
        return (Self.normalizedTags(updated.tags), changed.withLock { $0 })
    }

    /// Tags as Nova's table holds them: one of each (by bytes), in byte order.
    public static func normalizedTags(_ tags: [String]) -> [String] {
        Set(tags.map { Name($0) }).sorted().map(\.string)
    }
}

