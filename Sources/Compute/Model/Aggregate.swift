import Foundation
import NimbusCore

/// A host aggregate (`nova/objects/aggregate.py`): a named set of compute hosts with metadata;
/// the `availability_zone` key makes its hosts an availability zone.
public struct Aggregate: Sendable, Equatable {
    public var id: Int
    public var uuid: String
    public var name: String
    /// Host names in byte order.
    public var hosts: [String]
    public var metadata: [Name: String]
    public var createdAt: Date
    public var updatedAt: Date?

    public var availabilityZone: String? { metadata[Name(Self.zoneKey)] }

    static let zoneKey = "availability_zone"
}
