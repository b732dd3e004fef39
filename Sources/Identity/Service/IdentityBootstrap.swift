import Foundation
import NimbusCore

/// A service to register in the catalog at bootstrap.
public struct CatalogEntry: Sendable {
    public let type: String
    public let name: String
    public let url: String
    public init(type: String, name: String, url: String) { self.type = type; self.name = name; self.url = url }
}

/// First-start setup, idempotent: what exists is kept, what is missing is created, and catalog
/// URLs follow the current listen address.
public struct IdentityBootstrap: Sendable {
    let service: IdentityService

    public init(service: IdentityService) { self.service = service }

    /// `extraRoles`: roles other services rely on (Swift's `ResellerAdmin`), created when missing.
    public func run(adminPassword: String, demoPassword: String, region: String, catalog: [CatalogEntry], extraRoles: [String] = []) async throws {
        let s = service
        let domainID = s.settings.defaultDomainID
        if try await s.domain(domainID) == nil {
            var d = ProjectInput()
            d.name = "Default"
            d.isDomain = true
            d.explicitID = domainID
            d.description = "The default domain"
            _ = try await s.createProject(d, defaultDomainID: domainID)
        }
        var roles = [String: Role]()
        for name in ["admin", "manager", "member", "reader", "service"] + extraRoles {
            if let r = try await s.role(named: name, domainID: nil) {
                roles[name] = r
            } else {
                roles[name] = try await s.createRole(name: name, domainID: nil, description: nil, options: [:], extra: [:])
            }
        }
        for (prior, implied) in [("admin", "manager"), ("manager", "member"), ("member", "reader")]
        where try await !s.hasImplication(prior: roles[prior]!.id, implied: roles[implied]!.id) {
            _ = try await s.createImplication(prior: roles[prior]!.id, implied: roles[implied]!.id)
        }
        let admin = try await ensureProject("admin", domainID: domainID)
        let demo = try await ensureProject("demo", domainID: domainID)
        let adminUser = try await ensureUser("admin", password: adminPassword, domainID: domainID, project: admin.id)
        let demoUser = try await ensureUser("demo", password: demoPassword, domainID: domainID, project: demo.id)
        try await s.addGrant(Grant(actorType: .user, actorID: adminUser.id, targetType: .project, targetID: admin.id, roleID: roles["admin"]!.id, inherited: false))
        try await s.addGrant(Grant(actorType: .user, actorID: adminUser.id, targetType: .system, targetID: "all", roleID: roles["admin"]!.id, inherited: false))
        try await s.addGrant(Grant(actorType: .user, actorID: adminUser.id, targetType: .domain, targetID: domainID, roleID: roles["admin"]!.id, inherited: false))
        try await s.addGrant(Grant(actorType: .user, actorID: demoUser.id, targetType: .project, targetID: demo.id, roleID: roles["member"]!.id, inherited: false))
        if try await s.region(region) == nil { _ = try await s.createRegion(id: region, description: "", parentRegionID: nil, extra: [:]) }
        for entry in catalog { try await ensureCatalog(entry, region: region) }
    }

    func ensureProject(_ name: String, domainID: String) async throws -> Project {
        if let p = try await service.project(named: name, domainID: domainID) { return p }
        var input = ProjectInput()
        input.name = name
        input.domainID = domainID
        input.description = "Bootstrap project \(name)"
        return try await service.createProject(input, defaultDomainID: domainID)
    }

    /// Creates the user, or resets its password when the configured one no longer matches.
    func ensureUser(_ name: String, password: String, domainID: String, project: String) async throws -> User {
        if let u = try await service.user(named: name, domainID: domainID) {
            if let hash = u.passwordHash, try await service.hasher.verify(password, against: hash) { return u }
            var input = UserInput()
            input.password = .some(password)
            return try await service.updateUser(u.id, input)
        }
        var input = UserInput()
        input.name = name
        input.domainID = domainID
        input.password = .some(password)
        input.defaultProjectID = .some(project)
        // The operator chose these passwords: they need no change on first use.
        input.options = ["ignore_change_password_upon_first_use": true]
        return try await service.createUser(input, defaultDomainID: domainID)
    }

    func ensureCatalog(_ entry: CatalogEntry, region: String) async throws {
        var found = try await service.listServices(type: entry.type, name: nil).first
        if found == nil {
            found = try await service.createService(type: entry.type, enabled: true, extra: ["name": .string(entry.name), "description": .string("Nimbus \(entry.type)")])
        }
        let svc = found!
        let existing = try await service.listEndpoints(interface: nil, serviceID: svc.id, regionID: nil)
        for interface in ["public", "internal", "admin"] {
            if let e = existing.first(where: { $0.interface == interface }) {
                if e.url != entry.url {
                    _ = try await service.updateEndpoint(e.id, serviceID: nil, interface: nil, url: entry.url, regionID: nil, enabled: nil, extra: [:])
                }
            } else {
                _ = try await service.createEndpoint(serviceID: svc.id, interface: interface, url: entry.url, regionID: region, enabled: true, extra: [:])
            }
        }
    }
}
