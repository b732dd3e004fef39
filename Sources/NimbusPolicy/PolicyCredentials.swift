/// The caller's side of a policy decision, mirroring the values oslo.context's
/// `to_policy_values()` (plus Keystone's `token` render) hands to oslo.policy,
/// so that operators' existing policy files keep their meaning.
public struct PolicyCredentials: Sendable {
    public var userID: String?
    public var userDomainID: String?
    public var projectID: String?
    public var projectDomainID: String?
    /// Set only for domain-scoped tokens.
    public var domainID: String?
    /// `"all"` for system-scoped tokens, otherwise `nil`.
    public var systemScope: String?
    /// Effective role names, already expanded through implied roles.
    /// `role:` checks compare them case-insensitively, as oslo.policy does.
    public var roles: [String]
    public var isAdminProject: Bool

    public init(
        userID: String? = nil,
        userDomainID: String? = nil,
        projectID: String? = nil,
        projectDomainID: String? = nil,
        domainID: String? = nil,
        systemScope: String? = nil,
        roles: [String] = [],
        isAdminProject: Bool = false
    ) {
        self.userID = userID
        self.userDomainID = userDomainID
        self.projectID = projectID
        self.projectDomainID = projectDomainID
        self.domainID = domainID
        self.systemScope = systemScope
        self.roles = roles
        self.isAdminProject = isAdminProject
    }

    /// Whether any role matches `loweredName`, which must already be lowercased
    /// (done once when the rule is compiled rather than on every request).
    func hasRole(lowercased loweredName: String) -> Bool {
        roles.contains { equalsIgnoringCase($0, loweredName) }
    }
}

/// Case-insensitive equality that stays allocation-free for ASCII, which is
/// what role names are in practice; anything else falls back to full Unicode
/// lowercasing so the result matches Python's `str.lower()` comparison. The
/// lowered strings are then compared by bytes, as Python compares code points:
/// Swift's `==` would also equate canonically equivalent spellings
/// (`caf\u{E9}` and `cafe\u{301}`), which are two different role names.
func equalsIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
    var left = lhs.utf8.makeIterator()
    var right = rhs.utf8.makeIterator()
    while true {
        switch (left.next(), right.next()) {
        case (nil, nil):
            return true
        case let (l?, r?):
            if l >= 0x80 || r >= 0x80 {
                return lhs.lowercased().utf8.elementsEqual(rhs.lowercased().utf8)
            }
            if asciiLower(l) != asciiLower(r) {
                return false
            }
        default:
            // Lengths differ; only non-ASCII case mappings can change length.
            if lhs.utf8.contains(where: { $0 >= 0x80 }) || rhs.utf8.contains(where: { $0 >= 0x80 }) {
                return lhs.lowercased().utf8.elementsEqual(rhs.lowercased().utf8)
            }
            return false
        }
    }
}

@inline(__always)
private func asciiLower(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
}
