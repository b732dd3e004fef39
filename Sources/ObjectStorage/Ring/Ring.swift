import Crypto
import Foundation
import NimbusCore

/// One storage device in the ring: a directory on this node (`address == nil`) or on a
/// `nimbus storage` node reached over HTTP at `address` (host:port).
public struct RingDevice: Codable, Sendable, Equatable {
    public var id: Int
    public var name: String
    public var region: Int
    public var zone: Int
    public var weight: Double
    public var address: String?

    public init(id: Int, name: String, region: Int = 1, zone: Int, weight: Double = 100, address: String? = nil) {
        self.id = id; self.name = name; self.region = region; self.zone = zone; self.weight = weight; self.address = address
    }
}

/// Swift's ring: `2^partPower` partitions, each assigned to `replicas` distinct devices, spread
/// over regions and zones first and then by weight. An object's partition is the top bits of
/// the MD5 of its path (salted with the cluster's hash prefix and suffix, as Swift does).
public struct Ring: Codable, Sendable, Equatable {
    public var partPower: Int
    public var replicas: Int
    public var devices: [RingDevice]
    /// `assignment[replica][partition]` = device id.
    public var assignment: [[Int]]
    public var hashPrefix: String
    public var hashSuffix: String
    /// Bumped by every rebalance; the replicator logs it.
    public var version: Int

    public var partitionCount: Int { 1 << partPower }

    public init(partPower: Int, replicas: Int, hashPrefix: String = Identifiers.hex32(), hashSuffix: String = Identifiers.hex32()) {
        self.partPower = partPower
        self.replicas = replicas
        self.devices = []
        self.assignment = []
        self.hashPrefix = hashPrefix
        self.hashSuffix = hashSuffix
        self.version = 0
    }

    /// The 32-hex MD5 naming an object (or container, or account) on disk.
    public func hash(account: String, container: String? = nil, object: String? = nil) -> String {
        var path = "/" + account
        if let container { path += "/" + container }
        if let object { path += "/" + object }
        let digest = Insecure.MD5.hash(data: Data((hashPrefix + path + hashSuffix).utf8))
        return Hex.encode(digest)
    }

    public func partition(forHash hash: String) -> Int {
        let top = UInt32(hash.prefix(8), radix: 16) ?? 0
        return Int(top >> UInt32(32 - partPower))
    }

    public func device(id: Int) -> RingDevice? { devices.first { $0.id == id } }

    /// The primary devices of a partition, replica order.
    public func primaries(partition: Int) -> [RingDevice] {
        assignment.compactMap { row in partition < row.count ? device(id: row[partition]) : nil }
    }

    /// Every other device, in a fixed per-partition order: where writes go when a primary is down,
    /// and where the replicator looks for data to move home.
    public func handoffs(partition: Int) -> [RingDevice] {
        let primaryIDs = Set(primaries(partition: partition).map(\.id))
        // Drained (weight 0) devices stay in the list: they may still hold data to read and move.
        return devices.filter { !primaryIDs.contains($0.id) }
            .sorted { Self.mix(partition, $0.id) < Self.mix(partition, $1.id) }
    }

    private static func mix(_ a: Int, _ b: Int) -> UInt64 {
        var x = UInt64(truncatingIfNeeded: a) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: b) &* 0xC2B2_AE3D_27D4_EB4F
        x ^= x >> 31
        return x &* 0x94D0_49BB_1331_11EB
    }
}

extension Ring {
    public enum BuildError: Error, CustomStringConvertible {
        case tooFewDevices(have: Int, replicas: Int)
        case duplicateName(String)
        case unknownDevice(String)

        public var description: String {
            switch self {
            case .tooFewDevices(let have, let replicas): "the ring needs at least \(replicas) devices with weight > 0 for \(replicas) replicas (has \(have))"
            case .duplicateName(let n): "a device named \(n) is already in the ring"
            case .unknownDevice(let n): "no device named \(n) in the ring"
            }
        }
    }

    public mutating func addDevice(name: String, region: Int = 1, zone: Int, weight: Double, address: String?) throws {
        guard !devices.contains(where: { $0.name == name }) else { throw BuildError.duplicateName(name) }
        let id = (devices.map(\.id).max() ?? -1) + 1
        devices.append(RingDevice(id: id, name: name, region: region, zone: zone, weight: weight, address: address))
    }

    public mutating func setWeight(name: String, weight: Double) throws {
        guard let i = devices.firstIndex(where: { $0.name == name }) else { throw BuildError.unknownDevice(name) }
        devices[i].weight = weight
    }

    public mutating func removeDevice(name: String) throws {
        guard let i = devices.firstIndex(where: { $0.name == name }) else { throw BuildError.unknownDevice(name) }
        devices.remove(at: i)
    }

