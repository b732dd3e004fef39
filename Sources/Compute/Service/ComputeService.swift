import Foundation
import Logging
import NimbusCore
import NimbusStore

/// The compute service below HTTP: flavors, keypairs and servers, with Nova's rules.
public final class ComputeService: Sendable {
    public let database: Database
    public let flavors: FlavorRepository
    public let keypairs: KeypairRepository
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.flavors = FlavorRepository(database: database)
        self.keypairs = KeypairRepository(database: database)
        self.logger = logger
    }

    /// Creates DevStack's default flavors when there are none yet (first start).
    public func bootstrap() async throws {
        guard try await flavors.list(FlavorRepository.Query())?.isEmpty ?? true else { return }
        for f in Flavor.defaults { _ = try await flavors.create(f) }
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

    public func createKeypair(_ k: Keypair) async throws -> Keypair {
        guard try await keypairs.create(k) else { throw NimbusError.conflict("Key pair '\(k.name)' already exists.") }
        return k
    }

    /// Nova's `key_pairs` quota (100 per user by default).
    public func checkKeypairQuota(user: String) async throws {
        let limit = 100
        if try await keypairs.count(user: user) >= limit {
            throw NimbusError.forbidden("Quota exceeded, too many key pairs.")
        }
    }

    public func keypair(user: String, name: String) async throws -> Keypair {
        guard let k = try await keypairs.get(user: user, name: name) else { throw NimbusError.notFound("Keypair \(name) not found for user \(user)") }
        return k
    }

    public func deleteKeypair(user: String, name: String) async throws {
        guard try await keypairs.delete(user: user, name: name) else { throw NimbusError.notFound("Keypair \(name) not found for user \(user)") }
    }
}
