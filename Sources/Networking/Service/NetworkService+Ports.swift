import NimbusCore

/// Ports: addresses, MACs, security groups, port security, allowed address pairs, bindings.
extension NetworkService {
    public func createPort(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in try createPort(attrs, actor: actor, &s) }
    }

    func createPort(_ attrs: JSONObject, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        let networkID = attrs["network_id"]!.stringValue!
        let network = try usableNetwork(networkID, actor, s)
        let project = try Self.owner(attrs, actor)
        let deviceOwner = attrs["device_owner"]?.stringValue ?? ""
        let isInternal = deviceOwner.hasBytePrefix("network:")
        if !project.isEmpty { try checkQuota(.port, project: project, s) }
        try checkDeviceOwner(deviceOwner, deviceID: attrs["device_id"]?.stringValue ?? "", project: project, actor: actor, s)
        var d = Self.standard(attrs, project: project)
        let id = d["id"]!.stringValue!
        let mac: MACAddress
        if let given = Self.given(attrs["mac_address"]), let m = MACAddress(given.stringValue ?? "") {
            if s.port(withMAC: m, network: networkID) != nil {
                throw NeutronFault.conflict("MacAddressInUse", "Unable to complete operation for network \(networkID). The mac address \(m) is in use.")
            }
            mac = m
        } else {
            var m = MACAddress.random()
            var tries = 0
            while s.port(withMAC: m, network: networkID) != nil {
                tries += 1
                guard tries < 16 else { throw NeutronFault.conflict("MacAddressGenerationFailure", "Unable to generate unique mac on network \(networkID).") }
                m = MACAddress.random()
            }
            mac = m
        }
        d["mac_address"] = .string(mac.description)
        let requested = Self.given(attrs["fixed_ips"])?.arrayValue
        d["fixed_ips"] = .array(try allocate(network: network, requested: requested, mac: mac, portID: id, deviceOwner: deviceOwner, actor: actor, s))
        // The service's own ports (DHCP, routers, floating IPs) are trusted: no port security.
        let portSecurity = Self.given(attrs["port_security_enabled"])?.boolValue ?? (isInternal ? false : (network["port_security_enabled"]?.boolValue ?? true))
        d["port_security_enabled"] = .bool(portSecurity)
        var groups: [String]
        if let given = Self.given(attrs["security_groups"])?.arrayValue {
            groups = given.compactMap(\.stringValue)
            if !portSecurity && !groups.isEmpty {
                throw NeutronFault.badRequest("Port security must be enabled and port must have an IP address in order to use security groups.",
                                              type: "PortSecurityAndIPRequiredForSecurityGroups")
            }
            for g in groups { try checkGroupUsable(g, project: project, actor: actor, s) }
            try Self.checkStatefulness(groups, s)
        } else if portSecurity && !isInternal && !project.isEmpty {
            groups = [ensureDefaultSecurityGroup(project: project, &s)]
        } else {
            groups = []
        }
        d["security_groups"] = JSONValue(groups)
        if !portSecurity, let pairs = attrs["allowed_address_pairs"]?.arrayValue, !pairs.isEmpty {
            throw NeutronFault.conflict("AddressPairAndPortSecurityRequired", "Port Security must be enabled in order to have allowed address pairs on a port.")
        }
        d["allowed_address_pairs"] = Self.normalizedPairs(attrs["allowed_address_pairs"], mac: mac)
        d["extra_dhcp_opts"] = try Self.dhcpOptions(attrs["extra_dhcp_opts"])
        d["status"] = "DOWN"
        d["ip_allocation"] = "immediate"
        Self.setBinding(&d, host: attrs["binding:host_id"]?.stringValue ?? "")
        s.put(.port, d)
        return d
    }

    /// A port may only claim to be an interface or gateway of a router its project owns
    /// (Neutron's DeviceIDNotOwnedByTenant), else it would join another project's router.
    func checkDeviceOwner(_ owner: String, deviceID: String, project: String, actor: NetworkActor, _ s: NetworkState) throws {
        guard owner.hasBytePrefix("network:router"), !deviceID.isEmpty, !actor.isAdmin else { return }
        if let r = s[.router, deviceID], Self.owns(r, project) { return }
        throw NeutronFault.conflict("DeviceIDNotOwnedByTenant", "The following device_id \(deviceID) is not owned by your tenant or matches another tenants router.")
    }

    /// A binding is "bound" to a host's Linux bridge once a host is named.
    static func setBinding(_ d: inout JSONObject, host: String) {
        d["binding:host_id"] = .string(host)
        if host.isEmpty {
            d["binding:vif_type"] = "unbound"
            d["binding:vif_details"] = [:]
        } else {
            d["binding:vif_type"] = "bridge"
            d["binding:vif_details"] = ["port_filter": true, "connectivity": "l2"]
        }
        if d["binding:profile"] == nil || d["binding:profile"] == .null { d["binding:profile"] = [:] }
        if d["binding:vnic_type"] == nil { d["binding:vnic_type"] = "normal" }
    }

    static func normalizedPairs(_ v: JSONValue?, mac: MACAddress) -> JSONValue {
        .array((v?.arrayValue ?? []).map { p in
            var o = p.objectValue ?? [:]
            if let ip = o["ip_address"]?.stringValue {
                if let n = IPNetwork(ip) { o["ip_address"] = .string(n.prefixLength == n.address.bits ? n.address.description : ip) }
            }
            o["mac_address"] = .string(o["mac_address"]?.stringValue.flatMap { MACAddress($0) }?.description ?? mac.description)
            return .object(o)
        })
    }

    static func dhcpOptions(_ v: JSONValue?) throws -> JSONValue {
        var out = [JSONValue]()
        for o in v?.arrayValue ?? [] {
            guard case .object(var opt) = o, let name = opt["opt_name"]?.stringValue, !name.isEmpty else {
                throw NeutronFault.badRequest("Invalid input for extra_dhcp_opts. Reason: each option needs an opt_name.")
            }
            for (k, _) in opt where !["opt_name", "opt_value", "ip_version"].contains(k) {
                throw NeutronFault.badRequest("Invalid input for extra_dhcp_opts. Reason: '\(k)' is not an allowed key.")
            }
            guard let value = opt["opt_value"], value == .null || value.stringValue != nil else {
                throw NeutronFault.badRequest("Invalid input for extra_dhcp_opts. Reason: opt_value must be a string.")
            }
            // One line each, bounded in bytes (CVE-2021-40085: a newline would add dnsmasq
            // options; dnsmasq also splits a file line after 1,024 bytes, so a long line of
            // multi-byte characters would end in an option without the port's tag).
            func oneLine(_ s: String, max: Int) -> Bool {
                s.utf8.count <= max && !s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "\u{2028}" || $0 == "\u{2029}" }
            }
            if !oneLine(name, max: 64) || !oneLine(value.stringValue ?? "", max: 255) {
                throw NeutronFault.badRequest("Invalid input for extra_dhcp_opts. Reason: options are one line, names up to 64 and values up to 255 bytes.")
            }
            let version = Validators.toInt(opt["ip_version"] ?? 4) ?? 0
            guard version == 4 || version == 6 else { throw NeutronFault.badRequest("Invalid input for extra_dhcp_opts. Reason: ip_version must be 4 or 6.") }
            opt["ip_version"] = .int(version)
            _ = name
            out.append(.object(opt))
        }
        return .array(out)
    }

    /// Adds `adding` to, or takes `removing` off, each of `ports` in one commit (Nova's add and
    /// remove security group actions: concurrent actions must not lose each other's groups).
    /// Returns how many ports changed.
    public func changePortGroups(_ ports: [String], adding: String? = nil, removing: String? = nil, actor: NetworkActor) async throws -> Int {
        try await write { s in
            var changed = 0
            for id in ports {
                guard let p = s[.port, id] else { continue }
                var groups = p["security_groups"]?.arrayValue ?? []
                if let g = adding, !groups.contains(.string(g)) { groups.append(.string(g)) }
                if let g = removing { groups.removeAll { $0 == .string(g) } }
                if groups == (p["security_groups"]?.arrayValue ?? []) { continue }
                _ = try updatePort(id, ["security_groups": .array(groups)], actor: actor, &s)
                changed += 1
            }
            return changed
        }
    }

    /// Neutron's `_validate_sgs_for_port`: a port's groups are all stateful or all stateless.
    static func checkStatefulness(_ groups: [String], _ s: NetworkState) throws {
        let kinds = Set(groups.compactMap { s[.securityGroup, $0]?["stateful"]?.boolValue ?? true })
        if kinds.count > 1 {
            throw NeutronFault.conflict("SecurityGroupConflict",
                                        "Error Cannot apply both stateful and stateless security groups on the same port at the same time while attempting the operation.")
        }
    }

    func checkGroupUsable(_ g: String, project: String, actor: NetworkActor, _ s: NetworkState) throws {
        guard let sg = s[.securityGroup, g], actor.isAdmin || Self.owns(sg, project) || Self.owns(sg, actor.projectID) else {
            throw ResourceKind.securityGroup.notFound(g)
        }
    }

    public func updatePort(_ id: String, _ changes: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in try updatePort(id, changes, actor: actor, &s) }
    }

    func updatePort(_ id: String, _ changes: JSONObject, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        guard var p = s[.port, id], let networkID = p["network_id"]?.stringValue, let network = s[.network, networkID] else {
            throw ResourceKind.port.notFound(id)
        }
        var c = changes
        let project = p["project_id"]?.stringValue ?? ""
        var mac = MACAddress(p["mac_address"]?.stringValue ?? "") ?? MACAddress.random()
        if let m = changes["mac_address"]?.stringValue.flatMap({ MACAddress($0) }), m != mac {
            if p["binding:vif_type"]?.stringValue != "unbound", !(p["binding:host_id"]?.stringValue ?? "").isEmpty {
                throw NeutronFault.conflict("PortBound", "Unable to complete operation on port \(id), port is already bound, port type: \(p["binding:vif_type"]?.stringValue ?? ""), old_mac \(mac), new_mac \(m).")
            }
            if s.port(withMAC: m, network: networkID) != nil {
                throw NeutronFault.conflict("MacAddressInUse", "Unable to complete operation for network \(networkID). The mac address \(m) is in use.")
            }
            mac = m
            c["mac_address"] = .string(m.description)
        }
        let deviceOwner = c["device_owner"]?.stringValue ?? p["device_owner"]?.stringValue ?? ""
        if changes["device_owner"] != nil || changes["device_id"] != nil {
            try checkDeviceOwner(deviceOwner, deviceID: c["device_id"]?.stringValue ?? p["device_id"]?.stringValue ?? "", project: project, actor: actor, s)
        }
        var macChanged = false
        if let m = c["mac_address"]?.stringValue.flatMap({ MACAddress($0) }), m.description != p["mac_address"]?.stringValue { macChanged = true }
        var requestedIPs = changes["fixed_ips"]?.arrayValue
        if macChanged && requestedIPs == nil {
            // SLAAC addresses follow the MAC (Neutron recomputes them).
            requestedIPs = NetworkState.fixedIPs(p).map { ip in
                s[.subnet, ip.subnet].map(Self.isAutoAddress) == true ? ["subnet_id": .string(ip.subnet)]
                    : ["subnet_id": .string(ip.subnet), "ip_address": .string(ip.address.description)]
            }
        }
        if let requested = requestedIPs {
            // An address a floating IP points at cannot go (prevent_internal_ip_change_for_fip).
            for f in s.floatingIPs(ofPort: id) {
                if let fixed = f["fixed_ip_address"]?.stringValue,
                   !requested.contains(where: { $0["ip_address"]?.stringValue.flatMap { IPAddress($0) }?.description == fixed }) {
                    throw NeutronFault.badRequest("Cannot update the fixed_ips of port \(id): floating IP \(f["floating_ip_address"]?.stringValue ?? "") uses \(fixed).", type: "BadRequest")
                }
            }
        }
        if let requested = requestedIPs {
            c["fixed_ips"] = .array(try allocate(network: network, requested: requested, mac: mac, portID: id, deviceOwner: deviceOwner, actor: actor,
                                                 keeping: NetworkState.fixedIPs(p), s))
        }
        let portSecurity = c["port_security_enabled"]?.boolValue ?? (p["port_security_enabled"]?.boolValue ?? true)
        let groups = (c["security_groups"] ?? p["security_groups"])?.arrayValue?.compactMap(\.stringValue) ?? []
        if let given = changes["security_groups"]?.arrayValue {
            for g in given.compactMap(\.stringValue) { try checkGroupUsable(g, project: project, actor: actor, s) }
            try Self.checkStatefulness(given.compactMap(\.stringValue), s)
        }
        if !portSecurity {
            if let given = changes["security_groups"]?.arrayValue, !given.isEmpty {
                throw NeutronFault.badRequest("Port security must be enabled and port must have an IP address in order to use security groups.",
                                              type: "PortSecurityAndIPRequiredForSecurityGroups")
            }
            if !groups.isEmpty {
                throw NeutronFault.conflict("PortSecurityPortHasSecurityGroup", "Port has security group associated. Cannot disable port security or IP address until security group is removed")
            }
            let pairs = (c["allowed_address_pairs"] ?? p["allowed_address_pairs"])?.arrayValue ?? []
            if !pairs.isEmpty {
                throw NeutronFault.conflict("AddressPairAndPortSecurityRequired", "Port Security must be enabled in order to have allowed address pairs on a port.")
            }
        }
        if let pairs = changes["allowed_address_pairs"] { c["allowed_address_pairs"] = Self.normalizedPairs(pairs, mac: mac) }
        if let opts = changes["extra_dhcp_opts"] {
            // Neutron merges by name; a null value removes the option.
            var merged = p["extra_dhcp_opts"]?.arrayValue ?? []
            for o in try Self.dhcpOptions(opts).arrayValue ?? [] {
                merged.removeAll { $0["opt_name"] == o["opt_name"] && $0["ip_version"] == o["ip_version"] }
                if o["opt_value"] != .null { merged.append(o) }
            }
            c["extra_dhcp_opts"] = .array(merged)
        }
        c["tenant_id"] = nil
        p = Self.touched(p, c)
        if let host = changes["binding:host_id"]?.stringValue { Self.setBinding(&p, host: host) }
        s.put(.port, p)
        if requestedIPs != nil { dropForwardings(toPort: id, keeping: Set(NetworkState.fixedIPs(p).map(\.address)), &s) }
        return p
    }

    public func deletePort(_ id: String, actor: NetworkActor, force: Bool = false) async throws {
        try await write { s in
            guard let p = s[.port, id] else { throw ResourceKind.port.notFound(id) }
            let owner = p["device_owner"]?.stringValue ?? ""
            if !force && (owner == "network:router_interface" || owner == "network:router_gateway" || owner == "network:floatingip"
                || owner == "network:router_interface_distributed" || owner == "network:ha_router_replicated_interface") {
                throw NeutronFault.conflict("ServicePortInUse", "Port \(id) cannot be deleted directly via the port API: has device owner \(owner).")
            }
            deletePort(id, &s)
        }
    }

    /// Removes a port and what hangs on it (floating IP associations, port forwardings to it).
    func deletePort(_ id: String, _ s: inout NetworkState) {
        dropForwardings(toPort: id, keeping: [], &s)
        for var f in s.floatingIPs(ofPort: id) {
            f["port_id"] = .null
            f["fixed_ip_address"] = .null
            f["router_id"] = .null
            f["status"] = "DOWN"
            f["port_details"] = .null
            s.put(.floatingIP, Self.touched(f))
        }
        s.remove(.port, id)
    }
}
