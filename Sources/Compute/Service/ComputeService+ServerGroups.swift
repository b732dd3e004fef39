import Foundation
import NimbusCore

/// Server groups with Nova's quotas: `server_groups` per project and user when one is
/// created, `server_group_members` per group and user when a server joins one.
extension ComputeService {
    public var serverGroups: ServerGroupRepository { ServerGroupRepository(database: database) }

    /// Creates a group within the project's and user's `server_groups` quota (checked before,
    /// and again after, as Nova's `recheck_quota` does: a race past the limit is undone).
    public func createServerGroup(_ g: ServerGroup) async throws -> ServerGroup {
        let overQuota = NimbusError.forbidden("Quota exceeded, too many server groups.")
        guard try await serverGroupsFit(g, adding: 1) else { throw overQuota }
        try await serverGroups.create(g)
        guard try await serverGroupsFit(g, adding: 0) else {
            _ = try await serverGroups.delete(g.id)
            throw overQuota
        }
        return g
    }

    func serverGroupsFit(_ g: ServerGroup, adding delta: Int) async throws -> Bool {
        let project = try await projectQuotas(g.projectID)[.serverGroups] ?? -1
        let user = try await userQuotas(project: g.projectID, user: g.userID)[.serverGroups] ?? -1
        let projectCount = try await serverGroups.count(project: g.projectID)
        let userCount = try await serverGroups.count(project: g.projectID, user: g.userID)
        return Self.within(project, projectCount + delta) && Self.within(user, userCount + delta)
    }

    /// The group as `caller` may see it: 404 when there is none (the policy check on its
    /// project, a 403, is the API's).
    public func serverGroup(_ id: String) async throws -> ServerGroup {
        guard let g = try await serverGroups.group(id) else { throw NimbusError.notFound("Instance group \(id) could not be found.") }
        return g
    }

    /// Adds a new server to a group for server create: the caller's `server_group_members`
    /// quota (members of that group owned by the user) is checked and the member inserted in
    /// one transaction; 403 "Quota exceeded, too many servers in group" as Nova answers, 404
    /// when the group does not exist. Call it after the instance row is inserted.
    public func addServerGroupMember(groupID: String, instanceID: String, project: String, user: String) async throws {
        let limit = try await userQuotas(project: project, user: user)[.serverGroupMembers] ?? -1
        switch try await serverGroups.addMember(groupID: groupID, instanceID: instanceID, user: user, limit: limit) {
        case .added: return
        case .overQuota: throw NimbusError.forbidden("Quota exceeded, too many servers in group")
        case .noSuchGroup: throw NimbusError.notFound("Instance group \(groupID) could not be found.")
        }
    }
}
