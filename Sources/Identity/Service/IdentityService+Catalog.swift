import Foundation
import NimbusCore
import SQLKit

public struct Region: Sendable {
    public var id: String
    public var description: String
    public var parentRegionID: String?
    public var extra: JSONObject
}

public struct CatalogService: Sendable {
    public var id: String
    public var type: String
    public var enabled: Bool
    public var extra: JSONObject
    public var name: String? { extra["name"]?.stringValue }
}

public struct Endpoint: Sendable {
    public var id: String
    public var serviceID: String
    public var interface: String
    public var url: String
    public var regionID: String?
    public var enabled: Bool
    public var extra: JSONObject
}

extension IdentityService {
    // MARK: Regions

    func makeRegion(_ r: RegionRecord) -> Region {
        Region(id: r.id, description: r.description, parentRegionID: r.parentRegionId, extra: decodeJSONColumn(r.extra))
    }

    public func region(_ id: String) async throws -> Region? {
        try await db.sql.record(RegionRecord.self, "SELECT id, description, parent_region_id, extra FROM identity_regions WHERE id = \(bind: id)").map(makeRegion)
    }

    public func requireRegion(_ id: String) async throws -> Region {
        guard let r = try await region(id) else { throw NimbusError.notFound("Could not find region: \(id).") }
        return r
    }

    public func listRegions(parentRegionID: String?) async throws -> [Region] {
        var q = SQLQueryString("SELECT id, description, parent_region_id, extra FROM identity_regions")
        if let p = parentRegionID { q.appendInterpolation(unsafeRaw: " WHERE parent_region_id = "); q.appendInterpolation(bind: p) }
        // Region ids are chosen by clients: sorted by bytes here, not by PostgreSQL's collation.
        return try await db.sql.records(RegionRecord.self, q).map(makeRegion).sortedByBytes(\.id)
    }

    public func createRegion(id: String?, description: String?, parentRegionID: String?, extra: JSONObject) async throws -> Region {
        if let p = parentRegionID, try await region(p) == nil { throw NimbusError.notFound("Could not find region: \(p).") }
        let r = RegionRecord(id: id ?? Identifiers.hex32(), description: description ?? "", parentRegionId: parentRegionID, extra: encodeJSONColumn(extra))
        do {
            try await write { db in try await db.insertRecord("identity_regions", r) }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict("Conflict occurred attempting to store region - Duplicate ID, \(r.id).")
        }
        return makeRegion(r)
    }

    public func updateRegion(_ id: String, description: String?, parentRegionID: String??, extra: JSONObject) async throws -> Region {
        var r = try await requireRegion(id)
        if let d = description { r.description = d }
        if let p = parentRegionID {
            if let p {
                guard try await region(p) != nil else { throw NimbusError.notFound("Could not find region: \(p).") }
                var cursor: String? = p
                while let c = cursor {
                    if c.sameBytes(as: id) { throw NimbusError.badRequest("Circular reference or a repeated entry found in region tree - \(id).") }
                    cursor = try await region(c)?.parentRegionID
                }
            }
            r.parentRegionID = p
        }
        r.extra = try Self.mergingExtras(r.extra, extra)
        let u = r
        try await write { db in
            try await db.execute("UPDATE identity_regions SET description = \(bind: u.description), parent_region_id = \(bind: u.parentRegionID), extra = \(bind: encodeJSONColumn(u.extra)) WHERE id = \(bind: id)")
        }
        return u
    }

    public func deleteRegion(_ id: String) async throws {
        _ = try await requireRegion(id)
        if try await !listRegions(parentRegionID: id).isEmpty {
            throw NimbusError.forbidden("Unable to delete region \(id) because it or its child regions have associated endpoints.")
        }
        try await write { db in
            try await db.execute("UPDATE identity_endpoints SET region_id = NULL WHERE region_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_regions WHERE id = \(bind: id)")
        }
    }

    // MARK: Services

    func makeService(_ r: ServiceRecord) -> CatalogService {
        CatalogService(id: r.id, type: r.type, enabled: r.enabled, extra: decodeJSONColumn(r.extra))
    }

    public func service(_ id: String) async throws -> CatalogService? {
        try await db.sql.record(ServiceRecord.self, "SELECT id, type, enabled, extra FROM identity_services WHERE id = \(bind: id)").map(makeService)
    }

