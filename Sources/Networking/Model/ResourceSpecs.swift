import NimbusCore

/// The attribute maps of the resources the network service serves, after neutron-lib's
/// `api/definitions` (with the extensions the service lists in `/v2.0/extensions` merged in).
public enum ResourceSpecs {
    /// The default of an attribute the service computes when the request leaves it out
    /// (neutron-lib's `ATTR_NOT_SPECIFIED`).
    public static let unspecified: JSONValue = .string("\u{1}ATTR_NOT_SPECIFIED")

    static let name = AttributeSpec("name", post: true, put: true, default: "", validate: Validators.nameString(max: 255))
    static let description = AttributeSpec("description", post: true, put: true, default: "", validate: Validators.string(max: 255))
    static let project = AttributeSpec("project_id", post: true, default: unspecified, validate: Validators.string(max: 255))
    static let tenant = AttributeSpec("tenant_id", post: true, default: unspecified, validate: Validators.string(max: 255))
    static let standard: [AttributeSpec] = [
        AttributeSpec("id"), project, tenant,
        AttributeSpec("tags", post: true, default: unspecified, validate: { v in
            if let a = v.arrayValue, a.count > 50 { return "The number of tags exceeds the maximum 50" }
            return Validators.listOf(Validators.string(max: 255))(v)
        }, filter: false, sort: false),
        AttributeSpec("revision_number"), AttributeSpec("created_at"), AttributeSpec("updated_at"),
    ]
    static func bool(_ n: String, post: Bool = true, put: Bool = true, default d: JSONValue = true, policy: Bool = false) -> AttributeSpec {
        var a = AttributeSpec(n, post: post, put: put, default: d, validate: Validators.boolean, convert: Validators.toBooleanConverter, policy: policy)
        a.conversionFailure = "cannot be converted to boolean"
        return a
    }
    /// A security group rule's port bound: Neutron's convert_validate_port_value.
    static func portValue(_ n: String) -> AttributeSpec {
        AttributeSpec(n, post: true, default: .null, validate: { v in v == .null ? nil : Validators.integer()(v) },
                      convert: { v in v == .null ? .null : Validators.toIntConverter(v) })
            .failing(.fault(type: "SecurityGroupInvalidPortValue", message: { v in "Invalid value for port \(Validators.repr(v))." }))
    }
    /// neutron-lib's `convert_none_to_empty_list`.
    static let noneToEmpty: @Sendable (JSONValue) -> JSONValue? = { $0 == .null ? [] : $0 }

    static func integer(_ a: AttributeSpec) -> AttributeSpec {
        var a = a
        a.conversionFailure = "is not an integer"
        return a
    }

    public static let network: [AttributeSpec] = standard + [
        name, description,
        bool("admin_state_up"),
        AttributeSpec("status"), AttributeSpec("subnets", sort: false),
        bool("shared", default: false, policy: true),
        bool("router:external", default: false, policy: true),
        AttributeSpec("mtu", post: true, put: true, default: unspecified, validate: Validators.integer(68...65535), convert: Validators.toIntConverter),
        bool("port_security_enabled"),
        AttributeSpec("provider:network_type", post: true, put: true, default: unspecified, validate: Validators.values(["flat", "vlan", "vxlan", "local"]), policy: true, sort: false),
        AttributeSpec("provider:physical_network", post: true, put: true, default: unspecified, validate: Validators.stringOrNone(max: 64), policy: true, sort: false),
        AttributeSpec("provider:segmentation_id", post: true, put: true, default: unspecified, validate: { v in v == .null ? nil : Validators.integer(0...16_777_215)(v) },
                      convert: { v in v == .null ? .null : Validators.toIntConverter(v) }, policy: true, sort: false),
        AttributeSpec("availability_zone_hints", post: true, default: [], validate: Validators.listOf(Validators.string(max: 255)), filter: false, sort: false),
        AttributeSpec("availability_zones", filter: false, sort: false),
        bool("is_default", default: false, policy: true),
        AttributeSpec("ipv4_address_scope"), AttributeSpec("ipv6_address_scope"), AttributeSpec("l2_adjacency"),
    ]

