import Hummingbird
import Logging
import NimbusCore
import NimbusPolicy

/// Per-request state shared by every service: the request id, the path parameters of the matched
/// route, and the caller once the token has been validated.
public struct NimbusRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String = ""
    public var pathParameters: [String: String] = [:]
    public var auth: AuthContext?
    /// The caller's `X-Service-Token`, when a service calls on a user's behalf (keystonemiddleware's
    /// service tokens): lets a service accept a user token that expired mid-operation.
    public var serviceAuth: AuthContext?
    public var routeName: String = "unmatched"
    /// The path below the service prefix, still percent-encoded (raw route tables only).
    public var rawPath: Substring = ""
    public var service: String = "none"

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// Large enough for any API body; object and image data do not go through `collect`.
    public var maxUploadSize: Int { 1024 * 1024 }

    public func parameter(_ name: String) throws(NimbusError) -> String {
        guard let v = pathParameters[name] else { throw .badRequest("missing path parameter \(name)") }
        return v
    }

    /// The validated caller; routes that require a token never reach a handler without one.
    public func caller() throws(NimbusError) -> AuthContext {
        guard let auth else { throw .unauthorized() }
        return auth
    }
}

extension AuthContext {
    public var policyCredentials: PolicyCredentials {
        var c = PolicyCredentials(userID: user.id, userDomainID: user.domainID, roles: roleNames, isAdminProject: isAdminProject)
        switch scope {
        case .project(let p):
            c.projectID = p.id
            c.projectDomainID = p.domainID
        case .domain(let id, _):
            c.domainID = id
        case .system:
            c.systemScope = "all"
        case .unscoped:
            break
        }
        return c
    }
}
