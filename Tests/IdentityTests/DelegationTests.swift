import Foundation
import HTTPTypes
import NimbusCore
import Testing
@testable import Identity

/// What delegated tokens may not do, route by route, as Keystone's API layer rules it:
/// restricted application credentials manage no application credentials and create no EC2
/// credentials; no application credential token touches trusts; trust-scoped tokens touch no
/// application credentials or access rules; delegated tokens reach only their project's credentials.
@Suite struct DelegationTests {
    struct Tokens {
        let admin: String, restricted: String, unrestricted: String, trust: String
        let adminID: String, demoID: String, projectID: String, demoProjectID: String
    }

    static func tokens(_ c: APIClient, _ h: APIHarness) async throws -> Tokens {
        let admin = try await c.token("admin", "admin-pw", project: "admin")
        let me = try await c.call(.get, "/v3/auth/tokens", token: admin, headers: [HTTPField.Name("X-Subject-Token")!: admin])
        let adminID = try #require(me["token"]?["user"]?["id"]?.stringValue)
        let projectID = try #require(me["token"]?["project"]?["id"]?.stringValue)
        let demo = try #require(try await h.service.user(named: "demo", domainID: "default"))
        let demoProject = try #require(try await h.service.project(named: "demo", domainID: "default"))
        func credToken(_ name: String, unrestricted: Bool) async throws -> String {
            let cred = try await c.call(.post, "/v3/users/\(adminID)/application_credentials", token: admin,
                                        json: ["application_credential": ["name": .string(name), "unrestricted": .bool(unrestricted)]])
            #expect(cred.status == 201, "\(cred.message)")
            let id = try #require(cred["application_credential"]?["id"]?.stringValue)
            let secret = try #require(cred["application_credential"]?["secret"]?.stringValue)
            let r = try await c.call(.post, "/v3/auth/tokens", json: ["auth": ["identity": ["methods": ["application_credential"],
                                                                                           "application_credential": ["id": .string(id), "secret": .string(secret)]]]])
            #expect(r.status == 201, "\(r.message)")
            return r.headers[HTTPField.Name("X-Subject-Token")!] ?? ""
        }
        let restricted = try await credToken("restricted", unrestricted: false)
        let unrestricted = try await credToken("unrestricted", unrestricted: true)
        let trust = try await c.call(.post, "/v3/OS-TRUST/trusts", token: admin, json: ["trust": [
            "trustor_user_id": .string(adminID), "trustee_user_id": .string(demo.id), "project_id": .string(projectID),
            "impersonation": false, "roles": [["name": "member"]]]])
        #expect(trust.status == 201, "\(trust.message)")
        let demoToken = try await c.token("demo", "demo-pw")
        let scoped = try await c.call(.post, "/v3/auth/tokens", json: ["auth": [
            "identity": ["methods": ["token"], "token": ["id": .string(demoToken)]],
            "scope": ["OS-TRUST:trust": ["id": trust["trust"]?["id"] ?? nil]]]])
        #expect(scoped.status == 201, "\(scoped.message)")
        return Tokens(admin: admin, restricted: restricted, unrestricted: unrestricted, trust: scoped.headers[HTTPField.Name("X-Subject-Token")!] ?? "",
                      adminID: adminID, demoID: demo.id, projectID: projectID, demoProjectID: demoProject.id)
    }

    static func credential(_ t: Tokens, type: String, project: String?, blob: String = "{\"access\": \"a\", \"secret\": \"s\"}") -> JSONValue {
        ["credential": ["user_id": .string(t.adminID), "type": .string(type), "project_id": JSONValue(project), "blob": .string(blob)]]
    }

