import Foundation
import NimbusCore

public enum AuthMethod: Sendable {
    case password(userID: String?, name: String?, domainID: String?, domainName: String?, password: String)
    case token(String)
    case applicationCredential(id: String?, name: String?, userID: String?, userName: String?, userDomainID: String?, userDomainName: String?, secret: String)
    case oauth1(OAuth1Call)
}

public enum ScopeRequest: Sendable, Equatable {
    case none
    case project(id: String?, name: String?, domainID: String?, domainName: String?)
    case domain(id: String?, name: String?)
    case system
    case trust(String)
}

extension IdentityService: TokenValidator {
    /// Authenticates and issues a token (`POST /v3/auth/tokens`).
    public func issueToken(methods: [String], method: AuthMethod, scope: ScopeRequest) async throws -> AuthContext {
        var expires = now.addingTimeInterval(settings.tokenLifetime)
        var audit = [TokenSealer.newAuditID()]
        var appCredID: String?
        var oauthID: String?
        var scope = scope
        var methods = methods
        let user: User
        switch method {
        case .password(let userID, let name, let domainID, let domainName, let password):
            // The password is checked before anything else is revealed about the account.
            user = try await resolveUser(id: userID, name: name, domainID: domainID, domainName: domainName, checkEnabled: false)
            try await authenticate(user, password: password, allowExpired: false)
        case .token(let token):
            // Keystone answers 404 (TokenNotFound) for an invalid or revoked token used to authenticate.
            let parent = try await validate(token, allowExpired: false)
            if parent.applicationCredentialID != nil {
                throw NimbusError.forbidden("Rescoping a token obtained with an application credential is not allowed.")
            }
            if parent.trust != nil { throw NimbusError.forbidden("Rescoping a trust-scoped token is not allowed.") }
            if parent.isOAuth {
                throw NimbusError.forbidden("Using OAuth-scoped token to create another token. Create a new OAuth-scoped token instead")
            }
            if parent.scope != .unscoped && scope == .none {
                throw NimbusError.forbidden("Rescoping a scoped token requires a scope.")
            }
            // keystone/auth/plugins/token.py: a system token is not exchanged for a project or domain one.
            if parent.scope == .system {
                switch scope {
                case .project, .domain:
                    throw NimbusError.forbidden("Using a system-scoped token to create a project-scoped or domain-scoped token is not allowed.")
                default: break
                }
            }
            user = try await requireEnabledUser(parent.user.id)
            expires = parent.expiresAt
            // The chain keeps the original token's audit id (`parent_audit_id or audit_id`).
            audit.append(parent.auditIDs.last ?? "")
            // Keystone lists the parent's methods too: a rescoped password token says ["password", "token"].
            methods = Array(Set((parent.methods + methods).map(Name.init))).sorted().map(\.string)
        case .applicationCredential(let id, let name, let userID, let userName, let userDomainID, let userDomainName, let secret):
            let cred = try await resolveAppCredential(id: id, name: name, userID: userID, userName: userName, userDomainID: userDomainID, userDomainName: userDomainName)
            guard try await hasher.verify(secret, against: cred.secretHash) else { throw NimbusError.unauthorized() }
            let credExpiry = cred.expiresAt.flatMap(ExactTime.parse)
            if let e = credExpiry, e <= ExactTime(now) { throw NimbusError.unauthorized("The application credential has expired.") }
            if scope != .none { throw NimbusError.unauthorized("Application credentials cannot request a scope.") }
            if case .trust = scope { throw NimbusError.forbidden("Application credentials cannot use trusts.") }
            user = try await requireEnabledUser(cred.userId)
            appCredID = cred.id
            scope = cred.system != nil ? .system : .project(id: cred.projectId, name: nil, domainID: nil, domainName: nil)
            if let e = credExpiry?.date, e < expires { expires = e }
        case .oauth1(let call):
            // The token is scoped to the access token's project, whatever scope was asked for.
            let access = try await authenticateOAuth(call)
            user = try await requireEnabledUser(access.authorizingUserId)
            oauthID = access.id
            methods = ["oauth1"]
            scope = .project(id: access.projectId, name: nil, domainID: nil, domainName: nil)
            if let e = access.expiresAt.flatMap(ExactTime.parse)?.date, e < expires { expires = e }
        }
        var tokenUserID = user.id
        var trustID: String?
        let resolved: TokenPayload.Scope
        if case .trust(let id) = scope {
            let trust = try await consumeTrust(id, trusteeID: user.id)
            guard let project = trust.projectID else { throw NimbusError.forbidden("Trust-scoped tokens need a trust on a project.") }
            resolved = .project(project)
            trustID = trust.id
            if trust.impersonation { tokenUserID = trust.trustorID }
            if let e = trust.expiresAt?.date, e < expires { expires = e }
        } else {
            resolved = try await resolveScope(scope, user: user)
        }
        let payload = TokenPayload(userID: tokenUserID, methods: methods, scope: resolved, issuedAt: now, expiresAt: expires,
                                   auditIDs: audit.filter { !$0.isEmpty }, applicationCredentialID: appCredID, trustID: trustID,
                                   oauthAccessTokenID: oauthID)
        let token = try sealer.seal(payload)
        do {
            return try await buildContext(token: token, payload: payload)
        } catch let e as NimbusError where e.kind == .notFound || e.kind == .unauthorized {
            throw NimbusError.unauthorized(e.message)
        }
    }

