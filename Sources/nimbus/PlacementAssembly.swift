import Logging
import NimbusPolicy
import NimbusStore
import Placement
import ServiceLifecycle

/// Builds the placement service (`/placement`): the in-memory state loaded from the database,
/// Placement's default policy with `[placement] policy_file` overrides, and the loop that
/// notices writes by other controllers.
enum PlacementAssembly {
    struct Built {
        let api: PlacementAPI
        let service: PlacementService
        let watcher: any Service
    }

    static func build(config: NimbusConfiguration, database: Database, identityURL: String, logger: Logger) async throws -> Built {
        let v = config.values
        var settings = PlacementSettings()
        settings.maxAllocationCandidates = max(1, v.int("placement", "max_allocation_candidates"))
        settings.maxCombinations = max(1, v.int("placement", "max_candidate_combinations"))
        let log = { var l = logger; l[metadataKey: "service"] = "placement"; return l }()
        let service = try await PlacementService(database: database, settings: settings, logger: log)
        var overrides = [String: String]()
        let policyFile = v.string("placement", "policy_file")
        if !policyFile.isEmpty { overrides = try PolicyEnforcer.loadOverrides(path: policyFile) }
        let policy = try PolicyEnforcer(defaults: PlacementPolicyDefaults.rules, overrides: overrides, scopeTypes: PlacementPolicyDefaults.scopeTypes)
        let interval = Duration.milliseconds(max(50, v.int("placement", "change_poll_interval_ms")))
        return Built(api: PlacementAPI(service: service, policy: policy, identityURL: identityURL), service: service,
                     watcher: PlacementWatcherService(service: service, interval: interval))
    }
}

/// Runs `PlacementService.watchChanges` for the life of the process.
struct PlacementWatcherService: Service {
    let service: PlacementService
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await service.watchChanges(every: interval)
        }
    }
}
