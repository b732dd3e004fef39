import Foundation
import ComputeNode
import Crypto
import Logging
import NetworkNode
import Networking
import ServiceLifecycle
import NimbusCore
import NimbusPolicy
import NimbusStore

/// Builds the network service (Neutron's API over `NetworkService`) and, on first start, the
/// networks DevStack makes: an external `public` network with a floating-IP subnet, and in the
/// demo project a `private` network with a router to `public`.
enum NetworkAssembly {
    static let options: [ConfigOption] = [
        ConfigOption("network", "policy_file", default: "", "YAML or JSON file of Neutron policy rules overriding the defaults."),
        ConfigOption("network", "public_cidr", default: "172.24.4.0/24", "CIDR of the `public` network's subnet made at first start (DevStack's FLOATING_RANGE)."),
        ConfigOption("network", "private_cidr", default: "10.0.0.0/26", "CIDR of the demo project's `private` subnet made at first start (DevStack's FIXED_RANGE)."),
        ConfigOption("network", "create_default_networks", default: "true", "Create `public`, `private` and `router1` at first start, as DevStack does."),
        ConfigOption("network", "datapath", default: "linux", "The datapath of the network agent in this process: linux (bridges, namespaces, dnsmasq, nftables), fake (nothing touches the kernel; scale tests) or none (no agent)."),
        ConfigOption("network", "outside_namespace", default: "nimbus-public", "The namespace that plays the outside of the `public` network on one machine (its address: the public subnet's gateway)."),
        ConfigOption("network", "change_poll_interval_ms", default: "1000", "Milliseconds between checks for another controller's network changes (several controllers on one PostgreSQL)."),
        ConfigOption("network", "outside_interface", default: "", "A host interface or bridge to attach the `public` network to instead of the outside namespace (a real deployment)."),
    ] + hostOptions

    /// What every host's network agent reads (`nimbus up` and `nimbus compute`).
    static let hostOptions: [ConfigOption] = [
        ConfigOption("network", "host_namespace", default: "", "A network namespace that is this host's network stack: its bridges, taps, VXLAN devices, firewall and guests (empty: the process's own). Lets several hosts share one machine."),
        ConfigOption("network", "tunnel_ip", default: "", "This host's VXLAN endpoint address (Neutron's [vxlan] local_ip); empty: no tunnels (a single host)."),
        ConfigOption("network", "tunnel_interface", default: "", "The underlay device VXLAN packets leave through (empty: by route)."),
        ConfigOption("network", "physical_interface_mappings", default: "",
                     "Provider networks on this host (the linuxbridge agent's option): physnet:interface pairs, comma-separated; a flat network's bridge takes the interface, a VLAN network's a tagged subinterface <interface>.<vlan>."),
    ]

    /// `physical_interface_mappings`: physical network → interface (names as bytes; an interface
    /// name is 1–15 bytes without '/', ':', ',' or whitespace).
    static func physicalMappings(_ v: Configuration) throws -> [String: PhysicalAttachment] {
        var out = [String: PhysicalAttachment]()
        for pair in v.string("network", "physical_interface_mappings").splitBytes(",") {
            let item = String(pair).trimmingCharacters(in: .whitespaces)
            if item.isEmpty { continue }
            let parts = item.splitBytes(":", omittingEmpty: false).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, (1...15).contains(parts[1].utf8.count),
                  parts[1].utf8.allSatisfy({ $0 > 32 && $0 != UInt8(ascii: "/") && $0 < 127 }) else {
                throw NimbusError.badRequest("[network] physical_interface_mappings: '\(item)' is not physnet:interface")
            }
            guard out[parts[0]] == nil else { throw NimbusError.badRequest("[network] physical_interface_mappings: \(parts[0]) is mapped twice") }
            out[parts[0]] = .interface(parts[1])
        }
        return out
    }

