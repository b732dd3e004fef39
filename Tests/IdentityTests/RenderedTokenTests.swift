import HTTPTypes
import NimbusCore
import Testing
@testable import Identity

/// Validated token bodies are rendered once per identity generation: repeated validations answer
/// the same bytes, and any identity write (a catalog change, a renamed project, a revocation)
/// shows in the very next validation.
@Suite struct RenderedTokenTests {
    static let subject = HTTPField.Name("X-Subject-Token")!

    @Test func aRepeatedValidationIsTheSameAndAWriteShowsAtOnce() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let demo = try await c.token("demo", "demo-pw", project: "demo")
            func validate(_ token: String, catalog: Bool = true) async throws -> APIHarness.Reply {
                try await c.call(.get, "/v3/auth/tokens" + (catalog ? "" : "?nocatalog"), token: admin, headers: [Self.subject: token])
            }
            let first = try await validate(demo)
            let again = try await validate(demo)
            #expect(first.status == 200 && again.status == 200)
            #expect(first.body == again.body)
            #expect(try await validate(demo, catalog: false)["token"]?["catalog"] == nil, "with ?nocatalog the cached body has no catalog")
            #expect(try await validate(demo)["token"]?["catalog"] != nil)

            // A new endpoint is in the next validation's catalog.
            let before = first["token"]?["catalog"]?.arrayValue?.count ?? 0
            let service = try await c.call(.post, "/v3/services", token: admin, json: ["service": ["type": "rendered-test", "name": "rt"]])
            let serviceID = try #require(service["service"]?["id"]?.stringValue)
            let endpoint = try await c.call(.post, "/v3/endpoints", token: admin, json: ["endpoint": [
                "service_id": .string(serviceID), "interface": "public", "url": "http://rt.example/%(project_id)s"]])
            #expect(endpoint.status == 201)
            let after = try await validate(demo)
            let catalog = try #require(after["token"]?["catalog"]?.arrayValue)
            #expect(catalog.count == before + 1)
            let projectID = try #require(after["token"]?["project"]?["id"]?.stringValue)
            let url = catalog.first { $0["type"] == "rendered-test" }?["endpoints"]?.arrayValue?.first?["url"]?.stringValue
            #expect(url == "http://rt.example/" + projectID)

            // A renamed project is in the next body.
            let renamed = try await c.call(.patch, "/v3/projects/\(projectID)", token: admin, json: ["project": ["name": "demo-renamed"]])
            #expect(renamed.status == 200)
            #expect(try await validate(demo)["token"]?["project"]?["name"] == "demo-renamed")
            #expect(try await validate(demo, catalog: false)["token"]?["project"]?["name"] == "demo-renamed")

            // A revoked token is not answered from the cache.
            let revoke = try await c.call(.delete, "/v3/auth/tokens", token: admin, headers: [Self.subject: demo])
            #expect(revoke.status == 204)
            #expect(try await validate(demo).status == 404)
            #expect(try await validate(demo, catalog: false).status == 404)
        }
        await h.close()
    }

    @Test func theCacheKeepsOneGenerationAndABoundedNumberOfBodies() {
        let cache = RenderedTokens()
        let key = RenderedTokens.Key(token: Name("t"), catalog: true)
        cache.remember(key, .init(string: "old"), generation: 1, current: 2)
        #expect(cache.body(key, generation: 1) == nil, "a body rendered before a write is not kept")
        cache.remember(key, .init(string: "a"), generation: 2, current: 2)
        #expect(cache.body(key, generation: 2) == .init(string: "a"))
        #expect(cache.body(key, generation: 3) == nil)
        #expect(cache.body(.init(token: Name("t"), catalog: false), generation: 2) == nil)
        // Keyed by bytes: a canonically equivalent spelling is another token.
        cache.remember(.init(token: Name("\u{E9}"), catalog: true), .init(string: "e"), generation: 2, current: 2)
        #expect(cache.body(.init(token: Name("e\u{301}"), catalog: true), generation: 2) == nil)
        for i in 0..<(RenderedTokens.capacity + 1) {
            cache.remember(.init(token: Name("k\(i)"), catalog: true), .init(string: "x"), generation: 2, current: 2)
        }
        #expect(cache.body(key, generation: 2) == nil, "a full cache starts over")
    }
}
