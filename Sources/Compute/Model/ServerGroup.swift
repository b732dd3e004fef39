import Foundation
import NimbusCore

/// A server group (`nova/objects/instance_group.py`): one policy for where its members run,
/// and for `anti-affinity` an optional `max_server_per_host` rule (2.64).
public struct ServerGroup: Sendable, Equatable {
    public enum Policy: String, Sendable, CaseIterable {
        case affinity
        case antiAffinity = "anti-affinity"
        case softAffinity = "soft-affinity"
        case softAntiAffinity = "soft-anti-affinity"
    }

    public var id: String
    public var projectID: String
    public var userID: String
    public var name: String
    public var policy: Policy
    /// `max_server_per_host` of an anti-affinity group (nil: 1, Nova's default).
    public var maxServerPerHost: Int?
    public var createdAt: Date
    /// Member instance ids, oldest first. Reads return only members whose instance is not deleted.
    public var members: [String]

    public init(id: String = Identifiers.uuid(), projectID: String, userID: String, name: String, policy: Policy,
                maxServerPerHost: Int? = nil, createdAt: Date = Date(), members: [String] = []) {
        self.id = id; self.projectID = projectID; self.userID = userID; self.name = name; self.policy = policy
        self.maxServerPerHost = maxServerPerHost; self.createdAt = createdAt; self.members = members
    }
}