    @Test func credentialsRoutes() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let t = try await Self.tokens(c, h)
            // EC2 credentials need an unrestricted application credential.
            let ec2 = Self.credential(t, type: "ec2", project: t.projectID, blob: "{\"access\": \"r1\", \"secret\": \"s\"}")
            #expect(try await c.call(.post, "/v3/credentials", token: t.restricted, json: ec2).status == 403)
            #expect(try await c.call(.post, "/v3/credentials", token: t.restricted,
                                     json: Self.credential(t, type: "EC2", project: t.projectID, blob: "{\"access\": \"r2\", \"secret\": \"s\"}")).status == 403)
            #expect(try await c.call(.post, "/v3/credentials", token: t.unrestricted, json: ec2).status == 201)
            // Delegated tokens reach only credentials of their project; a project-less one (TOTP) is out of reach.
            #expect(try await c.call(.post, "/v3/credentials", token: t.restricted, json: Self.credential(t, type: "totp", project: nil)).status == 403)
            #expect(try await c.call(.post, "/v3/credentials", token: t.unrestricted, json: Self.credential(t, type: "totp", project: nil)).status == 403)
            #expect(try await c.call(.post, "/v3/credentials", token: t.restricted, json: Self.credential(t, type: "cert", project: t.demoProjectID)).status == 403)
            // Keystone lets a restricted application credential keep a non-EC2 credential of its own project.
            #expect(try await c.call(.post, "/v3/credentials", token: t.restricted, json: Self.credential(t, type: "cert", project: t.projectID)).status == 201)
            let totp = try await c.call(.post, "/v3/credentials", token: t.admin, json: Self.credential(t, type: "totp", project: nil))
            #expect(totp.status == 201)
            let totpID = try #require(totp["credential"]?["id"]?.stringValue)
            for token in [t.restricted, t.unrestricted] {
                #expect(try await c.call(.get, "/v3/credentials/\(totpID)", token: token).status == 403)
                #expect(try await c.call(.patch, "/v3/credentials/\(totpID)", token: token, json: ["credential": ["blob": "x"]]).status == 403)
                #expect(try await c.call(.delete, "/v3/credentials/\(totpID)", token: token).status == 403)
                let listed = try await c.call(.get, "/v3/credentials", token: token)["credentials"]?.arrayValue ?? []
                #expect(!listed.isEmpty && !listed.contains { $0["id"]?.stringValue == totpID })
            }
            #expect(try await c.call(.get, "/v3/credentials/\(totpID)", token: t.admin).status == 200)
        }
        await h.close()
    }

    @Test func ec2Routes() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let t = try await Self.tokens(c, h)
            let base = "/v3/users/\(t.adminID)/credentials/OS-EC2"
            #expect(try await c.call(.post, base, token: t.restricted, json: ["tenant_id": .string(t.projectID)]).status == 403)
            let made = try await c.call(.post, base, token: t.unrestricted, json: ["tenant_id": .string(t.projectID)])
            #expect(made.status == 201)
            // Another project than the token's: out of the delegation.
            #expect(try await c.call(.post, base, token: t.unrestricted, json: ["tenant_id": .string(t.demoProjectID)]).status == 403)
            let other = try await c.call(.post, base, token: t.admin, json: ["tenant_id": .string(t.demoProjectID)])
            let otherAccess = try #require(other["credential"]?["access"]?.stringValue)
            #expect(try await c.call(.get, base + "/\(otherAccess)", token: t.unrestricted).status == 403)
            #expect(try await c.call(.delete, base + "/\(otherAccess)", token: t.restricted).status == 403)
            let listed = try await c.call(.get, base, token: t.restricted)["credentials"]?.arrayValue ?? []
            #expect(listed.count == 1 && listed.first?["tenant_id"]?.stringValue == t.projectID)
            let access = try #require(made["credential"]?["access"]?.stringValue)
            #expect(try await c.call(.get, base + "/\(access)", token: t.restricted).status == 200)
        }
        await h.close()
    }

    @Test func applicationCredentialAndAccessRuleRoutes() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let t = try await Self.tokens(c, h)
            let base = "/v3/users/\(t.adminID)/application_credentials"
            #expect(try await c.call(.post, base, token: t.restricted, json: ["application_credential": ["name": "more"]]).status == 403)
            let made = try await c.call(.post, base, token: t.unrestricted, json: ["application_credential": ["name": "more"]])
            #expect(made.status == 201)
            let id = try #require(made["application_credential"]?["id"]?.stringValue)
            #expect(try await c.call(.delete, base + "/\(id)", token: t.restricted).status == 403)
            #expect(try await c.call(.get, base, token: t.restricted).status == 200)
            // Trust-scoped tokens (here the trustee's, demo) may do nothing with application credentials.
            let demoBase = "/v3/users/\(t.demoID)/application_credentials"
            #expect(try await c.call(.get, demoBase, token: t.trust).status == 403)
            #expect(try await c.call(.post, demoBase, token: t.trust, json: ["application_credential": ["name": "via-trust"]]).status == 403)
            #expect(try await c.call(.get, "/v3/users/\(t.demoID)/access_rules", token: t.trust).status == 403)
            #expect(try await c.call(.get, "/v3/users/\(t.demoID)/access_rules/x", token: t.trust).status == 403)
            #expect(try await c.call(.delete, "/v3/users/\(t.demoID)/access_rules/x", token: t.trust).status == 403)
            #expect(try await c.call(.delete, base + "/\(id)", token: t.unrestricted).status == 204)
        }
        await h.close()
    }

    @Test func trustRoutes() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let t = try await Self.tokens(c, h)
            let body: JSONValue = ["trust": ["trustor_user_id": .string(t.adminID), "trustee_user_id": .string(t.demoID), "project_id": .string(t.projectID),
                                             "impersonation": false, "roles": [["name": "reader"]]]]
            let existing = try #require(try await c.call(.get, "/v3/OS-TRUST/trusts?trustor_user_id=\(t.adminID)", token: t.admin)["trusts"]?[0]?["id"]?.stringValue)
            for token in [t.restricted, t.unrestricted] {
                #expect(try await c.call(.post, "/v3/OS-TRUST/trusts", token: token, json: body).status == 403)
                #expect(try await c.call(.get, "/v3/OS-TRUST/trusts?trustor_user_id=\(t.adminID)", token: token).status == 403)
                #expect(try await c.call(.get, "/v3/OS-TRUST/trusts/\(existing)", token: token).status == 403)
                #expect(try await c.call(.get, "/v3/OS-TRUST/trusts/\(existing)/roles", token: token).status == 403)
                #expect(try await c.call(.delete, "/v3/OS-TRUST/trusts/\(existing)", token: token).status == 403)
            }
            #expect(try await c.call(.get, "/v3/OS-TRUST/trusts/\(existing)", token: t.admin).status == 200)
        }
        await h.close()
    }
}

extension JSONValue {
    fileprivate subscript(index: Int) -> JSONValue? {
        guard let a = arrayValue, index < a.count else { return nil }
        return a[index]
    }
}
