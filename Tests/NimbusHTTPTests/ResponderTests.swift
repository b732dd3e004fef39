import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NimbusCore
import Testing
@testable import NimbusHTTP

struct FakeValidator: TokenValidator {
    func validate(token: String) async throws -> AuthContext {
        guard token == "good" else { throw NimbusError.unauthorized() }
        let user = AuthContext.Named(id: "u", name: "user", domainID: "default", domainName: "Default")
        return AuthContext(token: token, user: user, scope: .system, roles: [.init(id: "r", name: "admin")], methods: ["password"],
                           issuedAt: Date(), expiresAt: Date().addingTimeInterval(60), auditIDs: ["a"])
    }
}

struct TestRenderer: ErrorRenderer {
    func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        .json(["fault": ["code": .int(Int64(error.status)), "message": .string(error.message)]], status: .init(code: error.status))
    }
}

func makeApp() -> some ApplicationProtocol {
    var t = RouteTable(service: "svc", prefix: "/svc", renderer: TestRenderer())
    t.get("/things/{id}") { _, ctx in .json(["id": .string(try ctx.parameter("id")), "user": .string(try ctx.caller().user.name)]) }
    t.post("/things") { req, ctx in .json(try await req.jsonBody(context: ctx), status: .created) }
    t.get("/open", auth: .none) { _, _ in .json(["ok": true]) }
    t.get("/boom", auth: .none) { _, _ in throw CancellationError() }
    let responder = NimbusResponder(tables: [t], validator: FakeValidator(), rootHandlers: [:], fallbackRenderer: GenericErrorRenderer())
    return Application(responder: responder)
}

@Suite struct ResponderTests {
    @Test func elapsedMillisecondsHaveTwoDecimalsRounded() {
        #expect(NimbusResponder.milliseconds(0) == "0.00")
        #expect(NimbusResponder.milliseconds(523_000) == "0.52")
        #expect(NimbusResponder.milliseconds(4_999) == "0.00")
        #expect(NimbusResponder.milliseconds(5_000) == "0.01")
        #expect(NimbusResponder.milliseconds(90_000) == "0.09")
        #expect(NimbusResponder.milliseconds(1_234_567_890) == "1234.57")
        #expect(NimbusResponder.milliseconds(-1) == "0.00")
    }

    @Test func everyResponseCarriesARequestID() async throws {
        try await makeApp().test(.router) { client in
            for path in ["/svc/open", "/svc/nowhere", "/elsewhere"] {
                try await client.execute(uri: path, method: .get) { r in
                    let id = try #require(r.headers[HTTPField.Name("x-openstack-request-id")!])
                    #expect(id.hasPrefix("req-") && id.count == 40)
                }
            }
        }
    }

    @Test func unknownPathIs404AndWrongMethodIs405InTheServiceFormat() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/svc/nowhere", method: .get) { r in
                #expect(r.status == .notFound)
                #expect(String(buffer: r.body).contains("\"fault\""))
            }
            try await client.execute(uri: "/svc/things", method: .delete) { r in
                #expect(r.status == .methodNotAllowed)
                #expect(r.headers[.allow] == "POST")
            }
        }
    }

    @Test func tokenRoutesRequireAValidToken() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/svc/things/1", method: .get) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/svc/things/1", method: .get, headers: [HTTPField.Name("X-Auth-Token")!: "bad"]) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/svc/things/1", method: .get, headers: [HTTPField.Name("X-Auth-Token")!: "good"]) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body) == #"{"id":"1","user":"user"}"#)
            }
        }
    }

    @Test func anInvalidServiceTokenIsRejected() async throws {
        try await makeApp().test(.router) { client in
            let headers: HTTPFields = [HTTPField.Name("X-Auth-Token")!: "good", HTTPField.Name("X-Service-Token")!: "bad"]
            try await client.execute(uri: "/svc/things/1", method: .get, headers: headers) { r in #expect(r.status == .unauthorized) }
        }
    }

    @Test func headFallsBackToGetWithoutBody() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/svc/open", method: .head) { r in
                #expect(r.status == .ok)
                #expect(r.body.readableBytes == 0)
            }
        }
    }

    @Test func badBodiesAre4xxNot500() async throws {
        let auth: HTTPFields = [HTTPField.Name("X-Auth-Token")!: "good"]
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/svc/things", method: .post, headers: auth, body: ByteBuffer(string: "{not json")) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/svc/things", method: .post, headers: auth, body: ByteBuffer()) { r in
                #expect(r.status == .badRequest)
            }
            let big = ByteBuffer(repeating: UInt8(ascii: " "), count: 2 * 1024 * 1024)
            try await client.execute(uri: "/svc/things", method: .post, headers: auth, body: big) { r in
                #expect(r.status == .contentTooLarge)
            }
        }
    }

    @Test func unexpectedErrorsBecomeAGeneric500() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(uri: "/svc/boom", method: .get) { r in
                #expect(r.status == .internalServerError)
                #expect(!String(buffer: r.body).contains("CancellationError"))
            }
        }
    }
}

@Suite struct RouteTableTests {
    @Test func matchesParametersAndPrefersExactMethod() {
        var t = RouteTable(service: "s", prefix: "/s", renderer: TestRenderer())
        t.get("/a/{x}/b") { _, _ in .empty() }
        t.put("/a/{x}/b") { _, _ in .empty() }
        guard case .found(_, let params, let viaGet) = t.match(method: .get, segments: ["a", "42", "b"]) else {
            Issue.record("no match"); return
        }
        #expect(params == ["x": "42"] && !viaGet)
        guard case .methodNotAllowed(let allowed) = t.match(method: .delete, segments: ["a", "1", "b"]) else {
            Issue.record("expected 405"); return
        }
        #expect(Set(allowed) == ["GET", "PUT"])
        guard case .notFound = t.match(method: .get, segments: ["a", "1"]) else { Issue.record("expected 404"); return }
    }
}
