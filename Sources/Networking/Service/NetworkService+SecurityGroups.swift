import NimbusCore

/// Security groups and their rules, with the per-project `default` group Neutron creates the
/// first time a project uses the service.
extension NetworkService {
    static let protocolNumbers: [String: Int64] = [
        "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ip": 0, "ipip": 4, "ipv6-encap": 41,
        "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113,
        "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
    ]
    static let portProtocols: Set<Int64> = [6, 17, 33, 132, 136]

    /// The project's `default` group, created (with Neutron's four rules) when missing.
    @discardableResult
    public func ensureDefaultSecurityGroup(project: String, _ s: inout NetworkState) -> String {
        if project.isEmpty { return "" }
        if let g = s.all(.securityGroup).first(where: { Self.owns($0, project) && $0["name"]?.stringValue == "default" && $0["is_default"]?.boolValue == true }) {
            return g["id"]!.stringValue!
        }
        var g = Self.standard(["name": "default", "description": "Default security group", "stateful": true], project: project)
        g["shared"] = false
        g["is_default"] = true
        let id = g["id"]!.stringValue!
        s.put(.securityGroup, g)
        for (direction, ethertype) in [("egress", "IPv4"), ("egress", "IPv6"), ("ingress", "IPv4"), ("ingress", "IPv6")] {
            putRule(group: id, project: project, direction: direction, ethertype: ethertype, remoteGroup: direction == "ingress" ? id : nil, isDefault: true, &s)
        }
        return id
    }

    public func ensureDefaultSecurityGroup(project: String) async throws {
        guard !project.isEmpty, !state.all(.securityGroup).contains(where: { Self.owns($0, project) && $0["is_default"]?.boolValue == true }) else { return }
        try await write { s in ensureDefaultSecurityGroup(project: project, &s) }
    }

    func putRule(group: String, project: String, direction: String, ethertype: String, remoteGroup: String?, isDefault: Bool, _ s: inout NetworkState) {
        var r = Self.standard([:], project: project)
        r["security_group_id"] = .string(group)
        r["direction"] = .string(direction)
        r["ethertype"] = .string(ethertype)
        r["protocol"] = .null
        r["port_range_min"] = .null
        r["port_range_max"] = .null
        r["remote_ip_prefix"] = .null
        r["normalized_cidr"] = .null
        r["remote_group_id"] = JSONValue(remoteGroup)
        r["remote_address_group_id"] = .null
        r["description"] = ""
        r["belongs_to_default_sg"] = .bool(isDefault)
        r["tags"] = nil
        s.put(.securityGroupRule, r)
    }

    /// A group's view with its rules.
    public func groupWithRules(_ g: JSONObject, _ s: NetworkState) -> JSONObject {
        var o = g
        o["security_group_rules"] = .array(s.rules(ofGroup: g["id"]?.stringValue ?? "").map { .object($0) })
        o["is_default"] = nil
        return o
    }

