import BlockStorage
import Compute
import ComputeNode
import Foundation
import Image
import Logging
import Networking
import NimbusCore
import NimbusPolicy
import NimbusStore
import Placement
import ServiceLifecycle

/// Builds the compute service (Nova's API, the conductor/scheduler over Placement) and, in
/// `nimbus up`, the compute node running in this process.
enum ComputeAssembly {
    struct Built {
        let api: ComputeAPI
        /// The agent API `nimbus compute` nodes talk to (`/compute-agent`).
        let agentAPI: AgentControlAPI
        let services: [any Service]
        /// The console proxy (noVNC's files and the console websockets, on `[console] listen`).
        let consoles: ConsoleProxy
    }

    static let options: [ConfigOption] = [
        ConfigOption("compute", "policy_file", default: "", "YAML or JSON file of Nova policy rules overriding the defaults."),
        ConfigOption("compute", "local_node", default: "true", "Run a compute node in this process (its driver: [compute_node] driver)."),
        ConfigOption("compute", "host", default: "", "Host name of the compute node in this process (default: this machine's host name)."),
        ConfigOption("compute", "force_config_drive", default: "true", "Give every server a config drive (Nova's force_config_drive); the guest's metadata source until the network service exists."),
        ConfigOption("compute", "max_build_attempts", default: "3", "Hosts a build may fail on before the server is ERROR (Nova's max_attempts)."),
        ConfigOption("compute", "agent_key_file", default: "", "File with the secret shared with `nimbus compute` nodes (default: data_dir/compute/agent-key, created on first start)."),
        ConfigOption("compute", "shelved_offload_time", default: "0", "Seconds a shelved server keeps its host before it is offloaded (Nova's shelved_offload_time; 0: at once, -1: never)."),
        ConfigOption("compute", "agent_interval_s", default: "10", "Seconds between a compute node's passes over its instances (it is also woken on every change)."),
        ConfigOption("console", "listen", default: "", "HOST:PORT of the console proxy (noVNC's page, console websockets); default the API's host on a free port."),
        ConfigOption("vnc", "enabled", default: "true", "Serve VNC consoles (noVNC) through the console proxy (Nova's [vnc] enabled)."),
        ConfigOption("vnc", "novncproxy_base_url", default: "", "The noVNC page console URLs point at (default: the console proxy's /vnc_lite.html)."),
        ConfigOption("vnc", "novnc_dir", default: "", "Directory of noVNC's files, served by the console proxy (default: /usr/share/novnc or /usr/local/share/novnc)."),
        ConfigOption("serial_console", "enabled", default: "true", "Serve interactive serial consoles over websockets (Nova's [serial_console] enabled)."),
        ConfigOption("serial_console", "base_url", default: "", "The websocket serial console URLs point at (default: the console proxy's ws://…/websockify)."),
        ConfigOption("consoleauth", "token_ttl", default: "600", "Seconds a console URL's token stays valid (Nova's [consoleauth] token_ttl)."),
    ]

