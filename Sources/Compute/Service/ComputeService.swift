import Foundation
import Logging
import NimbusCore
import NimbusStore

public struct ComputeSettings: Sendable {
    public var quotas = ComputeQuotas()
    /// Nova's `force_config_drive`: every server gets a config drive. On until the network
    /// service exists, since the config drive is then the guest's only source of metadata.
    public var forceConfigDrive = true
    /// How many placement candidates the scheduler asks for (Nova's `max_placement_results`),
    /// and builds a server may fail before ERROR.
    public var schedulerCandidates = 1000
    public var maxBuildAttempts = 3
    /// Nova's `shelved_offload_time`: seconds a shelved server keeps its host before it is
    /// offloaded (0: at once, -1: never).
    public var shelvedOffloadTime = 0
    /// Remote consoles: which are on, their proxy's URLs, and the token lifetime.
    public var consoles = ConsoleSettings()
    public init() {}
}

/// The compute service below HTTP: flavors, keypairs and servers with Nova's rules, the
/// scheduler's claims in Placement, and what compute nodes are told and report.
public final class ComputeService: Sendable {
    public let database: Database
    public let flavors: FlavorRepository
    public let keypairs: KeypairRepository
    public let instances: InstanceRepository
    public let actions: ActionRepository
    public let hosts: ComputeHostRepository
    let consoleTokens: ConsoleTokenRepository
    let volumeCleanups: VolumeCleanupRepository
    let images: any ImageClient
    let placement: any PlacementClient
    /// The network service (nil: servers boot without networks).
    public let network: (any NetworkClient)?
    /// The block storage service (nil: volumes cannot be attached).
    public let volumes: (any VolumeClient)?
    public let settings: ComputeSettings
    var quotas: ComputeQuotas { settings.quotas }
    let logger: Logger
    /// Wakes the conductor (scheduling) and the local compute agents after a change.
    let wakeups: AsyncStream<Void>.Continuation
    let wakeStream: AsyncStream<Void>
    /// The compute nodes running in this process (poked after changes, asked for consoles).
    public let nodes = NodeRegistry()
    /// The console proxy's URL (`http://host:port`), set once its listener runs.
    public let consoleProxyBase = Mutex<String>("")
    /// Volume-backed rebuilds whose volumes this controller is re-imaging and connecting now.
    let volumeRebuilds = Mutex<Set<String>>([])
    /// Instances whose unshelve connects their reserved volumes now (`connectReserved`).
    let unshelveConnects = Mutex<Set<String>>([])
    /// Hot-plug reports that interface attaches wait for.
    let interfacePlugs = InterfacePlugReports()
    /// How long an interface attach waits for the node's hot-plug (Nova's attach is an RPC call).
    var interfacePlugWait: Duration { .seconds(30) }

    public init(database: Database, images: any ImageClient, placement: any PlacementClient, network: (any NetworkClient)? = nil,
                volumes: (any VolumeClient)? = nil, settings: ComputeSettings = ComputeSettings(), logger: Logger) {
        self.network = network
        self.volumes = volumes
        self.database = database
        self.flavors = FlavorRepository(database: database)
        self.keypairs = KeypairRepository(database: database)
        self.instances = InstanceRepository(database: database)
        self.actions = ActionRepository(database: database)
        self.hosts = ComputeHostRepository(database: database)
        self.consoleTokens = ConsoleTokenRepository(database: database)
        self.volumeCleanups = VolumeCleanupRepository(database: database)
        self.images = images
        self.placement = placement
        self.settings = settings
        self.logger = logger
        (wakeStream, wakeups) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Creates DevStack's default flavors when there are none yet (first start).
    public func bootstrap() async throws {
        guard try await flavors.list(FlavorRepository.Query())?.isEmpty ?? true else { return }
        for f in Flavor.defaults { _ = try await flavors.create(f) }
    }

    /// Schedules and pokes compute nodes soon.
    func wake() {
        wakeups.yield()
        nodes.poke()
    }

    // MARK: flavors

    public func createFlavor(_ f: Flavor) async throws -> Flavor {
        switch try await flavors.create(f) {
        case .created(let created): return created
        case .nameTaken: throw NimbusError.conflict("Flavor with name \(f.name) already exists.")
        case .idTaken: throw NimbusError.conflict("Flavor with ID \(f.id) already exists.")
        }
    }

    public func flavor(_ id: String) async throws -> Flavor {
        guard let f = try await flavors.get(id) else { throw NimbusError.notFound("Flavor \(id) could not be found.") }
        return f
    }

    public func deleteFlavor(_ id: String) async throws {
        guard try await flavors.delete(id) else { throw NimbusError.notFound("Flavor \(id) could not be found.") }
    }

    public func updateFlavor(_ id: String, _ change: @escaping @Sendable (inout Flavor) throws -> Void) async throws -> Flavor {
        guard let f = try await flavors.modify(id, change) else { throw NimbusError.notFound("Flavor \(id) could not be found.") }
        return f
    }

    // MARK: keypairs

    /// Nova's `key_pairs` quota (per user): the user's limit within `project` (the caller's, as
    /// Nova's `check_deltas` takes it; the default limit without one).
    public func checkKeypairQuota(user: String, project: String? = nil) async throws {
        var limit = quotas.keyPairs
        if let project { limit = try await effectiveQuotas(project: project, user: user).keyPairs }
        if limit >= 0, try await keypairs.count(user: user) >= limit {
            throw NimbusError.forbidden("Quota exceeded, too many key pairs.")
        }
    }

    public func createKeypair(_ k: Keypair) async throws -> Keypair {
        guard try await keypairs.create(k) else { throw NimbusError.conflict("Key pair '\(k.name)' already exists.") }
        return k
    }

    public func keypair(user: String, name: String) async throws -> Keypair {
        guard let k = try await keypairs.get(user: user, name: name) else { throw NimbusError.notFound("Keypair \(name) not found for user \(user)") }
        return k
    }

    public func deleteKeypair(user: String, name: String) async throws {
        guard try await keypairs.delete(user: user, name: name) else { throw NimbusError.notFound("Keypair \(name) not found for user \(user)") }
    }
}

/// The compute nodes the controller can reach, by host.
public final class NodeRegistry: Sendable {
    let endpoints = Mutex<[Name: any NodeEndpoint]>([:])
    /// Makes the endpoint of a node that registered with its own address (`nimbus compute`).
    let remote = Mutex<(@Sendable (String, String?) -> any NodeEndpoint)?>(nil)
    public init() {}
    public func setRemoteFactory(_ make: @escaping @Sendable (_ url: String, _ consoleURL: String?) -> any NodeEndpoint) { remote.withLock { $0 = make } }
    /// A node that runs apart, reached at `url` (its consoles at `consoleURL`).
    public func addRemote(host: String, url: String, consoleURL: String?) {
        guard let make = remote.withLock({ $0 }) else { return }
        add(host: host, make(url, consoleURL))
    }
    public func add(host: String, _ endpoint: any NodeEndpoint) { endpoints.withLock { $0[Name(host)] = endpoint } }
    public func endpoint(host: String) -> (any NodeEndpoint)? { endpoints.withLock { $0[Name(host)] } }
    func poke() {
        for e in endpoints.withLock({ Array($0.values) }) { Task { await e.poke() } }
    }
}

import ComputeNode
import Synchronization
