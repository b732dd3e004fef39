import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Router interface actions, tags, quotas, extensions, availability zones and IP availability.
extension NeutronAPI {
    func addRouterActionRoutes(_ t: inout RouteTable) {
        for action in ["add_router_interface", "remove_router_interface"] {
            t.put("/v2.0/routers/{id}/\(action)") { req, ctx in
                let c = try self.caller(ctx)
                let id = try ctx.parameter("id")
                let body = try await Self.body(req, ctx)
                let s = self.service.state
                let router = try self.load(.router, id, c, s)
                try self.authorize(action, c, self.target(.router, router, c, s))
                for (k, _) in body where !(k == "subnet_id" || k == "port_id") {
                    throw NeutronFault.badRequest("Unrecognized attribute(s) '\(k)'")
                }
                let subnet = body["subnet_id"], port = body["port_id"]
                for (name, v) in [("subnet_id", subnet), ("port_id", port)] {
                    if let v, Validators.uuid(v) != nil { throw NeutronFault.badRequest("Invalid input for \(name). Reason: '\(Validators.repr(v))' is not a valid UUID.") }
                }
                if action == "add_router_interface" && subnet != nil && port != nil {
                    throw NeutronFault.badRequest("Bad router request: Cannot specify both subnet-id and port-id.", type: "BadRequest")
                }
                let result = action == "add_router_interface"
                    ? try await self.service.addRouterInterface(id, subnetID: subnet?.stringValue, portID: port?.stringValue, actor: c.actor)
                    : try await self.service.removeRouterInterface(id, subnetID: subnet?.stringValue, portID: port?.stringValue, actor: c.actor)
                return .json(.object(result))
            }
        }
    }

    static let taggable: [(String, ResourceKind)] = [("networks", .network), ("subnets", .subnet), ("ports", .port), ("routers", .router),
                                                      ("floatingips", .floatingIP), ("security-groups", .securityGroup),
                                                      ("subnetpools", .subnetPool)]

    func addTagRoutes(_ t: inout RouteTable) {
        for (path, kind) in Self.taggable {
            let base = "/v2.0/\(path)/{id}/tags"
            @Sendable func owned(_ ctx: NimbusRequestContext, _ write: Bool) throws -> (Caller, JSONObject) {
                let c = try self.caller(ctx)
                let s = self.service.state
                let d = try self.load(kind, try ctx.parameter("id"), c, s)
                if write { try self.authorize("update_\(kind.member)", c, self.target(kind, d, c, s)) }
                return (c, d)
            }
            @Sendable func tags(_ d: JSONObject) -> [String] { (d["tags"]?.arrayValue ?? []).compactMap(\.stringValue) }
            t.get(base) { _, ctx in
                let (_, d) = try owned(ctx, false)
                return .json(["tags": JSONValue(tags(d))])
            }
            t.get(base + "/{tag}") { _, ctx in
                let (_, d) = try owned(ctx, false)
                let tag = try ctx.parameter("tag")
                guard tags(d).contains(where: { $0.sameBytes(as: tag) }) else {
                    throw NeutronFault.error(.notFound, "TagNotFound", "Tag \(tag) could not be found for \(kind.member) \(d["id"]!.stringValue!).")
                }
                return .empty(.noContent)
            }
            t.put(base) { req, ctx in
                let (_, d) = try owned(ctx, true)
                let body = try await Self.body(req, ctx)
                guard case .array(let items)? = body["tags"] else { throw NeutronFault.badRequest("Invalid input for tags. Reason: tags must be a list.") }
                let list = try items.map { i in
                    guard let s = i.stringValue else { throw NeutronFault.badRequest("Invalid input for tags. Reason: '\(Validators.repr(i))' is not a valid string.") }
                    return s
                }
                return .json(["tags": JSONValue(try await self.service.changeTags(kind, d["id"]!.stringValue!, .replace(list)))])
            }
            t.put(base + "/{tag}") { _, ctx in
                let (_, d) = try owned(ctx, true)
                _ = try await self.service.changeTags(kind, d["id"]!.stringValue!, .add(try ctx.parameter("tag")))
                return .empty(.created)
            }
            t.delete(base) { _, ctx in
                let (_, d) = try owned(ctx, true)
                _ = try await self.service.changeTags(kind, d["id"]!.stringValue!, .replace([]))
                return .empty(.noContent)
            }
            t.delete(base + "/{tag}") { _, ctx in
                let (_, d) = try owned(ctx, true)
                _ = try await self.service.changeTags(kind, d["id"]!.stringValue!, .remove(try ctx.parameter("tag")))
                return .empty(.noContent)
            }
        }
    }

