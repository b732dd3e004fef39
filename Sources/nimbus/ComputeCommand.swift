import ArgumentParser
import AsyncHTTPClient
import ComputeNode
import Foundation
import Hummingbird
import Logging
import NetworkNode
import NimbusCore
import ServiceLifecycle

/// `nimbus compute`: a compute node apart from the controller. It registers with the controller
/// over the agent API, converges the instances placed on it, and serves the controller's
/// pokes and console reads on `--listen`. Its driver options are `[compute_node]` of the
/// configuration file.
struct ComputeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute", abstract: "Run a compute node that takes its instances from a controller.")

    @Option(help: "The controller's base URL (e.g. http://127.0.0.1:5000).")
    var controller: String

    @Option(help: "This node's host name, as the controller and `openstack hypervisor list` show it.")
    var host: String

    @Option(help: "Directory for the node's files (instances, base image cache) under <data-dir>/compute.")
    var dataDir: String

    @Option(help: "HOST:PORT the node's own API listens on (pokes and console reads from the controller).")
    var listen: String = "127.0.0.1:6300"

    @Option(help: "HOST:PORT of the node's console streams, a websocket listener the controller's console proxy opens (default: --listen's host, its port + 1).")
    var consoleListen: String?

    @Option(help: "File with the key shared with the controller (the controller's data_dir/compute/agent-key).")
    var keyFile: String

    @Option(help: "Configuration file with a [compute_node] section (driver, accelerator, …).")
    var configFile: String?

    @Option(help: "Seconds between passes over the node's instances.")
    var interval: Int = 10

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard !host.isEmpty, host.utf8.count <= 255, !host.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) else {
            throw ValidationError("--host: 1 to 255 printable characters without spaces")
        }
        guard controller.hasBytePrefix("http://") || controller.hasBytePrefix("https://") else {
            throw ValidationError("--controller must be an http:// or https:// URL")
        }
    }

    func run() async throws {
        let logger = { var l = Up.bootstrapLogging(level: logLevel); l[metadataKey: "service"] = "compute-node"; return l }()
        let (listenHost, port) = try NimbusConfiguration.hostPort(listen, what: "--listen")
        guard let key = try SharedKey.read(path: keyFile, what: "compute agent key") else { throw ValidationError("cannot read --key-file \(keyFile)") }
        let values = try Configuration(options: ComputeNodeConfig.options + Self.networkOptions, file: configFile, overrides: [:])
        let dir = dataDir.hasBytePrefix("/") ? dataDir : FileManager.default.currentDirectoryPath + "/" + dataDir
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let nodeConfig = try ComputeNodeConfig(configuration: values, dataDir: dir)
        let driver = try VirtDriverFactory.make(nodeConfig, logger: logger)
        let control = RemoteNodeControl(controller: controller, key: key)
        let (consoleHost, consolePort) = try consoleListen.map { try NimbusConfiguration.hostPort($0, what: "--console-listen") } ?? (listenHost, port + 1)
        let agent = ComputeAgent(host: host, endpoint: "http://\(listenHost):\(port)", consoleEndpoint: "http://\(consoleHost):\(consolePort)",
                                 migrationAddress: nodeConfig.migrationAddress(listenHost: listenHost),
                                 driver: driver, control: control,
                                 interval: .seconds(max(1, interval)), logger: logger)
        let api = NodeAgentAPI(agent: agent, key: key)
        var services: [any Service] = [LoopService { await agent.run() }]
        if let networkAgent = Self.networkAgent(values, host: host, controller: controller, key: key, dataDir: dir, logger: logger) {
            services.append(LoopService { await networkAgent.runBackToBack() })
        }
        // Console streams on their own listener (websocket upgrades only; see ConsoleListener).
        let consoleApp = Application(
            router: Router(),
            server: ConsoleListener.server { head in
                guard let stream = await api.consoleUpgrade(head) else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in try await stream(inbound, outbound) }
            },
            configuration: .init(address: .hostname(consoleHost, port: consolePort), serverName: "nimbus-compute-console"),
            logger: logger
        )
        let app = Application(
            router: api.router(),
            server: .http1(configuration: .init(idleTimeout: .seconds(120))),
            configuration: .init(address: .hostname(listenHost, port: port), serverName: "nimbus-compute"),
            services: services + [consoleApp],
            onServerRunning: { _ in
                print("Nimbus compute node \(host) is up at http://\(listenHost):\(port) (consoles on \(consoleHost):\(consolePort)), controller \(controller)")
                fflush(nil)
            },
            logger: logger
        )
        try await app.runService()
    }

    static let networkOptions: [ConfigOption] = [
        ConfigOption("network", "datapath", default: "linux", "The node's network agent: linux (bridges, taps, VXLAN, nftables for its guests' ports), fake (nothing touches the kernel) or none."),
    ] + NetworkAssembly.hostOptions

    /// The node's network agent: wires the ports bound to this host, taking its topology from
    /// the controller (a long poll) and joining the other hosts over VXLAN.
    static func networkAgent(_ v: Configuration, host: String, controller: String, key: String, dataDir: String, logger: Logger) -> NetworkAgent? {
        var log = logger
        log[metadataKey: "service"] = "network-agent"
        let datapath: any Datapath
        switch v.string("network", "datapath") {
        case "none": return nil
        case "fake": datapath = FakeDatapath()
        default:
            let attachments: [String: PhysicalAttachment]
            do { attachments = try NetworkAssembly.physicalMappings(v) } catch {
                log.error("network datapath not started: \(error)")
                return nil
            }
            guard let linux = NetworkAssembly.linuxDatapath(values: v, runDir: NetworkAssembly.runDir(dataDir: dataDir), attachments: attachments,
                                                            metadata: nil, logger: log) else { return nil }
            datapath = linux
        }
        let tunnel = v.string("network", "tunnel_ip").trimmingCharacters(in: .whitespaces)
        return NetworkAgent(host: host, tunnelIP: tunnel.isEmpty ? nil : tunnel, source: RemoteTopologySource(controller: controller, key: key),
                            datapath: datapath, logger: log)
    }
}
