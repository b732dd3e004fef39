import NimbusCore

/// One attribute of a Neutron resource, as neutron-lib's `RESOURCE_ATTRIBUTE_MAP` declares it:
/// whether a POST or PUT may set it, its default (none: required on POST), its validator and
/// converter, whether policy is enforced on it per attribute (`create_network:shared`), and
/// whether it may be used as a list filter and sort key.
/// Why a value is refused: a reason (neutron-lib's validator message, written as a string), or
/// one with an exception type of its own (`AllowedAddressPairExhausted`).
public struct ValidationFailure: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var message: String
    /// Neutron's exception type; nil: the attribute's own way of failing (`AttributeSpec.Failure`).
    public var type: String?
    public init(stringLiteral value: String) { message = value }
    public init(stringInterpolation: DefaultStringInterpolation) { message = String(stringInterpolation: stringInterpolation) }
    public init(_ message: String, type: String) { self.message = message; self.type = type }
    public var description: String { message }
}

public struct AttributeSpec: Sendable {
    public typealias Validator = @Sendable (JSONValue) -> ValidationFailure?
    public typealias Converter = @Sendable (JSONValue) -> JSONValue?

    public let name: String
    public let allowPost: Bool
    public let allowPut: Bool
    /// The POST default; nil with `allowPost` means the attribute is required.
    public let defaultValue: JSONValue?
    public let validate: Validator?
    public let convert: Converter?
    public let enforcePolicy: Bool
    public let isFilter: Bool
    public let isSortKey: Bool
    /// Whether a `null` value is accepted as is (neutron-lib's `*_or_none` validators).
    public let nullable: Bool
    /// How a refused value is reported: Neutron's 400 "Invalid input for <name>. Reason: …" by
    /// default; an InvalidInput (converters, CIDRs); or an exception of the attribute's own.
    public enum Failure: Sendable {
        case reason
        case invalidInput
        case fault(type: String, message: @Sendable (JSONValue) -> String)
    }
    public var failure: Failure = .reason
    /// What a failed conversion says (neutron-lib's converters raise InvalidInput): nil when a
    /// failed conversion is left to the validator.
    public var conversionFailure: String?

    public init(_ name: String, post: Bool = false, put: Bool = false, default defaultValue: JSONValue? = nil,
                validate: Validator? = nil, convert: Converter? = nil, policy: Bool = false, filter: Bool = true, sort: Bool = true,
                nullable: Bool = false) {
        self.name = name
        self.allowPost = post
        self.allowPut = put
        self.defaultValue = defaultValue
        self.validate = validate
        self.convert = convert
        self.enforcePolicy = policy
        self.isFilter = filter
        self.isSortKey = sort
        self.nullable = nullable
    }

    public var required: Bool { allowPost && defaultValue == nil }

    public func failing(_ f: Failure) -> AttributeSpec {
        var a = self
        a.failure = f
        return a
    }

    /// The value converted and validated, or Neutron's 400 for it.
    public func check(_ value: JSONValue) throws -> JSONValue {
        var v = value
        if let convert, v != .null || !nullable {
            if let c = convert(v) {
                v = c
            } else if let conversionFailure {
                throw NeutronFault.invalidInput("'\(Validators.repr(value))' \(conversionFailure)")
            }
        }
        guard let validate, let f = validate(v) else { return v }
        if let type = f.type { throw NeutronFault.badRequest(f.message, type: type) }
        switch failure {
        case .reason: throw NeutronFault.badRequest("Invalid input for \(name). Reason: \(f.message).")
        case .invalidInput: throw NeutronFault.invalidInput(f.message)
        case .fault(let type, let message): throw NeutronFault.badRequest(message(value), type: type)
        }
    }
}

/// The kinds of resource the network service keeps, with their names on the wire.
public enum ResourceKind: String, Sendable, CaseIterable, Hashable {
    case network, subnet, port, securityGroup = "security_group", securityGroupRule = "security_group_rule", router
    case floatingIP = "floatingip", rbacPolicy = "rbac_policy", subnetPool = "subnetpool", addressScope = "address_scope"
    case portForwarding = "port_forwarding"
    case agent

