import NimbusPolicy
import Testing

@Suite("Check evaluation")
struct CheckEvaluationTests {
    @Test("role checks are case-insensitive in both directions")
    func roleCase() throws {
        #expect(try allows("role:Admin", roles("admin")))
        #expect(try allows("role:admin", roles("ADMIN")))
        #expect(try allows("role:ÉDITEUR", roles("éditeur")))
        #expect(try !allows("role:admin", roles("administrator")))
        #expect(try !allows("role:admin", roles("adm")))
        #expect(try !allows("role:admin"))
    }

    @Test("role names are compared by code points after lowercasing, as Python compares them")
    func roleNamesAreBytes() throws {
        // Canonically equivalent to the role name, but different code points: another role in Keystone.
        #expect(try !allows("role:caf\u{E9}", roles("cafe\u{301}")))
        #expect(try !allows("role:CAFE\u{301}", roles("caf\u{E9}")))
        #expect(try allows("role:CAFE\u{301}", roles("cafe\u{301}")))
        #expect(try !allows("role:%(target.role.name)s", roles("caf\u{E9}"), target: ["target.role.name": "cafe\u{301}"]))
        #expect(try allows("role:%(target.role.name)s", roles("CAF\u{C9}"), target: ["target.role.name": "caf\u{E9}"]))
        // Generic checks against the target: code points too.
        #expect(try !allows("'caf\u{E9}':%(target.role.name)s", target: ["target.role.name": "cafe\u{301}"]))
        let creds = PolicyCredentials(userID: "caf\u{E9}")
        #expect(try !allows("user_id:%(target.user.id)s", creds, target: ["target.user.id": "cafe\u{301}"]))
        #expect(try allows("user_id:%(target.user.id)s", creds, target: ["target.user.id": "caf\u{E9}"]))
    }

    @Test("role values may be substituted from the target")
    func roleSubstitution() throws {
        let target = ["target.role.name": "Reader"]
        #expect(try allows("role:%(target.role.name)s", roles("reader"), target: target))
        #expect(try !allows("role:%(target.role.name)s", roles("member"), target: target))
        #expect(try !allows("role:%(target.role.name)s", roles("reader")))
    }

    @Test("credential attributes compare with substituted target values")
    func credentialSubstitution() throws {
        let creds = PolicyCredentials(
            userID: "u1", userDomainID: "d-user", projectID: "p1", projectDomainID: "d-proj", roles: ["member"])
        let target = [
            "user_id": "u1", "target.project.id": "p1", "target.user.domain_id": "d-user",
            "target.project.domain_id": "d-other",
        ]
        #expect(try allows("user_id:%(user_id)s", creds, target: target))
        #expect(try allows("project_id:%(target.project.id)s", creds, target: target))
        #expect(try allows("user_domain_id:%(target.user.domain_id)s", creds, target: target))
        #expect(try !allows("project_domain_id:%(target.project.domain_id)s", creds, target: target))
        #expect(try allows("project_domain_id:d-proj", creds))
        #expect(try allows("user_id:u1", creds))
        #expect(try !allows("user_id:u2", creds))
    }

    @Test("a missing target key makes the check false, and not inverts that")
    func missingTargetKey() throws {
        let creds = PolicyCredentials(userID: "u1")
        #expect(try !allows("user_id:%(target.user.id)s", creds))
        #expect(try allows("not user_id:%(target.user.id)s", creds))
        #expect(try !allows("'x':%(missing)s"))
        #expect(try allows("user_id:%(missing)s or @", creds))
    }

    @Test("substitution keys are exact, including case")
    func exactKeys() throws {
        let creds = PolicyCredentials(userID: "u1")
        #expect(try !allows("user_id:%(User_ID)s", creds, target: ["user_id": "u1"]))
        #expect(try !allows("user_id:%(user_id)s", creds, target: ["user_id": "U1"]))
    }

    @Test("templates with several pieces and %% escapes")
    func compositeTemplates() throws {
        let creds = PolicyCredentials(userID: "a-b", projectID: "50%")
        #expect(try allows("user_id:%(x)s-%(y)s", creds, target: ["x": "a", "y": "b"]))
        #expect(try !allows("user_id:%(x)s-%(y)s", creds, target: ["x": "a", "y": "bc"]))
        #expect(try !allows("user_id:%(x)s-%(y)s", creds, target: ["x": "a"]))
        #expect(try allows("project_id:50%%", creds))
        #expect(try allows("'a-b':%(x)s-b", target: ["x": "a"]))
    }

