import Foundation
import NimbusCore

/// The filters and sort of `GET /servers` and `/servers/detail`, read as Nova reads them
/// (`servers.py` `_get_servers`, `schemas/servers.py` `index_query*`): a non-admin's filters
/// outside `_get_server_search_options` for the microversion are dropped; from 2.75 a parameter
/// the schema does not know is a 400; regex filters (name, hostname, key_name, …) use
/// `LinearRegex`, whose cost is linear in the name, never Swift's backtracking `Regex`.
struct ServerListQuery {
    /// Parameters that the repository applies in SQL; the rest are matched here.
    var repository = InstanceRepository.Query()
    var limit: Int?
    var marker: String?
    /// Matchers over instances that the API applies.
    var predicates: [(Instance) -> Bool] = []
    /// Sort keys and directions (default: created_at desc, as Nova).
    var sort: [(key: String, ascending: Bool)] = []
    var needsMemory: Bool { !predicates.isEmpty || !sort.isEmpty }

    static let known: Set<String> = [
        "user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id", "ramdisk_id", "hostname", "key_name",
        "power_state", "vm_state", "task_state", "host", "node", "flavor", "reservation_id", "launched_at", "terminated_at",
        "availability_zone", "name", "display_name", "description", "display_description", "locked_by", "uuid", "root_device_name",
        "config_drive", "access_ip_v4", "access_ip_v6", "auto_disk_config", "progress", "sort_key", "sort_dir", "all_tenants",
        "soft_deleted", "deleted", "status", "changes-since", "ip", "ip6", "created_at", "limit", "marker", "page_reverse",
        "block_device_mapping", "services", "metadata", "system_metadata", "info_cache", "security_groups", "pci_devices",
    ]
    static let tagFilters = ["tags", "tags-any", "not-tags", "not-tags-any"]
    static let joinedTables: Set<String> = ["block_device_mapping", "services", "metadata", "system_metadata", "info_cache",
                                            "security_groups", "pci_devices"]
    static let sortKeys: Set<String> = [
        "access_ip_v4", "access_ip_v6", "auto_disk_config", "availability_zone", "config_drive", "created_at", "display_description",
        "display_name", "host", "hostname", "image_ref", "instance_type_id", "kernel_id", "key_name", "launch_index", "launched_at",
        "locked_by", "node", "power_state", "progress", "project_id", "ramdisk_id", "root_device_name", "task_state", "terminated_at",
        "updated_at", "user_id", "uuid", "vm_state",
    ]
    static let ignoredSortKeys: Set<String> = [
        "architecture", "cell_name", "cleaned", "default_ephemeral_device", "default_swap_device", "deleted", "deleted_at",
        "disable_terminate", "ephemeral_gb", "ephemeral_key_uuid", "id", "key_data", "launched_on", "locked", "memory_mb", "os_type",
        "reservation_id", "root_gb", "shutdown_terminate", "user_data", "vcpus", "vm_mode",
    ]

    /// The non-admin search options of `_get_server_search_options`.
    static func nonAdminOptions(_ v: NovaVersion) -> Set<String> {
        var o: Set<String> = ["reservation_id", "name", "status", "image", "flavor", "ip", "changes-since", "all_tenants"]
        if v.atLeast(5) { o.insert("ip6") }
        if v.atLeast(26) { o.formUnion(tagFilters) }
        if v.atLeast(66) { o.insert("changes-before") }
        if v.atLeast(73) { o.insert("locked") }
        if v.atLeast(83) {
            o.formUnion(["availability_zone", "config_drive", "key_name", "created_at", "launched_at", "terminated_at", "power_state",
                         "task_state", "vm_state", "progress", "user_id"])
        }
        if v.atLeast(90) { o.insert("hostname") }
        return o
    }

