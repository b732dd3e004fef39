import Foundation
import NimbusCore
import SQLKit

/// Unified limits (Keystone's flat model): registered limits give each resource of a service a
/// default; limits override it for one project or domain. Services read them to enforce quotas.
public struct RegisteredLimit: Sendable {
    public var id: String
    public var serviceID: String
    public var regionID: String?
    public var resourceName: String
    public var defaultLimit: Int64
    public var description: String?
}

public struct ProjectLimit: Sendable {
    public var id: String
    public var projectID: String?
    public var domainID: String?
    public var serviceID: String
    public var regionID: String?
    public var resourceName: String
    public var resourceLimit: Int64
    public var description: String?
}

extension IdentityService {
    func makeRegistered(_ r: RegisteredLimitRecord) -> RegisteredLimit {
        RegisteredLimit(id: r.id, serviceID: r.serviceId, regionID: r.regionId.isEmpty ? nil : r.regionId, resourceName: r.resourceName,
                        defaultLimit: r.defaultLimit, description: r.description)
    }

    func makeLimit(_ r: LimitRecord) -> ProjectLimit {
        ProjectLimit(id: r.id, projectID: r.projectId.isEmpty ? nil : r.projectId, domainID: r.domainId.isEmpty ? nil : r.domainId,
                     serviceID: r.serviceId, regionID: r.regionId.isEmpty ? nil : r.regionId, resourceName: r.resourceName,
                     resourceLimit: r.resourceLimit, description: r.description)
    }

    static let registeredColumns = "id, service_id, region_id, resource_name, default_limit, description"
    static let limitColumns = "id, project_id, domain_id, service_id, region_id, resource_name, resource_limit, description"

    public func listRegisteredLimits(serviceID: String?, regionID: String?, resourceName: String?) async throws -> [RegisteredLimit] {
        try await db.sql.records(RegisteredLimitRecord.self, "SELECT \(unsafeRaw: Self.registeredColumns) FROM identity_registered_limits ORDER BY id")
            .map(makeRegistered)
            .filter { matchesFilter(serviceID, $0.serviceID) && matchesFilter(regionID, $0.regionID) && matchesFilter(resourceName, $0.resourceName) }
    }

    public func registeredLimit(_ id: String) async throws -> RegisteredLimit {
        guard let r = try await db.sql.record(RegisteredLimitRecord.self, "SELECT \(unsafeRaw: Self.registeredColumns) FROM identity_registered_limits WHERE id = \(bind: id)") else {
            throw NimbusError.notFound("Could not find registered limit: \(id).")
        }
        return makeRegistered(r)
    }

    func validateLimitReference(serviceID: String, regionID: String?, limit: Int64) async throws {
        guard try await service(serviceID) != nil else { throw NimbusError.badRequest("Invalid service_id: could not find service \(serviceID).") }
        if let r = regionID, try await region(r) == nil { throw NimbusError.badRequest("Invalid region_id: could not find region \(r).") }
        guard limit >= -1 else { throw NimbusError.badRequest("A limit must be -1 (unlimited) or greater.") }
    }

    /// Creates several registered limits atomically, as the API takes a list.
    public func createRegisteredLimits(_ items: [RegisteredLimit]) async throws -> [RegisteredLimit] {
        var records = [RegisteredLimitRecord]()
        for i in items {
            try await validateLimitReference(serviceID: i.serviceID, regionID: i.regionID, limit: i.defaultLimit)
            records.append(RegisteredLimitRecord(id: Identifiers.hex32(), serviceId: i.serviceID, regionId: i.regionID ?? "", resourceName: i.resourceName,
                                                 defaultLimit: i.defaultLimit, description: i.description))
        }
        let toInsert = records
        do {
            try await write { db in for r in toInsert { try await db.insertRecord("identity_registered_limits", r) } }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Duplicate entry: a registered limit for that service, region and resource already exists.")
        }
        return records.map(makeRegistered)
    }

    public func updateRegisteredLimit(_ id: String, defaultLimit: Int64?, description: String??, serviceID: String?, regionID: String??, resourceName: String?) async throws -> RegisteredLimit {
        var r = try await registeredLimit(id)
        let changesKey = serviceID != nil || regionID != nil || resourceName != nil
        if changesKey, try await !limits(referencing: r).isEmpty {
            throw NimbusError.forbidden("Cannot change the service, region or resource of a registered limit that project limits reference.")
        }
        if let v = defaultLimit { r.defaultLimit = v }
        if let d = description { r.description = d }
        if let s = serviceID { r.serviceID = s }
        if let reg = regionID { r.regionID = reg }
        if let n = resourceName { r.resourceName = n }
        try await validateLimitReference(serviceID: r.serviceID, regionID: r.regionID, limit: r.defaultLimit)
        let u = r
        do {
            try await write { db in
                try await db.execute("""
                    UPDATE identity_registered_limits SET service_id = \(bind: u.serviceID), region_id = \(bind: u.regionID ?? ""),
                    resource_name = \(bind: u.resourceName), default_limit = \(bind: u.defaultLimit), description = \(bind: u.description) WHERE id = \(bind: id)
                    """)
            }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Duplicate entry: a registered limit for that service, region and resource already exists.")
        }
        return u
    }

