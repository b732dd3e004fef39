import Foundation
import NimbusCore
import Testing
@testable import Identity

/// The domain configuration API as Keystone's `DomainConfigManager` and Tempest's
/// `test_domain_configuration` use it: groups and options, sensitive options, defaults, errors.
@Suite struct DomainConfigTests {
    static let custom: JSONValue = ["identity": ["driver": "ldap"],
                                    "ldap": ["url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users,dc=my_new_root,dc=org", "password": "s3cret"]]

    func domain(_ c: APIClient, _ admin: String, _ name: String = "cfg-\(UUID().uuidString.prefix(8))") async throws -> String {
        try await c.call(.post, "/v3/domains", token: admin, json: ["domain": ["name": .string(name)]])["domain"]?["id"]?.stringValue ?? ""
    }

    @Test func createShowUpdateAndDeleteAsTempestDoes() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let d = try await domain(c, admin)
            var r = try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": Self.custom])
            #expect(r.status == 201)
            // The sensitive option is stored but never shown.
            #expect(r["config"]?["ldap"]?["password"] == nil)
            #expect(r["config"]?["ldap"]?["url"] == "ldap://myldap.com:389/")
            r = try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": Self.custom])
            #expect(r.status == 200)
            #expect(try await c.call(.get, "/v3/domains/\(d)/config/ldap/password", token: admin).status == 404)
            r = try await c.call(.get, "/v3/domains/\(d)/config/ldap/url", token: admin)
            #expect(r["config"] == ["url": "ldap://myldap.com:389/"])
            r = try await c.call(.get, "/v3/domains/\(d)/config/identity", token: admin)
            #expect(r["config"] == ["identity": ["driver": "ldap"]])
            // PATCH a group, then an option.
            r = try await c.call(.patch, "/v3/domains/\(d)/config/identity", token: admin, json: ["config": ["identity": ["driver": "sql", "list_limit": 5]]])
            #expect(r.status == 200)
            #expect(r["config"]?["identity"] == ["driver": "sql", "list_limit": 5])
            r = try await c.call(.patch, "/v3/domains/\(d)/config/identity/driver", token: admin, json: ["config": ["driver": "ldap"]])
            #expect(r["config"]?["identity"]?["driver"] == "ldap")
            // Deleting the option, then the group, then everything.
            #expect(try await c.call(.delete, "/v3/domains/\(d)/config/identity/driver", token: admin).status == 204)
            #expect(try await c.call(.get, "/v3/domains/\(d)/config/identity/driver", token: admin).status == 404)
            #expect(try await c.call(.delete, "/v3/domains/\(d)/config/identity", token: admin).status == 204)
            #expect(try await c.call(.get, "/v3/domains/\(d)/config/identity", token: admin).status == 404)
            #expect(try await c.call(.delete, "/v3/domains/\(d)/config/ldap/password", token: admin).status == 204)
            #expect(try await c.call(.delete, "/v3/domains/\(d)/config", token: admin).status == 204)
            r = try await c.call(.get, "/v3/domains/\(d)/config", token: admin)
            #expect(r.status == 404)
            #expect(r.message == "Could not find any options in domain configuration for domain \(d).")
        }
        await h.close()
    }

    @Test func invalidGroupsAndOptionsAreForbiddenAsInKeystone() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let d = try await domain(c, admin)
            var r = try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": ["nova": ["x": 1]]])
            #expect(r.status == 403)
            #expect(r.message == "Invalid domain specific configuration: Group nova is not supported for domain specific configurations.")
            r = try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": ["ldap": ["nope": 1]]])
            #expect(r.message == "Invalid domain specific configuration: Option nope in group ldap is not supported for domain specific configurations.")
            #expect(try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": [:]]).status == 403)
            #expect(try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": ["ldap": [:]]]).status == 403)
            #expect(try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": ["ldap": "x"]]).status == 403)
            #expect(try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": [1, 2]]).status == 400)
            #expect(try await c.call(.put, "/v3/domains/\(d)/config", token: admin, raw: "[]").status == 400)
            #expect(try await c.call(.put, "/v3/domains/nope/config", token: admin, json: ["config": Self.custom]).status == 404)
            // A decomposed spelling of a supported option is another (unsupported) name.
            #expect(try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": ["ldap": ["ur\u{301}l": 1]]]).status == 403)
            // PATCH of a group the config lacks, or with another group in the body.
            _ = try await c.call(.put, "/v3/domains/\(d)/config", token: admin, json: ["config": ["ldap": ["url": "u"]]])
            #expect(try await c.call(.patch, "/v3/domains/\(d)/config/identity", token: admin, json: ["config": ["identity": ["driver": "x"]]]).status == 404)
            #expect(try await c.call(.patch, "/v3/domains/\(d)/config/ldap", token: admin, json: ["config": ["identity": ["driver": "x"]]]).status == 403)
            #expect(try await c.call(.patch, "/v3/domains/\(d)/config/ldap/url", token: admin, json: ["config": ["user": "x"]]).status == 403)
            #expect(try await c.call(.get, "/v3/domains/\(d)/config/nova", token: admin).status == 403)
            // Deleting the domain takes its configuration with it.
            _ = try await c.call(.patch, "/v3/domains/\(d)", token: admin, json: ["domain": ["enabled": false]])
            #expect(try await c.call(.delete, "/v3/domains/\(d)", token: admin).status == 204)
            let rows = try await h.service.domainConfigRows(d)
            #expect(rows.isEmpty)
        }
        await h.close()
    }

    @Test func defaultsAndPolicy() async throws {
        let h = try await APIHarness.make()
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let demo = try await c.token("demo", "demo-pw", project: "demo")
            var r = try await c.call(.get, "/v3/domains/config/default", token: admin)
            #expect(r["config"]?["identity"] == ["driver": "sql", "list_limit": nil])
            #expect(r["config"]?["ldap"]?["password"] == nil)
            #expect(r["config"]?["ldap"]?["url"] == "ldap://localhost")
            r = try await c.call(.get, "/v3/domains/config/ldap/default", token: admin)
            #expect(r["config"]?.objectValue?.keys == ["ldap"])
            r = try await c.call(.get, "/v3/domains/config/ldap/pool_size/default", token: admin)
            #expect(r["config"] == ["pool_size": 10])
            #expect(try await c.call(.get, "/v3/domains/config/ldap/password/default", token: admin).status == 403)
            #expect(try await c.call(.get, "/v3/domains/config/nova/default", token: admin).status == 403)
            // Non-admins: everything but security compliance is denied, before the domain is looked up.
            #expect(try await c.call(.get, "/v3/domains/config/default", token: demo).status == 403)
            #expect(try await c.call(.get, "/v3/domains/nope/config", token: demo).status == 403)
            #expect(try await c.call(.put, "/v3/domains/default/config", token: demo, json: ["config": Self.custom]).status == 403)
            #expect(try await c.call(.delete, "/v3/domains/default/config", token: demo).status == 403)
            r = try await c.call(.get, "/v3/domains/default/config/security_compliance", token: demo)
            #expect(r["config"] == ["security_compliance": ["password_regex": nil, "password_regex_description": nil]])
            #expect(try await c.call(.get, "/v3/domains/default/config/security_compliance/lockout_duration", token: demo).status == 403)
        }
        await h.close()
    }
}
