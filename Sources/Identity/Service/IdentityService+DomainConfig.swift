import NimbusCore
import SQLKit

/// Keystone's domain configuration API (`DomainConfigManager`): per-domain options for a
/// domain-specific identity driver, stored and served. Nimbus has only the SQL identity driver, so
/// a stored configuration changes nothing about how the domain's users are looked up.
extension IdentityService {
    static func invalidDomainConfig(_ reason: String) -> NimbusError {
        // Keystone's InvalidDomainConfig is a 403 that shows its reason.
        .forbidden("Invalid domain specific configuration: \(reason).")
    }

    static func domainConfigNotFound(_ domainID: String, group: Name?, option: Name?) -> NimbusError {
        let what = if let option, let group { "option \(option) in group \(group)" } else if let group { "group \(group)" } else { "any options" }
        return .notFound("Could not find \(what) in domain configuration for domain \(domainID).")
    }

    /// `_assert_valid_group_and_option`: the group must be one Keystone supports, and the option one of its.
    static func requireValidGroupAndOption(_ group: Name?, _ option: Name?) throws {
        guard let group else { return }
        guard DomainConfigOptions.isGroup(group) else {
            throw invalidDomainConfig("Group \(group) is not supported for domain specific configurations")
        }
        if let option, !DomainConfigOptions.isOption(group, option) {
            throw invalidDomainConfig("Option \(option) in group \(group) is not supported for domain specific configurations")
        }
    }

    /// `_assert_valid_config`: a non-empty object of non-empty objects of supported options.
    static func validConfig(_ config: JSONValue) throws -> [(group: Name, option: Name, value: JSONValue)] {
        guard case .object(let groups) = config else { throw badConfigBody }
        guard !groups.isEmpty else { throw invalidDomainConfig("No options specified") }
        var options = [(group: Name, option: Name, value: JSONValue)]()
        for (group, options_) in groups.storage.sorted(by: { $0.key < $1.key }) {
            guard case .object(let o) = options_, !o.isEmpty else {
                throw invalidDomainConfig("The value of group \(group) specified in the config should be a dictionary of options")
            }
            for (option, value) in o.storage.sorted(by: { $0.key < $1.key }) {
                try requireValidGroupAndOption(group, option)
                options.append((group, option, value))
            }
        }
        return options
    }

    static let badConfigBody = NimbusError.badRequest("Invalid input for field 'config': the config must be an object of groups of options.")

    func domainConfigRows(_ domainID: String, in db: (any SQLDatabase)? = nil) async throws -> [DomainConfigRecord] {
        try await (db ?? self.db.sql).records(DomainConfigRecord.self, """
            SELECT domain_id, group_name, option_name, value, sensitive FROM identity_domain_configs
            WHERE domain_id = \(bind: domainID) ORDER BY group_name, option_name
            """)
    }

    /// Builds `{group: {option: value}}` from rows; sensitive rows only when asked (never for the API).
    static func configObject(_ rows: [DomainConfigRecord], includeSensitive: Bool = false) -> JSONObject {
        var groups = [Name: JSONObject]()
        for r in rows where includeSensitive || !r.sensitive {
            var g = groups[Name(r.groupName)] ?? JSONObject()
            g[r.optionName] = (try? JSONValue.parse(string: r.value)) ?? .null
            groups[Name(r.groupName)] = g
        }
        return JSONObject(names: groups.mapValues { .object($0) })
    }

    /// The whitelisted configuration, a group of it, or one option (`{option: value}`); 404 when absent.
    public func domainConfig(_ domainID: String, group: Name? = nil, option: Name? = nil) async throws -> JSONObject {
        try Self.requireValidGroupAndOption(group, option)
        let rows = try await domainConfigRows(domainID).filter { row in
            !row.sensitive && (group.map { Name(row.groupName) == $0 } ?? true)
        }
        let all = Self.configObject(rows)
        guard let group else {
            if all.isEmpty { throw Self.domainConfigNotFound(domainID, group: nil, option: nil) }
            return all
        }
        guard let g = all[group.string]?.objectValue else { throw Self.domainConfigNotFound(domainID, group: group, option: option) }
        guard let option else { return [group.string: .object(g)] }
        guard let v = g[option.string] else { throw Self.domainConfigNotFound(domainID, group: group, option: option) }
        return [option.string: v]
    }
}
