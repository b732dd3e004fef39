import Foundation
import Logging
import Networking
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
    ]

    static func build(config: NimbusConfiguration, database: Database, publicURL: String, identityURL: String, adminProject: String,
                      demoProject: String?, logger: Logger) async throws -> NeutronAPI {
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
        return NeutronAPI(service: service, policy: policy, publicURL: publicURL, identityURL: identityURL)
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