    public static let subnet: [AttributeSpec] = standard + [
        name, description,
        AttributeSpec("network_id", post: true, validate: Validators.uuid),
        integer(AttributeSpec("ip_version", post: true, validate: { v in v == .int(4) || v == .int(6) ? nil : "'\(Validators.repr(v))' is not in [4, 6]" },
                      convert: Validators.toIntConverter)),
        AttributeSpec("cidr", post: true, default: unspecified, validate: { v in
            guard v != .null else { return nil }
            guard case .string(let s) = v, IPNetwork(s) != nil else { return "'\(Validators.repr(v))' is not a valid IP subnet" }
            return nil
        }).failing(.invalidInput),
        AttributeSpec("prefixlen", post: true, default: unspecified, validate: Validators.integer(0...128), convert: Validators.toIntConverter, filter: false),
        AttributeSpec("subnetpool_id", post: true, default: unspecified, validate: Validators.uuidOrNone),
        bool("use_default_subnetpool", put: false, default: false),
        AttributeSpec("gateway_ip", post: true, put: true, default: unspecified, validate: Validators.ipAddressOrNone),
        AttributeSpec("allocation_pools", post: true, put: true, default: unspecified, validate: Validators.allocationPools, filter: false, sort: false),
        AttributeSpec("dns_nameservers", post: true, put: true, default: [], validate: Validators.nameservers, convert: noneToEmpty, sort: false),
        AttributeSpec("host_routes", post: true, put: true, default: [], validate: Validators.hostRoutes, convert: noneToEmpty, filter: false, sort: false),
        bool("enable_dhcp"),
        AttributeSpec("ipv6_ra_mode", post: true, default: .null,
                      validate: { v in v == .null ? nil : Validators.values(["dhcpv6-stateful", "dhcpv6-stateless", "slaac"])(v) }),
        AttributeSpec("ipv6_address_mode", post: true, default: .null,
                      validate: { v in v == .null ? nil : Validators.values(["dhcpv6-stateful", "dhcpv6-stateless", "slaac"])(v) }),
        AttributeSpec("service_types", post: true, put: true, default: [], validate: Validators.listOf(Validators.string(max: 255)), sort: false),
        AttributeSpec("segment_id", post: true, default: .null, validate: Validators.uuidOrNone),
        AttributeSpec("shared", filter: false),
        AttributeSpec("router:external", sort: false),
    ]

    public static let port: [AttributeSpec] = standard + [
        name, description,
        AttributeSpec("network_id", post: true, validate: Validators.uuid),
        bool("admin_state_up"),
        AttributeSpec("mac_address", post: true, put: true, default: unspecified, validate: Validators.macAddress, convert: Validators.lowercaseMAC, policy: true),
        AttributeSpec("fixed_ips", post: true, put: true, default: unspecified, validate: Validators.fixedIPs, policy: true, sort: false),
        AttributeSpec("device_id", post: true, put: true, default: "", validate: Validators.string(max: 255)),
        AttributeSpec("device_owner", post: true, put: true, default: "", validate: Validators.string(max: 255), policy: true),
        AttributeSpec("status"),
        AttributeSpec("security_groups", post: true, put: true, default: unspecified, validate: Validators.uuidList, sort: false),
        bool("port_security_enabled", default: unspecified, policy: true),
        AttributeSpec("allowed_address_pairs", post: true, put: true, default: [], validate: Validators.addressPairs, convert: noneToEmpty, policy: true, filter: false, sort: false),
        AttributeSpec("extra_dhcp_opts", post: true, put: true, default: [], validate: Validators.listOf(Validators.dict), filter: false, sort: false),
        AttributeSpec("binding:host_id", post: true, put: true, default: "", validate: Validators.string(max: 255), policy: true, sort: false),
        AttributeSpec("binding:profile", post: true, put: true, default: [:], validate: Validators.dictOrNone, policy: true, filter: false, sort: false),
        AttributeSpec("binding:vnic_type", post: true, put: true, default: "normal",
                      validate: Validators.values(["normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder", "smart-nic",
                                                   "accelerator-direct", "accelerator-direct-physical", "remote-managed", "vdpa"]), policy: true),
        AttributeSpec("binding:vif_type", policy: true, sort: false), AttributeSpec("binding:vif_details", policy: true, filter: false, sort: false),
        bool("propagate_uplink_status", default: false),
        AttributeSpec("ip_allocation"),
    ]

