import NimbusCore

/// Routers (gateway with SNAT, interfaces, static routes), floating IPs and RBAC policies.
extension NetworkService {
    // MARK: routers

    public func createRouter(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in try createRouter(attrs, actor: actor, &s) }
    }

    func createRouter(_ attrs: JSONObject, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        let project = try Self.owner(attrs, actor)
        try checkQuota(.router, project: project, s)
        if Self.given(attrs["distributed"])?.boolValue == true {
            throw NeutronFault.badRequest("Distributed routers are not supported by this cloud.", type: "BadRequest")
        }
        if Self.given(attrs["ha"])?.boolValue == true {
            throw NeutronFault.badRequest("HA routers are not supported by this cloud.", type: "BadRequest")
        }
        var r = Self.standard(attrs, project: project)
        r["status"] = "ACTIVE"
        r["routes"] = []
        r["distributed"] = false
        r["ha"] = false
        r["availability_zones"] = [.string(settings.availabilityZone)]
        r["external_gateway_info"] = .null
        r["flavor_id"] = attrs["flavor_id"] ?? .null
        s.put(.router, r)
        if let info = attrs["external_gateway_info"]?.objectValue {
            r = try setGateway(r, info, actor: actor, &s)
        }
        return r
    }

    /// Sets, changes or clears (`info` nil) a router's external gateway.
    func setGateway(_ router: JSONObject, _ info: JSONObject?, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        var r = router
        let routerID = r["id"]!.stringValue!
        let current = s.ports(ofDevice: routerID).first { $0["device_owner"]?.stringValue == "network:router_gateway" }
        guard let info, let networkValue = info["network_id"] else {
            if info != nil && !(info!.isEmpty) {
                throw NeutronFault.badRequest("Invalid input for external_gateway_info. Reason: network_id is missing.")
            }
            if let current {
                if s.all(.floatingIP).contains(where: { $0["router_id"]?.stringValue == routerID }) {
                    throw NeutronFault.conflict("RouterExternalGatewayInUseByFloatingIp", "Gateway cannot be updated for router \(routerID), since a gateway to external network \(current["network_id"]?.stringValue ?? "") is required by one or more floating IPs.")
                }
                s.remove(.port, current["id"]!.stringValue!)
            }
            r["external_gateway_info"] = .null
            s.put(.router, r)
            return r
        }
        for (k, _) in info where !["network_id", "enable_snat", "external_fixed_ips", "qos_policy_id"].contains(k) {
            throw NeutronFault.badRequest("Invalid input for external_gateway_info. Reason: Unexpected keys supplied: \(k).")
        }
        guard let networkID = networkValue.stringValue, Validators.isUUID(networkID) else {
            throw NeutronFault.badRequest("Invalid input for external_gateway_info. Reason: '\(Validators.repr(networkValue))' is not a valid UUID.")
        }
        guard let network = s[.network, networkID] else { throw ResourceKind.network.notFound(networkID) }
        guard network["router:external"]?.boolValue == true, actor.isAdmin || isExternal(network, for: actor.projectID, in: s) || Self.owns(network, actor.projectID) else {
            throw NeutronFault.badRequest("Bad router request: Network \(networkID) is not an external network.", type: "BadRequest")
        }
        var snat = true
        if let v = info["enable_snat"] {
            guard let b = Validators.toBoolean(v) else { throw NeutronFault.badRequest("Invalid input for external_gateway_info. Reason: '\(Validators.repr(v))' is not a valid boolean value.") }
            snat = b
        }
        let requested = info["external_fixed_ips"]
        if let requested, let m = Validators.fixedIPs(requested) {
            throw NeutronFault.badRequest("Invalid input for external_gateway_info. Reason: \(m.message).")
        }
        var gatewayPort: JSONObject
        if let current, current["network_id"]?.stringValue == networkID {
            gatewayPort = current
            if let requested = requested?.arrayValue {
                gatewayPort = try updatePort(current["id"]!.stringValue!, ["fixed_ips": .array(requested)], actor: NetworkActor(projectID: "", isAdmin: true), &s)
            }
        } else {
            if let current {
                if s.all(.floatingIP).contains(where: { $0["router_id"]?.stringValue == routerID }) {
                    throw NeutronFault.conflict("RouterExternalGatewayInUseByFloatingIp", "Gateway cannot be updated for router \(routerID), since a gateway to external network \(current["network_id"]?.stringValue ?? "") is required by one or more floating IPs.")
                }
                s.remove(.port, current["id"]!.stringValue!)
            }
            if s.subnets(ofNetwork: networkID).isEmpty {
                throw NeutronFault.badRequest("Bad router request: No subnets on external network \(networkID).", type: "BadRequest")
            }
            for iface in interfaceSubnets(routerID, s) {
                for ext in s.subnets(ofNetwork: networkID) where Self.cidr(ext).map({ e in iface.net.overlaps(e) }) == true {
                    throw NeutronFault.badRequest("Bad router request: Cidr \(ext["cidr"]?.stringValue ?? "") of subnet \(ext["id"]?.stringValue ?? "") overlaps with cidr \(iface.net) of subnet \(iface.id).", type: "BadRequest")
                }
            }
            var attrs: JSONObject = ["network_id": .string(networkID), "device_owner": "network:router_gateway", "device_id": .string(routerID),
                                     "project_id": "", "name": "", "admin_state_up": true, "description": ""]
            attrs["fixed_ips"] = requested ?? ResourceSpecs.unspecified
            attrs["security_groups"] = []
            attrs["port_security_enabled"] = false
            attrs["allowed_address_pairs"] = []
            gatewayPort = try createPort(attrs, actor: NetworkActor(projectID: "", isAdmin: true), &s)
        }
        r["external_gateway_info"] = [
            "network_id": .string(networkID), "enable_snat": .bool(snat),
            "external_fixed_ips": .array((gatewayPort["fixed_ips"]?.arrayValue ?? [])),
        ]
        s.put(.router, r)
        return r
    }

    func interfaceSubnets(_ routerID: String, _ s: NetworkState) -> [(id: String, net: IPNetwork, port: String)] {
        s.ports(ofDevice: routerID).filter { $0["device_owner"]?.stringValue == "network:router_interface" }.flatMap { p in
            NetworkState.fixedIPs(p).compactMap { ip in
                s[.subnet, ip.subnet].flatMap(Self.cidr).map { (ip.subnet, $0, p["id"]!.stringValue!) }
            }
        }
    }

    public func updateRouter(_ id: String, _ changes: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            guard var r = s[.router, id] else { throw ResourceKind.router.notFound(id) }
            var c = changes
            if let d = c["distributed"], d.boolValue == true { throw NeutronFault.badRequest("Distributed routers are not supported by this cloud.", type: "BadRequest") }
            if let h = c["ha"], h.boolValue == true { throw NeutronFault.badRequest("HA routers are not supported by this cloud.", type: "BadRequest") }
            if let routes = c["routes"]?.arrayValue {
                if routes.count > settings.maxRoutes {
                    throw NeutronFault.badRequest("Unable to complete operation for \(id). The number of routes exceeds the maximum \(settings.maxRoutes).", type: "RoutesExhausted")
                }
                let connected = interfaceSubnets(id, s).map(\.net) + (s.ports(ofDevice: id).filter { $0["device_owner"]?.stringValue == "network:router_gateway" }
                    .flatMap { NetworkState.fixedIPs($0).compactMap { s[.subnet, $0.subnet].flatMap(Self.cidr) } })
                for route in routes {
                    let nexthop = IPAddress(route["nexthop"]?.stringValue ?? "")
                    guard let nexthop, connected.contains(where: { $0.contains(nexthop) }) else {
                        throw NeutronFault.badRequest("Invalid format for routes: \(Validators.repr(route)), the nexthop is not connected with router", type: "InvalidRoutes")
                    }
                    let ownIPs = s.ports(ofDevice: id).flatMap { NetworkState.fixedIPs($0).map(\.address) }
                    if ownIPs.contains(nexthop) {
                        throw NeutronFault.badRequest("Invalid format for routes: \(Validators.repr(route)), the nexthop is used by router", type: "InvalidRoutes")
                    }
                }
            }
            if let info = c.storage[Name("external_gateway_info")] {
                r = try setGateway(r, info.objectValue, actor: actor, &s)
                c["external_gateway_info"] = nil
            }
            c["tenant_id"] = nil
            r = Self.touched(r, c)
            s.put(.router, r)
            return r
        }
    }

    public func deleteRouter(_ id: String) async throws {
        try await write { s in
            guard s[.router, id] != nil else { throw ResourceKind.router.notFound(id) }
            if s.ports(ofDevice: id).contains(where: { $0["device_owner"]?.stringValue == "network:router_interface" }) {
                throw NeutronFault.conflict("RouterInUse", "Router \(id) still has ports")
            }
            if s.all(.floatingIP).contains(where: { $0["router_id"]?.stringValue == id }) {
                throw NeutronFault.conflict("RouterInUse", "Router \(id) still has ports")
            }
            for p in s.ports(ofDevice: id) { s.remove(.port, p["id"]!.stringValue!) }
            s.remove(.router, id)
        }
    }

    /// `PUT /routers/{id}/add_router_interface` with a subnet (the router takes its gateway
    /// address) or a port (which must be unused).
    public func addRouterInterface(_ id: String, subnetID: String?, portID: String?, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            guard let router = s[.router, id] else { throw ResourceKind.router.notFound(id) }
            let project = router["project_id"]?.stringValue ?? actor.projectID
            var port: JSONObject
            let subnet: JSONObject
            if let portID {
                guard var p = s[.port, portID], actor.isAdmin || Self.owns(p, actor.projectID) else { throw ResourceKind.port.notFound(portID) }
                if !(p["device_id"]?.stringValue ?? "").isEmpty || !(p["device_owner"]?.stringValue ?? "").isEmpty {
                    throw NeutronFault.conflict("PortInUse", "Unable to complete operation on port \(portID) for network \(p["network_id"]?.stringValue ?? ""). Port already has an attached device \(p["device_id"]?.stringValue ?? "").")
                }
                let ips = NetworkState.fixedIPs(p)
                guard let first = ips.first, let sub = s[.subnet, first.subnet] else {
                    throw NeutronFault.badRequest("Bad router request: Router port must have at least one fixed IP.", type: "BadRequest")
                }
                if ips.filter({ s[.subnet, $0.subnet]?["ip_version"]?.intValue == 4 }).count > 1 {
                    throw NeutronFault.badRequest("Bad router request: Cannot have multiple IPv4 subnets on router port.", type: "BadRequest")
                }
                subnet = sub
                try checkInterfaceOverlap(id, subnet, s)
                p["device_id"] = .string(id)
                p["device_owner"] = "network:router_interface"
                p = Self.touched(p)
                s.put(.port, p)
                port = p
            } else if let subnetID {
                guard let sub = s[.subnet, subnetID] else { throw ResourceKind.subnet.notFound(subnetID) }
                guard let network = s[.network, sub["network_id"]?.stringValue ?? ""],
                      actor.isAdmin || Self.owns(sub, actor.projectID) || Self.owns(network, actor.projectID) || isShared(network, with: actor.projectID, in: s) else {
                    throw ResourceKind.subnet.notFound(subnetID)
                }
                guard let gateway = sub["gateway_ip"]?.stringValue, !gateway.isEmpty else {
                    throw NeutronFault.badRequest("Bad router request: Subnet for router interface must have a gateway IP.", type: "BadRequest")
                }
                if sub["ipv6_ra_mode"] == .null && sub["ipv6_address_mode"]?.stringValue == "slaac" && sub["ip_version"]?.intValue == 6 {
                    throw NeutronFault.badRequest("Bad router request: IPv6 subnet \(subnetID) configured to receive RAs from an external router cannot be added to Neutron Router.", type: "BadRequest")
                }
                if interfaceSubnets(id, s).contains(where: { $0.id == subnetID }) {
                    throw NeutronFault.badRequest("Bad router request: Router already has a port on subnet \(subnetID).", type: "BadRequest")
                }
                try checkInterfaceOverlap(id, sub, s)
                subnet = sub
                port = try createPort(["network_id": .string(network["id"]!.stringValue!), "device_owner": "network:router_interface", "device_id": .string(id),
                                       "project_id": .string(project), "name": "", "admin_state_up": true, "description": "",
                                       "fixed_ips": [["subnet_id": .string(subnetID), "ip_address": .string(gateway)]],
                                       "security_groups": [], "port_security_enabled": false, "allowed_address_pairs": []],
                                      actor: NetworkActor(projectID: project, isAdmin: true), &s)
            } else {
                throw NeutronFault.badRequest("Bad router request: Either subnet_id or port_id must be specified.", type: "BadRequest")
            }
            if var r = s[.router, id] { r = Self.touched(r); s.put(.router, r) }
            return ["id": .string(id), "subnet_id": subnet["id"]!, "subnet_ids": [subnet["id"]!], "port_id": port["id"]!,
                    "network_id": port["network_id"]!, "tenant_id": .string(project), "project_id": .string(project)]
        }
    }

    func checkInterfaceOverlap(_ routerID: String, _ subnet: JSONObject, _ s: NetworkState) throws {
        guard let net = Self.cidr(subnet) else { return }
        for other in interfaceSubnets(routerID, s) where other.id != subnet["id"]?.stringValue && other.net.overlaps(net) {
            throw NeutronFault.badRequest("Bad router request: Cidr \(net) of subnet \(subnet["id"]!.stringValue!) overlaps with cidr \(other.net) of subnet \(other.id).", type: "BadRequest")
        }
    }

    public func removeRouterInterface(_ id: String, subnetID: String?, portID: String?, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            guard let router = s[.router, id] else { throw ResourceKind.router.notFound(id) }
            let project = router["project_id"]?.stringValue ?? ""
            let interfaces = s.ports(ofDevice: id).filter { $0["device_owner"]?.stringValue == "network:router_interface" }
            var port: JSONObject
            if let portID {
                guard let p = interfaces.first(where: { $0["id"]?.stringValue == portID }) else {
                    throw NeutronFault.error(.notFound, "RouterInterfaceNotFound", "Router \(id) does not have an interface with id \(portID)")
                }
                if let subnetID, !NetworkState.fixedIPs(p).contains(where: { $0.subnet == subnetID }) {
                    throw NeutronFault.conflict("SubnetMismatchForPort", "Subnet \(subnetID) does not match with the port \(portID) subnet.")
                }
                port = p
            } else if let subnetID {
                guard let p = interfaces.first(where: { NetworkState.fixedIPs($0).contains { $0.subnet == subnetID } }) else {
                    throw NeutronFault.error(.notFound, "RouterInterfaceNotFoundForSubnet", "Router \(id) has no interface on subnet \(subnetID)")
                }
                port = p
            } else {
                throw NeutronFault.badRequest("Bad router request: Either subnet_id or port_id must be specified.", type: "BadRequest")
            }
            let subnets = NetworkState.fixedIPs(port).map(\.subnet)
            for f in s.all(.floatingIP) where f["router_id"]?.stringValue == id {
                if let fp = f["port_id"]?.stringValue, let fport = s[.port, fp],
                   NetworkState.fixedIPs(fport).contains(where: { subnets.contains($0.subnet) && $0.address.description == f["fixed_ip_address"]?.stringValue }) {
                    throw NeutronFault.conflict("RouterInterfaceInUseByFloatingIP", "Router interface for subnet \(subnets.first ?? "") on router \(id) cannot be deleted, as it is required by one or more floating IPs.")
                }
                // Its port forwardings count too (l3_db's `_check_router_interface_not_in_use`).
                for pf in s.portForwardings(ofFloatingIP: f["id"]?.stringValue ?? "") {
                    guard let target = pf["internal_ip_address"]?.stringValue.flatMap({ IPAddress($0) }),
                          let pport = s[.port, pf["internal_port_id"]?.stringValue ?? ""] else { continue }
                    if NetworkState.fixedIPs(pport).contains(where: { subnets.contains($0.subnet) && $0.address == target }) {
                        throw NeutronFault.conflict("RouterInterfaceInUseByFloatingIP", "Router interface for subnet \(subnets.first ?? "") on router \(id) cannot be deleted, as it is required by one or more floating IPs.")
                    }
                }
            }
            for r in router["routes"]?.arrayValue ?? [] {
                if let nh = IPAddress(r["nexthop"]?.stringValue ?? ""), subnets.contains(where: { s[.subnet, $0].flatMap(Self.cidr)?.contains(nh) == true }) {
                    throw NeutronFault.conflict("RouterInterfaceInUseByRoute", "Router interface for subnet \(subnets.first ?? "") on router \(id) cannot be deleted, as it is required by one or more routes.")
                }
            }
            s.remove(.port, port["id"]!.stringValue!)
            if var r = s[.router, id] { r = Self.touched(r); s.put(.router, r) }
            let subnet = subnetID ?? subnets.first ?? ""
            return ["id": .string(id), "subnet_id": .string(subnet), "subnet_ids": JSONValue(subnets), "port_id": port["id"]!,
                    "network_id": port["network_id"]!, "tenant_id": .string(project), "project_id": .string(project)]
        }
    }

    // MARK: floating IPs

    public func createFloatingIP(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            let project = try Self.owner(attrs, actor)
            try checkQuota(.floatingIP, project: project, s)
            let networkID = attrs["floating_network_id"]!.stringValue!
            // The network as the caller sees it (an external network shared with others only is not found).
            guard let network = s[.network, networkID],
                  actor.isAdmin || Self.owns(network, actor.projectID) || isShared(network, with: actor.projectID, in: s)
                    || isExternal(network, for: actor.projectID, in: s) else { throw ResourceKind.network.notFound(networkID) }
            guard network["router:external"]?.boolValue == true else {
                throw NeutronFault.badRequest("Bad floatingip request: Network \(networkID) is not a valid external network.", type: "BadRequest")
            }
            if let a = attrs["floating_ip_address"]?.stringValue.flatMap({ IPAddress($0) }), a.version != 4 {
                throw NeutronFault.badRequest("Bad floatingip request: floating IPs are IPv4 addresses.", type: "BadRequest")
            }
            if let sid = attrs["subnet_id"]?.stringValue, s[.subnet, sid]?["ip_version"]?.intValue == 6 {
                throw NeutronFault.badRequest("Unable to find any IP address on external network \(networkID).", type: "ExternalIpAddressExhausted")
            }
            var f = Self.standard(attrs, project: project)
            let id = f["id"]!.stringValue!
            var fixed: [JSONValue]?
            if let subnet = attrs["subnet_id"]?.stringValue {
                guard let sub = s[.subnet, subnet], sub["network_id"]?.stringValue == networkID else {
                    throw NeutronFault.badRequest("Bad floatingip request: Invalid subnet \(subnet) for the external network \(networkID).", type: "BadRequest")
                }
                var e: JSONObject = ["subnet_id": .string(subnet)]
                if let a = attrs["floating_ip_address"]?.stringValue { e["ip_address"] = .string(a) }
                fixed = [.object(e)]
            } else if let a = attrs["floating_ip_address"]?.stringValue {
                fixed = [["ip_address": .string(a)]]
            } else {
                // An IPv4 address from the first IPv4 subnet with room.
                let v4 = s.subnets(ofNetwork: networkID).filter { $0["ip_version"]?.intValue == 4 }
                guard let sub = v4.first(where: { nextFree($0, s) != nil }) else {
                    if v4.isEmpty {
                        throw NeutronFault.badRequest("Bad floatingip request: Network \(networkID) does not contain any IPv4 subnet.", type: "BadRequest")
                    }
                    throw NeutronFault.conflict("IpAddressGenerationFailure", "No more IP addresses available on network \(networkID).")
                }
                fixed = [["subnet_id": sub["id"]!]]
            }
            let port = try createPort(["network_id": .string(networkID), "device_owner": "network:floatingip", "device_id": .string(id), "project_id": "",
                                       "name": "", "admin_state_up": true, "description": "", "fixed_ips": .array(fixed ?? []), "security_groups": [],
                                       "port_security_enabled": false, "allowed_address_pairs": []],
                                      actor: NetworkActor(projectID: "", isAdmin: true), &s)
            guard let ip = NetworkState.fixedIPs(port).first(where: { $0.address.version == 4 }) ?? NetworkState.fixedIPs(port).first else {
                throw NeutronFault.conflict("IpAddressGenerationFailure", "No more IP addresses available on network \(networkID).")
            }
            f["floating_ip_address"] = .string(ip.address.description)
            f["subnet_id"] = nil
            f["floating_network_id"] = .string(networkID)
            f["router_id"] = .null
            f["port_id"] = .null
            f["fixed_ip_address"] = .null
            f["status"] = "DOWN"
            f["port_details"] = .null
            f["port_forwardings"] = []
            f["qos_policy_id"] = attrs["qos_policy_id"] ?? .null
            if let portID = attrs["port_id"]?.stringValue {
                f = try associate(f, portID: portID, fixed: attrs["fixed_ip_address"]?.stringValue, actor: actor, s)
            }
            s.put(.floatingIP, f)
            return f
        }
    }

    /// Points a floating IP at a port's fixed address, through a router whose gateway is on the
    /// floating IP's network and which has an interface on the fixed address's subnet.
    func associate(_ fip: JSONObject, portID: String, fixed: String?, actor: NetworkActor, _ s: NetworkState) throws -> JSONObject {
        var f = fip
        let id = f["id"]!.stringValue!
        guard let port = s[.port, portID], actor.isAdmin || Self.owns(port, actor.projectID) else { throw ResourceKind.port.notFound(portID) }
        if (port["device_owner"]?.stringValue ?? "").hasBytePrefix("network:") {
            throw NeutronFault.badRequest("Bad floatingip request: Port \(portID) has owner \(port["device_owner"]?.stringValue ?? "") and therefore cannot be assigned to a floating IP.", type: "BadRequest")
        }
        let v4 = NetworkState.fixedIPs(port).filter { $0.address.version == 4 }
        let chosen: (subnet: String, address: IPAddress)
        if let fixed {
            guard let a = IPAddress(fixed), let m = NetworkState.fixedIPs(port).first(where: { $0.address == a }) else {
                throw NeutronFault.badRequest("Bad floatingip request: Port \(portID) does not have fixed ip \(fixed).", type: "BadRequest")
            }
            if a.version != 4 {
                throw NeutronFault.badRequest("Bad floatingip request: Cannot process floating IP association with \(fixed), since that is not an IPv4 address.", type: "BadRequest")
            }
            chosen = m
        } else {
            guard let first = v4.first else {
                throw NeutronFault.badRequest("Bad floatingip request: Port \(portID) does not have any IPv4 address.", type: "BadRequest")
            }
            if v4.count > 1 {
                throw NeutronFault.badRequest("Bad floatingip request: Port \(portID) has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP.", type: "BadRequest")
            }
            chosen = first
        }
        let external = f["floating_network_id"]?.stringValue ?? ""
        if port["network_id"]?.stringValue == external {
            throw NeutronFault.badRequest("Bad floatingip request: Port \(portID) is on the external network \(external).", type: "BadRequest")
        }
        for other in s.floatingIPs(ofPort: portID) where other["id"]?.stringValue != id
            && other["fixed_ip_address"]?.stringValue == chosen.address.description {
            throw NeutronFault.conflict("FloatingIPPortAlreadyAssociated", "Cannot associate floating IP \(f["floating_ip_address"]?.stringValue ?? "") (\(id)) with port \(portID) using fixed IP \(chosen.address), as that fixed IP already has a floating IP on external network \(external).")
        }
        let routers = s.all(.router).filter { r in
            r["external_gateway_info"]?["network_id"]?.stringValue == external
                && interfaceSubnets(r["id"]!.stringValue!, s).contains { $0.id == chosen.subnet }
        }.sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
        guard let router = routers.first else {
            throw NeutronFault.error(.notFound, "ExternalGatewayForFloatingIPNotFound",
                                     "External network \(external) is not reachable from subnet \(chosen.subnet). Therefore, cannot associate Port \(portID) with a Floating IP.")
        }
        f["port_id"] = .string(portID)
        f["fixed_ip_address"] = .string(chosen.address.description)
        f["router_id"] = router["id"]!
        f["port_details"] = ["name": port["name"] ?? "", "network_id": port["network_id"] ?? .null, "mac_address": port["mac_address"] ?? .null,
                             "admin_state_up": port["admin_state_up"] ?? true, "status": port["status"] ?? "DOWN",
                             "device_id": port["device_id"] ?? "", "device_owner": port["device_owner"] ?? ""]
        return f
    }

    public func updateFloatingIP(_ id: String, _ changes: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            guard var f = s[.floatingIP, id] else { throw ResourceKind.floatingIP.notFound(id) }
            let forwarded = !s.portForwardings(ofFloatingIP: id).isEmpty
            if let portValue = changes["port_id"] {
                if let portID = portValue.stringValue {
                    if forwarded { throw Self.fipInUseByPortForwarding(id) }
                    f = try associate(f, portID: portID, fixed: changes["fixed_ip_address"]?.stringValue, actor: actor, s)
                } else if !forwarded {
                    f["port_id"] = .null
                    f["fixed_ip_address"] = .null
                    f["router_id"] = .null
                    f["port_details"] = .null
                    f["status"] = "DOWN"
                }
            } else if changes["fixed_ip_address"] != nil {
                guard let portID = f["port_id"]?.stringValue else {
                    throw NeutronFault.badRequest("Bad floatingip request: fixed_ip_address cannot be specified without a port_id.", type: "BadRequest")
                }
                f = try associate(f, portID: portID, fixed: changes["fixed_ip_address"]?.stringValue, actor: actor, s)
            }
            if let d = changes["description"] { f["description"] = d }
            if let q = changes["qos_policy_id"] { f["qos_policy_id"] = q }
            f = Self.touched(f)
            s.put(.floatingIP, f)
            return f
        }
    }

    public func deleteFloatingIP(_ id: String) async throws {
        try await write { s in
            guard s[.floatingIP, id] != nil else { throw ResourceKind.floatingIP.notFound(id) }
            // Neutron's port forwarding plugin refuses it (its check runs before the cascade).
            if !s.portForwardings(ofFloatingIP: id).isEmpty { throw Self.fipInUseByPortForwarding(id) }
            for p in s.ports(ofDevice: id) where p["device_owner"]?.stringValue == "network:floatingip" { s.remove(.port, p["id"]!.stringValue!) }
            s.remove(.floatingIP, id)
        }
    }

    /// A floating IP with port forwardings is neither associated with a port nor deleted (409).
    static func fipInUseByPortForwarding(_ id: String) -> NimbusError {
        NeutronFault.conflict("FipInUseByPortForwarding", "Floating IP \(id) in use by Port Forwarding resources.")
    }

    // MARK: RBAC

    public func createRBAC(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            let project = try Self.owner(attrs, actor)
            let objectType = attrs["object_type"]?.stringValue ?? ""
            guard let kind = Self.rbacKind(objectType) else {
                throw NeutronFault.badRequest("Invalid input for object_type. Reason: only 'network', 'subnetpool' and 'address_scope' objects can be shared by this cloud.")
            }
            let objectID = attrs["object_id"]!.stringValue!
            if kind != .network { return try createObjectRBAC(kind, objectID, attrs, project: project, actor: actor, &s) }
            if let network = s[.network, objectID], !actor.isAdmin, !Self.owns(network, actor.projectID), isShared(network, with: actor.projectID, in: s) {
                throw NeutronFault.invalidInput("Only the owner of network \(objectID) can share it")
            }
            guard let network = s[.network, objectID], actor.isAdmin || Self.owns(network, actor.projectID) else {
                throw NeutronFault.error(.notFound, "RbacPolicyNotFound"/* Neutron: object not found */, "network \(objectID) could not be found.")
            }
            let given = Self.given(attrs["target_tenant"])?.stringValue ?? Self.given(attrs["target_project"])?.stringValue
            guard let target = given else {
                throw NeutronFault.badRequest("Failed to parse request. Required attribute 'target_tenant' not specified")
            }
            let action = attrs["action"]!.stringValue!
            if s.rbac(object: objectID).contains(where: { $0["action"]?.stringValue == action && $0["target_tenant"]?.stringValue?.sameBytes(as: target) == true }) {
                throw NeutronFault.conflict("DuplicateRbacPolicy", "An RBAC policy already exists with those values.")
            }
            try checkQuota(.rbacPolicy, project: project, s)
            var r = JSONObject()
            r["id"] = .string(Identifiers.uuid())
            r["project_id"] = .string(project)
            r["tenant_id"] = .string(project)
            r["object_type"] = "network"
            r["object_id"] = .string(objectID)
            r["target_tenant"] = .string(target)
            r["target_project"] = .string(target)
            r["action"] = .string(action)
            s.put(.rbacPolicy, r)
            if target == "*" {
                var n = network
                if action == "access_as_shared" { n["shared"] = true }
                if action == "access_as_external" { n["router:external"] = true }
                s.put(.network, Self.touched(n))
            } else if action == "access_as_external", network["router:external"]?.boolValue != true {
                var n = network
                n["router:external"] = true
                s.put(.network, Self.touched(n))
            }
            return r
        }
    }

    public func updateRBAC(_ id: String, target: String) async throws -> JSONObject {
        try await write { s in
            guard var r = s[.rbacPolicy, id] else { throw ResourceKind.rbacPolicy.notFound(id) }
            // Neutron's rbac tables are unique on (target, object, action): moving an entry onto
            // another one's target is NeutronDbObjectDuplicateEntry, a 409.
            if s.rbac(object: r["object_id"]?.stringValue ?? "").contains(where: {
                $0["id"]?.stringValue != id && $0["action"] == r["action"] && $0["target_tenant"]?.stringValue?.sameBytes(as: target) == true
            }) {
                throw NeutronFault.conflict("NeutronDbObjectDuplicateEntry",
                                            "Failed to create a duplicate \(r["object_type"]?.stringValue ?? "rbac") rbac policy: for attribute(s) ['target_project', 'object_id', 'action'].")
            }
            if let kind = r["object_type"]?.stringValue.flatMap({ Self.rbacKind($0) }), kind != .network {
                return try retargetObjectRBAC(kind, r, target: target, &s)
            }
            if let object = r["object_id"]?.stringValue, r["action"]?.stringValue == "access_as_shared", let old = r["target_tenant"]?.stringValue {
                try checkUnshare(network: object, owner: s[.network, object]?["project_id"]?.stringValue ?? "", removingTarget: old, s, type: "RbacPolicyInUse")
            }
            r["target_tenant"] = .string(target)
            r["target_project"] = .string(target)
            s.put(.rbacPolicy, r)
            return r
        }
    }

    public func deleteRBAC(_ id: String) async throws {
        try await write { s in
            guard let r = s[.rbacPolicy, id] else { throw ResourceKind.rbacPolicy.notFound(id) }
            let object = r["object_id"]?.stringValue ?? ""
            let target = r["target_tenant"]?.stringValue ?? ""
            if let kind = r["object_type"]?.stringValue.flatMap({ Self.rbacKind($0) }), kind != .network {
                try checkUnshare(kind, object, removingPolicy: id, s)
                if target == "*", var d = s[kind, object], !s.rbac(object: object).contains(where: { $0["id"]?.stringValue != id && $0["target_tenant"]?.stringValue == "*" }) {
                    d["shared"] = false
                    s.put(kind, kind == .subnetPool ? Self.touched(d) : d)
                }
            } else if var n = s[.network, object] {
                if r["action"]?.stringValue == "access_as_shared" {
                    try checkUnshare(network: object, owner: n["project_id"]?.stringValue ?? "", removingTarget: target, s, type: "RbacPolicyInUse")
                    if target == "*" { n["shared"] = false; s.put(.network, Self.touched(n)) }
                } else if r["action"]?.stringValue == "access_as_external" {
                    let others = s.rbac(object: object).filter { $0["id"]?.stringValue != id && $0["action"]?.stringValue == "access_as_external" }
                    if others.isEmpty {
                        if s.ports(ofNetwork: object).contains(where: { ($0["device_owner"]?.stringValue == "network:router_gateway" || $0["device_owner"]?.stringValue == "network:floatingip") }) {
                            throw NeutronFault.conflict("RbacPolicyInUse", "RBAC policy on object \(object) cannot be removed because other objects depend on it.")
                        }
                        n["router:external"] = false
                        s.put(.network, Self.touched(n))
                    }
                }
            }
            s.remove(.rbacPolicy, id)
        }
    }

    // MARK: tags and quotas

    public enum TagChange: Sendable {
        case replace([String]), add(String), remove(String)
    }
    static let maxTags = 50

    /// Neutron's tagging extension: tags are unique (as bytes), at most 50 per resource, one to
    /// 255 characters without a comma; each change is made on the current tags.
    public func changeTags(_ kind: ResourceKind, _ id: String, _ change: TagChange) async throws -> [String] {
        func check(_ tag: String) throws {
            if tag.isEmpty || tag.unicodeScalars.count > 255 {
                throw NeutronFault.invalidInput("'\(tag)' exceeds maximum length of 255")
            }
            if tag.utf8.contains(UInt8(ascii: ",")) { throw NeutronFault.invalidInput("'\(tag)' contains a comma") }
        }
        return try await write { s in
            guard var d = s[kind, id] else { throw kind.notFound(id) }
            var tags = (d["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
            switch change {
            case .replace(let new):
                tags = []
                for t in new {
                    try check(t)
                    if !tags.contains(where: { $0.sameBytes(as: t) }) { tags.append(t) }
                }
            case .add(let t):
                try check(t)
                if tags.contains(where: { $0.sameBytes(as: t) }) { return tags }
                tags.append(t)
            case .remove(let t):
                guard tags.contains(where: { $0.sameBytes(as: t) }) else {
                    throw NeutronFault.error(.notFound, "TagNotFound", "Tag \(t) could not be found for \(kind.member) \(id).")
                }
                tags.removeAll { $0.sameBytes(as: t) }
            }
            if tags.count > Self.maxTags {
                throw NeutronFault.badRequest("The number of tags exceed the per-resource limit of \(Self.maxTags)", type: "BadRequest")
            }
            d["tags"] = JSONValue(tags)
            s.put(kind, Self.touched(d))
            return tags
        }
    }

    /// Sets limits; one below what the project uses is refused unless `force` (Neutron's
    /// check_limit).
    public func setQuota(project: String, _ limits: [String: Int64], force: Bool = false) async throws -> [(String, Int64)] {
        try await write { s in
            var current = s.quotas[Name(project)] ?? [:]
            for (k, v) in limits {
                let used = usage(k, project: project, in: s)
                if !force && v >= 0 && v < used {
                    throw NeutronFault.badRequest("Quota limit \(v) for \(k) must be greater than or equal to already used and reserved \(used).")
                }
                current[k] = v
            }
            s.setQuota(project: project, current)
            return quotaLimits(project, in: s)
        }
    }

    public func resetQuota(project: String) async throws {
        try await write { s in
            guard s.quotas[Name(project)] != nil else { throw NeutronFault.error(.notFound, "TenantQuotaNotFound", "Quota for tenant \(project) could not be found.") }
            s.setQuota(project: project, nil)
        }
    }
}
