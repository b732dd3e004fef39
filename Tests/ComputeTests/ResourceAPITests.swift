import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Compute

/// The new routes through HTTP in process: tokens and policy on every route, metadata and tags
/// keyed by bytes, isolation between projects.
@Suite struct ResourceAPITests {
    /// Every route this branch added (method, path with sample parameters).
    static let routes: [(String, String)] = [
        ("GET", "/os-quota-sets/p"), ("GET", "/os-quota-sets/p/detail"), ("GET", "/os-quota-sets/p/defaults"), ("PUT", "/os-quota-sets/p"),
        ("DELETE", "/os-quota-sets/p"), ("GET", "/os-quota-class-sets/default"), ("PUT", "/os-quota-class-sets/default"), ("GET", "/limits"),
        ("GET", "/os-availability-zone"), ("GET", "/os-availability-zone/detail"), ("GET", "/os-hypervisors"), ("GET", "/os-hypervisors/detail"),
        ("GET", "/os-hypervisors/statistics"), ("GET", "/os-hypervisors/1"), ("GET", "/os-hypervisors/1/uptime"), ("GET", "/os-hypervisors/h/search"),
        ("GET", "/os-hypervisors/h/servers"), ("GET", "/os-services"), ("PUT", "/os-services/enable"), ("DELETE", "/os-services/1"),
        ("GET", "/os-aggregates"), ("POST", "/os-aggregates"), ("GET", "/os-aggregates/1"), ("PUT", "/os-aggregates/1"), ("DELETE", "/os-aggregates/1"),
        ("POST", "/os-aggregates/1/action"), ("GET", "/os-server-groups"), ("POST", "/os-server-groups"), ("GET", "/os-server-groups/g"),
        ("DELETE", "/os-server-groups/g"), ("GET", "/os-simple-tenant-usage"), ("GET", "/os-simple-tenant-usage/p"), ("GET", "/os-migrations"),
        ("GET", "/servers/s/metadata"), ("POST", "/servers/s/metadata"), ("PUT", "/servers/s/metadata"), ("GET", "/servers/s/metadata/k"),
        ("PUT", "/servers/s/metadata/k"), ("DELETE", "/servers/s/metadata/k"), ("GET", "/servers/s/tags"), ("PUT", "/servers/s/tags"),
        ("DELETE", "/servers/s/tags"), ("GET", "/servers/s/tags/t"), ("PUT", "/servers/s/tags/t"), ("DELETE", "/servers/s/tags/t"),
    ]

    @Test func everyNewRouteNeedsAToken() async throws {
        let f = try await ComputeFixture.make("sqlite")
        try await f.run { c in
            for (method, path) in Self.routes {
                let r = try await c.call(.init(method)!, path, token: nil)
                #expect(r.status == 401, "\(method) \(path): \(r.status)")
            }
        }
        await f.cleanup()
    }

