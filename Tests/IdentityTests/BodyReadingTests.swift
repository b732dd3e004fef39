import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP
import NimbusPolicy
import Testing
@testable import Identity

/// Every identity body goes through the one body reader (`Request.collectBody`): a body that
/// ends before it is complete is a 400, not a 413 nor a 500.
@Suite struct BodyReadingTests {
    /// A body that yields a first piece and then fails, as when the client stops sending.
    struct CutOffBody: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        struct Cut: Error {}
        struct AsyncIterator: AsyncIteratorProtocol {
            var sent = false
            mutating func next() async throws -> ByteBuffer? {
                if sent { throw Cut() }
                sent = true
                return ByteBuffer(string: "{\"project\": {\"na")
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
    }

    /// Hands the identity responder each request with its body replaced by one that fails.
    struct CutOffResponder: HTTPResponder {
        let inner: NimbusResponder
        func respond(to request: Request, context: NimbusRequestContext) async throws -> Response {
            var cut = request
            cut.body = RequestBody(asyncSequence: CutOffBody())
            return try await inner.respond(to: cut, context: context)
        }
    }

    @Test func aBodyThatEndsEarlyIsA400OnEveryKindOfRoute() async throws {
        let f = try await IdentityFixture.make()
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        let policy = try PolicyEnforcer(defaults: IdentityPolicyDefaults.rules, scopeTypes: IdentityPolicyDefaults.scopeTypes)
        let api = IdentityAPI(service: f.service, policy: policy, publicURL: "http://test/identity")
        let responder = NimbusResponder(tables: [api.routes], validator: f.service, rootHandlers: [:], fallbackRenderer: GenericErrorRenderer())
        let paths: [(HTTPRequest.Method, String)] = [
            (.post, "/identity/v3/projects"),                                        // schema-validated bodies
            (.put, "/identity/v3/projects/\(admin.projectID!)/tags"),
            (.post, "/identity/v3/auth/tokens"),                                     // JSONObjectReader bodies
            (.post, "/identity/v3/users/\(admin.user.id)/credentials/OS-EC2"),
            (.post, "/identity/v3/registered_limits"),
        ]
        try await Application(responder: CutOffResponder(inner: responder)).test(.router) { client in
            for (method, path) in paths {
                let headers: HTTPFields = [.contentType: "application/json", HTTPField.Name("X-Auth-Token")!: admin.token]
                try await client.execute(uri: path, method: method, headers: headers, body: ByteBuffer(string: "{\"project\": {\"name\": \"complete\"}}")) { r in
                    #expect(r.status == .badRequest, "\(method) \(path) answered \(r.status)")
                }
            }
        }
        await f.close()
    }

    /// No identity route reads a body by itself: only `collectBody` (directly, through
    /// `validatedBody`, or through NimbusHTTP's `jsonBody`) may touch `request.body`.
    @Test func noIdentitySourceCollectsABodyByItself() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/Identity").standardized
        let files = try #require(FileManager.default.enumerator(atPath: dir.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        #expect(files.count > 30)
        for file in files {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            for forbidden in [".body.collect", "body.collect(", ".body.buffer", "for try await", "NIOTooManyBytesError"] {
                #expect(!text.contains(forbidden), "\(file) reads a request body itself (\(forbidden))")
            }
        }
    }
}