    public func createSecurityGroup(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in
            let project = try Self.owner(attrs, actor)
            ensureDefaultSecurityGroup(project: project, &s)
            if attrs["name"]?.stringValue?.lowercased() == "default" {
                throw NeutronFault.conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
            }
            try checkQuota(.securityGroup, project: project, s)
            var g = Self.standard(attrs, project: project)
            g["shared"] = false
            g["is_default"] = false
            g["stateful"] = .bool(attrs["stateful"]?.boolValue ?? true)
            let id = g["id"]!.stringValue!
            s.put(.securityGroup, g)
            for ethertype in ["IPv4", "IPv6"] {
                putRule(group: id, project: project, direction: "egress", ethertype: ethertype, remoteGroup: nil, isDefault: false, &s)
            }
            return groupWithRules(g, s)
        }
    }

    public func updateSecurityGroup(_ id: String, _ changes: JSONObject) async throws -> JSONObject {
        try await write { s in
            guard var g = s[.securityGroup, id] else { throw ResourceKind.securityGroup.notFound(id) }
            if g["is_default"]?.boolValue == true, let name = changes["name"]?.stringValue, name != "default" {
                throw NeutronFault.conflict("SecurityGroupCannotUpdateDefault", "Updating default security group not allowed.")
            }
            if changes["name"]?.stringValue == "default" && g["is_default"]?.boolValue != true {
                throw NeutronFault.conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
            }
            if let stateful = changes["stateful"]?.boolValue, stateful != (g["stateful"]?.boolValue ?? true),
               s.all(.port).contains(where: { ($0["security_groups"]?.arrayValue ?? []).contains(.string(id)) }) {
                throw NeutronFault.conflict("SecurityGroupInUse", "Security Group \(id) in use.")
            }
            g = Self.touched(g, changes)
            s.put(.securityGroup, g)
            return groupWithRules(g, s)
        }
    }

    public func deleteSecurityGroup(_ id: String, actor: NetworkActor) async throws {
        try await write { s in
            guard let g = s[.securityGroup, id] else { throw ResourceKind.securityGroup.notFound(id) }
            if g["is_default"]?.boolValue == true && !actor.isAdmin {
                throw NeutronFault.conflict("SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
            }
            if s.all(.port).contains(where: { ($0["security_groups"]?.arrayValue ?? []).contains(.string(id)) }) {
                throw NeutronFault.conflict("SecurityGroupInUse", "Security Group \(id) in use.")
            }
            for r in s.all(.securityGroupRule) where r["security_group_id"]?.stringValue == id || r["remote_group_id"]?.stringValue == id {
                s.remove(.securityGroupRule, r["id"]!.stringValue!)
            }
            s.remove(.securityGroup, id)
        }
    }

    public func createSecurityGroupRule(_ attrs: JSONObject, actor: NetworkActor) async throws -> JSONObject {
        try await write { s in try createSecurityGroupRule(attrs, actor: actor, &s) }
    }

    func createSecurityGroupRule(_ attrs: JSONObject, actor: NetworkActor, _ s: inout NetworkState) throws -> JSONObject {
        let groupID = attrs["security_group_id"]!.stringValue!
        guard let group = s[.securityGroup, groupID] else { throw ResourceKind.securityGroup.notFound(groupID) }
        let project = Self.given(attrs["project_id"])?.stringValue ?? Self.given(attrs["tenant_id"])?.stringValue ?? group["project_id"]?.stringValue ?? actor.projectID
        try checkQuota(.securityGroupRule, project: project, s)
        let ethertype = attrs["ethertype"]?.stringValue ?? "IPv4"
        // The protocol as Neutron stores it: a name in lower case, or a number as a string.
        var proto: String?
        var number: Int64?
        switch attrs["protocol"] {
        case .int(let n)?: proto = String(n); number = n
        case .string(let t)? where t.lowercased() == "any":
            break
        case .string(let t)?:
            let lower = t.lowercased()
            if let n = Self.protocolNumbers[lower] { proto = lower; number = n } else if let n = Int64(t), (0...255).contains(n) {
                proto = t; number = n
            } else {
                throw NeutronFault.badRequest("Security group rule protocol \(t) not supported. Only protocol values [None, ah, dccp, egp, esp, gre, hopopt, icmp, igmp, ip, ipip, ipv6-encap, ipv6-frag, ipv6-icmp, icmpv6, ipv6-nonxt, ipv6-opts, ipv6-route, ospf, pgm, rsvp, sctp, tcp, udp, udplite, vrrp] and integer representations [0 to 255] are supported.",
                                              type: "SecurityGroupRuleInvalidProtocol")
            }
        default: break
        }
        if ethertype == "IPv4", proto == "ipv6-icmp" || proto == "icmpv6" || number == 58 {
            throw NeutronFault.badRequest("Ethertype IPv4 is not supported for protocol \(proto ?? "58").", type: "SecurityGroupEthertypeConflictWithProtocol")
        }
        let pmin = attrs["port_range_min"]?.intValue
        let pmax = attrs["port_range_max"]?.intValue
        if let n = number, Self.portProtocols.contains(n) {
            if let a = pmin, !(1...65535).contains(a) { throw NeutronFault.badRequest("Invalid value for port \(a).", type: "SecurityGroupInvalidPortValue") }
            if let b = pmax, !(1...65535).contains(b) { throw NeutronFault.badRequest("Invalid value for port \(b).", type: "SecurityGroupInvalidPortValue") }
            if let a = pmin, let b = pmax, a > b {
                throw NeutronFault.badRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max", type: "SecurityGroupInvalidPortRange")
            }
            if pmin == nil && pmax != nil {
                throw NeutronFault.badRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max", type: "SecurityGroupInvalidPortRange")
            }
        } else if let n = number, n == 1 || n == 58 {
            for (field, v) in [("port_range_min", pmin), ("port_range_max", pmax)] {
                if let v, !(0...255).contains(v) {
                    throw NeutronFault.badRequest("Invalid value for ICMP \(field == "port_range_min" ? "type" : "code") (\(field)): \(v). It must be 0 to 255.", type: "SecurityGroupInvalidIcmpValue")
                }
            }
            if pmin == nil, let b = pmax {
                throw NeutronFault.badRequest("ICMP code (port-range-max) \(b) is provided but ICMP type (port-range-min) is missing.", type: "SecurityGroupMissingIcmpType")
            }
        } else if pmin != nil || pmax != nil {
            if proto == nil {
                throw NeutronFault.badRequest("Must also specify protocol if port range is given.", type: "SecurityGroupProtocolRequiredWithPorts")
            }
            throw NeutronFault.badRequest("Invalid protocol \(proto!) for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.", type: "SecurityGroupInvalidProtocolForPort")
        }
        var finalMin = pmin, finalMax = pmax
        if let n = number, Self.portProtocols.contains(n) {
            if pmin != nil && pmax == nil {
                throw NeutronFault.badRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max", type: "SecurityGroupInvalidPortRange")
            }
            // The whole range is no range (Neutron stores it as null).
            if finalMin == 1 && finalMax == 65535 { finalMin = nil; finalMax = nil }
        }
        var prefix: String?
        var normalized: String?
        if let p = attrs["remote_ip_prefix"]?.stringValue {
            let net = IPNetwork(p) ?? IPAddress(p).map { IPNetwork(address: $0, prefixLength: $0.bits) }
            guard let net else { throw NeutronFault.badRequest("Invalid CIDR \(p) for IP protocol \(ethertype).", type: "InvalidCIDR") }
            if (net.version == 4) != (ethertype == "IPv4") {
                throw NeutronFault.badRequest("Conflicting value ethertype \(ethertype) for CIDR \(p)", type: "SecurityGroupRuleParameterConflict")
            }
            prefix = net.isCanonical ? net.description : "\(net.address)/\(net.prefixLength)"
            normalized = net.description
        }
        let remoteGroup = attrs["remote_group_id"]?.stringValue
        if prefix != nil && remoteGroup != nil {
            throw NeutronFault.badRequest("Only remote_ip_prefix or remote_group_id may be provided.", type: "SecurityGroupMultipleRemoteEntites")
        }
        if let rg = remoteGroup {
            guard let remote = s[.securityGroup, rg], actor.isAdmin || Self.owns(remote, project) || Self.owns(remote, actor.projectID) else {
                throw ResourceKind.securityGroup.notFound(rg)
            }
        }
        // For duplicates, 0.0.0.0/0 and ::/0 are the same as no prefix, a protocol's number the
        // same as its name.
        func anyPrefix(_ p: String?) -> String? { p == "0.0.0.0/0" || p == "::/0" ? nil : p }
        if let ag = attrs["remote_address_group_id"]?.stringValue {
            throw NeutronFault.error(.notFound, "AddressGroupNotFound", "Address group \(ag) could not be found.")
        }
        let direction = attrs["direction"]?.stringValue ?? "ingress"
        func protoNumber(_ p: String?) -> Int64? { p.flatMap { Self.protocolNumbers[$0] ?? Int64($0) } }
        for r in s.rules(ofGroup: groupID) {
            let rn = protoNumber(r["protocol"]?.stringValue)
            let sameProto = rn == nil && number == nil ? r["protocol"]?.stringValue == proto : rn == number
            if r["direction"]?.stringValue == direction, r["ethertype"]?.stringValue == ethertype, sameProto,
               r["port_range_min"]?.intValue == finalMin, r["port_range_max"]?.intValue == finalMax,
               anyPrefix(r["normalized_cidr"]?.stringValue) == anyPrefix(normalized), r["remote_group_id"]?.stringValue == remoteGroup {
                throw NeutronFault.conflict("SecurityGroupRuleExists", "Security group rule already exists. Rule id is \(r["id"]!.stringValue!).")
            }
        }
        var r = Self.standard([:], project: project)
        r["tags"] = nil
        r["security_group_id"] = .string(groupID)
        r["direction"] = .string(direction)
        r["ethertype"] = .string(ethertype)
        r["protocol"] = JSONValue(proto)
        r["port_range_min"] = finalMin.map { .int($0) } ?? .null
        r["port_range_max"] = finalMax.map { .int($0) } ?? .null
        r["remote_ip_prefix"] = JSONValue(prefix)
        r["normalized_cidr"] = JSONValue(normalized)
        r["remote_group_id"] = JSONValue(remoteGroup)
        r["remote_address_group_id"] = .null
        r["description"] = attrs["description"] ?? ""
        r["belongs_to_default_sg"] = .bool(group["is_default"]?.boolValue == true)
        s.put(.securityGroupRule, r)
        if var g = s[.securityGroup, groupID] { g = Self.touched(g); s.put(.securityGroup, g) }
        return r
    }

    public func deleteSecurityGroupRule(_ id: String) async throws {
        try await write { s in
            guard let r = s[.securityGroupRule, id] else { throw ResourceKind.securityGroupRule.notFound(id) }
            s.remove(.securityGroupRule, id)
            if let gid = r["security_group_id"]?.stringValue, var g = s[.securityGroup, gid] { g = Self.touched(g); s.put(.securityGroup, g) }
        }
    }
}