    /// Admin-only routes refuse a project member with Nova's policy message.
    @Test func adminRoutesRefuseMembers() async throws {
        let f = try await ComputeFixture.make("sqlite")
        let adminOnly: [(String, String, String)] = [
            ("GET", "/os-quota-sets/p-admin", "os-quota-sets:show"), ("PUT", "/os-quota-sets/p-demo", "os-quota-sets:update"),
            ("DELETE", "/os-quota-sets/p-demo", "os-quota-sets:delete"), ("GET", "/os-quota-class-sets/default", "os-quota-class-sets:show"),
            ("GET", "/limits?tenant_id=p-admin", "limits:other_project"), ("GET", "/os-availability-zone/detail", "os-availability-zone:detail"),
            ("GET", "/os-hypervisors", "os-hypervisors:list"), ("GET", "/os-hypervisors/detail", "os-hypervisors:list-detail"),
            ("GET", "/os-services", "os-services:list"), ("GET", "/os-aggregates", "os-aggregates:index"),
            ("POST", "/os-aggregates", "os-aggregates:create"), ("GET", "/os-simple-tenant-usage", "os-simple-tenant-usage:list"),
            ("GET", "/os-simple-tenant-usage/p-admin", "os-simple-tenant-usage:show"), ("GET", "/os-migrations", "os-migrations:index"),
        ]
        try await f.run { c in
            for (method, path, rule) in adminOnly {
                let r = try await c.call(.init(method)!, path, token: "member", json: method == "GET" || method == "DELETE" ? nil : [:])
                #expect(r.status == 403 && r.message == "Policy doesn't allow os_compute_api:\(rule) to be performed.", "\(method) \(path): \(r.status) \(r.message)")
            }
            #expect(try await c.call(.get, "/os-quota-sets/p-demo", token: "member").status == 200)
            #expect(try await c.call(.get, "/os-quota-sets/p-admin/defaults", token: "member").status == 200)
            #expect(try await c.call(.get, "/limits", token: "member").status == 200)
            #expect(try await c.call(.get, "/os-availability-zone", token: "member").status == 200)
        }
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func metadataAndTagsAreBytesAndIsolated(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        let i = try await f.instance("s", project: "p-demo", user: "u-demo", host: "h1")
        try await f.run { c in
            let meta: JSONValue = ["metadata": ["caf\u{E9}": "1", "cafe\u{301}": "2"]]
            var r = try await c.call(.post, "/servers/\(i.id)/metadata", token: "member", json: meta)
            #expect(r.status == 400)     // metadata keys are [a-zA-Z0-9-_:. ]: neither spelling is allowed
            r = try await c.call(.put, "/servers/\(i.id)/metadata", token: "member", json: ["metadata": ["k": "caf\u{E9}", "K": "cafe\u{301}"]])
            #expect(r.status == 200 && r["metadata"]?["k"] == "caf\u{E9}" && r["metadata"]?["K"] == "cafe\u{301}")
            r = try await c.call(.get, "/servers/\(i.id)/metadata/K", token: "member")
            #expect(r["meta"] == ["K": "cafe\u{301}"])
            // tags: two spellings are two tags, sorted by bytes; duplicates collapse
            r = try await c.call(.put, "/servers/\(i.id)/tags", token: "member", json: ["tags": ["caf\u{E9}", "cafe\u{301}", "caf\u{E9}"]])
            #expect(r.status == 200 && r["tags"] == ["cafe\u{301}", "caf\u{E9}"])
            #expect(try await c.call(.get, "/servers/\(i.id)/tags/caf%C3%A9", token: "member").status == 204)
            #expect(try await c.call(.delete, "/servers/\(i.id)/tags/cafe%CC%81", token: "member").status == 204)
            #expect(try await c.call(.get, "/servers/\(i.id)/tags", token: "member")["tags"] == ["caf\u{E9}"])
            // another project: 404 for metadata (looked up in the caller's project), 403 for tags
            r = try await c.call(.get, "/servers/\(i.id)/metadata", token: "other")
            #expect(r.status == 404 && r.message == "Instance \(i.id) could not be found.")
            r = try await c.call(.put, "/servers/\(i.id)/tags/x", token: "other")
            #expect(r.status == 403 && r.message == "Policy doesn't allow os_compute_api:os-server-tags:update to be performed.")
            // admins reach both
            #expect(try await c.call(.get, "/servers/\(i.id)/metadata", token: "admin").status == 200)
            #expect(try await c.call(.get, "/servers/\(i.id)/tags", token: "admin")["tags"] == ["caf\u{E9}"])
        }
        let stored = try #require(try await f.service.instances.get(i.id))
        #expect(stored.metadata.count == 2 && stored.tags == ["caf\u{E9}"])
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func serverGroupsAcrossProjects(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        try await f.run { c in
            var r = try await c.call(.post, "/os-server-groups", token: "member", version: "2.64",
                                     json: ["server_group": ["name": "g", "policy": "anti-affinity", "rules": ["max_server_per_host": "3"]]])
            #expect(r.status == 200 && r["server_group"]?["rules"] == ["max_server_per_host": 3])
            let id = try #require(r["server_group"]?["id"]?.stringValue)
            r = try await c.call(.get, "/os-server-groups/\(id)", token: "other")
            #expect(r.status == 403)
            #expect(try await c.call(.get, "/os-server-groups", token: "other")["server_groups"] == [])
            #expect(try await c.call(.get, "/os-server-groups?all_projects=1", token: "admin")["server_groups"]?.arrayValue?.count == 1)
            #expect(try await c.call(.get, "/os-server-groups", token: "admin")["server_groups"] == [])
            r = try await c.call(.get, "/os-server-groups?limit=-1", token: "member")
            #expect(r.status == 400)
            r = try await c.call(.post, "/os-server-groups", token: "member", version: "2.64",
                                 json: ["server_group": ["name": "g", "policy": "anti-affinity", "rules": ["max_server_per_host": 0]]])
            #expect(r.status == 400)
            #expect(try await c.call(.delete, "/os-server-groups/\(id)", token: "other").status == 403)
            #expect(try await c.call(.delete, "/os-server-groups/\(id)", token: "member").status == 204)
        }
        await f.cleanup()
    }

    @Test func badInputIsA4xx() async throws {
        let f = try await ComputeFixture.make("sqlite")
        try await f.host("h1")
        try await f.run { c in
            let cases: [(String, String, JSONValue?, String)] = [
                ("PUT", "/os-quota-sets/p", ["quota_set": ["cores": "99999999999999999999"]], "2.96"),
                ("PUT", "/os-quota-sets/p", ["quota_set": ["cores": .double(1.5)]], "2.96"),
                ("PUT", "/os-quota-sets/p", ["quota_set": "x"], "2.96"),
                ("PUT", "/os-quota-class-sets/default", ["quota_class_set": ["server_groups": -5]], "2.96"),
                ("PUT", "/os-aggregates/1", ["aggregate": [:]], "2.96"),
                ("POST", "/os-aggregates/1/action", ["add_host": [:], "remove_host": [:]], "2.96"),
                ("POST", "/os-aggregates", ["aggregate": ["name": .string(String(repeating: "n", count: 256))]], "2.96"),
                ("PUT", "/os-services/enable", ["host": "h1"], "2.10"),
                ("PUT", "/os-services/00000000-0000-0000-0000-000000000000", ["status": "paused"], "2.53"),
                ("GET", "/os-hypervisors?with_servers=maybe", nil, "2.53"),
                ("GET", "/os-hypervisors?limit=x", nil, "2.53"),
                ("GET", "/os-hypervisors?marker=zzz", nil, "2.53"),
                ("GET", "/os-simple-tenant-usage?start=2020-13-01T00:00:00", nil, "2.96"),
                ("GET", "/os-simple-tenant-usage?limit=1&marker=nope", nil, "2.40"),
                ("GET", "/os-migrations?limit=-2", nil, "2.59"),
                ("GET", "/os-migrations?marker=nope", nil, "2.59"),
                ("GET", "/os-migrations?changes-since=2020-01-02T00:00:00Z&changes-before=2020-01-01T00:00:00Z", nil, "2.66"),
                ("GET", "/limits?foo=1", nil, "2.75"),
            ]
            for (method, path, body, version) in cases {
                let r = try await c.call(.init(method)!, path, token: "admin", version: version, json: body)
                #expect(r.status == 400 && r["badRequest"] != nil, "\(method) \(path): \(r.status) \(r.message)")
            }
        }
        await f.cleanup()
    }
}
