import Foundation
import NimbusCore

/// JSON renderings of identity resources, field for field as Keystone's API reference shows them.
extension IdentityAPI {
    func link(_ path: String) -> JSONValue { ["self": .string(v3 + path)] }

    /// A project as the projects API shows it (a domain read through it too: `is_domain: true`).
    func view(_ p: Project) -> JSONValue {
        var o = p.extra
        o["id"] = .string(p.id)
        o["name"] = .string(p.name)
        o["description"] = JSONValue(p.description)
        o["enabled"] = .bool(p.enabled)
        o["tags"] = JSONValue(p.tags)
        o["options"] = .object(p.options)
        o["domain_id"] = JSONValue(p.domainID)
        o["parent_id"] = JSONValue(p.parentID)
        o["is_domain"] = .bool(p.isDomain)
        o["links"] = link("/projects/\(p.id)")
        return .object(o)
    }

    /// A domain as the domains API shows it.
    func domainView(_ d: Project) -> JSONValue {
        var o = d.extra
        o["id"] = .string(d.id)
        o["name"] = .string(d.name)
        o["description"] = JSONValue(d.description)
        o["enabled"] = .bool(d.enabled)
        o["tags"] = JSONValue(d.tags)
        o["options"] = .object(d.options)
        o["links"] = link("/domains/\(d.id)")
        return .object(o)
    }

    func view(_ u: User) -> JSONValue {
        var o = u.extra
        o["id"] = .string(u.id)
        o["name"] = .string(u.name)
        o["domain_id"] = .string(u.domainID)
        o["enabled"] = .bool(u.enabled)
        // Keystone renders the stored datetime without a zone (oslo's PERFECT_TIME_FORMAT).
        o["password_expires_at"] = JSONValue(u.passwordExpiresAt.map { ExactTime.parse($0)?.isoNoZone ?? $0 })
        o["options"] = .object(u.options)
        if let d = u.defaultProjectID { o["default_project_id"] = .string(d) }
        o["links"] = link("/users/\(u.id)")
        return .object(o)
    }

    func view(_ g: Group) -> JSONValue {
        var o = g.extra
        o["id"] = .string(g.id)
        o["name"] = .string(g.name)
        o["domain_id"] = .string(g.domainID)
        o["description"] = JSONValue(g.description)
        o["links"] = link("/groups/\(g.id)")
        return .object(o)
    }

    func view(_ r: Role) -> JSONValue {
        var o = r.extra
        o["id"] = .string(r.id)
        o["name"] = .string(r.name)
        o["domain_id"] = JSONValue(r.domainID)
        // Keystone stores a missing description as NULL: null, not "".
        o["description"] = JSONValue(r.description)
        o["options"] = .object(r.options)
        o["links"] = link("/roles/\(r.id)")
        return .object(o)
    }

    /// The short role form of inference rules: id, name and link only (Keystone's
    /// `build_implied_role_response_data`).
    func roleRef(_ r: Role) -> JSONValue {
        ["id": .string(r.id), "name": .string(r.name), "links": link("/roles/\(r.id)")]
    }

    func view(_ r: Region) -> JSONValue {
        var o = r.extra
        o["id"] = .string(r.id)
        o["description"] = .string(r.description)
        o["parent_region_id"] = JSONValue(r.parentRegionID)
        o["links"] = link("/regions/\(r.id)")
        return .object(o)
    }

    func view(_ s: CatalogService) -> JSONValue {
        var o = s.extra
        o["id"] = .string(s.id)
        o["type"] = .string(s.type)
        o["enabled"] = .bool(s.enabled)
        o["links"] = link("/services/\(s.id)")
        return .object(o)
    }

    func view(_ e: Endpoint) -> JSONValue {
        var o = e.extra
        o["id"] = .string(e.id)
        o["interface"] = .string(e.interface)
        o["url"] = .string(e.url)
        o["service_id"] = .string(e.serviceID)
        o["region_id"] = JSONValue(e.regionID)
        o["region"] = JSONValue(e.regionID)
        o["enabled"] = .bool(e.enabled)
        o["links"] = link("/endpoints/\(e.id)")
        return .object(o)
    }

    func view(_ c: Credential) -> JSONValue {
        var o = c.extra
        o["id"] = .string(c.id)
        o["user_id"] = .string(c.userID)
        o["project_id"] = JSONValue(c.projectID)
        o["type"] = .string(c.type)
        o["blob"] = .string(c.blob)
        o["links"] = link("/credentials/\(c.id)")
        return .object(o)
    }

    func view(_ r: AccessRule) -> JSONValue {
        ["id": .string(r.id), "service": .string(r.service), "path": .string(r.path), "method": .string(r.method)]
    }

