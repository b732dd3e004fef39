import Foundation
import NimbusCore
import SQLKit

public struct ProjectInput: Sendable {
    public var name: String?
    public var domainID: String?
    public var parentID: String?
    public var isDomain: Bool?
    public var enabled: Bool?
    /// nil: absent (a new project gets ""); `.some(nil)`: an explicit null, kept as null.
    public var description: String??
    public var tags: [String]?
    public var extra: JSONObject = [:]
    public var options: JSONObject?
    public var explicitID: String?
    public init() {}
}

public struct ProjectFilter: Sendable {
    public var name: String?
    public var domainID: String?
    public var parentID: String?
    public var enabled: Bool?
    public var isDomain: Bool?
    public var tags: [String]?
    public var tagsAny: [String]?
    public var notTags: [String]?
    public var notTagsAny: [String]?
    public var ids: Set<Name>?
    public init() {}
}

/// A project or a domain as the API sees it.
public struct Project: Sendable {
    public var id: String
    public var name: String
    public var domainID: String?
    public var parentID: String?
    public var isDomain: Bool
    public var enabled: Bool
    public var description: String?
    public var tags: [String]
    public var extra: JSONObject
    public var options: JSONObject
}

extension IdentityService {
    static let projectColumns = "id, name, domain_id, parent_id, is_domain, enabled, description, has_description, extra, options, created_at"

    func projectRecord(_ id: String, on db: (any SQLDatabase)? = nil) async throws -> ProjectRecord? {
        try await (db ?? self.db.sql).record(ProjectRecord.self, "SELECT \(unsafeRaw: Self.projectColumns) FROM identity_projects WHERE id = \(bind: id)")
    }

    func tags(of projectIDs: [String]) async throws -> [String: [String]] {
        guard !projectIDs.isEmpty else { return [:] }
        struct Row: Decodable { let projectId: String; let tag: String }
        var q = SQLQueryString("SELECT project_id, tag FROM identity_project_tags")
        if projectIDs.count == 1 { q = "SELECT project_id, tag FROM identity_project_tags WHERE project_id = \(bind: projectIDs[0])" }
        var out = [String: [String]]()
        for r in try await db.sql.records(Row.self, q) { out[r.projectId, default: []].append(r.tag) }
        return out.mapValues { $0.sortedByBytes() }
    }

    func makeProject(_ r: ProjectRecord, tags: [String]) -> Project {
        Project(id: r.id, name: r.name, domainID: r.domainId, parentID: r.parentId, isDomain: r.isDomain, enabled: r.enabled,
                description: r.hasDescription ? r.description : nil, tags: tags, extra: decodeJSONColumn(r.extra), options: decodeJSONColumn(r.options))
    }

    public func project(_ id: String) async throws -> Project? {
        guard let r = try await projectRecord(id), !r.isDomain else { return nil }
        return makeProject(r, tags: try await tags(of: [id])[id] ?? [])
    }

    public func domain(_ id: String) async throws -> Project? {
        guard let r = try await projectRecord(id), r.isDomain else { return nil }
        return makeProject(r, tags: try await tags(of: [id])[id] ?? [])
    }

    public func domain(named name: String) async throws -> Project? {
        guard let r = try await db.sql.record(ProjectRecord.self,
            "SELECT \(unsafeRaw: Self.projectColumns) FROM identity_projects WHERE is_domain = \(bind: true) AND name = \(bind: name)") else { return nil }
        return makeProject(r, tags: [])
    }

    public func project(named name: String, domainID: String) async throws -> Project? {
        guard let r = try await db.sql.record(ProjectRecord.self,
            "SELECT \(unsafeRaw: Self.projectColumns) FROM identity_projects WHERE is_domain = \(bind: false) AND name = \(bind: name) AND domain_id = \(bind: domainID)") else { return nil }
        return makeProject(r, tags: try await tags(of: [r.id])[r.id] ?? [])
    }

    /// A project, or a domain addressed through the projects API (Keystone allows both).
    public func projectOrDomain(_ id: String) async throws -> Project {
        guard let r = try await projectRecord(id) else { throw NimbusError.notFound("Could not find project: \(id).") }
        return makeProject(r, tags: try await tags(of: [id])[id] ?? [])
    }

