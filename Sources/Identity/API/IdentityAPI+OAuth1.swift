import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// OS-OAUTH1: consumers (admin), the signed request-token and access-token exchanges (no
/// Keystone token: the OAuth signature authenticates them), and authorizing a request token.
extension IdentityAPI {
    func addOAuth1Routes(_ t: inout RouteTable) {
        let consumers = "/v3/OS-OAUTH1/consumers"
        t.get(consumers) { req, ctx in
            try self.authorize("identity:list_consumers", ctx)
            return self.collection("consumers", try await self.service.listConsumers().map(self.view), request: req)
        }
        t.post(consumers) { req, ctx in
            try self.authorize("identity:create_consumer", ctx)
            let body = try await self.consumerBody(req, ctx)
            let (c, secret) = try await self.service.createConsumer(description: try Self.consumerDescription(body) ?? nil,
                                                                    extra: body.extras(excluding: ["id", "description", "secret", "links"]))
            guard case .object(var o) = self.view(c) else { return .empty() }
            o["secret"] = .string(secret)
            return self.created("consumer", .object(o))
        }
        t.get(consumers + "/{consumer_id}") { _, ctx in
            try self.authorize("identity:get_consumer", ctx)
            return self.ok("consumer", self.view(try await self.service.requireConsumer(try ctx.parameter("consumer_id"))))
        }
        t.patch(consumers + "/{consumer_id}") { req, ctx in
            try self.authorize("identity:update_consumer", ctx)
            let body = try await self.consumerBody(req, ctx)
            guard !body.object.isEmpty else { throw NimbusError.badRequest("Invalid input for field 'consumer': {} does not have enough properties") }
            if body.has("secret") { throw NimbusError.badRequest("Invalid input for field 'consumer': the secret cannot be changed") }
            let id = try ctx.parameter("consumer_id")
            if let given = body.object["id"], given != .string(id) { throw NimbusError.badRequest("Cannot change ID") }
            let c = try await self.service.updateConsumer(id, description: try Self.consumerDescription(body),
                                                          extra: body.extras(excluding: ["id", "description", "secret", "links"]))
            return self.ok("consumer", self.view(c))
        }
        t.delete(consumers + "/{consumer_id}") { _, ctx in
            try self.authorize("identity:delete_consumer", ctx)
            try await self.service.deleteConsumer(try ctx.parameter("consumer_id"))
            return .empty()
        }
        addOAuth1TokenRoutes(&t)
        addOAuth1AccessTokenRoutes(&t)
    }

    /// `{"consumer": {...}}`; Keystone reads a missing or unparsable body as an empty consumer.
    func consumerBody(_ req: Request, _ ctx: NimbusRequestContext) async throws -> JSONObjectReader {
        let body = try await req.jsonBody(context: ctx)
        guard case .object(let o) = body else { throw NimbusError.badRequest("Invalid input: the request body must be a JSON object.") }
        return try JSONObjectReader(o["consumer"] ?? .object([:]), path: "consumer")
    }

    /// `.some(nil)` for an explicit null, `nil` when absent.
    static func consumerDescription(_ body: JSONObjectReader) throws -> String?? {
        guard body.has("description") else { return nil }
        return .some(try body.string("description", maxLength: 255, nullable: true))
    }

    func view(_ c: OAuthConsumer) -> JSONValue {
        var o = c.extra
        o["id"] = .string(c.id)
        o["description"] = c.description.map { .string($0) } ?? .null
        o["links"] = ["self": .string(v3 + "/OS-OAUTH1/consumers/" + c.id)]
        return .object(o)
    }

    /// What the signature covers: the OAuth header and the query, and the URI as the client
    /// addressed it (its Host header) or as the public endpoint names it.
    func oauthCall(_ req: Request) throws -> OAuth1Call {
        let query = QueryString(req.uri.query).items.map { ($0.key, $0.value ?? "") }
        guard let parsed = try OAuth1Request.parse(authorization: req.headers[.authorization], query: query) else {
            throw NimbusError.badRequest("No Authorization headers found, cannot proceed with OAuth related calls.")
        }
        let path = req.uri.path
        var uris = [String]()
        let publicParts = URL(string: publicURL)
        let scheme = publicParts?.scheme ?? "http"
        if let host = req.head.authority { uris.append(OAuth1Request.baseURI(scheme: scheme, host: host, path: path)) }
        if let p = publicParts, let host = p.host {
            let authority = host + (p.port.map { ":\($0)" } ?? "")
            let below = path.droppingBytePrefix("/identity").map(String.init) ?? path
            uris.append(OAuth1Request.baseURI(scheme: scheme, host: authority, path: p.path + below))
        }
        return OAuth1Call(request: parsed, method: req.method.rawValue, uris: uris)
    }

    static func formResponse(_ pairs: [(String, String)]) -> Response {
        let text = pairs.map { $0.0 + "=" + $0.1 }.joined(separator: "&")
        var h = HTTPFields()
        h[.contentType] = "application/x-www-form-urlencoded"
        return Response(status: .created, headers: h, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
