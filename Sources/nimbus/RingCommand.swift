import ArgumentParser
import Foundation
import ObjectStorage

/// `nimbus ring …`: the object ring in `<data-dir>/object/ring.json`. A running `nimbus up`
/// picks up a changed ring within a few seconds.
struct RingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring", abstract: "Show and change the object storage ring.",
        subcommands: [Create.self, Show.self, Add.self, Remove.self, SetWeight.self, Rebalance.self])

    struct Location: ParsableArguments {
        @Option(help: "Data directory holding object/ring.json.")
        var dataDir: String = "./data"
        @Option(help: "Storage policy index whose ring this is (policy N: object/ring-N.json).")
        var policy: Int = 0
        var path: String { ObjectStorageAssembly.ringPath(dataDir: dataDir, policy: policy) }

        func load() throws -> Ring {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("no ring at \(path): run `nimbus ring create` or `nimbus up` first")
            }
            return try Ring.load(path: path)
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an empty ring (devices are added with `add`).")
        @OptionGroup var location: Location
        @Option(help: "Partition power: 2^n partitions.") var partPower: Int = 10
        @Option(help: "Replicas of each object.") var replicas: Int = 3

        func run() throws {
            guard !FileManager.default.fileExists(atPath: location.path) else { throw ValidationError("a ring already exists at \(location.path)") }
            guard (1...20).contains(partPower), (1...6).contains(replicas) else { throw ValidationError("part power must be 1–20 and replicas 1–6") }
            guard (0...9999).contains(location.policy) else { throw ValidationError("a policy index is 0–9999") }
            var ring = Ring(partPower: partPower, replicas: replicas)
            // Every policy hashes paths with the cluster's one prefix and suffix (policy 0's).
            let base = ObjectStorageAssembly.ringPath(dataDir: location.dataDir)
            if location.policy != 0, FileManager.default.fileExists(atPath: base) {
                let r0 = try Ring.load(path: base)
                ring.hashPrefix = r0.hashPrefix
                ring.hashSuffix = r0.hashSuffix
            }
            try ring.save(path: location.path)
            print("created \(location.path): \(1 << partPower) partitions, \(replicas) replicas")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the ring's devices and partition counts.")
        @OptionGroup var location: Location
        func run() throws { print(try location.load().summary()) }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a device (run `rebalance` to give it partitions).")
        @OptionGroup var location: Location
        @Option(help: "Device name (a directory under object/devices on its node).") var name: String
        @Option(help: "Region.") var region: Int = 1
        @Option(help: "Zone: replicas of a partition go to different zones where possible.") var zone: Int
        @Option(help: "Relative weight (share of partitions).") var weight: Double = 100
        @Option(help: "HOST:PORT of the `nimbus storage` node serving it; omit for a directory on the controller.") var address: String?

        func run() throws {
            var ring = try location.load()
            try ring.addDevice(name: name, region: region, zone: zone, weight: weight, address: address)
            try ring.save(path: location.path)
            print("added \(name); run `nimbus ring rebalance` to assign partitions")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a device (run `rebalance` next).")
        @OptionGroup var location: Location
        @Option(help: "Device name.") var name: String
        func run() throws {
            var ring = try location.load()
            try ring.removeDevice(name: name)
            try ring.save(path: location.path)
            print("removed \(name); run `nimbus ring rebalance`")
        }
    }

    struct SetWeight: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-weight", abstract: "Change a device's weight (0 drains it).")
        @OptionGroup var location: Location
        @Option(help: "Device name.") var name: String
        @Option(help: "New weight.") var weight: Double
        func run() throws {
            var ring = try location.load()
            try ring.setWeight(name: name, weight: weight)
            try ring.save(path: location.path)
            print("\(name) weight \(weight); run `nimbus ring rebalance`")
        }
    }

    struct Rebalance: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Assign partitions to devices, moving as few as possible.")
        @OptionGroup var location: Location
        func run() throws {
            var ring = try location.load()
            let moved = try ring.rebalance()
            try ring.save(path: location.path)
            print("rebalanced: \(moved) partition replicas assigned or moved")
            print(ring.summary())
        }
    }
}
