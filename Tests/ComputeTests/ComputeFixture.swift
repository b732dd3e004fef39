import ComputeNode
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NimbusCore
import NimbusHTTP
import NimbusPolicy
import NimbusStore
import NimbusTestSupport
import Testing
@testable import Compute

/// A compute service on a fresh database of one engine, with stub image and Placement clients,
/// and the API behind three fixed tokens: `admin` (admin of project `p-admin`), `member`
/// (member of `p-demo`) and `other` (member of `p-other`).
struct ComputeFixture {
    let service: ComputeService
    let api: ComputeAPI
    let database: Database
    let cleanup: @Sendable () async -> Void

    static func make(_ engine: String) async throws -> ComputeFixture {
        let (db, cleanup) = try await Engines.open(engine)
        try await Migrator(database: db).migrate(ComputeMigrations.all)
        let service = ComputeService(database: db, images: NoImages(), placement: NoPlacement(), logger: Logger(label: "test"))
        try await service.bootstrap()
        let policy = try PolicyEnforcer(defaults: NovaPolicyDefaults.rules, scopeTypes: NovaPolicyDefaults.scopeTypes)
        let api = ComputeAPI(service: service, policy: policy, publicURL: "http://test/compute", identityURL: "http://test/identity")
        return ComputeFixture(service: service, api: api, database: db, cleanup: cleanup)
    }

    static func caller(_ token: String) -> AuthContext {
        let (project, user, roles): (String, String, [String]) = switch token {
        case "admin": ("p-admin", "u-admin", ["admin", "member", "reader"])
        case "other": ("p-other", "u-other", ["member", "reader"])
        default: ("p-demo", "u-demo", ["member", "reader"])
        }
        return AuthContext(token: token, user: .init(id: user, name: user, domainID: "default", domainName: "Default"),
                           scope: .project(.init(id: project, name: project, domainID: "default", domainName: "Default")),
                           roles: roles.map { .init(id: $0, name: $0) }, methods: ["password"], issuedAt: Date(),
                           expiresAt: Date().addingTimeInterval(3600), auditIDs: [])
    }

    /// Registers a compute host as its node would.
    @discardableResult
    func host(_ name: String, vcpus: Int = 8, memoryMB: Int = 8192, diskGB: Int = 100) async throws -> ComputeHost {
        try await service.hosts.register(host: name, hypervisor: ["hypervisor_type": "fake", "hypervisor_version": 1000, "vcpus": .int(Int64(vcpus)),
                                                                  "memory_mb": .int(Int64(memoryMB)), "local_gb": .int(Int64(diskGB)), "cpu_model": "Fake"])
    }

    /// An instance row as the scheduler and a node would leave it.
    @discardableResult
    func instance(_ name: String, project: String = "p-demo", user: String = "u-demo", host: String? = nil, vm: VMState = .active,
                  launched: Date? = Date(), flavor: String = "42") async throws -> Instance {
        var i = Instance(id: Identifiers.uuid(), projectID: project, userID: user, name: name, flavor: try await service.flavor(flavor))
        i.vmState = vm
        i.taskState = nil
        i.host = host
        i.node = host
        i.launchedAt = launched
        try await service.instances.insert([i])
        return i
    }

    struct Reply: Sendable {
        let status: Int
        let body: JSONValue?
        let headers: HTTPFields
        subscript(key: String) -> JSONValue? { body?[key] }
        var message: String { body?.objectValue?.values.first?["message"]?.stringValue ?? "" }
    }

    /// Runs `body` with a client on the API (HummingbirdTesting's router mode).
    func run<T: Sendable>(_ body: @Sendable (Client) async throws -> T) async throws -> T {
        let responder = NimbusResponder(tables: [api.routes], validator: FixedTokens(), rootHandlers: [:], fallbackRenderer: GenericErrorRenderer())
        return try await Application(responder: responder).test(.router) { client in try await body(Client(client: client)) }
    }

    struct Client: Sendable {
        let client: any TestClientProtocol

        @discardableResult
        func call(_ method: HTTPRequest.Method, _ path: String, token: String? = "admin", version: String = "2.96",
                  json: JSONValue? = nil) async throws -> Reply {
            var headers = HTTPFields()
            if let token { headers[HTTPField.Name("X-Auth-Token")!] = token }
            headers[HTTPField.Name("OpenStack-API-Version")!] = "compute \(version)"
            var body: ByteBuffer?
            if let json {
                body = ByteBuffer(bytes: json.serialized())
                headers[.contentType] = "application/json"
            }
            let r = try await client.execute(uri: "/compute/v2.1" + path, method: method, headers: headers, body: body)
            let bytes = Array(r.body.readableBytesView)
            return Reply(status: Int(r.status.code), body: bytes.isEmpty ? nil : try? JSONValue.parse(bytes), headers: r.headers)
        }
    }
}

struct FixedTokens: TokenValidator {
    func validate(token: String) async throws -> AuthContext {
        guard ["admin", "member", "other"].containsBytes(token) else { throw NimbusError.unauthorized() }
        return ComputeFixture.caller(token)
    }
}

struct NoImages: ImageClient {
    func image(_ id: String, caller: AuthContext) async throws -> ImageInfo? { nil }
    func source(_ id: String) async throws -> any ImageSource { throw NimbusError.notFound("no images in tests") }
    func createSnapshot(_ snapshot: SnapshotRequest) async throws -> String { throw NimbusError.notFound("no images in tests") }
    func uploadSnapshot(_ imageID: String, diskFormat: String, size: Int64, bytes: any AsyncSequence<ByteBuffer, any Error> & Sendable) async throws {
        throw NimbusError.notFound("no images in tests")
    }
    func deleteImage(_ id: String) async throws {}
    func backups(instance: String, backupType: String, owner: String) async throws -> [String] { [] }
    func list(caller: AuthContext, query: [(String, String)], limit: Int, marker: String?) async throws -> [ProxiedImage] { [] }
    func proxied(_ id: String, caller: AuthContext) async throws -> ProxiedImage? { nil }
    func delete(_ id: String, caller: AuthContext) async throws { throw NimbusError.notFound("no images in tests") }
    func replaceProperties(_ id: String, caller: AuthContext, _ properties: [Name: String]) async throws -> [Name: String] {
        throw NimbusError.notFound("no images in tests")
    }
}

struct NoPlacement: PlacementClient {
    func candidates(_ resources: [String: Int], limit: Int) async throws -> [PlacementCandidate] { [] }
    func claim(consumer: String, provider: String, resources: [String: Int], project: String, user: String) async throws -> Bool { false }
    func replace(_ claims: [ConsumerClaim], project: String, user: String) async throws -> Bool { false }
    func release(consumer: String) async throws {}
    func report(provider: String, name: String, inventory: [String: NodeInventory]) async throws {}
}