    /// The JSON member and collection names (`network`/`networks`).
    public var member: String { rawValue }
    public var collection: String {
        switch self {
        case .rbacPolicy: "rbac_policies"
        case .addressScope: "address_scopes"
        case .portForwarding: "port_forwardings"
        default: rawValue + "s"
        }
    }
    /// The URL segment (`security-groups`).
    public var path: String {
        switch self {
        case .securityGroup: "security-groups"
        case .securityGroupRule: "security-group-rules"
        case .rbacPolicy: "rbac-policies"
        case .addressScope: "address-scopes"
        case .portForwarding: "port_forwardings"
        default: collection
        }
    }
    /// The exception names of a missing resource (`NetworkNotFound`), as neutron-lib's.
    public var notFoundType: String {
        switch self {
        case .network: "NetworkNotFound"
        case .subnet: "SubnetNotFound"
        case .port: "PortNotFound"
        case .securityGroup: "SecurityGroupNotFound"
        case .securityGroupRule: "SecurityGroupRuleNotFound"
        case .router: "RouterNotFound"
        case .floatingIP: "FloatingIPNotFound"
        case .rbacPolicy: "RbacPolicyNotFound"
        case .subnetPool: "SubnetPoolNotFound"
        case .addressScope: "AddressScopeNotFound"
        case .portForwarding: "PortForwardingNotFound"
        case .agent: "AgentNotFound"
        }
    }
    public func notFound(_ id: String) -> NimbusError {
        let what: String
        switch self {
        case .network: what = "Network \(id) could not be found."
        case .subnet: what = "Subnet \(id) could not be found."
        case .port: what = "Port \(id) could not be found."
        case .securityGroup: what = "Security group \(id) does not exist"
        case .securityGroupRule: what = "Security group rule \(id) does not exist"
        case .router: what = "Router \(id) could not be found"
        case .floatingIP: what = "Floating IP \(id) could not be found"
        case .rbacPolicy: what = "RBAC policy with type network and id \(id) not found"
        case .subnetPool: what = "Subnet pool \(id) could not be found."
        case .addressScope: what = "Address scope \(id) could not be found"
        case .portForwarding: what = "Port Forwarding \(id) could not be found"
        case .agent: what = "Agent \(id) could not be found."
        }
        return NeutronFault.error(.notFound, notFoundType, what)
    }
}

/// Neutron's faults: the exception's class name and message, rendered by the API as
/// `{"NeutronError": {"type", "message", "detail"}}`. The type travels in `NimbusError.detail`
/// prefixed so that other services' errors are never mistaken for it.
public enum NeutronFault {
    static let prefix = "neutron-type:"

    public static func error(_ kind: NimbusError.Kind, _ type: String, _ message: String) -> NimbusError {
        NimbusError(kind, message, detail: prefix + type)
    }
    public static func badRequest(_ message: String, type: String = "HTTPBadRequest") -> NimbusError { error(.badRequest, type, message) }
    public static func conflict(_ type: String, _ message: String) -> NimbusError { error(.conflict, type, message) }
    public static func invalidInput(_ message: String) -> NimbusError {
        error(.badRequest, "InvalidInput", "Invalid input for operation: \(message).")
    }
    public static func type(of error: NimbusError) -> String? {
        guard let d = error.detail, let t = d.droppingBytePrefix(prefix) else { return nil }
        return String(t)
    }
}

/// neutron-lib's validators (`neutron_lib.api.validators`), returning its messages.
public enum Validators {
    public static func string(max: Int?) -> AttributeSpec.Validator {
        { v in
            guard case .string(let s) = v else { return "'\(Self.repr(v))' is not a valid string" }
            if let max, s.unicodeScalars.count > max { return "'\(s)' exceeds maximum length of \(max)" }
            return nil
        }
    }
    /// neutron-lib's `name_string`: printable Basic Multilingual Plane characters (no control,
    /// format, private-use, unassigned or line/paragraph separator), spaces only inside.
    public static func nameString(max: Int) -> AttributeSpec.Validator {
        { v in
            if let m = string(max: max)(v) { return m }
            guard case .string(let s) = v else { return nil }
            func printable(_ c: Unicode.Scalar) -> Bool {
                guard c.value <= 0xFFFF else { return false }
                switch c.properties.generalCategory {
                case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator: return false
                default: return true
                }
            }
            let scalars = Array(s.unicodeScalars)
            let ok = scalars.allSatisfy(printable)
                && (scalars.first.map { $0.properties.generalCategory != .spaceSeparator } ?? true)
                && (scalars.last.map { $0.properties.generalCategory != .spaceSeparator } ?? true)
            return ok ? nil : "'\(s)' is not a valid string"
        }
    }

    public static let stringOrNone: AttributeSpec.Validator = { v in v == .null ? nil : string(max: nil)(v) }
    public static func stringOrNone(max: Int) -> AttributeSpec.Validator { { v in v == .null ? nil : string(max: max)(v) } }

    public static let uuid: AttributeSpec.Validator = { v in
        guard case .string(let s) = v, isUUID(s) else { return "'\(repr(v))' is not a valid UUID" }
        return nil
    }
    public static let uuidOrNone: AttributeSpec.Validator = { v in v == .null ? nil : uuid(v) }

    public static let boolean: AttributeSpec.Validator = { v in toBoolean(v) == nil ? "'\(repr(v))' is not a valid boolean value" : nil }

