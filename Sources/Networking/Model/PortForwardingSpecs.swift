import NimbusCore

/// A port range as Neutron's port forwardings keep it: `lower:upper` on the wire (a single port
/// is `N:N`), within 1...65535.
public struct PortRange: Sendable, Equatable, CustomStringConvertible {
    public let lower: Int
    public let upper: Int
    public init(_ lower: Int, _ upper: Int) { self.lower = lower; self.upper = upper }
    public init(single port: Int) { self.init(port, port) }

    public static let valid: ClosedRange<Int> = 1...65535

    /// `"80"` or `"80:90"` (or a JSON integer), as neutron-lib's `validate_port_range_or_none`
    /// reads it; nil for anything it refuses (`check` says why).
    public static func parse(_ v: JSONValue) -> PortRange? { check(v).range }

    /// The range (nil for `null`), or neutron-lib's message for what is wrong with it.
    public static func check(_ v: JSONValue) -> (range: PortRange?, failure: ValidationFailure?) {
        let text: String
        switch v {
        case .null: return (nil, nil)
        case .string(let s): text = s
        case .int(let i): text = String(i)
        default: text = Validators.repr(v)
        }
        let parts = text.splitBytes(":", omittingEmpty: false).map { String($0) }
        guard parts.count <= 2, !parts.contains(where: \.isEmpty) else {
            return (nil, "Port range must be two integers separated by a colon")
        }
        var ports = [Int]()
        for p in parts {
            // oslo's is_valid_port: int() of the text, 0...65535.
            guard let n = Validators.toInt(.string(p)), (0...65535).contains(n) else { return (nil, "Invalid port: \(p)") }
            guard valid.contains(Int(n)) else { return (nil, "Invalid port: \(p), the port must be in the range [1, 65535]") }
            ports.append(Int(n))
        }
        if ports.count == 2 && ports[0] > ports[1] { return (nil, "First port in a port range must be lower than the second port") }
        return (PortRange(ports[0], ports.last!), nil)
    }

    public var size: Int { upper - lower }
    public var isSingle: Bool { lower == upper }
    public func overlaps(_ o: PortRange) -> Bool { max(lower, o.lower) <= min(upper, o.upper) }
    public var description: String { "\(lower):\(upper)" }
}

extension ResourceSpecs {
    /// neutron-lib's port forwarding protocols (`IPTABLES_PROTOCOL_MAP`'s names).
    static let forwardingProtocols = ["dccp", "icmp", "ipv6-icmp", "sctp", "tcp", "udp"]

    static func portNumber(_ n: String, filter: Bool) -> AttributeSpec {
        integer(AttributeSpec(n, post: true, put: true, default: .null, validate: { v in v == .null ? nil : Validators.integer(1...65535)(v) },
                              convert: Validators.toIntConverter, filter: filter, sort: filter, nullable: true))
    }

    static func portRange(_ n: String, filter: Bool) -> AttributeSpec {
        AttributeSpec(n, post: true, put: true, default: .null, validate: { v in
            PortRange.check(v).failure
        }, convert: { v in v == .null ? .null : PortRange.parse(v).map { .string($0.description) } ?? v }, filter: filter, sort: filter, nullable: true)
    }

    /// neutron-lib's `floating_ip_port_forwarding` sub-resource with `fip_pf_description` and
    /// `fip_pf_port_range` merged in. Not a standard-attribute resource on the wire: no tags,
    /// revision or timestamps; `project_id` is accepted but not shown.
    public static let portForwarding: [AttributeSpec] = [
        AttributeSpec("id"),
        AttributeSpec("project_id", post: true, default: unspecified, validate: Validators.string(max: 255), filter: false, sort: false),
        portNumber("external_port", filter: true),
        portNumber("internal_port", filter: false),
        portRange("external_port_range", filter: true),
        portRange("internal_port_range", filter: false),
        AttributeSpec("internal_ip_address", post: true, put: true, validate: Validators.ipAddress, filter: false, sort: false),
        AttributeSpec("internal_port_id", post: true, put: true, validate: Validators.uuid),
        AttributeSpec("protocol", post: true, put: true, validate: { v in
            guard case .string(let s) = v else {
                return ValidationFailure("Invalid input for operation: Input value \(Validators.repr(v)) must be string type.", type: "InvalidInput")
            }
            if forwardingProtocols.contains(where: { $0.sameBytes(as: s) }) { return nil }
            let known = forwardingProtocols.contains(where: { $0.sameBytes(as: s.lowercased()) })
                || Validators.toInt(v).map { (0...255).contains($0) } == true
            if known { return "'\(s)' is not in \(Validators.pyList(forwardingProtocols))" }
            return ValidationFailure("Invalid input for operation: IP protocol '\(s)' is not supported. Only protocol names and their integer representation (0 to 255) are supported.", type: "InvalidInput")
        }),
        AttributeSpec("description", post: true, put: true, default: "", validate: Validators.string(max: 255), sort: false),
    ]

    /// What a port forwarding shows: every attribute but the owner; `external_port` and
    /// `internal_port` only for a single port (Neutron's object leaves them out for a range).
    static let forwardingVisible = ["id", "external_port", "internal_port", "external_port_range", "internal_port_range",
                                    "internal_ip_address", "internal_port_id", "protocol", "description"]
    /// What a floating IP's `port_forwardings` shows of each (`expose-port-forwarding-in-fip`).
    static let forwardingInFloatingIP = ["id", "internal_ip_address", "protocol", "internal_port", "external_port", "internal_port_id"]
}