    func limits(referencing r: RegisteredLimit) async throws -> [ProjectLimit] {
        try await listLimits(serviceID: r.serviceID, regionID: r.regionID, resourceName: r.resourceName, projectID: nil, domainID: nil)
            .filter { $0.regionID.sameBytes(as: r.regionID) }
    }

    public func deleteRegisteredLimit(_ id: String) async throws {
        let r = try await registeredLimit(id)
        if try await !limits(referencing: r).isEmpty {
            throw NimbusError.forbidden("Cannot delete a registered limit that project limits reference.")
        }
        try await write { db in try await db.execute("DELETE FROM identity_registered_limits WHERE id = \(bind: id)") }
    }

    public func listLimits(serviceID: String?, regionID: String?, resourceName: String?, projectID: String?, domainID: String?) async throws -> [ProjectLimit] {
        try await db.sql.records(LimitRecord.self, "SELECT \(unsafeRaw: Self.limitColumns) FROM identity_limits ORDER BY id").map(makeLimit).filter {
            matchesFilter(serviceID, $0.serviceID) && matchesFilter(regionID, $0.regionID) && matchesFilter(resourceName, $0.resourceName)
                && matchesFilter(projectID, $0.projectID) && matchesFilter(domainID, $0.domainID)
        }
    }

    public func limit(_ id: String) async throws -> ProjectLimit {
        guard let r = try await db.sql.record(LimitRecord.self, "SELECT \(unsafeRaw: Self.limitColumns) FROM identity_limits WHERE id = \(bind: id)") else {
            throw NimbusError.notFound("Could not find limit: \(id).")
        }
        return makeLimit(r)
    }

    public func createLimits(_ items: [ProjectLimit]) async throws -> [ProjectLimit] {
        let registered = try await listRegisteredLimits(serviceID: nil, regionID: nil, resourceName: nil)
        var records = [LimitRecord]()
        for i in items {
            guard (i.projectID == nil) != (i.domainID == nil) else { throw NimbusError.badRequest("A limit needs exactly one of project_id and domain_id.") }
            if let p = i.projectID { _ = try await requireProject(p) }
            if let d = i.domainID { _ = try await requireDomain(d) }
            try await validateLimitReference(serviceID: i.serviceID, regionID: i.regionID, limit: i.resourceLimit)
            guard registered.contains(where: {
                $0.serviceID.sameBytes(as: i.serviceID) && $0.regionID.sameBytes(as: i.regionID) && $0.resourceName.sameBytes(as: i.resourceName)
            }) else {
                throw NimbusError.forbidden("No registered limit exists for service \(i.serviceID), resource \(i.resourceName)\(i.regionID.map { " in region \($0)" } ?? "").")
            }
            records.append(LimitRecord(id: Identifiers.hex32(), projectId: i.projectID ?? "", domainId: i.domainID ?? "", serviceId: i.serviceID,
                                       regionId: i.regionID ?? "", resourceName: i.resourceName, resourceLimit: i.resourceLimit, description: i.description))
        }
        let toInsert = records
        do {
            try await write { db in for r in toInsert { try await db.insertRecord("identity_limits", r) } }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Duplicate entry: that project or domain already has a limit for the resource.")
        }
        return records.map(makeLimit)
    }

    public func updateLimit(_ id: String, resourceLimit: Int64?, description: String??) async throws -> ProjectLimit {
        var l = try await limit(id)
        if let v = resourceLimit {
            guard v >= -1 else { throw NimbusError.badRequest("A limit must be -1 (unlimited) or greater.") }
            l.resourceLimit = v
        }
        if let d = description { l.description = d }
        let u = l
        try await write { db in
            try await db.execute("UPDATE identity_limits SET resource_limit = \(bind: u.resourceLimit), description = \(bind: u.description) WHERE id = \(bind: id)")
        }
        return u
    }

    public func deleteLimit(_ id: String) async throws {
        _ = try await limit(id)
        try await write { db in try await db.execute("DELETE FROM identity_limits WHERE id = \(bind: id)") }
    }
}
