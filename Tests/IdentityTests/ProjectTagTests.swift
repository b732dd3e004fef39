import Foundation
import NimbusCore
import Testing
@testable import Identity

@Suite struct ProjectTagTests {
    /// Keystone's schema requires `tags`: `{}` is a 400 and the tags stay.
    @Test func replacingTagsWithoutATagsKeyIsRefused() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let p = try await c.call(.post, "/v3/projects", token: admin, json: ["project": ["name": "tagged", "tags": ["a", "b"]]])
            let id = try #require(p["project"]?["id"]?.stringValue)
            for body in ["{}", "{\"tag\": [\"x\"]}", "{\"tags\": null}", "{\"tags\": \"a\"}"] {
                let r = try await c.call(.put, "/v3/projects/\(id)/tags", token: admin, raw: body)
                #expect(r.status == 400, "\(body) answered \(r.status)")
            }
            let tags = try await c.call(.get, "/v3/projects/\(id)/tags", token: admin)["tags"]?.arrayValue?.compactMap(\.stringValue)
            #expect(tags == ["a", "b"])
            let cleared = try await c.call(.put, "/v3/projects/\(id)/tags", token: admin, json: ["tags": []])
            #expect(cleared.status == 200 && cleared["tags"] == [])
        }
        await h.close()
    }
}