    /// Checks a user's password as every password authentication does (tokens, the self-service
    /// password change): refused while the account is locked out; a wrong password counts towards
    /// the lockout; the right one clears the count; then the account must be enabled and, unless
    /// `allowExpired`, the password unexpired. The password is checked before anything else is
    /// revealed about the account.
    func authenticate(_ user: User, password: String, allowExpired: Bool) async throws {
        let failuresOnRecord = try await checkNotLockedOut(user)
        guard let hash = user.passwordHash, try await hasher.verify(password, against: hash) else {
            try await recordAuthFailure(user)
            throw NimbusError.unauthorized("The request you have made requires authentication.")
        }
        if failuresOnRecord { try await clearAuthFailures(user) }
        try await checkEnabled(user)
        if !allowExpired { try checkPasswordNotExpired(user) }
    }

    func requireEnabledUser(_ id: String) async throws -> User {
        guard let u = try await user(id) else { throw NimbusError.unauthorized("Could not find user: \(id).") }
        try await checkEnabled(u)
        return u
    }

    func checkEnabled(_ user: User) async throws {
        guard user.enabled else { throw NimbusError.unauthorized("The account is disabled for user: \(user.id).") }
        guard let d = try await domain(user.domainID), d.enabled else { throw NimbusError.unauthorized("The domain of user \(user.id) is disabled.") }
    }

    func resolveDomainID(id: String?, name: String?) async throws -> String {
        if let id { return id }
        guard let name, let d = try await domain(named: name) else { throw NimbusError.unauthorized("Could not find domain: \(name ?? "").") }
        return d.id
    }

    func resolveUser(id: String?, name: String?, domainID: String?, domainName: String?, checkEnabled check: Bool = true) async throws -> User {
        let user: User?
        if let id {
            user = try await self.user(id)
        } else if let name {
            guard domainID != nil || domainName != nil else {
                throw NimbusError.badRequest("Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect.")
            }
            user = try await self.user(named: name, domainID: try await resolveDomainID(id: domainID, name: domainName))
        } else {
            throw NimbusError.badRequest("Expecting to find id or name in user.")
        }
        guard let user else { throw NimbusError.unauthorized("The request you have made requires authentication.") }
        if check { try await checkEnabled(user) }
        return user
    }