    public static let securityGroup: [AttributeSpec] = standard + [
        AttributeSpec("name", post: true, put: true, default: "", validate: Validators.string(max: 255)), description,
        bool("stateful", default: true),
        AttributeSpec("shared"),
        AttributeSpec("security_group_rules", filter: false, sort: false),
    ]

    public static let securityGroupRule: [AttributeSpec] = standard + [
        AttributeSpec("security_group_id", post: true, validate: Validators.uuid),
        AttributeSpec("direction", post: true, validate: Validators.values(["ingress", "egress"])),
        AttributeSpec("protocol", post: true, default: .null, validate: { v in
            if v == .null { return nil }
            if case .int(let n) = v { return (0...255).contains(n) ? nil : "Security group rule protocol \(n) not supported. Only protocol values [None, ah, dccp, egp, esp, gre, hopopt, icmp, igmp, ip, ipip, ipv6-encap, ipv6-frag, ipv6-icmp, icmpv6, ipv6-nonxt, ipv6-opts, ipv6-route, ospf, pgm, rsvp, sctp, tcp, udp, udplite, vrrp] and integer representations [0 to 255] are supported." }
            guard case .string = v else { return "'\(Validators.repr(v))' is not a valid string" }
            return nil
        }).failing(.fault(type: "SecurityGroupRuleInvalidProtocol", message: { v in
            "Security group rule protocol \(Validators.repr(v)) not supported. Only protocol values [None, ah, dccp, egp, esp, gre, hopopt, icmp, igmp, ip, ipip, ipv6-encap, ipv6-frag, ipv6-icmp, icmpv6, ipv6-nonxt, ipv6-opts, ipv6-route, ospf, pgm, rsvp, sctp, tcp, udp, udplite, vrrp] and integer representations [0 to 255] are supported."
        })),
        portValue("port_range_min"), portValue("port_range_max"),
        AttributeSpec("ethertype", post: true, default: "IPv4", validate: Validators.values(["IPv4", "IPv6"]), convert: { v in
            if case .string(let s) = v { switch s.lowercased() { case "ipv4": return "IPv4"; case "ipv6": return "IPv6"; default: break } }
            return v
        }).failing(.fault(type: "SecurityGroupRuleInvalidEtherType", message: { v in
            "Invalid ethertype \(Validators.repr(v)) for protocol. Only IPv4 and IPv6 are supported."
        })),
        AttributeSpec("remote_ip_prefix", post: true, default: .null, validate: { v in
            guard v != .null else { return nil }
            guard case .string(let s) = v, IPNetwork(s) != nil || IPAddress(s) != nil else { return "'\(Validators.repr(v))' is not a valid IP subnet" }
            return nil
        }).failing(.fault(type: "InvalidCIDR", message: { v in "Invalid CIDR \(Validators.repr(v)) for IP protocol." })),
        AttributeSpec("remote_group_id", post: true, default: .null, validate: Validators.stringOrNone),
        AttributeSpec("remote_address_group_id", post: true, default: .null, validate: Validators.uuidOrNone),
        AttributeSpec("description", post: true, default: "", validate: Validators.string(max: 255)),
        AttributeSpec("normalized_cidr"), AttributeSpec("belongs_to_default_sg"),
    ]