    public func requireProject(_ id: String) async throws -> Project {
        guard let p = try await project(id) else { throw NimbusError.notFound("Could not find project: \(id).") }
        return p
    }

    public func requireDomain(_ id: String) async throws -> Project {
        guard let d = try await domain(id) else { throw NimbusError.notFound("Could not find domain: \(id).") }
        return d
    }

    public func listProjects(_ f: ProjectFilter) async throws -> [Project] {
        try await memoized("projects:\(f)") { try await self.queryProjects(f) }
    }

    func queryProjects(_ f: ProjectFilter) async throws -> [Project] {
        var q = SQLQueryString("SELECT \(unsafeRaw: Self.projectColumns) FROM identity_projects WHERE is_domain = \(bind: f.isDomain ?? false)")
        if let v = f.name { q.appendInterpolation(unsafeRaw: " AND name = "); q.appendInterpolation(bind: v) }
        if let v = f.domainID { q.appendInterpolation(unsafeRaw: " AND domain_id = "); q.appendInterpolation(bind: v) }
        if let v = f.parentID { q.appendInterpolation(unsafeRaw: " AND parent_id = "); q.appendInterpolation(bind: v) }
        if let v = f.enabled { q.appendInterpolation(unsafeRaw: " AND enabled = "); q.appendInterpolation(bind: v) }
        // Sorted here rather than by SQL: PostgreSQL orders text by its collation, not by bytes.
        let rows = try await db.sql.records(ProjectRecord.self, q).filter { f.ids?.contains(Name($0.id)) ?? true }.sortedByBytes(\.name)
        let tagMap = try await tags(of: rows.map(\.id))
        // Tags are compared as bytes: `café` and `cafe\u{301}` are two tags.
        let all = f.tags.map { Set($0.map(Name.init)) }, any = f.tagsAny.map { Set($0.map(Name.init)) }
        let notAll = f.notTags.map { Set($0.map(Name.init)) }, notAny = f.notTagsAny.map { Set($0.map(Name.init)) }
        return rows.map { makeProject($0, tags: tagMap[$0.id] ?? []) }.filter { p in
            let t = Set(p.tags.map(Name.init))
            if let all, !all.isSubset(of: t) { return false }
            if let any, t.isDisjoint(with: any) { return false }
            if let notAll, !notAll.isEmpty, notAll.isSubset(of: t) { return false }
            if let notAny, !t.isDisjoint(with: notAny) { return false }
            return true
        }
    }

    public func listDomains(name: String?, enabled: Bool?) async throws -> [Project] {
        var f = ProjectFilter()
        f.isDomain = true
        f.name = name
        f.enabled = enabled
        return try await listProjects(f)
    }

    static func validateTags(_ tags: [String]) throws(NimbusError) {
        guard tags.count <= 80 else { throw .badRequest("Invalid input for field 'tags': too many tags (maximum 80).") }
        // Lengths in code points, as Python's len(); "/" and "," found by bytes ("/" followed by a
        // combining mark is one Character, which `contains("/")` would not see).
        for t in tags where t.isEmpty || t.scalarCount > 255 || t.containsByte("/") || t.containsByte(",") {
            throw .badRequest("Invalid input for field 'tags': '\(t)' is not a valid tag (1-255 characters, no '/' or ',').")
        }
    }

    /// Tags once each by bytes, in byte order.
    static func distinctTags(_ tags: [String]) -> [String] {
        Array(Set(tags.map(Name.init))).sorted().map(\.string)
    }