    func resolveScope(_ scope: ScopeRequest, user: User) async throws -> TokenPayload.Scope {
        switch scope {
        case .none:
            // Like Keystone, an unscoped request is scoped to the default project when the user has roles there.
            if let pid = user.defaultProjectID, let p = try await project(pid), p.enabled,
               try await !effectiveRoles(userID: user.id, scope: .project(pid)).isEmpty {
                return .project(pid)
            }
            return .unscoped
        case .project(let id, let name, let domainID, let domainName):
            let project: Project?
            if let id {
                project = try await self.project(id)
            } else if let name {
                project = try await self.project(named: name, domainID: try await resolveDomainID(id: domainID, name: domainName))
            } else {
                throw NimbusError.badRequest("Expecting to find id or name in project.")
            }
            guard let project else { throw NimbusError.unauthorized("Could not find project: \(id ?? name ?? "").") }
            return .project(project.id)
        case .domain(let id, let name):
            return .domain(try await resolveDomainID(id: id, name: name))
        case .system:
            return .system
        case .trust:
            throw NimbusError.badRequest("A trust scope is resolved by issueToken.")
        }
    }

    // MARK: Validation

    /// Validates a caller's `X-Auth-Token`; failure is 401.
    public func validate(token: String) async throws -> AuthContext {
        do {
            return try await validate(token, allowExpired: false)
        } catch let e as NimbusError where e.kind == .notFound {
            throw NimbusError.unauthorized("The request you have made requires authentication.")
        }
    }

    /// Validates a subject token (`X-Subject-Token`); failure is 404 as Keystone answers.
    public func validate(_ token: String, allowExpired: Bool) async throws -> AuthContext {
        let generation = self.generation
        // Hot path: a token validated since the last identity write needs no decryption and no query.
        let key = Name(token)
        if let cached = validationCache.withLock({ $0[key] }), cached.generation == generation, now < cached.context.expiresAt {
            return cached.context
        }
        guard let payload = sealer.open(token) else { throw NimbusError.notFound("Could not recognize Fernet token") }
        let limit = allowExpired ? payload.expiresDate.addingTimeInterval(settings.allowExpiredWindow) : payload.expiresDate
        guard now < limit else { throw NimbusError.notFound("The token has expired.") }
        let context = try await buildContext(token: token, payload: payload)
        validationCache.withLock { cache in
            if cache.count >= Self.validationCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = CachedValidation(generation: generation, context: context)
        }
        return context
    }