    public static let router: [AttributeSpec] = standard + [
        name, description,
        bool("admin_state_up"),
        AttributeSpec("status"),
        AttributeSpec("external_gateway_info", post: true, put: true, default: .null, validate: Validators.dictOrNone, policy: true, filter: false, sort: false),
        AttributeSpec("routes", put: true, default: [], validate: Validators.hostRoutes, convert: noneToEmpty, filter: false, sort: false),
        bool("distributed", default: unspecified, policy: true),
        bool("ha", default: unspecified, policy: true),
        AttributeSpec("availability_zone_hints", post: true, default: [], validate: Validators.listOf(Validators.string(max: 255)), filter: false, sort: false),
        AttributeSpec("availability_zones", filter: false, sort: false),
        AttributeSpec("flavor_id", post: true, default: .null, validate: Validators.uuidOrNone),
        bool("enable_default_route_bfd", default: false), bool("enable_default_route_ecmp", default: false),
    ]

    public static let floatingIP: [AttributeSpec] = standard + [
        description,
        AttributeSpec("floating_ip_address", post: true, default: .null, validate: Validators.ipAddressOrNone, policy: true),
        AttributeSpec("subnet_id", post: true, default: .null, validate: Validators.uuidOrNone),
        AttributeSpec("floating_network_id", post: true, validate: Validators.uuid),
        AttributeSpec("router_id"),
        AttributeSpec("port_id", post: true, put: true, default: .null, validate: Validators.uuidOrNone),
        AttributeSpec("fixed_ip_address", post: true, put: true, default: .null, validate: Validators.ipAddressOrNone),
        AttributeSpec("status"),
        AttributeSpec("port_details", filter: false, sort: false),
        AttributeSpec("port_forwardings", filter: false, sort: false),
        AttributeSpec("qos_policy_id", post: true, put: true, default: .null, validate: Validators.uuidOrNone),
    ]

