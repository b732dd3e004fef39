import Foundation
import NimbusCore
import SQLKit

/// OS-EP-FILTER: endpoint groups (saved filters over interface, service and region) and direct
/// endpoint associations, which narrow the catalog of project-scoped tokens. A project with no
/// association sees every endpoint, as in Keystone.
public struct EndpointGroup: Sendable {
    public var id: String
    public var name: String
    public var description: String?
    public var filters: [String: String]

    func matches(_ e: Endpoint) -> Bool {
        filters.allSatisfy { key, value in
            switch key {
            case "interface": e.interface.sameBytes(as: value)
            case "service_id": e.serviceID.sameBytes(as: value)
            case "region_id": e.regionID.sameBytes(as: value)
            default: false
            }
        }
    }
}

extension IdentityService {
    static let endpointGroupFilterKeys = ["interface", "service_id", "region_id"]

    func makeEndpointGroup(_ r: EndpointGroupRecord) -> EndpointGroup {
        // Filter keys are the three names above (ASCII), so String keys are byte keys.
        let filters = Dictionary(decodeJSONColumn(r.filters).compactMapValues(\.stringValue).map { ($0.key.string, $0.value) }, uniquingKeysWith: { a, _ in a })
        return EndpointGroup(id: r.id, name: r.name, description: r.hasDescription ? r.description : nil, filters: filters)
    }

    public func endpointGroup(_ id: String) async throws -> EndpointGroup {
        guard let r = try await db.sql.record(EndpointGroupRecord.self, "SELECT id, name, description, has_description, filters FROM identity_endpoint_groups WHERE id = \(bind: id)") else {
            throw NimbusError.notFound("Could not find Endpoint Group: \(id).")
        }
        return makeEndpointGroup(r)
    }

    public func listEndpointGroups(name: String?) async throws -> [EndpointGroup] {
        try await db.sql.records(EndpointGroupRecord.self, "SELECT id, name, description, has_description, filters FROM identity_endpoint_groups")
            .map(makeEndpointGroup).filter { matchesFilter(name, $0.name) }.sortedByBytes(\.name)
    }

    /// A new group needs a filter; an update may empty them (Keystone checks only the keys then).
    static func validateFilters(_ filters: [String: String], allowEmpty: Bool = false) throws(NimbusError) {
        guard allowEmpty || !filters.isEmpty else { throw .badRequest("filters field is required and cannot be empty") }
        if let bad = filters.keys.first(where: { !endpointGroupFilterKeys.containsBytes($0) }) {
            throw .badRequest("Invalid input for field 'filters': '\(bad)' is not a valid filter (interface, service_id, region_id).")
        }
        if let i = filters["interface"], !interfaces.containsBytes(i) {
            throw .badRequest("Invalid input for field 'filters': '\(i)' is not a valid interface.")
        }
    }

    public func createEndpointGroup(name: String, description: String?, filters: [String: String]) async throws -> EndpointGroup {
        try Self.validateFilters(filters)
        let r = EndpointGroupRecord(id: Identifiers.hex32(), name: name, description: description ?? "", hasDescription: description != nil,
                                    filters: encodeJSONColumn(JSONObject(filters.mapValues { JSONValue.string($0) })))
        try await write { db in try await db.insertRecord("identity_endpoint_groups", r) }
        return makeEndpointGroup(r)
    }

    /// `description`: `.some(nil)` removes it.
    public func updateEndpointGroup(_ id: String, name: String?, description: String??, filters: [String: String]?) async throws -> EndpointGroup {
        var g = try await endpointGroup(id)
        if let n = name { g.name = n }
        if let d = description { g.description = d }
        if let f = filters {
            try Self.validateFilters(f, allowEmpty: true)
            g.filters = f
        }
        let u = g
        try await write { db in
            try await db.execute("""
                UPDATE identity_endpoint_groups SET name = \(bind: u.name), description = \(bind: u.description ?? ""), has_description = \(bind: u.description != nil),
                filters = \(bind: encodeJSONColumn(JSONObject(u.filters.mapValues { JSONValue.string($0) }))) WHERE id = \(bind: id)
                """)
        }
        return u
    }

    public func deleteEndpointGroup(_ id: String) async throws {
        _ = try await endpointGroup(id)
        try await write { db in
            try await db.execute("DELETE FROM identity_project_endpoint_groups WHERE endpoint_group_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_endpoint_groups WHERE id = \(bind: id)")
        }
    }