    init(_ q: QueryString, _ v: NovaVersion, isAdmin: Bool, project: String?) throws {
        var known = Self.known
        if v.atLeast(26) { known.formUnion(Self.tagFilters) }
        if v.atLeast(66) { known.insert("changes-before") }
        if v.atLeast(73) { known.insert("locked") }
        for (key, _) in q.pairs {
            if key.utf8.first == UInt8(ascii: "_") || Self.joinedTables.contains(key) {
                throw NimbusError.badRequest("Invalid filter field: \(key).")
            }
            if v.atLeast(75), !known.contains(key) {
                throw NimbusError.badRequest("Invalid input for query parameters \(key). Value: \(q[key] ?? ""). Additional properties are not allowed ('\(key)' was unexpected)")
            }
        }
        let allowed = isAdmin ? nil : Self.nonAdminOptions(v).union(["limit", "marker", "sort_key", "sort_dir", "page_reverse"])
        func value(_ key: String) -> String? {
            guard allowed?.contains(key) ?? true else { return nil }
            return q.last(key)
        }

        // limit and marker: Nova reads any digit string, capped at its max_limit (1000)
        if let l = q.last("limit") {
            guard !l.isEmpty, l.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                throw NimbusError.badRequest("Invalid input for query parameters limit. Value: \(l). '\(l)' does not match '^[0-9]*$'")
            }
            limit = Int(l).map { min($0, 1000) } ?? 1000
        }
        marker = q.last("marker")

        // tenancy and deletion
        let allTenants = value("all_tenants").map { NovaSchemas.strictBool($0) ?? $0.isEmpty } ?? false
        if allTenants && isAdmin {
            repository.projectID = value("project_id") ?? value("tenant_id")
        } else {
            repository.projectID = project ?? "\u{0}"
        }
        if isAdmin, let d = value("deleted"), NovaSchemas.strictBool(d) == true { repository.onlyDeleted = true }
        let since = try value("changes-since").map { try Self.time($0, "changes-since") }
        let before = try value("changes-before").map { try Self.time($0, "changes-before") }
        if let since, let before, since > before {
            throw NimbusError.badRequest("The value of changes-since must be less than or equal to changes-before.")
        }
        if since != nil || before != nil { repository.includeDeleted = true }
        repository.changesSince = since
        if let before { predicates.append { $0.updatedAt <= before } }
        if let h = value("host") { repository.host = h }
        if let r = value("reservation_id") { repository.reservationID = r }

        // exact filters
        if let u = value("user_id") { predicates.append { $0.userID.sameBytes(as: u) } }
        if let id = value("uuid") { predicates.append { $0.id.sameBytes(as: id) } }
        if let image = value("image") ?? value("image_ref") {
            let id = Self.lastSegment(image)
            predicates.append { $0.imageID.map { $0.sameBytes(as: id) } ?? false }
        }
        // status: every value given (Nova's getall), 400 for an unknown one from 2.38; DELETED
        // lists deleted servers, for admins only
        let statuses = (allowed?.contains("status") ?? true) ? q.all("status").map { $0.uppercased() } : []
        if !statuses.isEmpty {
            for st in statuses where VMState.matching(status: st).isEmpty {
                if v.atLeast(38) { throw NimbusError.badRequest("Invalid status value") }
            }
            if statuses.contains("DELETED") {
                guard isAdmin else { throw NimbusError.forbidden("Only administrators may list deleted instances") }
                repository.includeDeleted = true
            }
            predicates.append { i in statuses.contains { i.status.sameBytes(as: $0) } }
        }
        if let s = value("vm_state") { predicates.append { $0.vmState.rawValue.sameBytes(as: s) } }
        if let s = value("task_state") { predicates.append { ($0.taskState?.rawValue ?? "").sameBytes(as: s) } }