    public func requireService(_ id: String) async throws -> CatalogService {
        guard let s = try await service(id) else { throw NimbusError.notFound("Could not find service: \(id).") }
        return s
    }

    public func listServices(type: String?, name: String?) async throws -> [CatalogService] {
        var q = SQLQueryString("SELECT id, type, enabled, extra FROM identity_services")
        if let t = type { q.appendInterpolation(unsafeRaw: " WHERE type = "); q.appendInterpolation(bind: t) }
        let all = try await db.sql.records(ServiceRecord.self, q).map(makeService)
        return all.filter { matchesFilter(name, $0.name) }.sorted {
            $0.type.sameBytes(as: $1.type) ? $0.id.bytesPrecede($1.id) : $0.type.bytesPrecede($1.type)
        }
    }

    public func createService(type: String, enabled: Bool, extra: JSONObject, explicitID: String? = nil) async throws -> CatalogService {
        var extra = extra
        // Keystone's create_service: `service_ref.setdefault('name', '')`.
        if extra["name"] == nil { extra["name"] = "" }
        let r = ServiceRecord(id: explicitID ?? Identifiers.hex32(), type: type, enabled: enabled, extra: encodeJSONColumn(extra))
        try await write { db in try await db.insertRecord("identity_services", r) }
        return makeService(r)
    }

    public func updateService(_ id: String, type: String?, enabled: Bool?, extra: JSONObject) async throws -> CatalogService {
        var s = try await requireService(id)
        if let t = type { s.type = t }
        if let e = enabled { s.enabled = e }
        s.extra = try Self.mergingExtras(s.extra, extra)
        let u = s
        try await write { db in
            try await db.execute("UPDATE identity_services SET type = \(bind: u.type), enabled = \(bind: u.enabled), extra = \(bind: encodeJSONColumn(u.extra)) WHERE id = \(bind: id)")
        }
        return u
    }

    public func deleteService(_ id: String) async throws {
        _ = try await requireService(id)
        try await write { db in
            try await db.execute("DELETE FROM identity_endpoints WHERE service_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_services WHERE id = \(bind: id)")
        }
    }

    // MARK: Endpoints

    func makeEndpoint(_ r: EndpointRecord) -> Endpoint {
        Endpoint(id: r.id, serviceID: r.serviceId, interface: r.interface, url: r.url, regionID: r.regionId, enabled: r.enabled, extra: decodeJSONColumn(r.extra))
    }

    static let endpointColumns = "id, service_id, interface, url, region_id, enabled, extra"

    public func endpoint(_ id: String) async throws -> Endpoint? {
        try await db.sql.record(EndpointRecord.self, "SELECT \(unsafeRaw: Self.endpointColumns) FROM identity_endpoints WHERE id = \(bind: id)").map(makeEndpoint)
    }

    public func requireEndpoint(_ id: String) async throws -> Endpoint {
        guard let e = try await endpoint(id) else { throw NimbusError.notFound("Could not find endpoint: \(id).") }
        return e
    }

    public func listEndpoints(interface: String?, serviceID: String?, regionID: String?) async throws -> [Endpoint] {
        try await db.sql.records(EndpointRecord.self, "SELECT \(unsafeRaw: Self.endpointColumns) FROM identity_endpoints").map(makeEndpoint).filter {
            matchesFilter(interface, $0.interface) && matchesFilter(serviceID, $0.serviceID) && matchesFilter(regionID, $0.regionID)
        }.sortedByBytes(\.id)
    }

    static let interfaces = ["public", "internal", "admin"]

    /// The substitutions an endpoint URL may hold (Keystone's `WHITELISTED_PROPERTIES`).
    static let urlSubstitutions = ["tenant_id", "project_id", "user_id", "compute_host", "public_endpoint"]