    @Test("a literal on the left compares with the target value")
    func leftLiterals() throws {
        let target = ["target.role.name": "member", "flag": "True", "domain": "None", "count": "3"]
        #expect(try allows("'member':%(target.role.name)s", target: target))
        #expect(try allows("\"member\":%(target.role.name)s", target: target))
        #expect(try !allows("'manager':%(target.role.name)s", target: target))
        #expect(try allows("True:%(flag)s", target: target))
        #expect(try !allows("False:%(flag)s", target: target))
        #expect(try allows("None:%(domain)s", target: target))
        #expect(try allows("3:%(count)s", target: target))
        #expect(try allows("+3:%(count)s", target: target))
    }

    @Test("a quoted constant on the right is compared without its quotes")
    func quotedRightSide() throws {
        let creds = PolicyCredentials(systemScope: "all", roles: ["Reader"])
        #expect(try allows("system_scope:'all'", creds))
        #expect(try allows("system_scope:\"all\"", creds))
        #expect(try allows("role:'reader'", creds))
    }

    @Test("unset credential attributes stringify to None, as in oslo")
    func noneCredentials() throws {
        let projectScoped = PolicyCredentials(projectID: "p1", roles: ["manager"])
        let domainScoped = PolicyCredentials(domainID: "d1", roles: ["manager"])
        #expect(try allows("domain_id:None", projectScoped))
        #expect(try !allows("not domain_id:None", projectScoped))
        #expect(try allows("not domain_id:None", domainScoped))
        #expect(try !allows("system_scope:all", projectScoped))
        // A global role's domain_id is None in the target, as Keystone passes it.
        #expect(try allows("domain_id:%(target.role.domain_id)s", projectScoped, target: ["target.role.domain_id": "None"]))
    }

    @Test("token paths and system are absent, not None, when unset")
    func absentAttributes() throws {
        let projectScoped = PolicyCredentials(userID: "u", projectID: "p1", projectDomainID: "d1")
        #expect(try !allows("token.domain.id:None", projectScoped))
        #expect(try allows("token.project.domain.id:%(target.domain.id)s", projectScoped, target: ["target.domain.id": "d1"]))
        #expect(try allows("token.project.id:p1", projectScoped))
        #expect(try allows("token.user.id:u", projectScoped))
        #expect(try !allows("system:None", projectScoped))
        #expect(try allows("system:all", PolicyCredentials(systemScope: "all")))
        let domainScoped = PolicyCredentials(domainID: "d2")
        #expect(try allows("token.domain.id:%(target.user.domain_id)s", domainScoped, target: ["target.user.domain_id": "d2"]))
    }

    @Test("is_admin_project and is_admin compare as Python booleans")
    func adminFlags() throws {
        let cloudAdmin = PolicyCredentials(roles: ["Admin"], isAdminProject: true)
        let projectAdmin = PolicyCredentials(roles: ["admin"], isAdminProject: false)
        let adminProjectMember = PolicyCredentials(roles: ["member"], isAdminProject: true)
        #expect(try allows("is_admin_project:True", cloudAdmin))
        #expect(try allows("is_admin_project:False", projectAdmin))
        #expect(try allows("is_admin:True", cloudAdmin))
        #expect(try !allows("is_admin:True", projectAdmin))
        #expect(try !allows("is_admin:True", adminProjectMember))
        #expect(try allows("is_admin:False", adminProjectMember))
        // Keystone's admin_required uses is_admin:1, which never matches a bool.
        #expect(try !allows("is_admin:1", cloudAdmin))
    }

    @Test("roles as a generic attribute is a case-sensitive membership test")
    func rolesAttribute() throws {
        #expect(try allows("roles:reader", roles("member", "reader")))
        #expect(try !allows("roles:Reader", roles("reader")))
        #expect(try allows("roles:%(r)s", roles("reader"), target: ["r": "reader"]))
    }
}
