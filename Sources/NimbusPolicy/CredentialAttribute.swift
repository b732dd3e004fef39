/// The left-hand side of a generic `KEY:VALUE` check.
///
/// oslo.policy walks an arbitrary creds dictionary; Nimbus has a fixed
/// credential shape, so the keys are resolved once at compile time and an
/// unknown key is a configuration error rather than a check that can never pass.
enum CredentialAttribute: Sendable, Equatable {
    case userID
    case userDomainID
    case projectID
    case projectDomainID
    case domainID
    case systemScope
    /// oslo.policy copies `system_scope` into `system` when it is set.
    case system
    case isAdminProject
    case isAdmin
    case roles
    // Keystone adds the rendered token to the creds; its default rules use
    // these paths (e.g. `token.domain.id:%(target.user.domain_id)s`).
    case tokenUserID
    case tokenUserDomainID
    case tokenProjectID
    case tokenProjectDomainID
    case tokenDomainID

    init?(name: Substring) {
        switch name {
        case "user_id": self = .userID
        case "user_domain_id": self = .userDomainID
        case "project_id", "tenant_id": self = .projectID
        case "project_domain_id": self = .projectDomainID
        case "domain_id": self = .domainID
        case "system_scope": self = .systemScope
        case "system": self = .system
        case "is_admin_project": self = .isAdminProject
        case "is_admin": self = .isAdmin
        case "roles": self = .roles
        case "token.user.id": self = .tokenUserID
        case "token.user.domain.id": self = .tokenUserDomainID
        case "token.project.id": self = .tokenProjectID
        case "token.project.domain.id": self = .tokenProjectDomainID
        case "token.domain.id": self = .tokenDomainID
        default: return nil
        }
    }

    static let supportedNames = [
        "user_id", "user_domain_id", "project_id", "project_domain_id", "domain_id",
        "system_scope", "system", "is_admin_project", "is_admin", "roles",
        "token.user.id", "token.user.domain.id", "token.project.id",
        "token.project.domain.id", "token.domain.id",
    ]

    /// The attribute as oslo.policy would see it after `str()`.
    ///
    /// Top-level context values are always present in oslo's creds, so an
    /// unset one stringifies to `"None"`; Keystone's default rules depend on
    /// that (`not domain_id:None` means "domain-scoped token"). Token paths and
    /// `system` are simply absent when unset, which makes the check false.
    func value(in credentials: PolicyCredentials) -> CredentialValue {
        switch self {
        case .userID: .string(credentials.userID ?? "None")
        case .userDomainID: .string(credentials.userDomainID ?? "None")
        case .projectID: .string(credentials.projectID ?? "None")
        case .projectDomainID: .string(credentials.projectDomainID ?? "None")
        case .domainID: .string(credentials.domainID ?? "None")
        case .systemScope: .string(credentials.systemScope ?? "None")
        case .system: Self.present(credentials.systemScope.flatMap { $0.isEmpty ? nil : $0 })
        case .isAdminProject: .string(credentials.isAdminProject ? "True" : "False")
        case .isAdmin:
            // Nimbus has no shared admin token; "is admin" means cloud admin.
            .string(credentials.isAdminProject && credentials.hasRole(lowercased: "admin") ? "True" : "False")
        case .roles: .list(credentials.roles)
        case .tokenUserID: Self.present(credentials.userID)
        case .tokenUserDomainID: Self.present(credentials.userDomainID)
        case .tokenProjectID: Self.present(credentials.projectID)
        case .tokenProjectDomainID: Self.present(credentials.projectDomainID)
        case .tokenDomainID: Self.present(credentials.domainID)
        }
    }

    private static func present(_ value: String?) -> CredentialValue {
        value.map(CredentialValue.string) ?? .absent
    }
}

enum CredentialValue {
    case absent
    case string(String)
    /// oslo.policy matches a list-valued credential if any element matches.
    case list([String])
}
