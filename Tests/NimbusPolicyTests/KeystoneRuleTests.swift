import NimbusPolicy
import Testing

/// Real Keystone defaults (keystone/common/policies, master, July 2026),
/// pasted as literals because this target cannot import Identity.
private let keystoneRules: [String: String] = [
    "admin_required": "role:admin or is_admin:1",
    "service_role": "role:service",
    "service_or_admin": "rule:admin_required or rule:service_role",
    "owner": "user_id:%(user_id)s",
    "admin_or_owner": "rule:admin_required or rule:owner",
    "token_subject": "user_id:%(target.token.user_id)s",
    "domain_managed_target_role":
        "'manager':%(target.role.name)s or 'member':%(target.role.name)s or 'reader':%(target.role.name)s",
    "identity:validate_token":
        "rule:admin_required or (role:reader and system_scope:all) or rule:service_role or rule:token_subject",
    "identity:get_user":
        "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s",
    "identity:list_users":
        "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
    "identity:create_user": "(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)",
    "identity:get_project":
        "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
    "identity:list_roles":
        "(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and not domain_id:None)",
    "identity:create_grant":
        "(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s) or ((role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and rule:domain_managed_target_role",
    "identity:get_application_credential":
        "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner",
    "identity:list_revoke_events": "rule:service_or_admin",
    "identity:get_region": "",
    "identity:create_domain": "rule:admin_required",
]

private let keystoneScopes: [String: Set<String>] = [
    "identity:create_domain": ["system", "project"],
    "identity:create_user": ["system", "domain", "project"],
    "identity:get_application_credential": ["system", "project"],
]

/// Token personas from Keystone's protection tests; roles are already
/// expanded through the default implied roles (admin > manager > member > reader).
enum Persona: String, Sendable, CaseIterable {
    case systemAdmin, systemReader, projectAdmin, projectMember, projectReader
    case domainReader, domainManager, otherDomainReader, projectManager, service

    var credentials: PolicyCredentials {
        switch self {
        case .systemAdmin: PolicyCredentials(userID: "u-sysadmin", userDomainID: "default", systemScope: "all", roles: ["admin", "manager", "member", "reader"])
        case .systemReader: PolicyCredentials(userID: "u-sysreader", userDomainID: "default", systemScope: "all", roles: ["reader"])
        case .projectAdmin: project(user: "u-padmin", roles: ["admin", "manager", "member", "reader"])
        case .projectMember: project(user: "u-member", roles: ["member", "reader"])
        case .projectReader: project(user: "u-preader", roles: ["reader"])
        case .projectManager: project(user: "u-pmanager", roles: ["manager", "member", "reader"])
        case .service: project(user: "u-nova", roles: ["service"])
        case .domainReader: PolicyCredentials(userID: "u-dreader", userDomainID: "d1", domainID: "d1", roles: ["reader"])
        case .domainManager: PolicyCredentials(userID: "u-dmanager", userDomainID: "d1", domainID: "d1", roles: ["manager", "member", "reader"])
        case .otherDomainReader: PolicyCredentials(userID: "u-d2reader", userDomainID: "d2", domainID: "d2", roles: ["reader"])
        }
    }

    private func project(user: String, roles: [String]) -> PolicyCredentials {
        PolicyCredentials(userID: user, userDomainID: "d1", projectID: "p1", projectDomainID: "d1", roles: roles)
    }
}

struct KeystoneCase: Sendable, CustomTestStringConvertible {
    let action: String
    let allowed: Set<Persona>
    let target: [String: String]
    let note: String

    init(_ action: String, _ note: String, allowed: Set<Persona>, target: [String: String] = [:]) {
        self.action = action
        self.note = note
        self.allowed = allowed
        self.target = target
    }

    var testDescription: String { "\(action) (\(note))" }
}

private let grantTarget = [
    "target.user.domain_id": "d1", "target.project.domain_id": "d1", "target.role.domain_id": "None",
]

