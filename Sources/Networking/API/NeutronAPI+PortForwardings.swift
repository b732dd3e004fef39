import Hummingbird
import NimbusCore
import NimbusHTTP

/// `/v2.0/floatingips/{id}/port_forwardings[/{pf}]` (`floating-ip-port-forwarding` with its
/// description and port-range extensions). A floating IP the caller cannot see is a 404; the
/// rules are Neutron's `*_floatingip_port_forwarding`, owned through the parent floating IP
/// (`ext_parent:project_id`).
extension NeutronAPI {
    func addPortForwardingRoutes(_ t: inout RouteTable) {
        let base = "/v2.0/floatingips/{id}/port_forwardings"
        t.get(base) { req, ctx in
            let c = try self.caller(ctx)
            let s = self.service.state
            let fip = try self.load(.floatingIP, try ctx.parameter("id"), c, s)
            let fipID = fip["id"]!.stringValue!
            let query = try ListQuery(req.queryString, kind: .portForwarding)
            let url = "\(self.publicURL)/v2.0/floatingips/\(fipID)/port_forwardings"
            let (page, links) = try query.page(s.portForwardings(ofFloatingIP: fipID), url: url, rawQuery: req.queryString) { d in
                query.matches(d) && self.allows("get_floatingip_port_forwarding", c, self.forwardingTarget(d, fip))
            }
            var body: JSONObject = ["port_forwardings": .array(page.map { .object(Self.forwardingView($0, fields: query.fields)) })]
            if !links.isEmpty { body["port_forwardings_links"] = .array(links) }
            return .json(.object(body))
        }
        t.post(base) { req, ctx in
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            let attrs = try ResourceSpecs.prepareCreate(.portForwarding, try Self.member(body, .portForwarding))
            let s = self.service.state
            let fip = try self.load(.floatingIP, try ctx.parameter("id"), c, s)
            if !c.isAdmin, let p = NetworkService.given(attrs["project_id"])?.stringValue, !p.sameBytes(as: c.projectID) {
                throw NeutronFault.badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges")
            }
            try self.authorize("create_floatingip_port_forwarding", c, self.forwardingTarget(attrs, fip))
            let pf = try await self.service.createPortForwarding(floatingIP: fip["id"]!.stringValue!, attrs, actor: c.actor)
            return .json(["port_forwarding": .object(Self.forwardingView(pf))], status: .created)
        }
        t.get(base + "/{pf}") { req, ctx in
            let (_, _, pf) = try self.loadForwarding(ctx, action: "get")
            return .json(["port_forwarding": .object(Self.forwardingView(pf, fields: req.queryString.all("fields")))])
        }
        t.put(base + "/{pf}") { req, ctx in
            let changes = try ResourceSpecs.prepareUpdate(.portForwarding, try Self.member(try await Self.body(req, ctx), .portForwarding))
            let (c, fip, pf) = try self.loadForwarding(ctx, action: "update")
            let updated = try await self.service.updatePortForwarding(floatingIP: fip["id"]!.stringValue!, pf["id"]!.stringValue!, changes, actor: c.actor)
            return .json(["port_forwarding": .object(Self.forwardingView(updated))])
        }
        t.delete(base + "/{pf}") { req, ctx in
            if (try await req.collectBody(upTo: ctx.maxUploadSize)).readableBytes > 0 {
                throw NeutronFault.badRequest("Request body is not supported in DELETE.")
            }
            let (_, fip, pf) = try self.loadForwarding(ctx, action: "delete")
            try await self.service.deletePortForwarding(floatingIP: fip["id"]!.stringValue!, pf["id"]!.stringValue!)
            return .empty(.noContent)
        }
    }

    /// The floating IP (404 when the caller cannot see it), the forwarding on it (404), and the
    /// action's policy: refused where even reading is refused is Neutron's plain 404.
    func loadForwarding(_ ctx: NimbusRequestContext, action: String) throws -> (Caller, JSONObject, JSONObject) {
        let c = try caller(ctx)
        let s = service.state
        let fip = try load(.floatingIP, try ctx.parameter("id"), c, s)
        let id = try ctx.parameter("pf")
        guard let pf = s[.portForwarding, id], pf["floatingip_id"] == fip["id"] else { throw ResourceKind.portForwarding.notFound(id) }
        let target = forwardingTarget(pf, fip)
        guard allows("\(action)_floatingip_port_forwarding", c, target) else {
            if action == "get" || !allows("get_floatingip_port_forwarding", c, target) {
                throw NeutronFault.error(.notFound, "HTTPNotFound", "The resource could not be found.")
            }
            throw NeutronFault.error(.forbidden, "PolicyNotAuthorized", "(rule:\(action)_floatingip_port_forwarding) is disallowed by policy")
        }
        return (c, fip, pf)
    }

    /// The policy target: the forwarding's attributes and its parent floating IP's owner.
    func forwardingTarget(_ pf: JSONObject, _ fip: JSONObject) -> [String: String] {
        var t = [String: String]()
        for (k, v) in pf {
            if let s = v.stringValue { t[k] = s } else if let i = v.intValue { t[k] = String(i) }
        }
        let owner = fip["project_id"]?.stringValue ?? ""
        t["project_id"] = owner
        t["tenant_id"] = owner
        t["ext_parent:project_id"] = owner
        t["ext_parent:tenant_id"] = owner
        t["ext_parent_floatingip_id"] = fip["id"]?.stringValue
        return t
    }

    /// A forwarding as Neutron shows it (no owner; `external_port`/`internal_port` only for a
    /// single port), then `fields`.
    static func forwardingView(_ pf: JSONObject, fields: [String] = []) -> JSONObject {
        var out = JSONObject()
        let keys = fields.isEmpty ? ResourceSpecs.forwardingVisible : fields
        for k in keys where ResourceSpecs.forwardingVisible.contains(k) {
            if let v = pf[k] { out[k] = v }
        }
        return out
    }

    /// A floating IP's `port_forwardings` (`expose-port-forwarding-in-fip`).
    func forwardingsOf(_ fipID: String, _ s: NetworkState) -> JSONValue {
        .array(s.portForwardings(ofFloatingIP: fipID).map { pf in
            var o = JSONObject()
            for k in ResourceSpecs.forwardingInFloatingIP { if let v = pf[k] { o[k] = v } }
            return .object(o)
        })
    }
}