    /// Keystone's `check_endpoint_url`: the URL, with `$(` read as `%(`, must format with Python's
    /// `%` operator against the allowed substitutions (all strings): every `%(key)` names one of
    /// them and converts with `s`, `r` or `a`; `%%` is a percent sign; anything else is an error.
    static func checkEndpointURL(_ url: String) throws {
        let b = Array(url.replacingBytes("$(", with: "%(").utf8)
        var i = 0, bare = 0
        func invalid() -> NimbusError { .badRequest("Cannot create an endpoint with an invalid URL: \(url).") }
        while i < b.count {
            guard b[i] == UInt8(ascii: "%") else { i += 1; continue }
            i += 1
            guard i < b.count else { throw invalid() }
            if b[i] == UInt8(ascii: "%") { i += 1; continue }
            var keyed = false
            if b[i] == UInt8(ascii: "(") {
                var depth = 1, j = i + 1
                while j < b.count, depth > 0 {
                    if b[j] == UInt8(ascii: "(") { depth += 1 } else if b[j] == UInt8(ascii: ")") { depth -= 1 }
                    j += 1
                }
                guard depth == 0, let key = String(bytes: b[(i + 1)..<(j - 1)], encoding: .utf8), urlSubstitutions.containsBytes(key) else { throw invalid() }
                keyed = true
                i = j
            }
            // Flags, width and precision ("*" needs a positional argument, which a mapping lacks).
            while i < b.count, "#0- +".utf8.contains(b[i]) { i += 1 }
            while i < b.count, (48...57).contains(b[i]) { i += 1 }
            if i < b.count, b[i] == UInt8(ascii: ".") { i += 1; while i < b.count, (48...57).contains(b[i]) { i += 1 } }
            while i < b.count, "hlL".utf8.contains(b[i]) { i += 1 }
            guard i < b.count, "sra".utf8.contains(b[i]) else { throw invalid() }
            i += 1
            if !keyed { bare += 1 }
        }
        // One bare `%s` formats the mapping itself; a second has no argument left.
        if bare > 1 { throw invalid() }
    }

    public func createEndpoint(serviceID: String, interface: String, url: String, regionID: String?, enabled: Bool, extra: JSONObject,
                               explicitID: String? = nil) async throws -> Endpoint {
        guard Self.interfaces.containsBytes(interface) else { throw NimbusError.badRequest("Invalid input for field 'interface': '\(interface)' is not one of ['admin', 'internal', 'public']") }
        _ = try await service(serviceID).map { $0 } ?? { throw NimbusError.badRequest("Could not find service: \(serviceID).") }()
        if let r = regionID, try await region(r) == nil { throw NimbusError.badRequest("Could not find region: \(r).") }
        let r = EndpointRecord(id: explicitID ?? Identifiers.hex32(), serviceId: serviceID, interface: interface, url: url, regionId: regionID,
                               enabled: enabled, extra: encodeJSONColumn(extra))
        try await write { db in try await db.insertRecord("identity_endpoints", r) }
        return makeEndpoint(r)
    }

    public func updateEndpoint(_ id: String, serviceID: String?, interface: String?, url: String?, regionID: String??, enabled: Bool?,
                               extra: JSONObject) async throws -> Endpoint {
        var e = try await requireEndpoint(id)
        if let s = serviceID {
            guard try await service(s) != nil else { throw NimbusError.badRequest("Could not find service: \(s).") }
            e.serviceID = s
        }
        if let i = interface {
            guard Self.interfaces.containsBytes(i) else { throw NimbusError.badRequest("Invalid input for field 'interface': '\(i)' is not one of ['admin', 'internal', 'public']") }
            e.interface = i
        }
        if let u = url { e.url = u }
        if let r = regionID {
            if let r, try await region(r) == nil { throw NimbusError.badRequest("Could not find region: \(r).") }
            e.regionID = r
        }
        if let en = enabled { e.enabled = en }
        e.extra = try Self.mergingExtras(e.extra, extra)
        let u = e
        try await write { db in
            try await db.execute("""
                UPDATE identity_endpoints SET service_id = \(bind: u.serviceID), interface = \(bind: u.interface), url = \(bind: u.url),
                region_id = \(bind: u.regionID), enabled = \(bind: u.enabled), extra = \(bind: encodeJSONColumn(u.extra)) WHERE id = \(bind: id)
                """)
        }
        return u
    }

    public func deleteEndpoint(_ id: String) async throws {
        _ = try await requireEndpoint(id)
        try await write { db in try await db.execute("DELETE FROM identity_endpoints WHERE id = \(bind: id)") }
    }

    /// The service catalog as tokens carry it: enabled services with their enabled endpoints.
    public func catalog() async throws -> [(CatalogService, [Endpoint])] {
        let endpoints = try await listEndpoints(interface: nil, serviceID: nil, regionID: nil).filter(\.enabled)
        return try await listServices(type: nil, name: nil).filter(\.enabled).map { s in (s, endpoints.filter { $0.serviceID.sameBytes(as: s.id) }) }
    }
}
