import Foundation
import NimbusCore
import Testing
@testable import Identity

/// Names are bytes: two names that are canonically equivalent but byte-different (`caf\u{E9}` and
/// `cafe\u{301}`) are two resources in Keystone, and every lookup, filter, cache, set and sort in
/// the identity module must keep them apart.
@Suite struct ByteSemanticsTests {
    static let composed = "caf\u{E9}"
    static let decomposed = "cafe\u{301}"

    @Test func equivalentProjectNamesAreTwoProjectsFilteredApart() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            var ids = [Name: String]()
            for name in [Self.composed, Self.decomposed] {
                let r = try await c.call(.post, "/v3/projects", token: admin, json: ["project": ["name": .string(name), "domain_id": "default"]])
                #expect(r.status == 201, "\(r.status) \(r.message)")
                ids[Name(name)] = r["project"]?["id"]?.stringValue
            }
            #expect(Set(ids.values).count == 2)
            // Filtered by each name in turn (the second query must not be answered from the first's cache).
            for name in [Self.composed, Self.decomposed, Self.composed] {
                let r = try await c.call(.get, "/v3/projects?name=\(q(name))", token: admin)
                let found = r["projects"]?.arrayValue ?? []
                #expect(found.count == 1)
                #expect(found.first?["name"]?.stringValue?.sameBytes(as: name) == true)
                #expect(found.first?["id"]?.stringValue == ids[Name(name)])
            }
        }
        await h.close()
    }

    @Test func equivalentTagsAreTwoTagsAndFilterApart() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let both = try await c.call(.post, "/v3/projects", token: admin,
                                        json: ["project": ["name": "both", "tags": [.string(Self.composed), .string(Self.decomposed)]]])
            #expect(both.status == 201, "\(both.message)")
            #expect(both["project"]?["tags"]?.arrayValue?.count == 2)
            let one = try await c.call(.post, "/v3/projects", token: admin, json: ["project": ["name": "one", "tags": [.string(Self.composed)]]])
            let oneID = try #require(one["project"]?["id"]?.stringValue)
            let bothID = try #require(both["project"]?["id"]?.stringValue)
            func names(_ query: String) async throws -> Set<String> {
                Set(try await c.call(.get, "/v3/projects?\(query)", token: admin)["projects"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
            }
            #expect(try await names("tags=\(q(Self.decomposed))") == ["both"])
            #expect(try await names("tags=\(q(Self.composed))") == ["both", "one"])
            #expect(try await names("tags-any=\(q(Self.decomposed))") == ["both"])
            #expect(try await !names("not-tags-any=\(q(Self.decomposed))").contains("both"))
            #expect(try await names("not-tags-any=\(q(Self.decomposed))").contains("one"))
            // Single-tag routes: the decomposed tag is not on "one".
            #expect(try await c.call(.get, "/v3/projects/\(oneID)/tags/\(q(Self.decomposed))", token: admin).status == 404)
            #expect(try await c.call(.get, "/v3/projects/\(oneID)/tags/\(q(Self.composed))", token: admin).status == 204)
            #expect(try await c.call(.put, "/v3/projects/\(oneID)/tags/\(q(Self.decomposed))", token: admin).status == 201)
            let tags = try await c.call(.get, "/v3/projects/\(oneID)/tags", token: admin)["tags"]?.arrayValue ?? []
            #expect(tags.count == 2)
            #expect(try await c.call(.delete, "/v3/projects/\(bothID)/tags/\(q(Self.composed))", token: admin).status == 204)
            let left = try await c.call(.get, "/v3/projects/\(bothID)/tags", token: admin)["tags"]?.arrayValue ?? []
            #expect(left.count == 1 && left.first?.stringValue?.sameBytes(as: Self.decomposed) == true)
        }
        await h.close()
    }

    @Test func equivalentUserNamesAreTwoUsers() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        for (name, pw) in [(Self.composed, "pw-composed"), (Self.decomposed, "pw-decomposed")] {
            var u = UserInput()
            u.name = name
            u.password = .some(pw)
            _ = try await s.createUser(u, defaultDomainID: "default")
        }
        let a = try await f.password(Self.composed, "pw-composed")
        let b = try await f.password(Self.decomposed, "pw-decomposed")
        #expect(a.user.id != b.user.id)
        await #expect(throws: NimbusError.self) { try await f.password(Self.composed, "pw-decomposed") }
        let listed = try await s.listUsers(name: Self.decomposed, domainID: nil, enabled: nil)
        #expect(listed.map(\.id) == [b.user.id])
        await f.close()
    }

    /// Roles are matched by name when delegated: a trust or application credential asking for the
    /// decomposed name must not get the composed role the caller holds.
    @Test func equivalentRoleNamesAreNotConfusedWhenDelegating() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let held = try await s.createRole(name: Self.composed, domainID: nil, description: nil, options: [:], extra: [:])
        _ = try await s.createRole(name: Self.decomposed, domainID: nil, description: nil, options: [:], extra: [:])
        let admin0 = try await f.password("admin", "admin-pw", project: "admin")
        try await s.addGrant(Grant(actorType: .user, actorID: admin0.user.id, targetType: .project, targetID: admin0.projectID!, roleID: held.id, inherited: false))
        let admin = try await f.password("admin", "admin-pw", project: "admin")
        #expect(admin.roles.contains { $0.id == held.id })
        let demo = try #require(try await s.user(named: "demo", domainID: "default"))
        var trust = TrustInput(trustorID: admin.user.id, trusteeID: demo.id, projectID: admin.projectID, impersonation: false)
        trust.roles = [(nil, Self.decomposed)]
        await #expect(throws: NimbusError.self) { try await s.createTrust(trust, caller: admin) }
        trust.roles = [(nil, Self.composed)]
        #expect(try await s.createTrust(trust, caller: admin).roles.map(\.id) == [held.id])
        var cred = AppCredentialInput(name: "c")
        cred.roles = [(nil, Self.decomposed)]
        await #expect(throws: NimbusError.self) { try await s.createAppCredential(cred, caller: admin) }
        // Effective roles are sorted by bytes: "caf\u{E9}" (0xC3 0xA9) after "cafe\u{301}".
        let names = try await s.listRoles(name: nil, domainID: nil).map(\.name)
        let i = try #require(names.firstIndex { $0.sameBytes(as: Self.decomposed) }), j = try #require(names.firstIndex { $0.sameBytes(as: Self.composed) })
        #expect(i < j)
        await f.close()
    }

    @Test func equivalentResourceNamesAndRegionsAreKeptApartInLimitsAndCatalog() async throws {
        let f = try await IdentityFixture.make()
        let s = f.service
        let svc = try #require(try await s.listServices(type: "identity", name: nil).first)
        let project = try #require(try await s.project(named: "demo", domainID: "default"))
        _ = try await s.createRegisteredLimits([RegisteredLimit(id: "", serviceID: svc.id, regionID: nil, resourceName: Self.composed, defaultLimit: 1, description: nil)])
        // No registered limit for the decomposed resource name: a project limit for it is refused.
        let limit = ProjectLimit(id: "", projectID: project.id, domainID: nil, serviceID: svc.id, regionID: nil, resourceName: Self.decomposed,
                                 resourceLimit: 5, description: nil)
        await #expect(throws: NimbusError.self) { try await s.createLimits([limit]) }
        #expect(try await s.listRegisteredLimits(serviceID: nil, regionID: nil, resourceName: Self.decomposed).isEmpty)
        // Regions named by equivalent ids are two regions; a parent chain between them is no cycle.
        _ = try await s.createRegion(id: Self.composed, description: nil, parentRegionID: nil, extra: [:])
        _ = try await s.createRegion(id: Self.decomposed, description: nil, parentRegionID: nil, extra: [:])
        _ = try await s.updateRegion(Self.decomposed, description: nil, parentRegionID: .some(Self.composed), extra: [:])
        #expect(try await s.listRegions(parentRegionID: Self.composed).map(\.id).count == 1)
        // Services filtered by name.
        _ = try await s.createService(type: "x", enabled: true, extra: ["name": .string(Self.composed)])
        #expect(try await s.listServices(type: nil, name: Self.decomposed).isEmpty)
        await f.close()
    }

    /// An extra attribute named like a stored one but for its normalization is another attribute:
    /// both are kept, each with its own value (as Keystone's JSON column keeps them).
    @Test func equivalentExtraAttributeNamesAreTwoAttributes() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let p = try await c.call(.post, "/v3/projects", token: admin, json: ["project": ["name": "x", .init(stringLiteral: Self.composed): 1]])
            let id = try #require(p["project"]?["id"]?.stringValue)
            let r = try await c.call(.patch, "/v3/projects/\(id)", token: admin, json: ["project": [.init(stringLiteral: Self.decomposed): 2]])
            #expect(r.status == 200)
            let shown = try await c.call(.get, "/v3/projects/\(id)", token: admin)["project"]?.objectValue ?? [:]
            #expect(shown[Self.composed] == 1 && shown[Self.decomposed] == 2)
        }
        await h.close()
    }

    @Test func catalogPlaceholdersAreFoundByBytes() {
        #expect(IdentityAPI.substitute("http://x/v1/AUTH_%(project_id)s", projectID: "p1") == "http://x/v1/AUTH_p1")
        // A combining mark after the placeholder leaves it a placeholder followed by that mark.
        let url = "http://x/%(project_id)s\u{301}"
        #expect(IdentityAPI.substitute(url, projectID: "p1")?.sameBytes(as: "http://x/p1\u{301}") == true)
    }
}