        if let s = value("progress") {
            guard let n = Int(s) else { throw NimbusError.badRequest("Invalid input for query parameters progress. Value: \(s).") }
            predicates.append { $0.progress == n }
        }
        if let s = value("launch_index"), let n = Int(s) { predicates.append { $0.launchIndex == n } }
        if let s = value("locked") {
            guard let b = NovaSchemas.strictBool(s) else {
                throw NimbusError.badRequest("Unrecognized value '\(s)', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")
            }
            predicates.append { $0.locked == b }
        }
        for (key, path) in [("created_at", \Instance.createdAt), ("launched_at", \Instance.launchedAt), ("terminated_at", \Instance.terminatedAt)]
            as [(String, PartialKeyPath<Instance>)] {
            guard let s = value(key) else { continue }
            let t = try Self.time(s, key)
            predicates.append { i in
                let d = (i[keyPath: path] as? Date) ?? ((i[keyPath: path] as? Date?) ?? nil)
                return d.map { abs($0.timeIntervalSince(t)) < 1 } ?? false
            }
        }

        // regex filters (Python's re.search, on code points)
        func regex(_ key: String, _ field: @escaping (Instance) -> String?) throws {
            guard let pattern = value(key) else { return }
            let r: LinearRegex
            do { r = try LinearRegex(pattern) } catch {
                throw NimbusError.badRequest("Invalid input for query parameters \(key). Value: \(pattern). '\(pattern)' is not a 'regex': \(error)")
            }
            predicates.append { field($0).map(r.search) ?? false }
        }
        try regex("name") { $0.name }
        try regex("display_name") { $0.name }
        try regex("description") { $0.description }
        try regex("display_description") { $0.description }
        try regex("hostname") { $0.hostname }
        try regex("key_name") { $0.keyName }
        try regex("availability_zone") { $0.availabilityZone }
        try regex("node") { $0.node }
        try regex("power_state") { String($0.powerState) }   // a regex filter in Nova, on the number
        try regex("config_drive") { $0.configDrive ? "True" : "" }
        try regex("access_ip_v4") { $0.accessIPv4 }
        try regex("access_ip_v6") { $0.accessIPv6 }
        try regex("locked_by") { $0.locked ? ($0.lockedBy ?? "") : nil }
        if let flavor = value("flavor") {
            let id = Self.lastSegment(flavor)
            predicates.append { $0.flavor.id.sameBytes(as: id) }
        }
        // kernel_id, ramdisk_id, root_device_name, auto_disk_config: instances here have none
        for key in ["kernel_id", "ramdisk_id", "root_device_name"] where value(key) != nil { predicates.append { _ in false } }
        if let s = value("auto_disk_config") {
            let r = try LinearRegex(s)
            predicates.append { _ in r.search("False") }
        }
        // ip / ip6: servers have no addresses until the network service exists
        if value("ip") != nil || value("ip6") != nil { predicates.append { _ in false } }

        // tags (2.26): comma-separated
        func tags(_ key: String) -> [String]? { value(key).map { $0.splitBytes(",").map(String.init) } }
        if let all = tags("tags") { predicates.append { i in all.allSatisfy { i.tags.containsBytes($0) } } }
        if let any = tags("tags-any") { predicates.append { i in any.contains { i.tags.containsBytes($0) } } }
        if let all = tags("not-tags") { predicates.append { i in !all.allSatisfy { i.tags.containsBytes($0) } } }
        if let any = tags("not-tags-any") { predicates.append { i in !any.contains { i.tags.containsBytes($0) } } }

