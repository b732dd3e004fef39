import Foundation
import Compute
import Hummingbird
import BlockStorage
import Identity
import Image
import Logging
import Metrics
import Networking
import NimbusCore
import NimbusHTTP
import NimbusPolicy
import NimbusStore
import ObjectStorage
import Placement
import Prometheus
import ServiceLifecycle

/// The composition root: the only place that picks concrete types and wires services together.
struct CloudAssembly {
    let database: Database
    let responder: NimbusResponder
    let cloudsYAML: String
    let backgroundServices: [any Service]
    /// The console proxy, whose websockets the server upgrades to.
    let consoles: ConsoleProxy

    static func build(config: NimbusConfiguration, logger: Logger) async throws -> CloudAssembly {
        let dataDir = config.dataDir
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let database = try await Database.open(url: config.databaseURL, dataDirectory: dataDir, logger: logger)
        do {
            return try await assemble(config: config, database: database, registry: registry, logger: logger)
        } catch {
            await database.close()
            throw error
        }
    }

    private static func assemble(config: NimbusConfiguration, database: Database, registry: PrometheusCollectorRegistry,
                                 logger: Logger) async throws -> CloudAssembly {
        let dataDir = config.dataDir
        try await Migrator(database: database).migrate(AllMigrations.list)

        let (host, port) = try config.listen
        _ = host
        let base = "http://\(config.publicHost):\(port)"
        let identityURL = base + "/identity"
        let sealer = try TokenSealer.loadOrCreate(path: dataDir + "/keys/token-keys")
        var settings = IdentitySettings(
            tokenLifetime: TimeInterval(config.values.int("identity", "token_expiration")),
            allowExpiredWindow: TimeInterval(config.values.int("identity", "allow_expired_window")),
            passwordHashRounds: config.values.int("identity", "password_hash_rounds"))
        settings.oauthRequestTokenDuration = TimeInterval(config.values.int("oauth1", "request_token_duration"))
        settings.oauthAccessTokenDuration = TimeInterval(config.values.int("oauth1", "access_token_duration"))
        let sc = "security_compliance"
        settings.security.lockoutFailureAttempts = config.values.int(sc, "lockout_failure_attempts")
        settings.security.lockoutDuration = TimeInterval(config.values.int(sc, "lockout_duration"))
        settings.security.uniqueLastPasswordCount = config.values.int(sc, "unique_last_password_count")
        settings.security.passwordExpiresDays = config.values.int(sc, "password_expires_days")
        settings.security.minimumPasswordAgeDays = config.values.int(sc, "minimum_password_age")
        let regex = config.values.string(sc, "password_regex")
        settings.security.passwordRegex = regex.isEmpty ? nil : regex
        let regexDescription = config.values.string(sc, "password_regex_description")
        settings.security.passwordRegexDescription = regexDescription.isEmpty ? nil : regexDescription
        settings.security.changePasswordUponFirstUse = config.values.bool(sc, "change_password_upon_first_use")
        let identity = try await IdentityService(database: database, settings: settings, sealer: sealer, logger: logger)

        let adminPassword = try Secrets.password(configured: config.values.string("identity", "admin_password"), file: dataDir + "/admin-password")
        let demoPassword = try Secrets.password(configured: config.values.string("identity", "demo_password"), file: dataDir + "/demo-password")
        try await IdentityBootstrap(service: identity).run(
            adminPassword: adminPassword, demoPassword: demoPassword, region: config.region,
            catalog: [CatalogEntry(type: "identity", name: "keystone", url: identityURL),
                      CatalogEntry(type: "object-store", name: "swift", url: base + "/object/v1/AUTH_%(project_id)s"),
                      CatalogEntry(type: "image", name: "glance", url: base + "/image"),
                      CatalogEntry(type: "compute", name: "nova", url: base + "/compute/v2.1"),
                      CatalogEntry(type: "placement", name: "placement", url: base + "/placement"),
                      CatalogEntry(type: "network", name: "neutron", url: base + "/network"),
                      CatalogEntry(type: "block-storage", name: "cinder", url: base + "/volume/v3/%(project_id)s"),
                      CatalogEntry(type: "volumev3", name: "cinderv3", url: base + "/volume/v3/%(project_id)s")],
            extraRoles: SwiftAccessPolicy.roleNames)

        let cloudsYAML = dataDir + "/clouds.yaml"
        try CloudsYAML.write(path: cloudsYAML, authURL: identityURL + "/v3", region: config.region,
                             adminPassword: adminPassword, demoPassword: demoPassword)

        var overrides = [String: String]()
        let policyFile = config.values.string("identity", "policy_file")
        if !policyFile.isEmpty { overrides = try PolicyEnforcer.loadOverrides(path: policyFile) }
        let policy = try PolicyEnforcer(defaults: IdentityPolicyDefaults.rules, overrides: overrides, scopeTypes: IdentityPolicyDefaults.scopeTypes)
        let identityAPI = IdentityAPI(service: identity, policy: policy, publicURL: identityURL)

        let objects = try ObjectStorageAssembly.build(config: config, database: database, logger: logger)
        let swiftAPI = SwiftAPI(service: objects.service)
        guard let adminProject = try await identity.project(named: "admin", domainID: "default") else {
            throw NimbusError(.internal, "the bootstrap admin project is missing")
        }
        let imageAPI = try await ImageAssembly.build(config: config, database: database, identity: identity, objects: objects.service, account: ObjectImageStore.account,
                                                     publicURL: base + "/image", identityURL: identityURL, logger: logger)
        if config.values.bool("image", "register_test_image") {
            Task { await ImageAssembly.registerTestImage(api: imageAPI, owner: adminProject.id, logger: logger) }
        }

        let demoProject = try await identity.project(named: "demo", domainID: "default")
        let network = try await NetworkAssembly.build(config: config, database: database, publicURL: base + "/network", identityURL: identityURL,
                                                      adminProject: adminProject.id, demoProject: demoProject?.id, logger: logger)

        let placement = try await PlacementAssembly.build(config: config, database: database, identityURL: identityURL, logger: logger)
        let volume = try await BlockStorageAssembly.build(config: config, database: database, images: imageAPI.service, objects: objects.service,
                                                          publicURL: base + "/volume", identityURL: identityURL, identity: identity, logger: logger)
        let compute = try await ComputeAssembly.build(config: config, database: database, images: imageAPI.service, placement: placement.service,
                                                      network: network.api.service, volumes: volume.api.service, dataDir: dataDir,
                                                      publicURL: base + "/compute", identityURL: identityURL, logger: logger)

        network.metadata?.attach(compute: compute.api.service)
        volume.api.service.setAttachedVolumeListener(ComputeVolumeListener(compute: compute.api.service))
        let root: [String: RouteHandler] = [
            "/info": swiftAPI.infoHandler,
            "/healthcheck": { _, _ in
                var h = HTTPFields()
                h[.contentType] = "text/plain"
                return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: "OK")))
            },
            "/metrics": { _, _ in
                var h = HTTPFields()
                h[.contentType] = "text/plain; version=0.0.4"
                return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            },
            "/": { _, _ in
                .json(["services": ["identity": .string(identityURL), "object-store": .string(base + "/object"), "image": .string(base + "/image"),
                                    "compute": .string(base + "/compute"),
                                    "placement": .string(base + "/placement"), "network": .string(base + "/network"),
                                    "block-storage": .string(base + "/volume")], "version": .string(Nimbus.version)])
            },
        ]
        let responder = NimbusResponder(tables: [identityAPI.routes, swiftAPI.routes, imageAPI.routes, compute.api.routes, compute.agentAPI.routes, placement.api.routes, network.api.routes, volume.api.routes,
                                                          NetworkAgentWire.routes(service: network.api.service, key: try ComputeAssembly.agentKey(config: config))], validator: identity, rootHandlers: root, fallbackRenderer: GenericErrorRenderer())
        let pollInterval = Duration.milliseconds(max(50, config.values.int("identity", "change_poll_interval_ms")))
        return CloudAssembly(database: database, responder: responder, cloudsYAML: cloudsYAML,
                             backgroundServices: [ChangeWatcherService(identity: identity, interval: pollInterval), placement.watcher] + objects.loops + compute.services + network.services + volume.services,
                             consoles: compute.consoles)
    }
}