    public func createProject(_ input: ProjectInput, defaultDomainID: String) async throws -> Project {
        guard let name = input.name, !name.isEmpty else { throw NimbusError.badRequest("Invalid input for field 'name': 'name' is a required property") }
        if let tags = input.tags { try Self.validateTags(tags) }
        let isDomain = input.isDomain ?? false
        var domainID = input.domainID
        var parentID = input.parentID
        if isDomain {
            if let parentID, !parentID.isEmpty { throw NimbusError.badRequest("A project acting as a domain cannot have a parent.") }
            domainID = nil
            parentID = nil
        } else {
            if let pid = parentID {
                guard let parent = try await projectRecord(pid) else { throw NimbusError.notFound("Could not find project: \(pid).") }
                let parentDomain = parent.isDomain ? parent.id : parent.domainId
                if let d = domainID, !parentDomain.sameBytes(as: d) {
                    throw NimbusError.badRequest("Cannot create project, the parent (\(pid)) is in a different domain.")
                }
                domainID = parentDomain
            }
            let d = domainID ?? defaultDomainID
            guard let domain = try await projectRecord(d), domain.isDomain else { throw NimbusError.notFound("Could not find domain: \(d).") }
            domainID = d
            if parentID == nil { parentID = d }
            try await checkDepth(parentID: parentID!, domainID: d)
        }
        let record = ProjectRecord(
            id: input.explicitID ?? Identifiers.hex32(), name: name, domainId: domainID, parentId: parentID, isDomain: isDomain,
            enabled: input.enabled ?? true, description: (input.description ?? "") ?? "", hasDescription: input.description.map { $0 != nil } ?? true,
            extra: encodeJSONColumn(input.extra),
            options: encodeJSONColumn(Self.mergingOptions([:], input.options)), createdAt: nowString)
        let tags = Self.distinctTags(input.tags ?? [])
        // NULL domain ids are distinct to a unique index, so domain names are checked here.
        if isDomain, try await domain(named: name) != nil {
            throw NimbusError.conflict("Conflict occurred attempting to store domain - Duplicate entry found with name \(name).")
        }
        do {
            try await write { db in
                try await db.insertRecord("identity_projects", record)
                for t in tags { try await db.execute("INSERT INTO identity_project_tags (project_id, tag) VALUES (\(bind: record.id), \(bind: t))") }
            }
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.conflict(isDomain ? "Conflict occurred attempting to store domain - Duplicate entry found with name \(name)."
                                                : "Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : \(name).")
        }
        return makeProject(record, tags: tags)
    }

    /// Keystone limits hierarchies to a configured depth (default 5, counting the top-level project).
    private func checkDepth(parentID: String, domainID: String, maxDepth: Int = 5) async throws {
        var depth = 1
        var current = parentID
        while !current.sameBytes(as: domainID) {
            guard let r = try await projectRecord(current), let p = r.parentId else { break }
            depth += 1
            current = p
            if depth > maxDepth { throw NimbusError.forbidden("Max hierarchy depth reached for \(parentID) branch.") }
        }
    }

    public func updateProject(_ id: String, _ input: ProjectInput, isDomain: Bool) async throws -> Project {
        guard var r = try await projectRecord(id), r.isDomain == isDomain else {
            throw NimbusError.notFound("Could not find \(isDomain ? "domain" : "project"): \(id).")
        }
        if let d = input.domainID, !r.domainId.sameBytes(as: d) { throw NimbusError.badRequest("Cannot change the domain_id of a \(isDomain ? "domain" : "project").") }
        if let p = input.parentID, !r.parentId.sameBytes(as: p) { throw NimbusError.forbidden("Update of `parent_id` is not allowed.") }
        if let v = input.isDomain, v != r.isDomain { throw NimbusError.badRequest("Update of `is_domain` is not allowed.") }
        if let tags = input.tags { try Self.validateTags(tags) }
        if let name = input.name {
            guard !name.isEmpty else { throw NimbusError.badRequest("Invalid input for field 'name': '' is too short") }
            if isDomain, !name.sameBytes(as: r.name), try await domain(named: name) != nil {
                throw NimbusError.conflict("Conflict occurred attempting to store domain - Duplicate entry found with name \(name).")
            }
            r.name = name
        }
        let disabling = input.enabled == false && r.enabled
        if let e = input.enabled { r.enabled = e }
        if let d = input.description {
            r.description = d ?? ""
            r.hasDescription = d != nil
        }
        if !input.extra.isEmpty { r.extra = encodeJSONColumn(try Self.mergingExtras(decodeJSONColumn(r.extra), input.extra)) }
        if let o = input.options { r.options = encodeJSONColumn(Self.mergingOptions(decodeJSONColumn(r.options), o)) }
        let updated = r
        let tags = input.tags.map(Self.distinctTags)
        try await write { db in
            try await db.execute("""
                UPDATE identity_projects SET name = \(bind: updated.name), enabled = \(bind: updated.enabled), description = \(bind: updated.description),
                has_description = \(bind: updated.hasDescription),
                extra = \(bind: updated.extra), options = \(bind: updated.options) WHERE id = \(bind: id)
                """)
            if let tags {
                try await db.execute("DELETE FROM identity_project_tags WHERE project_id = \(bind: id)")
                for t in tags { try await db.execute("INSERT INTO identity_project_tags (project_id, tag) VALUES (\(bind: id), \(bind: t))") }
            }
        }
        if disabling { try await revoke(isDomain ? .domain : .project, id) }
        return makeProject(updated, tags: try await self.tags(of: [id])[id] ?? [])
    }