        // sort
        let keys = q.all("sort_key"), dirs = q.all("sort_dir")
        for d in dirs where !["asc", "desc"].contains(d) {
            throw NimbusError.badRequest("Invalid input for query parameters sort_dir. Value: \(d). '\(d)' is not one of ['asc', 'desc']")
        }
        for (n, k) in keys.enumerated() {
            var valid = Self.sortKeys.union(Self.ignoredSortKeys)
            if v.atLeast(73) { valid.insert("locked") }
            if v.atLeast(75) { valid.subtract(Self.ignoredSortKeys) }
            guard valid.contains(k) else {
                throw NimbusError.badRequest("Invalid input for query parameters sort_key. Value: \(k). '\(k)' is not one of the valid sort keys")
            }
            if Self.ignoredSortKeys.contains(k), !(k == "locked" && v.atLeast(73)) { continue }
            let dir = n < dirs.count ? dirs[n] : (dirs.last ?? "desc")
            // host and node sort keys are for admins (Nova drops them for others)
            if !isAdmin, ["host", "node"].contains(k) { throw NimbusError.forbidden("Only administrators can sort servers by \(k)") }
            sort.append((k, dir == "asc"))
        }
        if sort.count == 1, sort[0].key == "created_at", !sort[0].ascending { sort = [] }   // the default order
    }

    static func time(_ s: String, _ key: String) throws -> Date {
        guard let d = Timestamps.parse(s) else {
            throw NimbusError.badRequest("Invalid input for query parameters \(key). Value: \(s). '\(s)' is not a 'date-time'")
        }
        return d
    }

    static func lastSegment(_ s: String) -> String {
        s.splitBytes("/").last.map(String.init) ?? s
    }

    /// The listing order: the sort keys, then (Nova's `process_sort_params`) created_at and id
    /// in the first key's direction; newest first without keys.
    var order: [(key: String, ascending: Bool)] {
        let first = sort.first?.ascending ?? false
        var keys = sort
        for k in ["created_at", "uuid"] where !keys.contains(where: { $0.key == k }) { keys.append((k, first)) }
        return keys
    }

    /// Whether `a` comes before `b` in the listing.
    func precedes(_ a: Instance, _ b: Instance) -> Bool {
        for (key, ascending) in order {
            let x = Self.sortValue(a, key), y = Self.sortValue(b, key)
            if x == y { continue }
            return ascending ? x.lexicographicallyPrecedes(y) : y.lexicographicallyPrecedes(x)
        }
        return false
    }

    /// Applies the predicates and the order.
    func apply(_ list: [Instance]) -> [Instance] {
        let out = list.filter { i in predicates.allSatisfy { $0(i) } }
        guard !sort.isEmpty else { return out }   // SQL's order already: created_at desc, id desc
        return out.sorted(by: precedes)
    }

    /// A sortable form of one field: bytes for text, zero-padded numbers and times.
    static func sortValue(_ i: Instance, _ key: String) -> [UInt8] {
        // Numbers as big-endian bytes with the sign bit flipped: byte order is numeric order.
        func num(_ n: Int) -> [UInt8] { withUnsafeBytes(of: (UInt64(bitPattern: Int64(n)) ^ (1 << 63)).bigEndian, Array.init) }
        func time(_ d: Date?) -> [UInt8] { d.map { num(Int($0.timeIntervalSince1970 * 1_000_000)) } ?? [] }
        switch key {
        case "created_at": return time(i.createdAt)
        case "updated_at": return time(i.updatedAt)
        case "launched_at": return time(i.launchedAt)
        case "terminated_at": return time(i.terminatedAt)
        case "display_name": return Array(i.name.utf8)
        case "display_description": return Array((i.description ?? "").utf8)
        case "hostname": return Array(i.hostname.utf8)
        case "uuid": return Array(i.id.utf8)
        case "host": return Array((i.host ?? "").utf8)
        case "node": return Array((i.node ?? "").utf8)
        case "availability_zone": return Array((i.availabilityZone ?? "").utf8)
        case "key_name": return Array((i.keyName ?? "").utf8)
        case "image_ref": return Array((i.imageID ?? "").utf8)
        case "instance_type_id": return Array(i.flavor.id.utf8)
        case "project_id": return Array(i.projectID.utf8)
        case "user_id": return Array(i.userID.utf8)
        case "vm_state": return Array(i.vmState.rawValue.utf8)
        case "task_state": return Array((i.taskState?.rawValue ?? "").utf8)
        case "power_state": return num(i.powerState)
        case "progress": return num(i.progress)
        case "launch_index": return num(i.launchIndex)
        case "locked": return num(i.locked ? 1 : 0)
        case "locked_by": return Array((i.lockedBy ?? "").utf8)
        case "config_drive": return Array((i.configDrive ? "True" : "").utf8)
        case "access_ip_v4": return Array((i.accessIPv4 ?? "").utf8)
        case "access_ip_v6": return Array((i.accessIPv6 ?? "").utf8)
        default: return []
        }
    }
}
