import Foundation
import HTTPTypes
import NimbusCore
import Testing
@testable import Identity

/// Absent optional attributes render as Keystone renders them: null where Keystone's row holds
/// NULL, absent where Keystone leaves the key out.
@Suite struct ViewTests {
    @Test func descriptionsKeystoneStoresAsNullRenderNull() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let group = try await c.call(.post, "/v3/OS-EP-FILTER/endpoint_groups", token: admin,
                                         json: ["endpoint_group": ["name": "g", "filters": ["interface": "public"]]])
            #expect(group.status == 201)
            #expect(group["endpoint_group"]?.objectValue?["description"] == .null)
            let gid = try #require(group["endpoint_group"]?["id"]?.stringValue)
            #expect(try await c.call(.get, "/v3/OS-EP-FILTER/endpoint_groups/\(gid)", token: admin)["endpoint_group"]?.objectValue?["description"] == .null)
            let described = try await c.call(.patch, "/v3/OS-EP-FILTER/endpoint_groups/\(gid)", token: admin, json: ["endpoint_group": ["description": "d"]])
            #expect(described["endpoint_group"]?["description"] == "d")
            let cleared = try await c.call(.patch, "/v3/OS-EP-FILTER/endpoint_groups/\(gid)", token: admin, json: ["endpoint_group": ["description": nil]])
            #expect(cleared["endpoint_group"]?.objectValue?["description"] == .null)

