import Hummingbird
import NimbusCore
import NimbusHTTP

/// `PUT /v2.0/subnetpools/{id}/add_prefixes` and `/remove_prefixes` (`subnetpool-prefix-ops`).
extension NeutronAPI {
    func addSubnetPoolActionRoutes(_ t: inout RouteTable) {
        for action in ["add_prefixes", "remove_prefixes"] {
            t.put("/v2.0/subnetpools/{id}/\(action)") { req, ctx in
                let c = try self.caller(ctx)
                let body = try await Self.body(req, ctx)
                let s = self.service.state
                let pool = try self.load(.subnetPool, try ctx.parameter("id"), c, s)
                try self.authorize(action, c, self.target(.subnetPool, pool, c, s))
                let prefixes = try Self.prefixList(body)
                let id = pool["id"]!.stringValue!
                let result = action == "add_prefixes"
                    ? try await self.service.addPrefixes(id, prefixes, actor: c.actor)
                    : try await self.service.removePrefixes(id, prefixes)
                return .json(["prefixes": JSONValue(result)])
            }
        }
    }

    /// The body's `prefixes`: a non-empty list (neutron/extensions/subnetpool_prefix_ops.py), each
    /// a CIDR (neutron-lib's subnet validator).
    static func prefixList(_ body: JSONObject) throws -> [IPNetwork] {
        guard case .array(let items)? = body["prefixes"], !items.isEmpty else {
            throw NeutronFault.badRequest("Request body contains invalid data")
        }
        if let m = Validators.subnetList(.array(items)) { throw NeutronFault.badRequest("Invalid input for prefixes. Reason: \(m).") }
        return items.compactMap { $0.stringValue.flatMap { IPNetwork($0) } }
    }
}