    public func deleteProject(_ id: String) async throws {
        guard let r = try await projectRecord(id), !r.isDomain else { throw NimbusError.notFound("Could not find project: \(id).") }
        let children = try await db.sql.records(ProjectRecord.self, "SELECT \(unsafeRaw: Self.projectColumns) FROM identity_projects WHERE parent_id = \(bind: id)")
        if !children.isEmpty { throw NimbusError.forbidden("Cannot delete the project \(id) since it is not a leaf in the hierarchy.") }
        try await write { db in
            try await db.execute("DELETE FROM identity_assignments WHERE target_type = 'project' AND target_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_project_endpoint_groups WHERE project_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_project_endpoints WHERE project_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_limits WHERE project_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_projects WHERE id = \(bind: id)")
        }
        try await revoke(.project, id)
    }

    public func deleteDomain(_ id: String) async throws {
        guard let r = try await projectRecord(id), r.isDomain else { throw NimbusError.notFound("Could not find domain: \(id).") }
        if r.enabled { throw NimbusError.forbidden("Cannot delete a domain that is enabled, please disable it first.") }
        try await write { db in
            for sub in ["SELECT id FROM identity_projects WHERE domain_id = ", "SELECT id FROM identity_users WHERE domain_id = ",
                        "SELECT id FROM identity_groups WHERE domain_id = "] {
                var q = SQLQueryString("DELETE FROM identity_assignments WHERE target_id IN (")
                q.appendInterpolation(unsafeRaw: sub); q.appendInterpolation(bind: id); q.appendInterpolation(unsafeRaw: ")")
                try await db.execute(q)
                var q2 = SQLQueryString("DELETE FROM identity_assignments WHERE actor_id IN (")
                q2.appendInterpolation(unsafeRaw: sub); q2.appendInterpolation(bind: id); q2.appendInterpolation(unsafeRaw: ")")
                try await db.execute(q2)
            }
            try await db.execute("DELETE FROM identity_assignments WHERE target_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_limits WHERE domain_id = \(bind: id) OR project_id IN (SELECT id FROM identity_projects WHERE domain_id = \(bind: id))")
            try await db.execute("DELETE FROM identity_users WHERE domain_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_groups WHERE domain_id = \(bind: id)")
            try await db.execute("DELETE FROM identity_roles WHERE domain_id = \(bind: id)")
            // Children before parents: delete deepest projects first.
            for _ in 0..<8 {
                try await db.execute("""
                    DELETE FROM identity_projects WHERE domain_id = \(bind: id) AND is_domain = \(bind: false)
                    AND id NOT IN (SELECT parent_id FROM identity_projects WHERE parent_id IS NOT NULL AND is_domain = \(bind: false))
                    """)
            }
            try await db.execute("DELETE FROM identity_projects WHERE id = \(bind: id)")
        }
        try await revoke(.domain, id)
    }

    /// Ancestors from the parent up to (not including) the domain.
    public func parents(of project: Project) async throws -> [Project] {
        var out = [Project]()
        var current = project.parentID
        while let id = current, !project.domainID.sameBytes(as: id), let p = try await self.project(id) {
            out.append(p)
            current = p.parentID
        }
        return out
    }

    public func subtree(of projectID: String) async throws -> [Project] {
        var out = [Project]()
        var frontier = [projectID]
        while !frontier.isEmpty {
            var next = [String]()
            for id in frontier {
                var f = ProjectFilter()
                f.parentID = id
                let children = try await listProjects(f)
                out.append(contentsOf: children)
                next.append(contentsOf: children.map(\.id))
            }
            frontier = next
        }
        return out
    }
}
