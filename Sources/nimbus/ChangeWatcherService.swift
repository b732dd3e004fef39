import Identity
import ServiceLifecycle

/// Runs `IdentityService.watchSharedChanges` for the life of the process, stopping on shutdown.
struct ChangeWatcherService: Service {
    let identity: IdentityService
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await identity.watchSharedChanges(every: interval)
        }
    }
}