    public static func integer(_ range: ClosedRange<Int64>? = nil) -> AttributeSpec.Validator {
        { v in
            guard let n = toInt(v) else { return "'\(repr(v))' is not an integer" }
            if let range, !range.contains(n) {
                return n < range.lowerBound ? "'\(n)' is too small - must be at least '\(range.lowerBound)'"
                    : "'\(n)' is too large - must be no larger than '\(range.upperBound)'"
            }
            return nil
        }
    }

    public static func values(_ allowed: [String]) -> AttributeSpec.Validator {
        { v in
            if case .string(let s) = v, allowed.contains(where: { $0.sameBytes(as: s) }) { return nil }
            return "'\(repr(v))' is not in \(pyList(allowed))"
        }
    }

    public static let ipAddress: AttributeSpec.Validator = { v in
        guard case .string(let s) = v, IPAddress(s) != nil else { return "'\(repr(v))' is not a valid IP address" }
        return nil
    }
    public static let ipAddressOrNone: AttributeSpec.Validator = { v in v == .null ? nil : ipAddress(v) }

    public static let subnetCIDR: AttributeSpec.Validator = { v in
        guard case .string(let s) = v, let n = IPNetwork(s) else { return "'\(repr(v))' is not a valid IP subnet" }
        if !n.isCanonical { return "'\(s)' isn't a recognized IP subnet cidr, '\(n)' is recommended" }
        return nil
    }
    public static let subnetCIDROrNone: AttributeSpec.Validator = { v in v == .null ? nil : subnetCIDR(v) }

    public static let macAddress: AttributeSpec.Validator = { v in
        guard case .string(let s) = v, let m = MACAddress(s), !m.isZero, !m.isMulticast else { return "'\(repr(v))' is not a valid MAC address" }
        return nil
    }

    public static func listOf(_ item: @escaping AttributeSpec.Validator, unique: Bool = false) -> AttributeSpec.Validator {
        { v in
            guard case .array(let a) = v else { return "'\(repr(v))' is not a list" }
            for e in a { if let m = item(e) { return m } }
            if unique {
                var seen = Set<String>()
                for e in a where !seen.insert(e.serializedString()).inserted { return "Duplicate items in the list: '\(repr(e))'" }
            }
            return nil
        }
    }