    func quotaBody(_ limits: [(String, Int64)], project: String? = nil) -> JSONObject {
        var o = JSONObject(pairs: limits.map { ($0.0, JSONValue.int($0.1)) })
        if let project { o["project_id"] = .string(project); o["tenant_id"] = .string(project) }
        return o
    }

    func addQuotaRoutes(_ t: inout RouteTable) {
        t.get("/v2.0/quotas") { _, ctx in
            let c = try self.caller(ctx)
            let s = self.service.state
            let items = s.quotas.keys.sorted().filter { self.allows("get_quota", c, ["project_id": $0.string, "tenant_id": $0.string]) }
            return .json(["quotas": .array(items.map { .object(self.quotaBody(self.service.quotaLimits($0.string, in: s), project: $0.string)) })])
        }
        t.get("/v2.0/quotas/{project}/default") { _, ctx in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("project")
            try self.authorize("get_quota", c, ["project_id": project, "tenant_id": project])
            return .json(["quota": .object(self.quotaBody(NetworkService.quotaDefaults, project: project))])
        }
        t.get("/v2.0/quotas/{project}/details") { _, ctx in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("project")
            if !project.sameBytes(as: c.projectID) { try self.authorize("get_quota", c, ["project_id": project, "tenant_id": project]) }
            let s = self.service.state
            var o = JSONObject()
            for (k, limit) in self.service.quotaLimits(project, in: s) {
                o[k] = ["limit": .int(limit), "used": .int(self.service.usage(k, project: project, in: s)), "reserved": 0]
            }
            return .json(["quota": .object(o)])
        }
        t.get("/v2.0/quotas/{project}") { _, ctx in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("project")
            if project == "tenant" || project == "project" {
                return .json([project: ["tenant_id": .string(c.projectID), "project_id": .string(c.projectID)]])
            }
            // A project's own quota is readable by its members (Neutron's quota controller checks
            // the policy only for another project).
            if !project.sameBytes(as: c.projectID) { try self.authorize("get_quota", c, ["project_id": project, "tenant_id": project]) }
            return .json(["quota": .object(self.quotaBody(self.service.quotaLimits(project, in: self.service.state)))])
        }
        t.put("/v2.0/quotas/{project}") { req, ctx in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("project")
            try self.authorize("update_quota", c, ["project_id": project, "tenant_id": project])
            let body = try await Self.body(req, ctx)
            guard case .object(let q)? = body["quota"] else { throw NeutronFault.badRequest("Unable to find 'quota' in request body") }
            var limits = [String: Int64]()
            let force = q["force"].flatMap { Validators.toBoolean($0) } ?? false
            for (k, v) in q {
                guard NetworkService.quotaDefaults.contains(where: { $0.0.sameBytes(as: k) }) else {
                    if k == "force" || k == "check_limit" { continue }
                    throw NeutronFault.badRequest("Unrecognized attribute(s) '\(k)'")
                }
                guard let n = Validators.toInt(v), n >= -1, n <= Int64(Int32.max) else {
                    throw NeutronFault.badRequest("Invalid input for \(k). Reason: '\(Validators.repr(v))' is not an integer or is smaller than -1.")
                }
                limits[k] = n
            }
            let set = try await self.service.setQuota(project: project, limits, force: force)
            return .json(["quota": .object(self.quotaBody(set))])
        }
        t.delete("/v2.0/quotas/{project}") { _, ctx in
            let c = try self.caller(ctx)
            let project = try ctx.parameter("project")
            try self.authorize("delete_quota", c, ["project_id": project, "tenant_id": project])
            try await self.service.resetQuota(project: project)
            return .empty(.noContent)
        }
    }

