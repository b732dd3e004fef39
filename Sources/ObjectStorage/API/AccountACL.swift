import Foundation
import NimbusCore

/// An account ACL (`X-Account-Access-Control`): a version-2 Swift ACL (acl.py `parse_acl_v2`,
/// JSON) with tempauth's three lists. Members of `admin` own the account, of `read-write` may do
/// anything to its containers and objects and read the account, of `read-only` may read
/// everything. Swift's keystoneauth does not read account ACLs (only tempauth does); Nimbus
/// applies tempauth's rules with keystoneauth's way of naming a user, the one container ACLs use
/// (`<project>:<user>` by id, or by name in the default domain, `*` forms, role names).
struct AccountACL: Sendable, Equatable {
    /// Where the ACL is kept, as tempauth keeps it: the header's value, in account sysmeta.
    static let key = "x-account-sysmeta-core-access-control"
    static let lists = ["admin", "read-write", "read-only"]

    var admin: [String] = []
    var readWrite: [String] = []
    var readOnly: [String] = []

    enum Grant: Int, Comparable, Sendable {
        case readOnly, readWrite, admin
        static func < (a: Grant, b: Grant) -> Bool { a.rawValue < b.rawValue }
    }

    /// tempauth's `extract_acl_and_report_errors`: nil and the reason when `header` is not an
    /// ACL it accepts. An empty header is an empty ACL (it removes the account's).
    static func parse(_ header: String) -> (AccountACL?, error: String?) {
        if header.isEmpty { return (AccountACL(), nil) }
        guard let value = try? JSONValue.parse(string: header), case .object(let members) = value else {
            return (nil, "Syntax error in input (\(Symlink.repr(header)))")
        }
        if let unknown = members.keys.filter({ !lists.containsBytes($0) }).sorted(by: { $0.bytesPrecede($1) }).first {
            return (nil, "Key \(quoted(unknown)) not recognized")
        }
        var acl = AccountACL()
        for list in lists {
            guard let v = members[list] else { continue }
            guard case .array(let items) = v else { return (nil, "Value for key \(quoted(list)) must be a list") }
            var names = [String]()
            for item in items {
                guard case .string(let s) = item else { return (nil, "Elements of \(quoted(list)) list must be strings") }
                names.append(s)
            }
            switch list {
            case "admin": acl.admin = names
            case "read-write": acl.readWrite = names
            default: acl.readOnly = names
            }
        }
        return (acl, nil)
    }

    /// The stored ACL; nil when there is none or every list is empty (`acls_from_account_info`).
    static func stored(_ metadata: [String: String]) -> AccountACL? {
        guard let raw = metadata[key], let acl = parse(raw).0, !(acl.admin.isEmpty && acl.readWrite.isEmpty && acl.readOnly.isEmpty) else {
            return nil
        }
        return acl
    }

    /// The most this ACL lets `auth` do, if anything.
    func grant(_ auth: AuthContext) -> Grant? {
        if ContainerACL.identityMatches(admin, auth) { return .admin }
        if ContainerACL.identityMatches(readWrite, auth) { return .readWrite }
        if ContainerACL.identityMatches(readOnly, auth) { return .readOnly }
        return nil
    }

    /// acl.py `format_acl_v2`: `json.dumps(sort_keys=True, separators=(',', ':'),
    /// ensure_ascii=True)` of the lists a stored header held.
    static func format(_ raw: String) -> String? {
        guard let value = try? JSONValue.parse(string: raw), case .object(let members) = value, !members.isEmpty else { return nil }
        let parts = lists.sorted().compactMap { list -> String? in
            guard case .array(let items)? = members[list] else { return nil }
            let names = items.compactMap { item -> String? in if case .string(let s) = item { return quoted(s) } else { return nil } }
            return "\(quoted(list)):[\(names.joined(separator: ","))]"
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// A JSON string as Python's `json.dumps` writes it with `ensure_ascii`.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default: out += String(format: "\\u%04x", unit)
            }
        }
        return out + "\""
    }
}