    /// Assigns every partition replica to a device, keeping existing assignments where they are
    /// still valid (device present, under its weighted share, not doubling a partition up on one
    /// device or, where there are enough zones, one zone) so that a rebalance moves little data.
    /// Returns how many partition replicas moved.
    @discardableResult
    public mutating func rebalance() throws -> Int {
        let usable = devices.filter { $0.weight > 0 }
        guard usable.count >= replicas else { throw BuildError.tooFewDevices(have: usable.count, replicas: replicas) }
        let parts = partitionCount
        let totalWeight = usable.reduce(0) { $0 + $1.weight }
        var quota = [Int: Int]()
        for d in usable { quota[d.id] = Int((Double(parts * replicas) * d.weight / totalWeight).rounded(.up)) }
        let zoneCount = Set(usable.map { "\($0.region)/\($0.zone)" }).count
        var load = [Int: Int]()
        var old = assignment
        if old.count != replicas || old.contains(where: { $0.count != parts }) {
            old = Array(repeating: Array(repeating: -1, count: parts), count: replicas)
        }
        var fresh = Array(repeating: Array(repeating: -1, count: parts), count: replicas)
        let byID = Dictionary(uniqueKeysWithValues: usable.map { ($0.id, $0) })
        // Keep what is still valid.
        for p in 0..<parts {
            var zones = Set<String>()
            var used = Set<Int>()
            for r in 0..<replicas {
                let id = old[r][p]
                guard let d = byID[id], !used.contains(id), load[id, default: 0] < quota[id]!,
                      zoneCount < replicas || !zones.contains("\(d.region)/\(d.zone)") else { continue }
                fresh[r][p] = id
                used.insert(id)
                zones.insert("\(d.region)/\(d.zone)")
                load[id, default: 0] += 1
            }
        }
        var moved = 0
        for p in 0..<parts {
            for r in 0..<replicas where fresh[r][p] < 0 {
                let used = Set((0..<replicas).map { fresh[$0][p] }.filter { $0 >= 0 })
                let zones = Set(used.compactMap { byID[$0] }.map { "\($0.region)/\($0.zone)" })
                let candidates = usable.filter { !used.contains($0.id) }
                let best = candidates.max { a, b in
                    func score(_ d: RingDevice) -> (Int, Double) {
                        let newZone = zones.contains("\(d.region)/\(d.zone)") ? 0 : 1
                        let room = Double(quota[d.id]! - load[d.id, default: 0]) / max(d.weight, 0.000_001)
                        return (newZone, room)
                    }
                    let (sa, sb) = (score(a), score(b))
                    return sa.0 != sb.0 ? sa.0 < sb.0 : (sa.1 != sb.1 ? sa.1 < sb.1 : a.id > b.id)
                }!
                fresh[r][p] = best.id
                load[best.id, default: 0] += 1
                moved += 1
            }
        }
        assignment = fresh
        version += 1
        return moved
    }

    public static func load(path: String) throws -> Ring {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(Ring.self, from: data)
    }

    /// Written to a temporary file, fsync'd and renamed, so a reader never sees half a ring.
    public func save(path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(self)
        try DurableFile.write(data, to: path)
    }

    /// A human summary for `nimbus ring show`.
    public func summary() -> String {
        var counts = [Int: Int]()
        for row in assignment { for id in row { counts[id, default: 0] += 1 } }
        var lines = ["ring version \(version): partition power \(partPower) (\(partitionCount) partitions), \(replicas) replicas, \(devices.count) devices"]
        lines.append("  id  name              region zone  weight  partitions  address")
        for d in devices.sorted(by: { $0.id < $1.id }) {
            let name = d.name.padding(toLength: 16, withPad: " ", startingAt: 0)
            lines.append(String(format: "%4d  %@  %6d %4d  %6.1f  %10d  %@", d.id, name, d.region, d.zone, d.weight, counts[d.id, default: 0], d.address ?? "(local)"))
        }
        return lines.joined(separator: "\n")
    }
}

/// Small helpers for files that must survive a crash once written.
public enum DurableFile {
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = path + ".tmp-\(getpid())"
        unlink(tmp)
        let fd = try Posix.create(tmp, mode: mode)
        defer { close(fd) }
        try Posix.writeAll(fd, Array(data))
        try Posix.fsync(fd, tmp)
        guard rename(tmp, path) == 0 else { throw POSIXError.current("rename \(tmp)") }
        try fsyncDirectory(dir)
    }

    public static func fsyncDirectory(_ dir: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError.current("open \(dir)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw POSIXError.current("fsync \(dir)") }
    }
}

extension POSIXError {
    static func current(_ what: String) -> any Error {
        let code = errno
        return NimbusError(.internal, "storage I/O failed", detail: "\(what): \(String(cString: strerror(code)))")
    }
}
