import Foundation

/// Who is calling, as established from a validated token. Every service receives it in the request
/// context; policy checks and ownership rules read it.
public struct AuthContext: Sendable {
    public struct Role: Sendable, Equatable {
        public let id: String
        public let name: String
        public init(id: String, name: String) { self.id = id; self.name = name }
    }

    public struct Named: Sendable, Equatable {
        public let id: String
        public let name: String
        public let domainID: String
        public let domainName: String
        public init(id: String, name: String, domainID: String, domainName: String) {
            self.id = id; self.name = name; self.domainID = domainID; self.domainName = domainName
        }
    }

    public enum Scope: Sendable, Equatable {
        case unscoped
        case project(Named)
        case domain(id: String, name: String)
        case system
    }

    public var token: String
    public var user: Named
    public var scope: Scope
    public var roles: [Role]
    public var methods: [String]
    public var issuedAt: Date
    public var expiresAt: Date
    public var auditIDs: [String]
    public var applicationCredentialID: String?
    public var isAdminProject: Bool
    /// Set for trust-scoped tokens.
    public var trust: Trust?
    /// An application credential's access rules: when non-empty, the token may only be used for
    /// matching requests (service type, path template, method), as keystonemiddleware enforces.
    public var accessRules: [AccessRule] = []

    public struct AccessRule: Sendable, Equatable {
        public let service: String
        public let path: String
        public let method: String
        public init(service: String, path: String, method: String) { self.service = service; self.path = path; self.method = method }

        /// `*` matches one path segment, `**` any number of them (including none).
        public func permits(service: String, path: [Substring], method: String) -> Bool {
            guard self.service.sameBytes(as: service), self.method.uppercased().sameBytes(as: method.uppercased()) else { return false }
            return Self.match(self.path.splitBytes("/"), path[...])
        }

        static func match(_ pattern: [Substring], _ path: ArraySlice<Substring>) -> Bool {
            guard let head = pattern.first else { return path.isEmpty }
            let rest = Array(pattern.dropFirst())
            if head.sameBytes(as: "**") {
                for i in path.startIndex...path.endIndex where match(rest, path[i...]) { return true }
                return false
            }
            guard let first = path.first, head.sameBytes(as: "*") || head.sameBytes(as: first) else { return false }
            return match(rest, path.dropFirst())
        }
    }

    public struct Trust: Sendable, Equatable {
        public let id: String
        public let impersonation: Bool
        public let trustorID: String
        public let trusteeID: String
        public init(id: String, impersonation: Bool, trustorID: String, trusteeID: String) {
            self.id = id; self.impersonation = impersonation; self.trustorID = trustorID; self.trusteeID = trusteeID
        }
    }

    public init(token: String, user: Named, scope: Scope, roles: [Role], methods: [String], issuedAt: Date, expiresAt: Date,
                auditIDs: [String], applicationCredentialID: String? = nil, isAdminProject: Bool = false, trust: Trust? = nil) {
        self.token = token; self.user = user; self.scope = scope; self.roles = roles; self.methods = methods
        self.issuedAt = issuedAt; self.expiresAt = expiresAt; self.auditIDs = auditIDs
        self.applicationCredentialID = applicationCredentialID; self.isAdminProject = isAdminProject
        self.trust = trust
    }

    public var projectID: String? { if case .project(let p) = scope { p.id } else { nil } }
    public var domainID: String? { if case .domain(let id, _) = scope { id } else { nil } }
    public var isSystemScoped: Bool { scope == .system }
    public var roleNames: [String] { roles.map(\.name) }
    public func hasRole(_ name: String) -> Bool { roles.contains { $0.name.lowercased().sameBytes(as: name.lowercased()) } }
}

/// Validates a token string into an `AuthContext`; Identity implements it, every service's auth
/// middleware calls it.
public protocol TokenValidator: Sendable {
    func validate(token: String) async throws -> AuthContext
}