    static func build(config: NimbusConfiguration, database: Database, images: ImageService, placement: PlacementService, network: NetworkService?,
                      volumes: VolumeService?, dataDir: String,
                      publicURL: String, identityURL: String, logger: Logger) async throws -> Built {
        let v = config.values
        let log = { var l = logger; l[metadataKey: "service"] = "compute"; return l }()
        var settings = ComputeSettings()
        settings.forceConfigDrive = v.bool("compute", "force_config_drive")
        settings.maxBuildAttempts = max(1, v.int("compute", "max_build_attempts"))
        settings.shelvedOffloadTime = max(-1, v.int("compute", "shelved_offload_time"))
        settings.consoles.vncEnabled = v.bool("vnc", "enabled")
        settings.consoles.serialEnabled = v.bool("serial_console", "enabled")
        settings.consoles.novncBaseURL = v.string("vnc", "novncproxy_base_url")
        settings.consoles.serialBaseURL = v.string("serial_console", "base_url")
        settings.consoles.tokenTTL = TimeInterval(max(1, v.int("consoleauth", "token_ttl")))
        let service = ComputeService(database: database, images: ComputeImageClient(images: images),
                                     placement: ComputePlacementClient(placement: placement),
                                     network: network.map { ComputeNetworkClient(network: $0) }, volumes: volumes.map { ComputeVolumeClient(volumes: $0) },
                                     settings: settings, logger: log)
        try await service.bootstrap()
        var overrides = [String: String]()
        let policyFile = v.string("compute", "policy_file")
        if !policyFile.isEmpty { overrides = try PolicyEnforcer.loadOverrides(path: policyFile) }
        let policy = try PolicyEnforcer(defaults: NovaPolicyDefaults.rules, overrides: overrides, scopeTypes: NovaPolicyDefaults.scopeTypes)
        let api = ComputeAPI(service: service, policy: policy, publicURL: publicURL, identityURL: identityURL)
        let consoles = ConsoleProxy(service: service, novncDir: ConsoleProxy.novncDirectory(configured: v.string("vnc", "novnc_dir")), logger: log)
        let key = try agentKey(config: config)
        let control = ComputeNodeControl(service: service, key: key)
        // Nodes that run apart are reached at the address they registered with.
        service.nodes.setRemoteFactory { url, consoleURL in RemoteNodeEndpoint(url: url, consoleURL: consoleURL, key: key) }
        for h in try await service.hosts.list() {
            if let url = h.hypervisor["agent_endpoint"]?.stringValue {
                service.nodes.addRemote(host: h.host, url: url, consoleURL: h.hypervisor["console_endpoint"]?.stringValue)
            }
        }

        var services: [any Service] = [LoopService { await service.runConductor() }]
        if v.bool("compute", "local_node") {
            var nodeLog = logger
            nodeLog[metadataKey: "service"] = "compute-node"
            let nodeConfig = try ComputeNodeConfig(configuration: v, dataDir: dataDir)
            let driver: any VirtDriver
            do {
                driver = try VirtDriverFactory.make(nodeConfig, logger: nodeLog)
            } catch {
                // The cloud still serves every API; servers find no host until a node registers.
                nodeLog.error("the compute node in this process is not started: \(error)")
                return Built(api: api, agentAPI: AgentControlAPI(control: control, key: key), services: services, consoles: consoles)
            }
            let listenHost = URL(string: publicURL)?.host ?? "127.0.0.1"
            let configured = v.string("compute", "host").trimmingCharacters(in: .whitespaces)
            let host = configured.isEmpty ? ProcessInfo.processInfo.hostName : configured
            let interval = Duration.seconds(max(1, v.int("compute", "agent_interval_s")))
            let agent = ComputeAgent(host: host, migrationAddress: nodeConfig.migrationAddress(listenHost: listenHost), driver: driver, control: control,
                                     interval: interval, logger: nodeLog)
            service.nodes.add(host: host, LocalNode(agent: agent))
            services.append(LoopService { await agent.run() })
            return Built(api: api, agentAPI: AgentControlAPI(control: control, key: key, localAgent: agent), services: services, consoles: consoles)
        }
        return Built(api: api, agentAPI: AgentControlAPI(control: control, key: key), services: services, consoles: consoles)
    }

    /// The secret shared with compute nodes: `[compute] agent_key_file`, or data_dir/compute/agent-key.
    static func agentKey(config: NimbusConfiguration) throws -> String {
        try SharedKey.loadOrCreate(configured: config.values.string("compute", "agent_key_file"),
                                   defaultPath: config.dataDir + "/compute/agent-key", what: "compute agent key")
    }
}

/// The in-process compute node as the controller reaches it.
struct LocalNode: NodeEndpoint {
    let agent: ComputeAgent
    func poke() async { await agent.poke() }
    func consoleLog(_ instance: String, lines: Int?) async throws -> String { try await agent.consoleLog(instance, lines: lines) }
    func diagnostics(_ instance: String) async throws -> GuestDiagnostics { try await agent.diagnostics(instance) }
    func injectNMI(_ instance: String) async throws { try await agent.injectNMI(instance) }
    func controlMigration(_ instance: String, _ action: MigrationControl) async throws { try await agent.controlMigration(instance, action) }
    func checkConsole(_ instance: String, _ kind: ConsoleKind) async throws { try await agent.checkConsole(instance, kind) }
    func withConsole(_ instance: String, _ kind: ConsoleKind, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {
        try await agent.withConsole(instance, kind, body)
    }
}

/// A loop that runs for the life of the process and stops at graceful shutdown.
struct LoopService: Service {
    let body: @Sendable () async -> Void
    init(_ body: @escaping @Sendable () async -> Void) { self.body = body }
    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}
