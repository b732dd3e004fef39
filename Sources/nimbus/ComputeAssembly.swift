import Compute
import Foundation
import Logging
import NimbusCore
import NimbusPolicy
import NimbusStore

/// Builds the compute service (Nova's API) and creates the default flavors on first start.
enum ComputeAssembly {
    static func build(config: NimbusConfiguration, database: Database, publicURL: String, identityURL: String, logger: Logger) async throws -> ComputeAPI {
        let log = { var l = logger; l[metadataKey: "service"] = "compute"; return l }()
        let service = ComputeService(database: database, logger: log)
        try await service.bootstrap()
        var overrides = [String: String]()
        let policyFile = config.values.string("compute", "policy_file")
        if !policyFile.isEmpty { overrides = try PolicyEnforcer.loadOverrides(path: policyFile) }
        let policy = try PolicyEnforcer(defaults: NovaPolicyDefaults.rules, overrides: overrides, scopeTypes: NovaPolicyDefaults.scopeTypes)
        return ComputeAPI(service: service, policy: policy, publicURL: publicURL, identityURL: identityURL)
    }
}
