import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// `/os-availability-zone` (and `/detail` for admins), as Nova's `availability_zone.py`
/// answers: zones of enabled services are available, zones only disabled services are in are
/// not; the internal zone of the controller's services is listed only in the detail.
extension ComputeAPI {
    func addAvailabilityZoneRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-availability-zone", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-availability-zone:list", c, target: [:])
            let (available, unavailable) = Self.zones(try await self.service.services())
            let list = available.filter { !$0.sameBytes(as: ComputeService.internalZone) }.map { Self.zoneView($0, true, hosts: nil) }
                + unavailable.filter { !$0.sameBytes(as: ComputeService.internalZone) }.map { Self.zoneView($0, false, hosts: nil) }
            return .json(["availabilityZoneInfo": .array(list)])
        })
        t.get("/v2.1/os-availability-zone/detail", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            try self.authorize("os_compute_api:os-availability-zone:detail", c, target: [:])
            let services = try await self.service.services()
            let (available, unavailable) = Self.zones(services)
            var list = [JSONValue]()
            for zone in available {
                var hosts = JSONObject()
                for s in services where !s.disabled && s.zone.sameBytes(as: zone) {
                    var entry = hosts[s.host]?.objectValue ?? [:]
                    entry[s.binary] = ["available": .bool(s.isUp), "active": .bool(!s.disabled),
                                       "updated_at": s.updatedAt.map { .string(NovaTime.micros($0)) } ?? .null]
                    hosts[s.host] = .object(entry)
                }
                list.append(Self.zoneView(zone, true, hosts: .object(hosts)))
            }
            list += unavailable.map { Self.zoneView($0, false, hosts: nil) }
            return .json(["availabilityZoneInfo": .array(list)])
        })
    }

    /// Zones with an enabled service, and zones with only disabled ones; each sorted by bytes.
    static func zones(_ services: [ServiceRecord]) -> ([String], [String]) {
        let available = Set(services.filter { !$0.disabled }.map { Name($0.zone) })
        let unavailable = Set(services.filter(\.disabled).map { Name($0.zone) }).subtracting(available)
        return (available.sorted().map(\.string), unavailable.sorted().map(\.string))
    }

    static func zoneView(_ name: String, _ available: Bool, hosts: JSONValue?) -> JSONValue {
        ["zoneName": .string(name), "zoneState": ["available": .bool(available)], "hosts": hosts ?? .null]
    }
}