    /// Neutron's agents: each host's L2 agent and the network node's DHCP, L3 and metadata
    /// agents, as their reports recorded them (admin only by Neutron's default policy).
    func addAgentRoutes(_ t: inout RouteTable) {
        t.get("/v2.0/agents") { req, ctx in
            let c = try self.caller(ctx)
            let s = self.service.state
            let query = try ListQuery(req.queryString, kind: .agent)
            let (page, links) = try query.page(s.inIDOrder(.agent), url: "\(self.publicURL)/v2.0/agents", rawQuery: req.queryString) { d in
                self.visible(.agent, d, c, s) && query.matches(self.service.agentView(d))
            }
            var body: JSONObject = ["agents": .array(page.map { .object(self.view(.agent, $0, c, s, fields: query.fields)) })]
            if !links.isEmpty { body["agents_links"] = .array(links) }
            return .json(.object(body))
        }
        t.get("/v2.0/agents/{id}") { req, ctx in
            let c = try self.caller(ctx)
            let s = self.service.state
            let d = try self.load(.agent, try ctx.parameter("id"), c, s)
            return .json(["agent": .object(self.view(.agent, d, c, s, fields: req.queryString.all("fields")))])
        }
        t.put("/v2.0/agents/{id}") { req, ctx in
            let c = try self.caller(ctx)
            let changes = try ResourceSpecs.prepareUpdate(.agent, try Self.member(try await Self.body(req, ctx), .agent))
            let s = self.service.state
            let current = try self.load(.agent, try ctx.parameter("id"), c, s)
            try self.authorize("update_agent", c, self.target(.agent, current, c, s))
            let updated = try await self.service.updateAgent(current["id"]!.stringValue!, changes)
            return .json(["agent": .object(self.view(.agent, updated, c, self.service.state))])
        }
        t.delete("/v2.0/agents/{id}") { _, ctx in
            let c = try self.caller(ctx)
            let s = self.service.state
            let current = try self.load(.agent, try ctx.parameter("id"), c, s)
            try self.authorize("delete_agent", c, self.target(.agent, current, c, s))
            try await self.service.deleteAgent(current["id"]!.stringValue!)
            return .empty(.noContent)
        }
    }

    func addAvailabilityRoutes(_ t: inout RouteTable) {
        t.get("/v2.0/availability_zones") { _, ctx in
            let c = try self.caller(ctx)
            try self.authorize("get_availability_zone", c, ["project_id": c.projectID, "tenant_id": c.projectID])
            let zone = JSONValue.string(self.service.settings.availabilityZone)
            return .json(["availability_zones": [["name": zone, "resource": "network", "state": "available"],
                                                 ["name": zone, "resource": "router", "state": "available"]]])
        }
        @Sendable func availability(_ n: JSONObject, _ s: NetworkState) -> JSONObject {
            var subnets = [JSONValue]()
            var total: UInt128 = 0, used = 0
            for sub in s.subnets(ofNetwork: n["id"]?.stringValue ?? "") {
                let size = NetworkService.pools(sub).reduce(UInt128(0)) { $0 &+ $1.size }
                let inUse = s.allocatedCount(subnet: sub["id"]?.stringValue ?? "")
                total = total &+ size
                used += inUse
                subnets.append(["subnet_id": sub["id"] ?? .null, "subnet_name": sub["name"] ?? "", "cidr": sub["cidr"] ?? .null,
                                "ip_version": sub["ip_version"] ?? 4, "total_ips": Self.count(size), "used_ips": .int(Int64(inUse))])
            }
            return ["network_id": n["id"] ?? .null, "network_name": n["name"] ?? "", "project_id": n["project_id"] ?? "",
                    "tenant_id": n["project_id"] ?? "", "total_ips": Self.count(total), "used_ips": .int(Int64(used)), "subnet_ip_availability": .array(subnets)]
        }
        t.get("/v2.0/network-ip-availabilities") { req, ctx in
            let c = try self.caller(ctx)
            let s = self.service.state
            var items = [JSONValue]()
            let q = req.queryString
            for n in s.all(.network).sorted(by: { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }) {
                guard self.allows("get_network_ip_availability", c, self.target(.network, n, c, s)) else { continue }
                let a = availability(n, s)
                if let want = q["network_id"], a["network_id"]?.stringValue != want { continue }
                if let want = q["network_name"], a["network_name"]?.stringValue.map({ $0.sameBytes(as: want) }) != true { continue }
                if let want = q["project_id"] ?? q["tenant_id"], a["project_id"]?.stringValue.map({ $0.sameBytes(as: want) }) != true { continue }
                if let v = q["ip_version"], !(a["subnet_ip_availability"]?.arrayValue ?? []).contains(where: { $0["ip_version"]?.intValue == Int64(v) }) { continue }
                items.append(.object(a))
            }
            return Self.bigJSON(["network_ip_availabilities": .array(items)])
        }
        t.get("/v2.0/network-ip-availabilities/{id}") { _, ctx in
            let c = try self.caller(ctx)
            let s = self.service.state
            let id = try ctx.parameter("id")
            guard let n = s[.network, id], self.allows("get_network_ip_availability", c, self.target(.network, n, c, s)) else {
                throw ResourceKind.network.notFound(id)
            }
            return Self.bigJSON(["network_ip_availability": .object(availability(n, s))])
        }
    }