    /// As Keystone renders its row: every column (`system` and `description` null when unset),
    /// the roles in full, and `access_rules` only when the credential has some.
    func view(_ a: ApplicationCredential) -> JSONValue {
        var o: JSONObject = [
            "id": .string(a.id), "name": .string(a.name), "description": JSONValue(a.description), "user_id": .string(a.userID),
            "project_id": JSONValue(a.projectID), "system": JSONValue(a.system), "expires_at": JSONValue(a.expiresAt?.isoNoZone),
            "unrestricted": .bool(a.unrestricted),
            "roles": .array(a.roles.map {
                ["id": .string($0.id), "name": .string($0.name), "domain_id": JSONValue($0.domainID), "description": JSONValue($0.description),
                 "options": .object($0.options)]
            }),
            "links": link("/users/\(a.userID)/application_credentials/\(a.id)"),
        ]
        if !a.accessRules.isEmpty { o["access_rules"] = .array(a.accessRules.map(view)) }
        if let secret = a.secret { o["secret"] = .string(secret) }
        return .object(o)
    }

    /// The catalog of a token, with `%(project_id)s` / `$(tenant_id)s` style placeholders in
    /// endpoint URLs filled in from the token's project; endpoints that need a project are left
    /// out of catalogs without one, as Keystone does.
    func catalogView(_ catalog: [(CatalogService, [Endpoint])], projectID: String?) -> JSONValue {
        .array(catalog.map { s, endpoints in
            [
                "id": .string(s.id), "type": .string(s.type), "name": .string(s.name ?? ""),
                "endpoints": .array(endpoints.compactMap { e in
                    guard let url = Self.substitute(e.url, projectID: projectID) else { return nil }
                    return ["id": .string(e.id), "interface": .string(e.interface), "url": .string(url),
                            "region": JSONValue(e.regionID), "region_id": JSONValue(e.regionID)]
                }),
            ]
        })
    }

    /// Placeholders are found by bytes, as Python's `%` formatting finds them.
    static func substitute(_ url: String, projectID: String?) -> String? {
        guard url.containsBytes("project_id)s") || url.containsBytes("tenant_id)s") else { return url }
        guard let projectID else { return nil }
        var u = url
        for key in ["%(project_id)s", "$(project_id)s", "%(tenant_id)s", "$(tenant_id)s"] {
            u = u.replacingBytes(key, with: projectID)
        }
        return u
    }

    /// The token body of `POST`/`GET /v3/auth/tokens`.
    func tokenView(_ c: AuthContext, includeCatalog: Bool) async throws -> JSONValue {
        var t: JSONObject = [
            "methods": JSONValue(c.methods),
            "user": [
                "id": .string(c.user.id), "name": .string(c.user.name),
                "domain": ["id": .string(c.user.domainID), "name": .string(c.user.domainName)],
                // The token's user's password expiry, rendered as Keystone renders the stored datetime.
                // (from the generation memo that token validation fills: no query per validation)
                "password_expires_at": JSONValue(try await service.memoized("user:" + c.user.id, { try await service.user(c.user.id) })?
                    .passwordExpiresAt.map { ExactTime.parse($0)?.isoNoZone ?? $0 }),
            ],
            "audit_ids": JSONValue(c.auditIDs),
            "expires_at": .string(Timestamps.micros(c.expiresAt)),
            "issued_at": .string(Timestamps.micros(c.issuedAt)),
        ]
        switch c.scope {
        case .unscoped: break
        case .project(let p):
            t["project"] = ["id": .string(p.id), "name": .string(p.name), "domain": ["id": .string(p.domainID), "name": .string(p.domainName)]]
            t["is_domain"] = false
        case .domain(let id, let name):
            t["domain"] = ["id": .string(id), "name": .string(name)]
        case .system:
            t["system"] = ["all": true]
        }
        if c.scope != .unscoped {
            t["roles"] = .array(c.roles.map { ["id": .string($0.id), "name": .string($0.name)] })
            if includeCatalog { t["catalog"] = catalogView(try await service.catalog(forProject: c.projectID), projectID: c.projectID) }
        }
        if let trust = c.trust {
            t["OS-TRUST:trust"] = [
                "id": .string(trust.id), "impersonation": .bool(trust.impersonation),
                "trustee_user": ["id": .string(trust.trusteeID)], "trustor_user": ["id": .string(trust.trustorID)],
            ]
        }
        if c.isOAuth, let accessID = service.sealer.open(c.token)?.oauthAccessTokenID,
           let access = try await service.memoized("oauth:" + accessID, { try await service.accessTokenRecord(accessID) }) {
            t["OS-OAUTH1"] = ["access_token_id": .string(access.id), "consumer_id": .string(access.consumerId)]
        }
        if let cred = c.applicationCredentialID, let record = try await service.appCredentialRecord(cred) {
            var cred: JSONObject = ["id": .string(record.id), "name": .string(record.name), "restricted": .bool(!record.unrestricted)]
            if !c.accessRules.isEmpty {
                cred["access_rules"] = .array(c.accessRules.map { ["service": .string($0.service), "path": .string($0.path), "method": .string($0.method)] })
            }
            t["application_credential"] = .object(cred)
        }
        return ["token": .object(t)]
    }
}