    /// neutron-lib's `subnetpool` and `address-scope` definitions (`address_scope_id`).
    public static let subnetPool: [AttributeSpec] = standard + [
        AttributeSpec("name", post: true, put: true, validate: { v in
            if let m = Validators.string(max: 255)(v) { return m }
            if case .string(let s) = v, s.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) { return "'\(s)' Blank strings are not permitted" }
            return Validators.nameString(max: 255)(v)
        }),
        description,
        AttributeSpec("prefixes", post: true, put: true, validate: Validators.subnetList, filter: false, sort: false),
        integer(AttributeSpec("default_quota", post: true, put: true, default: unspecified, validate: Validators.nonNegative, convert: Validators.toIntConverter)),
        AttributeSpec("ip_version"),
        integer(AttributeSpec("default_prefixlen", post: true, put: true, default: unspecified, validate: Validators.nonNegative, convert: Validators.toIntConverter)),
        integer(AttributeSpec("min_prefixlen", post: true, put: true, default: unspecified, validate: Validators.nonNegative, convert: Validators.toIntConverter)),
        integer(AttributeSpec("max_prefixlen", post: true, put: true, default: unspecified, validate: Validators.nonNegative, convert: Validators.toIntConverter)),
        bool("is_default", default: false, policy: true),
        bool("shared", put: false, default: false, policy: true),
        AttributeSpec("address_scope_id", post: true, put: true, default: unspecified, validate: Validators.uuidOrNone),
    ]

    /// Address scopes are not standard-attribute resources in Neutron: no tags, description,
    /// revision or timestamps.
    public static let addressScope: [AttributeSpec] = [
        AttributeSpec("id"), project, tenant,
        name,
        bool("shared", default: false, policy: true),
        integer(AttributeSpec("ip_version", post: true, validate: { v in v == .int(4) || v == .int(6) ? nil : "'\(Validators.repr(v))' is not in [4, 6]" },
                              convert: Validators.toIntConverter)),
    ]

    public static let rbacPolicy: [AttributeSpec] = [
        AttributeSpec("id"), project, tenant,
        AttributeSpec("object_type", post: true, validate: Validators.values(["network", "security_group", "address_scope", "subnetpool", "qos_policy", "address_group", "bgpvpn"])),
        AttributeSpec("object_id", post: true, validate: Validators.uuid),
        AttributeSpec("target_tenant", post: true, put: true, default: unspecified, validate: Validators.string(max: 255), policy: true),
        AttributeSpec("target_project", post: true, put: true, default: unspecified, validate: Validators.string(max: 255), policy: true),
        AttributeSpec("action", post: true, validate: Validators.values(["access_as_shared", "access_as_external"])),
    ]

    /// Neutron's agents (`agent` extension): written by the agents' reports, not by POST.
    public static let agent: [AttributeSpec] = [
        AttributeSpec("id"), AttributeSpec("agent_type"), AttributeSpec("binary"), AttributeSpec("topic"), AttributeSpec("host"),
        bool("admin_state_up", post: false), AttributeSpec("created_at"), AttributeSpec("started_at"), AttributeSpec("heartbeat_timestamp"),
        bool("alive", post: false, put: false), AttributeSpec("configurations", filter: false, sort: false),
        AttributeSpec("description", put: true, default: .null, validate: Validators.stringOrNone(max: 255)),
        AttributeSpec("availability_zone"), AttributeSpec("resources_synced"), AttributeSpec("resource_versions", filter: false, sort: false),
    ]

    public static func attributes(_ kind: ResourceKind) -> [AttributeSpec] {
        switch kind {
        case .network: network
        case .subnet: subnet
        case .port: port
        case .securityGroup: securityGroup
        case .securityGroupRule: securityGroupRule
        case .router: router
        case .floatingIP: floatingIP
        case .rbacPolicy: rbacPolicy
        case .subnetPool: subnetPool
        case .addressScope: addressScope
        case .portForwarding: portForwarding
        case .agent: agent
        }
    }

    /// The request body of a create, checked against `kind`'s map: unknown attributes,
    /// read-only ones, missing required ones and invalid values are neutron's 400s; values are
    /// converted and defaults filled in (`unspecified` for those the service computes).
    public static func prepareCreate(_ kind: ResourceKind, _ body: JSONObject) throws -> JSONObject {
        let specs = attributes(kind)
        var out = JSONObject()
        var unknown = [String]()
        for (k, _) in body where !specs.contains(where: { $0.name.sameBytes(as: k) }) { unknown.append(k) }
        if !unknown.isEmpty { throw NeutronFault.badRequest("Unrecognized attribute(s) '\(unknown.sorted { $0.bytesPrecede($1) }.joined(separator: ", "))'") }
        for spec in specs {
            guard let given = body[spec.name] else {
                if spec.allowPost {
                    guard let d = spec.defaultValue else {
                        throw NeutronFault.badRequest("Failed to parse request. Required attribute '\(spec.name)' not specified")
                    }
                    out[spec.name] = d
                }
                continue
            }
            guard spec.allowPost else {
                throw NeutronFault.badRequest("Attribute '\(spec.name)' not allowed in POST")
            }
            out[spec.name] = try spec.check(given)
        }
        return out
    }

    /// The body of an update: only attributes PUT may change.
    public static func prepareUpdate(_ kind: ResourceKind, _ body: JSONObject) throws -> JSONObject {
        let specs = attributes(kind)
        var out = JSONObject()
        for (k, v) in body {
            guard let spec = specs.first(where: { $0.name.sameBytes(as: k) }) else {
                throw NeutronFault.badRequest("Unrecognized attribute(s) '\(k)'")
            }
            guard spec.allowPut else { throw NeutronFault.badRequest("Cannot update read-only attribute \(k)") }
            out[k] = try spec.check(v)
        }
        return out
    }
}