    public static let uuidList: AttributeSpec.Validator = listOf(uuid, unique: true)
    public static let nameservers: AttributeSpec.Validator = { v in
        guard case .array(let a) = v else { return "'\(repr(v))' is not a list" }
        var seen = Set<String>()
        for e in a {
            guard case .string(let s) = e, IPAddress(s) != nil else { return "'\(repr(e))' is not a valid nameserver. '\(repr(e))' is not a valid IP address" }
            if !seen.insert(s).inserted { return "Duplicate nameserver '\(s)'" }
        }
        return nil
    }
    public static let hostRoutes: AttributeSpec.Validator = { v in
        guard case .array(let a) = v else { return "Invalid data format for hostroute: '\(repr(v))'" }
        var seen = Set<String>()
        for e in a {
            guard case .object(let o) = e, o.count == 2, let d = o["destination"], let n = o["nexthop"] else {
                return "Invalid data format for hostroute: '\(repr(e))'"
            }
            if let m = subnetCIDR(d) { return m }
            if let m = ipAddress(n) { return m }
            if !seen.insert(e.serializedString()).inserted { return "Duplicate hostroute '\(repr(e))'" }
        }
        return nil
    }
    public static let allocationPools: AttributeSpec.Validator = { v in
        // Not a list is InvalidInput (neutron-lib's converter); a bad member a plain 400.
        guard case .array(let a) = v else { return ValidationFailure("Invalid input for operation: Invalid data format for IP pool: '\(repr(v))'.", type: "InvalidInput") }
        for e in a {
            guard case .object(let o) = e, o.count == 2, let s = o["start"], let en = o["end"] else {
                return "Invalid data format for IP pool: '\(repr(e))'"
            }
            if let m = ipAddress(s) { return m }
            if let m = ipAddress(en) { return m }
        }
        return nil
    }
    public static let fixedIPs: AttributeSpec.Validator = { v in
        guard case .array(let a) = v else { return "Invalid data format for fixed IP: '\(repr(v))'" }
        for e in a {
            guard case .object(let o) = e else { return "Invalid data format for fixed IP: '\(repr(e))'" }
            for (k, _) in o where !(k == "ip_address" || k == "subnet_id") { return "Invalid data format for fixed IP: '\(repr(e))'" }
            if let s = o["subnet_id"], let m = uuid(s) { return m }
            if let ip = o["ip_address"], let m = ipAddress(ip) { return m }
        }
        return nil
    }
    public static let addressPairs: AttributeSpec.Validator = { v in
        guard case .array(let a) = v else { return "Allowed address pairs must be a list." }
        if a.count > 10 { return ValidationFailure("The number of allowed address pair exceeds the maximum 10.", type: "AllowedAddressPairExhausted") }
        var seen = Set<String>()
        for e in a {
            guard case .object(let o) = e else { return "Allowed address pairs must be a list." }
            guard let ip = o["ip_address"] else { return ValidationFailure("AllowedAddressPair must contain ip_address", type: "AllowedAddressPairsMissingIP") }
            for (k, _) in o where !(k == "ip_address" || k == "mac_address") { return "Unrecognized attribute(s) '\(k)'" }
            guard case .string(let s) = ip, IPAddress(s) != nil || IPNetwork(s) != nil else {
                return "'\(repr(ip))' is not a valid IP address"
            }
            if let mac = o["mac_address"], let m = macAddress(mac) { return m }
            if !seen.insert(e.serializedString()).inserted { return "Request contains duplicate address pair: mac_address \(o["mac_address"]?.stringValue ?? "None") ip_address \(s)." }
        }
        return nil
    }
    /// neutron-lib's `non_negative`.
    public static let nonNegative: AttributeSpec.Validator = { v in
        guard let n = toInt(v) else { return "'\(repr(v))' is not an integer" }
        return n < 0 ? "'\(n)' should be non-negative" : nil
    }
    /// The most prefixes one subnet pool request may name (Neutron has no limit; each costs a
    /// range in every allocation).
    public static let maxSubnetListItems = 1000
    /// neutron-lib's `subnet_list`: a list without duplicates of `address/length` (host bits
    /// allowed, as netaddr reads them; an IPv4 one spelled as netaddr prints it, so not `/08`).
    public static let subnetList: AttributeSpec.Validator = { v in
        guard case .array(let a) = v else { return "'\(repr(v))' is not a list" }
        if a.count > maxSubnetListItems { return "The number of prefixes exceeds the maximum \(maxSubnetListItems)" }
        var seen = Set<String>()
        var dups = [String]()
        for e in a where !seen.insert(e.serializedString()).inserted { dups.append(repr(e)) }
        if !dups.isEmpty { return "Duplicate items in the list: '\(dups.joined(separator: ", "))'" }
        for e in a {
            guard case .string(let s) = e, let n = IPNetwork(s), n.version == 6 || "\(n.address)/\(n.prefixLength)".sameBytes(as: s) else {
                return "'\(repr(e))' is not a valid IP subnet"
            }
        }
        return nil
    }
    public static let dict: AttributeSpec.Validator = { v in v.objectValue == nil ? "'\(repr(v))' is not a dictionary" : nil }
    public static let dictOrNone: AttributeSpec.Validator = { v in v == .null ? nil : dict(v) }

    // MARK: converters

    public static let toBooleanConverter: AttributeSpec.Converter = { v in toBoolean(v).map { .bool($0) } }
    public static let toIntConverter: AttributeSpec.Converter = { v in toInt(v).map { .int($0) } }
    public static let lowercaseMAC: AttributeSpec.Converter = { v in v.stringValue.flatMap { MACAddress($0) }.map { .string($0.description) } ?? v }

    /// neutron-lib's `convert_to_boolean`: booleans, 0/1 and their strings, "true"/"false" in any case.
    public static func toBoolean(_ v: JSONValue) -> Bool? {
        switch v {
        case .bool(let b): return b
        case .int(let i): return i == 0 ? false : i == 1 ? true : nil
        case .string(let s):
            switch s.lowercased() {
            case "true", "1": return true
            case "false", "0": return false
            default: return nil
            }
        default: return nil
        }
    }
    public static func toInt(_ v: JSONValue) -> Int64? {
        switch v {
        case .int(let i): return i
        case .bool: return nil
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespaces)
            guard !t.isEmpty, t.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 43 }) else { return nil }
            return Int64(t)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? Int64(d) : nil
        default: return nil
        }
    }

    public static func isUUID(_ s: String) -> Bool {
        // oslo's is_uuid_like: what uuid.UUID() accepts, compared in lower case without dashes.
        let hex = s.utf8.filter { $0 != UInt8(ascii: "-") }
        guard hex.count == 32, s.utf8.count <= 36, hex.allSatisfy({ PercentEncoding.hexValue($0) != nil }) else { return false }
        return s.utf8.count == 32 || (s.utf8.count == 36 && Array(s.utf8).enumerated().allSatisfy { i, b in [8, 13, 18, 23].contains(i) == (b == UInt8(ascii: "-")) })
    }

    /// How Python prints a value inside neutron-lib's messages.
    public static func repr(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        default: return v.serializedString()
        }
    }
    static func pyList(_ a: [String]) -> String { "[" + a.map { "'\($0)'" }.joined(separator: ", ") + "]" }
}

import Foundation
