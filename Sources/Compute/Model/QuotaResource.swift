import NimbusCore

/// Nova's quota resources (`nova/quota.py` `QUOTAS`), by their API names. The network ones
/// (nova-network's, shown until 2.36) and the injected-file ones (until 2.57) are absolute
/// limits nothing counts; `instances`, `cores`, `ram` and `server_groups` are counted per project
/// and user; `key_pairs` per user and `server_group_members` per group and user, which Nova's
/// usage views always show as 0.
public enum QuotaResource: String, CaseIterable, Sendable, Comparable {
    case cores
    case fixedIPs = "fixed_ips"
    case floatingIPs = "floating_ips"
    case injectedFileContentBytes = "injected_file_content_bytes"
    case injectedFilePathBytes = "injected_file_path_bytes"
    case injectedFiles = "injected_files"
    case instances
    case keyPairs = "key_pairs"
    case metadataItems = "metadata_items"
    case ram
    case securityGroupRules = "security_group_rules"
    case securityGroups = "security_groups"
    case serverGroupMembers = "server_group_members"
    case serverGroups = "server_groups"

    public static func < (a: QuotaResource, b: QuotaResource) -> Bool { a.rawValue.bytesPrecede(b.rawValue) }

    /// The nova-network quotas hidden from 2.36 on (quota classes: from 2.50).
    static let network: [QuotaResource] = [.fixedIPs, .floatingIPs, .securityGroupRules, .securityGroups]
    /// The personality-file quotas hidden from 2.57 on.
    static let injected: [QuotaResource] = [.injectedFiles, .injectedFileContentBytes, .injectedFilePathBytes]

    /// The resource named by `name` (exact bytes; resource names are ASCII).
    static func named(_ name: some StringProtocol) -> QuotaResource? {
        allCases.first { $0.rawValue.sameBytes(as: name) }
    }
}

/// A limit per resource; -1 is unlimited.
public typealias QuotaLimits = [QuotaResource: Int]