let keystoneCases: [KeystoneCase] = [
    KeystoneCase("identity:validate_token", "someone else's token",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin, .service],
                 target: ["target.token.user_id": "u-someone"]),
    KeystoneCase("identity:validate_token", "the member's own token",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin, .service, .projectMember],
                 target: ["target.token.user_id": "u-member"]),
    KeystoneCase("identity:get_user", "a user in d1",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin, .domainReader, .domainManager],
                 target: ["target.user.id": "u-x", "target.user.domain_id": "d1"]),
    KeystoneCase("identity:get_user", "the reader itself",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin, .domainReader, .domainManager, .projectReader],
                 target: ["target.user.id": "u-preader", "target.user.domain_id": "d1"]),
    KeystoneCase("identity:list_users", "in d1",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin, .domainReader, .domainManager],
                 target: ["target.domain_id": "d1"]),
    KeystoneCase("identity:create_user", "in d1",
                 allowed: [.systemAdmin, .projectAdmin, .domainManager],
                 target: ["target.user.domain_id": "d1"]),
    KeystoneCase("identity:create_user", "in d2",
                 allowed: [.systemAdmin, .projectAdmin],
                 target: ["target.user.domain_id": "d2"]),
    KeystoneCase("identity:get_project", "the token's own project",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin, .projectMember, .projectReader,
                           .projectManager, .service, .domainReader, .domainManager],
                 target: ["target.project.id": "p1", "target.project.domain_id": "d1"]),
    KeystoneCase("identity:get_project", "a root domain acting as a project",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin],
                 target: ["target.project.id": "d9", "target.project.domain_id": "None"]),
    KeystoneCase("identity:list_roles", "as a domain manager only",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin, .domainManager]),
    KeystoneCase("identity:create_grant", "member role in d1",
                 allowed: [.systemAdmin, .projectAdmin, .domainManager],
                 target: grantTarget.merging(["target.role.name": "member"]) { $1 }),
    KeystoneCase("identity:create_grant", "admin role in d1: no escalation for managers",
                 allowed: [.systemAdmin, .projectAdmin],
                 target: grantTarget.merging(["target.role.name": "admin"]) { $1 }),
    KeystoneCase("identity:get_application_credential", "own credential",
                 allowed: [.systemAdmin, .systemReader, .projectAdmin, .projectMember],
                 target: ["user_id": "u-member"]),
    KeystoneCase("identity:list_revoke_events", "service or admin",
                 allowed: [.systemAdmin, .projectAdmin, .service]),
    KeystoneCase("identity:get_region", "open to everyone", allowed: Set(Persona.allCases)),
    KeystoneCase("identity:create_domain", "admin, not from a domain-scoped token",
                 allowed: [.systemAdmin, .projectAdmin]),
]

@Suite("Keystone default rules")
struct KeystoneRuleTests {
    let enforcer: PolicyEnforcer

    init() throws {
        enforcer = try PolicyEnforcer(
            defaults: keystoneRules, overrides: ["default": "rule:admin_required"], scopeTypes: keystoneScopes)
    }

    @Test(arguments: keystoneCases)
    func personas(_ testCase: KeystoneCase) {
        for persona in Persona.allCases {
            let allowed = enforcer.enforce(testCase.action, credentials: persona.credentials, target: testCase.target)
            #expect(allowed == testCase.allowed.contains(persona), "\(persona.rawValue)")
        }
    }

    @Test("a domain admin is denied domain creation only because of scope types")
    func domainAdminScope() throws {
        let domainAdmin = PolicyCredentials(userID: "u", domainID: "d1", roles: ["admin"])
        #expect(!enforcer.enforce("identity:create_domain", credentials: domainAdmin, target: [:]))
        let unscoped = try PolicyEnforcer(defaults: keystoneRules)
        #expect(unscoped.enforce("identity:create_domain", credentials: domainAdmin, target: [:]))
    }

    @Test("unregistered identity actions fall back to admin only")
    func fallback() {
        #expect(enforcer.enforce("identity:future_thing", credentials: Persona.projectAdmin.credentials, target: [:]))
        #expect(!enforcer.enforce("identity:future_thing", credentials: Persona.systemReader.credentials, target: [:]))
    }
}