    /// The Linux datapath of this host, or nil (with the reason logged) when it cannot run here.
    static func linuxDatapath(values v: Configuration, runDir: String, attachments: [String: PhysicalAttachment], metadata: MetadataServer?,
                              logger: Logger) -> LinuxDatapath? {
        for tool in ["dnsmasq", "nft", "ip", "bridge"] where !["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].contains(where: {
            FileManager.default.isExecutableFile(atPath: $0 + tool)
        }) {
            logger.error("network datapath not started: \(tool) is missing (scripts/install-deps.sh installs it)")
            return nil
        }
        guard geteuid() == 0 else {
            logger.error("network datapath not started: it needs root (CAP_NET_ADMIN) for bridges, namespaces and nftables")
            return nil
        }
        func value(_ key: String) -> String? {
            let s = v.string("network", key).trimmingCharacters(in: .whitespaces)
            return s.isEmpty ? nil : s
        }
        let namespace = value("host_namespace")
        if let namespace, !FileManager.default.fileExists(atPath: "/run/netns/" + namespace) {
            logger.error("network datapath not started: [network] host_namespace \(namespace) does not exist (ip netns add)")
            return nil
        }
        let tunnel = value("tunnel_ip")
        if let tunnel, !LinuxDatapath.isAddress(tunnel) {
            logger.error("network datapath not started: [network] tunnel_ip \(tunnel) is not an IP address")
            return nil
        }
        return LinuxDatapath(runner: ProcessCommandRunner(), runDir: runDir, attachments: attachments, metadata: metadata,
                             hostNamespace: namespace, tunnelIP: tunnel, tunnelDevice: value("tunnel_interface"), logger: logger)
    }

    /// The run directory of a data dir's datapath: a world-readable place (dnsmasq reads its
    /// files after dropping its privileges) named after the data dir.
    static func runDir(dataDir: String, service: String = "network") -> String {
        "/run/nimbus-\(service)-" + SHA256.hash(data: Data(dataDir.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    struct Built {
        let api: NeutronAPI
        let services: [any Service]
        /// The metadata service of the Linux datapath (nil with another datapath).
        let metadata: MetadataServer?
    }

    /// The agent's view of the network service in this process, as the network node.
    struct LocalSource: TopologySource {
        let service: NetworkService
        func topology(_ agent: AgentHello) async throws -> HostTopology {
            try await service.agentHello(agent, networkNode: true)
            return service.topology(host: agent.host, networkNode: true)
        }
        func reportWired(host: String, considered: Set<String>, wired: Set<String>) async throws {
            try await service.reportWired(host: host, considered: considered, wired: wired, networkNode: true)
        }
    }

    /// The in-process network agent (the whole network node in `nimbus up`), on the compute host's name.
    static func agent(config: NimbusConfiguration, service: NetworkService, metadata: MetadataServer, logger: Logger) -> NetworkAgent? {
        let v = config.values
        let kind = v.string("network", "datapath")
        let datapath: any Datapath
        switch kind {
        case "none": return nil
        case "fake": datapath = FakeDatapath()
        default:
            var attachments: [String: PhysicalAttachment]
            do { attachments = try physicalMappings(v) } catch {
                logger.error("network datapath not started: \(error)")
                return nil
            }
            let outside = v.string("network", "outside_interface")
            if !outside.isEmpty {
                attachments["public"] = .interface(outside)
            } else if let net = IPNetwork(v.string("network", "public_cidr")) {
                attachments["public"] = .namespace(name: v.string("network", "outside_namespace"), address: "\(net.network.adding(1))/\(net.prefixLength)")
            }
            guard let linux = linuxDatapath(values: v, runDir: runDir(dataDir: config.dataDir), attachments: attachments, metadata: metadata,
                                            logger: logger) else { return nil }
            datapath = linux
        }
        let configured = v.string("compute", "host").trimmingCharacters(in: .whitespaces)
        let host = configured.isEmpty ? ProcessInfo.processInfo.hostName : configured
        let tunnel = v.string("network", "tunnel_ip").trimmingCharacters(in: .whitespaces)
        return NetworkAgent(host: host, tunnelIP: tunnel.isEmpty ? nil : tunnel, source: LocalSource(service: service), datapath: datapath, logger: logger)
    }

    static func build(config: NimbusConfiguration, database: Database, publicURL: String, identityURL: String, adminProject: String,
                      demoProject: String?, logger: Logger) async throws -> Built {
        var log = logger
        log[metadataKey: "service"] = "network"
        let service = try await NetworkService(store: NetworkStore(database: database), logger: log)
        var overrides = [String: String]()
        let policyFile = config.values.string("network", "policy_file")
        if !policyFile.isEmpty { overrides = try PolicyEnforcer.loadOverrides(path: policyFile) }
        let policy = try PolicyEnforcer(defaults: NeutronPolicyDefaults.rules, overrides: overrides, scopeTypes: NeutronPolicyDefaults.scopeTypes)
        if config.values.bool("network", "create_default_networks") {
            try await createDefaults(service, publicCIDR: config.values.string("network", "public_cidr"),
                                     privateCIDR: config.values.string("network", "private_cidr"), admin: adminProject, demo: demoProject, logger: log)
        }
        let api = NeutronAPI(service: service, policy: policy, publicURL: publicURL, identityURL: identityURL)
        let poll = Duration.milliseconds(max(50, config.values.int("network", "change_poll_interval_ms")))
        let watcher = LoopService { await service.watchChanges(every: poll) }
        let metadata = MetadataServer(network: service, logger: log)
        guard let agent = agent(config: config, service: service, metadata: metadata, logger: log) else {
            return Built(api: api, services: [watcher], metadata: nil)
        }
        service.onCommit { _ in agent.poke() }
        return Built(api: api, services: [watcher, LoopService { await agent.run() }], metadata: metadata)
    }

    static func createDefaults(_ service: NetworkService, publicCIDR: String, privateCIDR: String, admin: String, demo: String?, logger: Logger) async throws {
        let s = service.state
        guard !s.all(.network).contains(where: { $0["name"]?.stringValue == "public" && $0["router:external"]?.boolValue == true }) else { return }
        let adminActor = NetworkActor(projectID: admin, isAdmin: true)
        func spec(_ kind: ResourceKind, _ o: JSONObject) throws -> JSONObject { try ResourceSpecs.prepareCreate(kind, o) }
        let network = try await service.createNetwork(try spec(.network, ["name": "public", "router:external": true, "provider:network_type": "flat",
                                                                         "provider:physical_network": "public", "description": "The outside: floating IPs and router gateways"]),
                                                      actor: adminActor)
        let publicID = network["id"]!.stringValue!
        _ = try await service.createSubnet(try spec(.subnet, ["name": "public-subnet", "network_id": .string(publicID), "ip_version": 4,
                                                             "cidr": .string(publicCIDR), "enable_dhcp": false]), actor: adminActor)
        guard let demo else { return }
        let demoActor = NetworkActor(projectID: demo, isAdmin: false)
        let priv = try await service.createNetwork(try spec(.network, ["name": "private"]), actor: demoActor)
        let privSubnet = try await service.createSubnet(try spec(.subnet, ["name": "private-subnet", "network_id": priv["id"]!, "ip_version": 4,
                                                                          "cidr": .string(privateCIDR)]), actor: demoActor)
        let router = try await service.createRouter(try spec(.router, ["name": "router1", "external_gateway_info": ["network_id": .string(publicID)]]),
                                                    actor: demoActor)
        _ = try await service.addRouterInterface(router["id"]!.stringValue!, subnetID: privSubnet["id"]!.stringValue!, portID: nil, actor: demoActor)
        logger.info("created the networks public (\(publicCIDR)) and, for the demo project, private (\(privateCIDR)) with router1")
    }
}
