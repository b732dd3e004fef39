import Foundation
import NimbusCore

/// A container ACL (`X-Container-Read` / `X-Container-Write`) as Swift parses it: referrer
/// rules (`.r:*`, `.r:example.com`, `.r:-bad.example.com`), `.rlistings`, and groups
/// (`<project>:<user>` with ids, names or `*`, or a role name).
public struct ContainerACL: Sendable, Equatable {
    public var referrers: [String] = []
    public var groups: [String] = []
    public var listings = false

    /// Items Swift would refuse: unknown `.` designators and referrer rules with no host.
    public var invalid: [String] = []
    /// The ACL as Swift stores it: items trimmed, referrer designators spelled `.r:`.
    public var cleaned: [String] = []

    public init(_ header: String?) {
        guard let header else { return }
        for raw in header.splitBytes(",") {
            let item = raw.trimmingCharacters(in: .whitespaces)
            if item.isEmpty { continue }
            guard item.hasBytePrefix(".") else { groups.append(item); cleaned.append(item); continue }
            if item.sameBytes(as: ".rlistings") { listings = true; cleaned.append(item); continue }
            guard let (designator, rest) = item.splitOnceBytes(":"),
                  [".r", ".ref", ".referer", ".referrer"].containsBytes(designator.trimmingCharacters(in: .whitespaces)) else {
                invalid.append(item)
                continue
            }
            let value = rest.trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty, !value.sameBytes(as: "-") else { invalid.append(item); continue }
            referrers.append(value)
            cleaned.append(".r:" + value)
        }
    }

    /// Whether a request with this Referer header is let in by the referrer rules.
    public func referrerAllowed(_ referer: String?) -> Bool {
        var host = ""
        if let referer, let url = URL(string: referer), let h = url.host { host = h.lowercased() }
        var allowed = false
        for rule in referrers {
            var r = rule.lowercased()
            let negate = r.hasBytePrefix("-")
            if negate { r = String(r.droppingBytePrefix("-")!) }
            let match = r.sameBytes(as: "*")
                || (r.hasBytePrefix(".") ? host.hasByteSuffix(r) : host.sameBytes(as: r))
            if match { allowed = !negate }
        }
        return allowed
    }

    /// keystoneauth's cross-project check: `<project_id>:<user_id>`, `*` forms, names (when
    /// both are in the default domain), and role names. Compared as bytes: a user named
    /// `cafe\u{301}` is not the `caf\u{E9}` an ACL names.
    public func grants(_ auth: AuthContext) -> Bool {
        Self.identityMatches(groups, auth)
    }

    /// Whether one of `entries` names the user of `auth` as keystoneauth reads ACL entries.
    static func identityMatches(_ entries: [String], _ auth: AuthContext) -> Bool {
        guard case .project(let project) = auth.scope else { return false }
        let user = auth.user
        var accepted: Set<Name> = [Name("\(project.id):\(user.id)"), Name("*:\(user.id)"), Name("\(project.id):*"), "*:*"]
        if project.domainID.sameBytes(as: "default") && user.domainID.sameBytes(as: "default") {
            accepted.formUnion([Name("\(project.name):\(user.name)"), Name("*:\(user.name)"), Name("\(project.name):*")])
        }
        let roles = Set(auth.roles.map { Name($0.name.lowercased()) })
        for g in entries {
            if accepted.contains(Name(g)) { return true }
            if !g.containsByte(":"), roles.contains(Name(g.lowercased())) { return true }
        }
        return false
    }
}

/// Who may do what to an account, keystoneauth's way.
public struct SwiftAccessPolicy: Sendable {
    public var accountPrefix = "AUTH_"
    public var operatorRoles: Set<Name> = ["admin", "member"]
    public var readerRoles: Set<Name> = ["reader"]
    /// Compared lower-cased, as keystoneauth does.
    public var resellerRoles: Set<Name> = ["reselleradmin"]
    public init() {}

    /// Roles the object store needs in Keystone beyond the standard ones.
    public static let roleNames = ["ResellerAdmin"]

    public enum Level: Sendable, Equatable {
        /// ResellerAdmin: every account, may set account quotas.
        case reseller
        /// An operator of the account's project, or a member of the account ACL's `admin` list.
        case owner
        /// A reader of the account's project (or of the account ACL's `read-only` list): GET
        /// and HEAD only.
        case reader
        /// A member of the account ACL's `read-write` list: anything on containers and objects
        /// except what only owners may set (container ACLs, sync, temp URL keys); GET and HEAD
        /// of the account.
        case readWrite
        /// Anything else: container ACLs decide.
        case other
        case anonymous
    }

    public func level(_ auth: AuthContext?, account: String) -> Level {
        guard let auth else { return .anonymous }
        let roles = Set(auth.roles.map { Name($0.name.lowercased()) })
        if !roles.isDisjoint(with: resellerRoles) { return .reseller }
        guard case .project(let p) = auth.scope, account.sameBytes(as: accountPrefix + p.id) else { return .other }
        if !roles.isDisjoint(with: operatorRoles) { return .owner }
        if !roles.isDisjoint(with: readerRoles) { return .reader }
        return .other
    }
}
