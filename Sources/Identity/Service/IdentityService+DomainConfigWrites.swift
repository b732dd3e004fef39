import NimbusCore
import SQLKit

extension IdentityService {
    /// `PUT /v3/domains/{id}/config`: replaces the whole configuration. `created` is false when the
    /// domain had one before (Keystone then answers 200 instead of 201).
    public func replaceDomainConfig(_ domainID: String, _ config: JSONValue) async throws -> (config: JSONObject, created: Bool) {
        let options = try Self.validConfig(config)
        let records = options.map(Self.record(domainID))
        let hadConfig = try await write { db in
            let had = try await !self.domainConfigRows(domainID, in: db).isEmpty
            try await db.execute("DELETE FROM identity_domain_configs WHERE domain_id = \(bind: domainID)")
            for r in records { try await db.insertRecord("identity_domain_configs", r) }
            return had
        }
        return (Self.configObject(records), !hadConfig)
    }

    static func record(_ domainID: String) -> ((group: Name, option: Name, value: JSONValue)) -> DomainConfigRecord {
        { o in
            DomainConfigRecord(domainId: domainID, groupName: o.group.string, optionName: o.option.string, value: o.value.serializedString(),
                               sensitive: DomainConfigOptions.isSensitive(o.group, o.option))
        }
    }

    /// `PATCH /v3/domains/{id}/config[/{group}[/{option}]]`: merges options into the configuration.
    /// With a group (or option) in the URL the body must hold exactly that group (option), and it
    /// must already exist, as Keystone's `update_config` requires.
    public func updateDomainConfig(_ domainID: String, _ body: JSONValue, group: Name? = nil, option: Name? = nil) async throws -> JSONObject {
        var config = body
        if let group, option != nil { config = .object(JSONObject(names: [group: body])) }
        let options = try Self.validConfig(config)
        try Self.requireValidGroupAndOption(group, option)
        if let group {
            guard case .object(let groups) = config else { throw Self.badConfigBody }
            let inGroup = groups[group.string]?.objectValue
            if groups.count != 1 || (option != nil && inGroup?.count != 1) {
                throw Self.invalidDomainConfig(option.map { "Trying to update option \($0) in group \(group), so that, and only that, option must be specified  in the config" }
                    ?? "Trying to update group \(group), so that, and only that, group must be specified in the config")
            }
            guard let inGroup else {
                throw Self.invalidDomainConfig("request to update group \(group), but config provided contains group \(groups.keys.first ?? "") instead")
            }
            if let option, inGroup[option.string] == nil {
                throw Self.invalidDomainConfig("Trying to update option \(option) in group \(group), but config provided contains option \(inGroup.keys.first ?? "") instead")
            }
            let existing = try await domainConfigRows(domainID).filter { row in
                Name(row.groupName) == group && (option.map { Name(row.optionName) == $0 } ?? true)
            }
            if existing.isEmpty { throw Self.domainConfigNotFound(domainID, group: group, option: option) }
        }
        let records = options.map(Self.record(domainID))
        try await write { db in
            for r in records {
                try await db.execute("""
                    DELETE FROM identity_domain_configs WHERE domain_id = \(bind: domainID) AND group_name = \(bind: r.groupName)
                    AND option_name = \(bind: r.optionName)
                    """)
                try await db.insertRecord("identity_domain_configs", r)
            }
        }
        return Self.configObject(try await domainConfigRows(domainID))
    }

    /// `DELETE /v3/domains/{id}/config[/{group}[/{option}]]`; a named group or option must exist
    /// (sensitive ones included: `ldap.password` can be deleted though it is never shown).
    public func deleteDomainConfig(_ domainID: String, group: Name? = nil, option: Name? = nil) async throws {
        try Self.requireValidGroupAndOption(group, option)
        if let group {
            let rows = try await domainConfigRows(domainID).filter { Name($0.groupName) == group }
            if rows.isEmpty { throw Self.domainConfigNotFound(domainID, group: group, option: nil) }
            if let option, !rows.contains(where: { Name($0.optionName) == option }) {
                throw Self.domainConfigNotFound(domainID, group: group, option: option)
            }
        }
        try await write { db in
            var q = SQLQueryString("DELETE FROM identity_domain_configs WHERE domain_id = \(bind: domainID)")
            if let group { q.appendInterpolation(unsafeRaw: " AND group_name = "); q.appendInterpolation(bind: group.string) }
            if let option { q.appendInterpolation(unsafeRaw: " AND option_name = "); q.appendInterpolation(bind: option.string) }
            try await db.execute(q)
        }
    }

    /// `GET /v3/domains/config[/{group}[/{option}]]/default`: the defaults of the whitelisted options.
    public func defaultDomainConfig(group: Name? = nil, option: Name? = nil) throws -> JSONObject {
        try Self.requireValidGroupAndOption(group, option)
        if let group, let option {
            guard let v = DomainConfigOptions.whitelisted[group]?.first(where: { $0.0 == option })?.1 else {
                throw Self.invalidDomainConfig("Reading the default for option \(option) in group \(group) is not supported")
            }
            return [option.string: v]
        }
        var groups = [Name: JSONValue]()
        for (g, options) in DomainConfigOptions.whitelisted where group == nil || group == g {
            groups[g] = .object(JSONObject(pairs: options.map { ($0.0.string, $0.1) }))
        }
        return JSONObject(names: groups)
    }

    /// `GET /v3/domains/{id}/config/security_compliance[/{option}]`: the password rules any user
    /// may read, only for the default domain, as in Keystone.
    public func securityComplianceConfig(_ domainID: String, option: Name?) throws -> JSONObject {
        guard domainID.sameBytes(as: settings.defaultDomainID) else {
            throw Self.invalidDomainConfig("Reading security compliance information for any domain other than the default domain is not allowed or supported.")
        }
        let s = settings.security
        let values: [(Name, JSONValue)] = [("password_regex", s.passwordRegex.map { .string($0) } ?? .null),
                                           ("password_regex_description", s.passwordRegexDescription.map { .string($0) } ?? .null)]
        guard let option else {
            return ["security_compliance": .object(JSONObject(pairs: values.map { ($0.0.string, $0.1) }))]
        }
        guard let v = values.first(where: { $0.0 == option }) else {
            throw Self.invalidDomainConfig("Reading security compliance values other than password_regex and password_regex_description is not allowed.")
        }
        return [option.string: v.1]
    }
}
