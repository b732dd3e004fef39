import Foundation
import NimbusCore

/// A flavor as Nova keeps it (`nova/objects/flavor.py`): sizes, visibility, extra specs.
public struct Flavor: Sendable, Equatable {
    /// The API id (`flavorid`): any string of `[a-zA-Z0-9. _-]`, or a generated UUID.
    public var id: String
    public var name: String
    public var memoryMB: Int
    public var vcpus: Int
    public var rootGB: Int
    public var ephemeralGB: Int
    public var swapMB: Int
    public var rxtxFactor: Double
    public var isPublic: Bool
    public var disabled: Bool
    public var description: String?
    /// Byte-keyed: `hw:cpu_policy` and an equivalent spelling are two specs, as in Nova's table.
    public var extraSpecs: [Name: String]
    public var createdAt: Date
    public var updatedAt: Date?

    public init(id: String, name: String, memoryMB: Int, vcpus: Int, rootGB: Int, ephemeralGB: Int = 0, swapMB: Int = 0,
                rxtxFactor: Double = 1.0, isPublic: Bool = true, description: String? = nil, createdAt: Date = Date()) {
        self.id = id; self.name = name; self.memoryMB = memoryMB; self.vcpus = vcpus; self.rootGB = rootGB
        self.ephemeralGB = ephemeralGB; self.swapMB = swapMB; self.rxtxFactor = rxtxFactor; self.isPublic = isPublic
        self.disabled = false; self.description = description; self.extraSpecs = [:]; self.createdAt = createdAt
    }

    /// DevStack's default flavors, plus the small ones the test guest fits (`m1.nano`, `m1.micro`).
    public static let defaults: [Flavor] = [
        Flavor(id: "1", name: "m1.tiny", memoryMB: 512, vcpus: 1, rootGB: 1),
        Flavor(id: "2", name: "m1.small", memoryMB: 2048, vcpus: 1, rootGB: 20),
        Flavor(id: "3", name: "m1.medium", memoryMB: 4096, vcpus: 2, rootGB: 40),
        Flavor(id: "4", name: "m1.large", memoryMB: 8192, vcpus: 4, rootGB: 80),
        Flavor(id: "5", name: "m1.xlarge", memoryMB: 16384, vcpus: 8, rootGB: 160),
        Flavor(id: "42", name: "m1.nano", memoryMB: 128, vcpus: 1, rootGB: 1),
        Flavor(id: "84", name: "m1.micro", memoryMB: 192, vcpus: 1, rootGB: 1),
        Flavor(id: "c1", name: "cirros256", memoryMB: 256, vcpus: 1, rootGB: 1),
        Flavor(id: "d1", name: "ds512M", memoryMB: 512, vcpus: 1, rootGB: 5),
        Flavor(id: "d2", name: "ds1G", memoryMB: 1024, vcpus: 1, rootGB: 10),
        Flavor(id: "d3", name: "ds2G", memoryMB: 2048, vcpus: 2, rootGB: 10),
        Flavor(id: "d4", name: "ds4G", memoryMB: 4096, vcpus: 4, rootGB: 20),
    ]
}

/// A keypair (`nova/objects/keypair.py`): per user, `ssh` or `x509`.
public struct Keypair: Sendable, Equatable {
    public var userID: String
    public var name: String
    public var type: String
    public var publicKey: String
    public var fingerprint: String
    public var createdAt: Date

    public init(userID: String, name: String, type: String, publicKey: String, fingerprint: String, createdAt: Date = Date()) {
        self.userID = userID; self.name = name; self.type = type; self.publicKey = publicKey; self.fingerprint = fingerprint
        self.createdAt = createdAt
    }
}