    /// Neutron counts IPv6 pools as Python integers (2^64 - 2 for a /64): past Int64 the number
    /// is carried as a marked string and written as a bare JSON integer (`bigJSON`).
    static let bigMark = "\u{1}uint128:"
    static func count(_ n: UInt128) -> JSONValue { n > UInt128(Int64.max) ? .string(bigMark + String(n)) : .int(Int64(n)) }

    /// JSON with the marked big integers unquoted.
    static func bigJSON(_ v: JSONValue) -> Response {
        var text = v.serializedString()
        while let r = text.range(of: "\"\\u0001uint128:") {
            guard let end = text[r.upperBound...].firstIndex(of: "\"") else { break }
            text.replaceSubrange(r.lowerBound...end, with: text[r.upperBound..<end])
        }
        var h = HTTPFields()
        h[.contentType] = "application/json"
        return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The extensions this service implements, and only those.
    static let extensions: [(alias: String, name: String, description: String)] = [
        ("address-scope", "Address scope", "Address scopes extension."),
        ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
        ("availability_zone", "Availability Zone", "The availability zone extension."),
        ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
        ("network_availability_zone", "Network Availability Zone", "Availability zone support for network."),
        ("router_availability_zone", "Router Availability Zone", "Availability zone support for router."),
        ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
        ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
        ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)"),
        ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
        ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
        ("expose-port-forwarding-in-fip", "Expose Floating IP port forwardings", "Expose port forwarding fields in floating IP response"),
        ("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to Floating IP resource"),
        ("floating-ip-port-forwarding", "Floating IP Port Forwarding", "Allow port forwarding from floating IP port to an internal port"),
        ("floating-ip-port-forwarding-description", "Floating IP Port Forwarding new attribute description", "Add a description field to Port Forwarding rules"),
        ("floating-ip-port-forwarding-port-ranges", "Floating IP Port Forwarding support port ranges", "Add support to port ranges"),
        ("filter-validation", "Filter parameters validation", "Provides validation on filter parameters."),
        ("l2_adjacency", "L2 Adjacency", "Display numbers of l2 adjacency in network"),
        ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
        ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
        ("agent", "agent", "The agent management extension."),
        ("network-ip-availability", "Network IP Availability", "Provides IP availability data for each network and subnet."),
        ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
        ("port-security", "Port Security", "Provides port security"),
        ("port-security-groups-filtering", "Port filtering on security groups", "Provides security groups filtering when listing ports"),
        ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
        ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
        ("quotas", "Quota management support", "Expose functions for quotas management per project"),
        ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"),
        ("rbac-policies", "RBAC Policies", "Allows creation and modification of policies that control tenant access to resources."),
        ("rbac-address-scope", "Add address_scope type to RBAC", "Add address_scope type to RBAC"),
        ("rbac-subnetpool", "Add subnetpool type to RBAC", "Add subnetpool type to RBAC"),
        ("revision-if-match", "If-Match constraints based on revision_number", "Extension indicating that If-Match based on revision_number is supported."),
        ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
        ("security-group", "security-group", "The security groups extension."),
        ("security-groups-normalized-cidr", "Security Group Rule normalized CIDR", "Add new field with normalized remote_ip_prefix cidr in SG rule"),
        ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
        ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
        ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
        ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."),
        ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
        ("subnet-external-network", "Subnet External Network", "Informs if the subnet is associated to an external network."),
        ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
        ("subnetpool-prefix-ops", "Subnet Pool Prefix Operations", "Provides support for adjusting the prefix list of subnet pools"),
        ("stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not"),
    ]

    func addExtensionRoutes(_ t: inout RouteTable) {
        @Sendable func view(_ e: (alias: String, name: String, description: String)) -> JSONValue {
            ["alias": .string(e.alias), "name": .string(e.name), "description": .string(e.description), "updated": "2013-01-20T00:00:00-00:00", "links": []]
        }
        t.get("/v2.0/extensions") { _, ctx in
            _ = try self.caller(ctx)
            return .json(["extensions": .array(Self.extensions.map(view))])
        }
        t.get("/v2.0/extensions/{alias}") { _, ctx in
            _ = try self.caller(ctx)
            let alias = try ctx.parameter("alias")
            guard let e = Self.extensions.first(where: { $0.alias.sameBytes(as: alias) }) else {
                throw NeutronFault.error(.notFound, "HTTPNotFound", "Extension with alias \(alias) does not exist")
            }
            return .json(["extension": view(e)])
        }
    }
}
