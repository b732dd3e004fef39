import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
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
        for (method, path) in paths {
            var headers: HTTPFields = [.contentType: "application/json", .contentLength: "100"]
            headers[HTTPField.Name("X-Auth-Token")!] = admin.token
            let request = Request(head: .init(method: method, scheme: "http", authority: "localhost", path: path, headerFields: headers),
                                  body: RequestBody(asyncSequence: CutOffBody()))
            let context = NimbusRequestContext(source: .init(channel: EmbeddedChannel(), logger: Logger(label: "test")))
            let response = try await responder.respond(to: request, context: context)
            #expect(response.status == .badRequest, "\(method) \(path) answered \(response.status)")
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