    public func endpoints(inGroup id: String) async throws -> [Endpoint] {
        let g = try await endpointGroup(id)
        return try await listEndpoints(interface: nil, serviceID: nil, regionID: nil).filter(g.matches)
    }

    // MARK: Associations

    struct ProjectLink: Decodable { let projectId: String }

    public func projectIDs(forEndpointGroup id: String) async throws -> [String] {
        try await db.sql.records(ProjectLink.self, "SELECT project_id FROM identity_project_endpoint_groups WHERE endpoint_group_id = \(bind: id) ORDER BY project_id").map(\.projectId)
    }

    public func endpointGroupIDs(forProject projectID: String) async throws -> [String] {
        struct Row: Decodable { let endpointGroupId: String }
        return try await db.sql.records(Row.self, "SELECT endpoint_group_id FROM identity_project_endpoint_groups WHERE project_id = \(bind: projectID)").map(\.endpointGroupId)
    }

    public func associate(endpointGroup id: String, project projectID: String) async throws {
        _ = try await endpointGroup(id)
        _ = try await requireProject(projectID)
        guard try await !endpointGroupIDs(forProject: projectID).containsBytes(id) else { return }
        try await write { db in
            try await db.execute("INSERT INTO identity_project_endpoint_groups (endpoint_group_id, project_id) VALUES (\(bind: id), \(bind: projectID)) ON CONFLICT DO NOTHING")
        }
    }

    public func dissociate(endpointGroup id: String, project projectID: String) async throws {
        guard try await endpointGroupIDs(forProject: projectID).containsBytes(id) else {
            throw NimbusError.notFound("Could not find Endpoint Group Project Association: \(id), \(projectID).")
        }
        try await write { db in
            try await db.execute("DELETE FROM identity_project_endpoint_groups WHERE endpoint_group_id = \(bind: id) AND project_id = \(bind: projectID)")
        }
    }

    public func endpointIDs(forProject projectID: String) async throws -> [String] {
        struct Row: Decodable { let endpointId: String }
        return try await db.sql.records(Row.self, "SELECT endpoint_id FROM identity_project_endpoints WHERE project_id = \(bind: projectID)").map(\.endpointId)
    }

    public func projectIDs(forEndpoint endpointID: String) async throws -> [String] {
        try await db.sql.records(ProjectLink.self, "SELECT project_id FROM identity_project_endpoints WHERE endpoint_id = \(bind: endpointID) ORDER BY project_id").map(\.projectId)
    }

    public func associate(endpoint endpointID: String, project projectID: String) async throws {
        _ = try await requireEndpoint(endpointID)
        _ = try await requireProject(projectID)
        guard try await !endpointIDs(forProject: projectID).containsBytes(endpointID) else { return }
        try await write { db in
            try await db.execute("INSERT INTO identity_project_endpoints (endpoint_id, project_id) VALUES (\(bind: endpointID), \(bind: projectID)) ON CONFLICT DO NOTHING")
        }
    }

    public func dissociate(endpoint endpointID: String, project projectID: String) async throws {
        guard try await endpointIDs(forProject: projectID).containsBytes(endpointID) else {
            throw NimbusError.notFound("Could not find Endpoint Project Association: \(endpointID), \(projectID).")
        }
        try await write { db in
            try await db.execute("DELETE FROM identity_project_endpoints WHERE endpoint_id = \(bind: endpointID) AND project_id = \(bind: projectID)")
        }
    }

    /// The endpoints a project is associated with, directly or through groups; nil when it has no
    /// association at all (then it sees the whole catalog).
    public func filteredEndpointIDs(forProject projectID: String) async throws -> Set<Name>? {
        let direct = try await endpointIDs(forProject: projectID)
        let groups = try await endpointGroupIDs(forProject: projectID)
        if direct.isEmpty && groups.isEmpty { return nil }
        var ids = Set(direct.map(Name.init))
        for g in groups { ids.formUnion(try await endpoints(inGroup: g).map { Name($0.id) }) }
        return ids
    }

    /// The catalog as a token scoped to `projectID` (if any) sees it.
    public func catalog(forProject projectID: String?) async throws -> [(CatalogService, [Endpoint])] {
        try await memoized("catalog:\(projectID ?? "")") {
            let all = try await self.catalog()
            guard let projectID, let allowed = try await self.filteredEndpointIDs(forProject: projectID) else { return all }
            return all.map { ($0.0, $0.1.filter { allowed.contains(Name($0.id)) }) }.filter { !$0.1.isEmpty }
        }
    }
}