    /// Resolves a payload into the full caller: checks everything the token depends on is still valid.
    func buildContext(token: String, payload: TokenPayload) async throws -> AuthContext {
        guard let user = try await memoized("user:" + payload.userID, { try await self.user(payload.userID) }), user.enabled else {
            throw NimbusError.notFound("Failed to validate token")
        }
        guard let userDomain = try await memoized("domain:" + user.domainID, { try await self.domain(user.domainID) }), userDomain.enabled else {
            throw NimbusError.notFound("Failed to validate token")
        }
        var scope = AuthContext.Scope.unscoped
        var projectDomainID: String?
        switch payload.scope {
        case .unscoped: break
        case .system: scope = .system
        case .domain(let d):
            guard let domain = try await memoized("domain:" + d, { try await self.domain(d) }), domain.enabled else {
                throw NimbusError.notFound("Failed to validate token")
            }
            scope = .domain(id: d, name: domain.name)
        case .project(let p):
            guard let project = try await memoized("project:" + p, { try await self.project(p) }), project.enabled, let did = project.domainID,
                  let domain = try await memoized("domain:" + did, { try await self.domain(did) }), domain.enabled else {
                throw NimbusError.notFound("Failed to validate token")
            }
            projectDomainID = did
            scope = .project(.init(id: project.id, name: project.name, domainID: did, domainName: domain.name))
        }
        // Everyone the token stands for: a revocation of any of them ends it.
        var parties = [payload.userID]
        var trust: Trust?
        if let trustID = payload.trustID {
            guard let t = try? await memoized("trust:" + trustID, { try await self.trust(trustID) }) else { throw NimbusError.notFound("Failed to validate token") }
            trust = t
            parties += [t.trustorID, t.trusteeID]
        }
        var credential: AppCredentialRecord?
        if let credID = payload.applicationCredentialID {
            guard let cred = try await appCredentialRecord(credID) else { throw NimbusError.notFound("Failed to validate token") }
            credential = cred
            parties.append(cred.userId)
        }
        if revocations.isRevoked(payload, userIDs: parties, projectDomainID: projectDomainID, userDomainID: user.domainID) {
            throw NimbusError.notFound("Failed to validate token")
        }
        var roles = try await memoized("roles:\(user.id):\(payload.scope)") { try await self.effectiveRoles(userID: user.id, scope: payload.scope) }
        if let accessID = payload.oauthAccessTokenID {
            roles = try await oauthRoles(accessID, user: user.id, roles: roles)
        }
        var accessRules = [AuthContext.AccessRule]()
        if let cred = credential {
            let allowed = Set(Self.idList(fromColumn: cred.roles))
            roles = roles.filter { allowed.contains($0.id) }
            let ruleIDs = Self.idList(fromColumn: cred.accessRules)
            if !ruleIDs.isEmpty {
                let rules = try await accessRuleMap(userID: cred.userId)
                accessRules = ruleIDs.compactMap { rules[$0] }.map { .init(service: $0.service, path: $0.path, method: $0.method) }
            }
        }
        var trustInfo: AuthContext.Trust?
        if let t = trust {
            if let e = t.expiresAt, e <= ExactTime(now) { throw NimbusError.notFound("Failed to validate token") }
            // Both ends must still be usable: an impersonating token names the trustor, but dies with the trustee too.
            for party in [t.trustorID, t.trusteeID] {
                guard let u = try await memoized("user:" + party, { try await self.user(party) }), u.enabled else {
                    throw NimbusError.notFound("Failed to validate token")
                }
            }
            // The trustor must still hold the delegated roles.
            let trustorRoles = t.trustorID == user.id ? roles
                : try await memoized("roles:\(t.trustorID):\(payload.scope)") { try await self.effectiveRoles(userID: t.trustorID, scope: payload.scope) }
            let delegated = Set(expandImplied(t.roles.map(\.id), rules: try await impliedRules()))
            roles = trustorRoles.filter { delegated.contains($0.id) }
            trustInfo = .init(id: t.id, impersonation: t.impersonation, trustorID: t.trustorID, trusteeID: t.trusteeID)
        }
        if payload.scope != .unscoped && roles.isEmpty {
            throw NimbusError.unauthorized("User \(user.id) has no access to the requested scope.")
        }
        var context = AuthContext(
            token: token, user: .init(id: user.id, name: user.name, domainID: user.domainID, domainName: userDomain.name),
            scope: scope, roles: roles.map { .init(id: $0.id, name: $0.name) }, methods: payload.methods,
            issuedAt: payload.issuedDate, expiresAt: payload.expiresDate, auditIDs: payload.auditIDs,
            applicationCredentialID: payload.applicationCredentialID, isAdminProject: true, trust: trustInfo)
        context.accessRules = accessRules
        return context
    }

    /// `DELETE /v3/auth/tokens`: revokes the token by its audit id.
    public func revokeToken(_ token: String) async throws {
        let context = try await validate(token, allowExpired: false)
        guard let audit = context.auditIDs.first else { return }
        try await revoke(.audit, audit)
    }
}

extension IdentityService {
    /// An OAuth token holds the access token's roles (with the roles they imply) that the user
    /// still has on the project; a deleted or expired access token ends it (Keystone's
    /// `_get_oauth_roles`).
    func oauthRoles(_ accessID: String, user: String, roles: [Role]) async throws -> [Role] {
        guard let access = try await memoized("oauth:" + accessID, { try await self.accessTokenRecord(accessID) }),
              access.authorizingUserId.sameBytes(as: user), !Self.isExpired(access.expiresAt, now: now) else {
            throw NimbusError.notFound("Failed to validate token")
        }
        let granted = Set(expandImplied(Self.idList(fromColumn: access.roleIds), rules: try await impliedRules()).map(Name.init))
        return roles.filter { granted.contains(Name($0.id)) }
    }
}