enum Secrets {
    /// The configured password, else the one stored in `file`, else a new one stored there (mode 0600).
    static func password(configured: String, file: String) throws -> String {
        if !configured.isEmpty {
            try write(configured, to: file)
            return configured
        }
        if let stored = try? String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !stored.isEmpty {
            return stored
        }
        let generated = Base64URL.encode((0..<18).map { _ in UInt8.random(in: 0...255) })
        try write(generated, to: file)
        return generated
    }

    static func write(_ secret: String, to file: String) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: file) { try fm.removeItem(atPath: file) }
        guard fm.createFile(atPath: file, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw NimbusError(.internal, "cannot write \(file)")
        }
    }
}

enum CloudsYAML {
    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    static func write(path: String, authURL: String, region: String, adminPassword: String, demoPassword: String) throws {
        func cloud(_ name: String, user: String, password: String, scope: String) -> String {
            """
              \(name):
                auth:
                  auth_url: \(authURL)
                  username: \(user)
                  password: \(quoted(password))
                  user_domain_name: Default
            \(scope)
                region_name: \(region)
                identity_api_version: 3
                interface: public

            """
        }
        let project = { (p: String) in "      project_name: \(p)\n      project_domain_name: Default" }
        let text = "# Written by nimbus up. Use: OS_CLIENT_CONFIG_FILE=\(path) openstack --os-cloud nimbus …\nclouds:\n"
            + cloud("nimbus", user: "admin", password: adminPassword, scope: project("admin"))
            + cloud("nimbus-demo", user: "demo", password: demoPassword, scope: project("demo"))
            + cloud("nimbus-system", user: "admin", password: adminPassword, scope: "      system_scope: all")
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
        fm.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    }
}