            let role = try await c.call(.post, "/v3/roles", token: admin, json: ["role": ["name": "plain"]])
            #expect(role["role"]?.objectValue?["description"] == .null)
            let rid = try #require(role["role"]?["id"]?.stringValue)
            #expect(try await c.call(.patch, "/v3/roles/\(rid)", token: admin, json: ["role": ["description": "x"]])["role"]?["description"] == "x")
            #expect(try await c.call(.patch, "/v3/roles/\(rid)", token: admin, json: ["role": ["description": nil]])["role"]?.objectValue?["description"] == .null)
            // Projects and groups default to "" (Keystone's setdefault), regions too.
            let project = try await c.call(.post, "/v3/projects", token: admin, json: ["project": ["name": "p"]])
            #expect(project["project"]?["description"] == "")
            let region = try await c.call(.post, "/v3/regions", token: admin, json: ["region": [:]])
            #expect(region["region"]?["description"] == "")
        }
        await h.close()
    }

    @Test func applicationCredentialsAndTrustsShowKeystonesColumns() async throws {
        let h = try await APIHarness.make()
        let demo = try #require(try await h.service.user(named: "demo", domainID: "default"))
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let me = try await c.call(.get, "/v3/auth/tokens", token: admin, headers: [HTTPField.Name("X-Subject-Token")!: admin])
            let adminID = try #require(me["token"]?["user"]?["id"]?.stringValue)
            let projectID = try #require(me["token"]?["project"]?["id"]?.stringValue)
            let plain = try await c.call(.post, "/v3/users/\(adminID)/application_credentials", token: admin,
                                         json: ["application_credential": ["name": "plain", "roles": [["name": "reader"]]]])
            let cred = try #require(plain["application_credential"]?.objectValue)
            #expect(cred["system"] == .null && cred["description"] == .null && cred["expires_at"] == .null)
            #expect(cred["access_rules"] == nil, "Keystone leaves access_rules out when there are none")
            let role = try #require(cred["roles"]?.arrayValue?.first?.objectValue)
            #expect(Set(role.keys) == ["id", "name", "domain_id", "description", "options"])
            let ruled = try await c.call(.post, "/v3/users/\(adminID)/application_credentials", token: admin, json: ["application_credential": [
                "name": "ruled", "access_rules": [["service": "compute", "path": "/v2.1/servers", "method": "GET"]]]])
            #expect(ruled["application_credential"]?["access_rules"]?.arrayValue?.count == 1)

            let trust = try await c.call(.post, "/v3/OS-TRUST/trusts", token: admin, json: ["trust": [
                "trustor_user_id": .string(adminID), "trustee_user_id": .string(demo.id), "project_id": .string(projectID),
                "impersonation": false, "roles": [["name": "member"]]]])
            let t = try #require(trust["trust"]?.objectValue)
            #expect(t["deleted_at"] == .null && t["redelegated_trust_id"] == .null && t["expires_at"] == .null && t["remaining_uses"] == .null)
            let trustRole = try #require(t["roles"]?.arrayValue?.first?.objectValue)
            #expect(trustRole["description"] != nil && trustRole["options"] != nil && trustRole["domain_id"] != nil)
        }
        await h.close()
    }

    @Test func inferenceRulesOptionsAndAssignmentLinks() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let rules = try await c.call(.get, "/v3/role_inferences", token: admin)["role_inferences"]?.arrayValue ?? []
            let implied = try #require(rules.first?["implies"]?.arrayValue?.first?.objectValue)
            #expect(Set(implied.keys) == ["id", "name", "links"])
            #expect(Set(try #require(rules.first?["prior_role"]?.objectValue).keys) == ["id", "name", "links"])

            // A null option resets it: it is not shown.
            let p = try await c.call(.post, "/v3/projects", token: admin, json: ["project": ["name": "o", "options": ["immutable": nil]]])
            #expect(p["project"]?["options"] == [:])
            let id = try #require(p["project"]?["id"]?.stringValue)
            #expect(try await c.call(.patch, "/v3/projects/\(id)", token: admin, json: ["project": ["options": ["immutable": false]]])["project"]?["options"] == ["immutable": false])
            #expect(try await c.call(.patch, "/v3/projects/\(id)", token: admin, json: ["project": ["options": ["immutable": nil]]])["project"]?["options"] == [:])

            // An assignment through an implied role links its prior role the way Keystone does.
            let list = try await c.call(.get, "/v3/role_assignments?effective&user.id=\(try #require(try await h.service.user(named: "demo", domainID: "default")).id)",
                                        token: admin)["role_assignments"]?.arrayValue ?? []
            let viaImplication = try #require(list.first { $0["links"]?["prior_role"] != nil })
            let roleID = try #require(viaImplication["role"]?["id"]?.stringValue)
            let link = try #require(viaImplication["links"]?["prior_role"]?.stringValue)
            #expect(link.hasPrefix("http://test/identity/v3/prior_role/\(roleID)/implies/"))
        }
        await h.close()
    }

    /// On users, a null extra attribute removes it (as before the byte-safe merge).
    @Test func nullRemovesAUsersExtraAttribute() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let u = try await c.call(.post, "/v3/users", token: admin, json: ["user": ["name": "x", "email": "x@example.com"]])
            let id = try #require(u["user"]?["id"]?.stringValue)
            let patched = try await c.call(.patch, "/v3/users/\(id)", token: admin, json: ["user": ["email": nil]])
            #expect(patched.status == 200 && patched["user"]?.objectValue?["email"] == nil)
        }
        await h.close()
    }

    @Test func tokensShowTheUsersPasswordExpiry() async throws {
        var sc = SecurityCompliance()
        sc.passwordExpiresDays = 30
        let h = try await APIHarness.make(security: sc)
        var u = UserInput()
        u.name = "expiring"
        u.password = .some("pw")
        _ = try await h.service.createUser(u, defaultDomainID: "default")
        u.name = "exempt"
        u.options = ["ignore_password_expiry": true]
        _ = try await h.service.createUser(u, defaultDomainID: "default")
        try await h.run { c in
            let token = try await c.token("expiring", "pw")
            let body = try await c.call(.get, "/v3/auth/tokens", token: token, headers: [HTTPField.Name("X-Subject-Token")!: token])
            let expiry = try #require(body["token"]?["user"]?["password_expires_at"]?.stringValue)
            #expect(ExactTime.parse(expiry) != nil && !expiry.hasSuffix("Z"))
            let exempt = try await c.token("exempt", "pw")
            let exemptBody = try await c.call(.get, "/v3/auth/tokens", token: exempt, headers: [HTTPField.Name("X-Subject-Token")!: exempt])
            #expect(exemptBody["token"]?["user"]?.objectValue?["password_expires_at"] == .null)
        }
        await h.close()
    }
}
