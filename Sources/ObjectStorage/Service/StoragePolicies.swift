import Foundation
import NimbusCore

/// One of Swift's storage policies (`[storage-policy:<index>]` in swift.conf): a name and
/// aliases, whether it is the default for new containers and whether it is deprecated (kept for
/// existing containers, refused for new ones, hidden from `/info`). Each policy has its own ring.
public struct StoragePolicy: Sendable, Equatable {
    public var index: Int
    /// The name first, then the aliases.
    public var names: [String]
    public var isDefault: Bool
    public var isDeprecated: Bool

    public var name: String { names[0] }

    public init(index: Int, names: [String], isDefault: Bool = false, isDeprecated: Bool = false) {
        self.index = index; self.names = names; self.isDefault = isDefault; self.isDeprecated = isDeprecated
    }

    /// What `/info` shows: Swift's `get_info()` (`default` and `deprecated` only when true).
    public var info: JSONValue {
        var o: JSONObject = ["name": .string(name), "aliases": .string(names.joined(separator: ", "))]
        if isDefault { o["default"] = true }
        if isDeprecated { o["deprecated"] = true }
        return .object(o)
    }
}

/// The cluster's storage policies, validated as Swift's `StoragePolicyCollection`: unique
/// indexes and names (names compare case-insensitively, ASCII only), one default that is not
/// deprecated, a policy 0 (made as `Policy-0` when none is configured).
public struct StoragePolicies: Sendable, Equatable {
    public let all: [StoragePolicy]
    public let defaultPolicy: StoragePolicy

    public static let legacyName = "Policy-0"

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Policy 0 only, named `Policy-0`: what a cluster without storage-policy sections has.
    public static let single = try! StoragePolicies([])

    public init(_ policies: [StoragePolicy]) throws(Invalid) {
        var list = policies
        if !list.contains(where: { $0.index == 0 }) {
            guard list.isEmpty else {
                throw Invalid(description: "You must specify a storage policy section for policy index 0 in order to define multiple policies")
            }
            list = [StoragePolicy(index: 0, names: [Self.legacyName])]
        }
        var seenNames = Set<[UInt8]>()
        var seenIndexes = Set<Int>()
        for p in list {
            guard p.index >= 0 else { throw Invalid(description: "Invalid index \(p.index)") }
            guard seenIndexes.insert(p.index).inserted else { throw Invalid(description: "Duplicate index \(p.index)") }
            guard !p.names.isEmpty else { throw Invalid(description: "Invalid name '' for policy \(p.index)") }
            var own = Set<[UInt8]>()
            for n in p.names {
                guard Self.isValidName(n) else {
                    throw Invalid(description: "Names are used as HTTP headers, and can not reliably contain any characters not in '-', letters and digits. Invalid name '\(n)'")
                }
                let key = Self.key(n)
                if key == Self.key(Self.legacyName) && p.index != 0 {
                    throw Invalid(description: "The name \(Self.legacyName) is reserved for policy index 0. Invalid name '\(n)'")
                }
                guard own.insert(key).inserted else { throw Invalid(description: "The name \(n) is already assigned to this policy.") }
                guard seenNames.insert(key).inserted else { throw Invalid(description: "Duplicate name \(n) in policy \(p.index)") }
            }
            if p.isDeprecated && p.isDefault { throw Invalid(description: "Deprecated policy can not be default. Invalid config \(p.index)") }
        }
        guard list.contains(where: { !$0.isDeprecated }) else { throw Invalid(description: "Unable to find policy that's not deprecated!") }
        let defaults = list.filter(\.isDefault)
        guard defaults.count <= 1 else { throw Invalid(description: "Duplicate default \(defaults[1].index) conflicts with \(defaults[0].index)") }
        if defaults.isEmpty {
            guard list.count == 1 else { throw Invalid(description: "Unable to find default policy") }
            list[0].isDefault = true
        }
        self.all = list.sorted { $0.index < $1.index }
        self.defaultPolicy = list.first(where: \.isDefault)!
    }

    /// Swift's `VALID_CHARS`: ASCII letters, digits and '-'.
    static func isValidName(_ s: String) -> Bool {
        !s.utf8.isEmpty && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D }
    }

    /// A name's lookup key: its bytes with ASCII letters upper-cased (Swift upper-cases names;
    /// valid names are ASCII, and a non-ASCII header value matches none).
    static func key(_ s: String) -> [UInt8] { s.utf8.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 } }

    /// The policy a name or alias (any ASCII case) names.
    public func named(_ name: String) -> StoragePolicy? {
        let k = Self.key(name)
        return all.first { $0.names.contains { Self.key($0) == k } }
    }

    public func policy(index: Int) -> StoragePolicy? { all.first { $0.index == index } }

    /// `/info`'s `policies`: every policy that is not deprecated.
    public var info: JSONValue { .array(all.filter { !$0.isDeprecated }.map(\.info)) }

    /// Reads `[storage-policy:<n>]` sections (`name`, `aliases`, `default`, `deprecated`, and
    /// Nimbus's `replicas` for the ring made at first start) from parsed config sections.
    public static func parse(sections: [String: [String: String]]) throws(Invalid) -> (StoragePolicies, replicas: [Int: Int]) {
        var list = [StoragePolicy]()
        var replicas = [Int: Int]()
        for (section, values) in sections.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) where section.hasPrefix("storage-policy:") {
            let raw = section.dropFirst("storage-policy:".count)
            guard let index = Int(raw), index >= 0, String(index) == raw, index <= 9999 else {
                throw Invalid(description: "Malformed storage policy section [\(section)]: the index must be a number from 0 to 9999")
            }
            for k in values.keys where !["name", "aliases", "default", "deprecated", "policy_type", "replicas", "diskfile_module"].contains(k) {
                throw Invalid(description: "Invalid option '\(k)' in storage-policy section [\(section)]")
            }
            if let t = values["policy_type"], t != "replication" {
                throw Invalid(description: "Storage policy \(index): only policy_type replication is supported, not '\(t)'")
            }
            var names = [values["name"] ?? (index == 0 ? legacyName : "")]
            for a in (values["aliases"] ?? "").splitBytes(",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !a.isEmpty && !a.sameBytes(as: names[0]) {
                names.append(a)
            }
            func flag(_ k: String) -> Bool { ["1", "true", "yes", "on", "t", "y"].contains((values[k] ?? "").lowercased()) }
            list.append(StoragePolicy(index: index, names: names, isDefault: flag("default"), isDeprecated: flag("deprecated")))
            if let r = values["replicas"] {
                guard let n = Int(r), (1...6).contains(n) else { throw Invalid(description: "Storage policy \(index): replicas must be 1 to 6, not '\(r)'") }
                replicas[index] = n
            }
        }
        return (try StoragePolicies(list), replicas)
    }
}
