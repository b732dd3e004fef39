import Foundation
import NimbusCore

/// `GET /v2/images`: filters, default visibility, sorting and marker pagination exactly as
/// Glance's DB layer does them (`glance/db/sqlalchemy/api.py _image_get_all`), applied to the
/// images the caller could see.
public struct ImageListing: Sendable {
    public static let sortKeys = ["name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"]
    public static let defaultLimit = 25
    public static let maxLimit = 1000

    public enum Direction: String, Sendable { case asc, desc }

    public var limit = defaultLimit
    public var marker: String?
    public var sort: [(key: String, dir: Direction)] = []
    public var visibility: String?
    public var memberStatus = "accepted"
    public var osHidden = false
    public var tags: [String] = []
    /// Equality (`eq`) or membership (`in`) filters on name, id, status, formats.
    public var sets: [String: Set<Name>] = [:]
    public var protected: Bool?
    public var sizeMin: Int64?
    public var sizeMax: Int64?
    public var times: [(key: String, op: String, date: Date)] = []
    /// Any other parameter: equality on an attribute or an extra property.
    public var properties: [String: String] = [:]

    /// Parses the query (repeated keys allowed) with Glance's messages.
    public init(query: [(String, String)]) throws(NimbusError) {
        var sortKeys = [String]()
        var sortDirs = [String]()
        var newSort: String?
        for (k, v) in query {
            switch k {
            case "limit":
                guard let n = Int(v) else { throw .badRequest("limit param must be an integer") }
                guard n >= 0 else { throw .badRequest("limit param must be positive") }
                limit = min(n, Self.maxLimit)
            case "marker": marker = v
            case "sort_key": sortKeys.append(v)
            case "sort_dir": sortDirs.append(v)
            case "sort": newSort = v
            case "visibility":
                guard v == "all" || Visibility(rawValue: v) != nil else { throw .badRequest("Invalid visibility value: \(v)") }
                visibility = v
            case "member_status":
                guard v == "all" || ImageMember.Status(rawValue: v) != nil else { throw .badRequest("Invalid status: \(v)") }
                memberStatus = v
            case "os_hidden":
                guard let b = Bool(v.lowercased()) else { throw .badRequest("Invalid value '\(v)' for 'os_hidden' filter. Valid values are 'true' or 'false'.") }
                osHidden = b
            case "protected":
                guard let b = Bool(v.lowercased()) else { throw .badRequest("Invalid value '\(v)' for 'protected' filter. Valid values are 'true' or 'false'.") }
                protected = b
            case "tag": tags.append(v)
            case "size_min", "size_max":
                guard let n = Int64(v) else { throw .badRequest("Unable to filter on a range with a non-numeric value.") }
                if k == "size_min" { sizeMin = n } else { sizeMax = n }
            case "created_at", "updated_at":
                let (op, value) = Self.splitOperator(v)
                let o = op ?? "eq"
                guard ["gt", "gte", "lt", "lte", "eq", "neq"].contains(o) else { throw .badRequest("Unable to filter on a unknown operator.") }
                guard let d = Timestamps.parse(value) else {
                    throw .badRequest("Bad \"\(k)\" query filter format. Use ISO 8601 DateTime notation.")
                }
                times.append((k, o, d))
            case "name", "id", "status", "container_format", "disk_format":
                let (op, value) = Self.splitOperator(v)
                switch op {
                case nil, "eq": sets[k] = [Name(value)]
                case "in": sets[k] = Set(try Self.splitValues(value).map(Name.init))
                case let other?: throw .badRequest("Unable to filter by unknown operator '\(other)'.")
                }
            case "changes-since": throw .badRequest("The \"changes-since\" filter is no longer available on v2.")
            case "deleted": continue  // Glance overwrites it: deleted images are never listed
            default: properties[k] = v
            }
        }
        if let s = newSort {
            guard sortKeys.isEmpty && sortDirs.isEmpty else { throw .badRequest("Old and new sorting syntax cannot be combined") }
            for part in s.splitBytes(",", omittingEmpty: false) {
                let kv = part.splitBytes(":", maxSplits: 1, omittingEmpty: false).map { $0.trimmingCharacters(in: .whitespaces) }
                let key = kv[0]
                guard Self.sortKeys.contains(key) else { throw Self.badSortKey(key) }
                guard !sort.contains(where: { $0.key == key }) else { continue }  // a repeated key cannot change the order
                let dir = kv.count > 1 ? kv[1] : "desc"
                guard let d = Direction(rawValue: dir) else { throw .badRequest("Invalid sort direction: \(dir)") }
                sort.append((key, d))
            }
        } else {
            for key in sortKeys where !Self.sortKeys.contains(key) { throw Self.badSortKey(key) }
            var dirs = [Direction]()
            for d in sortDirs {
                guard let dir = Direction(rawValue: d) else { throw .badRequest("Invalid sort direction: \(d)") }
                dirs.append(dir)
            }
            if dirs.count > 1 && dirs.count != sortKeys.count { throw .badRequest("Number of sort dirs does not match the number of sort keys") }
            let fallback = dirs.count == 1 ? dirs[0] : .desc
            for (i, key) in sortKeys.enumerated() where !sort.contains(where: { $0.key == key }) {
                sort.append((key, dirs.count > 1 ? dirs[i] : fallback))
            }
        }
        // Tie-breakers, in the default direction.
        let fallback: Direction = sortDirs.count == 1 ? (Direction(rawValue: sortDirs[0]) ?? .desc) : .desc
        for key in ["created_at", "id"] where !sort.contains(where: { $0.key == key }) { sort.append((key, fallback)) }
    }

    static func badSortKey(_ key: String) -> NimbusError {
        .badRequest("Invalid sort key: \(key). It must be one of the following: \(sortKeys.joined(separator: ", ")).")
    }

    /// `op:value` → (op, value); a value that is itself a time keeps its colons.
    static func splitOperator(_ v: String) -> (String?, String) {
        guard let (op, value) = v.splitOnceBytes(":") else { return (nil, v) }
        if Timestamps.parse(v) != nil { return (nil, v) }
        return (String(op), String(value))
    }

    /// `a,b,"c,d"` → ["a", "b", "c,d"].
    static func splitValues(_ v: String) throws(NimbusError) -> [String] {
        var out = [String]()
        var current = ""
        var quoted = false
        var justClosed = false
        for ch in v.unicodeScalars {
            if ch == "\"" {
                if quoted { quoted = false; justClosed = true; continue }
                guard current.isEmpty else { throw .badRequest("Invalid filter value \(v). The quote is not closed.") }
                quoted = true
                continue
            }
            if ch == "," && !quoted { out.append(current); current = ""; justClosed = false; continue }
            if justClosed { throw .badRequest("Invalid filter value \(v). There is no comma after closing quotation mark.") }
            current.unicodeScalars.append(ch)
        }
        if quoted { throw .badRequest("Invalid filter value \(v). The quote is not closed.") }
        out.append(current)
        return out
    }

    /// Whether `image` is listed for `caller`, given the caller's member row status for it.
    func includes(_ image: Image, caller: ImageCaller, member: ImageMember.Status?) -> Bool {
        guard image.status != .deleted && image.status != .killed else { return false }
        let own = caller.projectID != nil && image.owner == caller.projectID
        if !caller.isAdmin {
            let inUnion = image.visibility == .public || image.visibility == .community || own
                || (image.visibility == .shared && member != nil && (memberStatus == "all" || member?.rawValue == memberStatus))
            guard inUnion else { return false }
        }
        switch visibility {
        case nil: if image.visibility == .community && !own { return false }
        case "all": break
        case let v?: if !image.visibility.rawValue.sameBytes(as: v) { return false }
        }
        if image.osHidden != osHidden { return false }
        if let p = protected, image.protected != p { return false }
        if !tags.allSatisfy({ image.tags.contains(Name($0)) }) { return false }
        for (k, allowed) in sets where !allowed.contains(Name(Self.attribute(k, of: image) ?? "\u{0}")) { return false }
        if let m = sizeMin, (image.size ?? -1) < m || image.size == nil { return false }
        if let m = sizeMax, image.size == nil || image.size! > m { return false }
        for t in times {
            let d = t.key == "created_at" ? image.createdAt : image.updatedAt
            let (a, b) = (d.timeIntervalSince1970.rounded(.down), t.date.timeIntervalSince1970.rounded(.down))
            let ok = switch t.op {
            case "gt": a > b
            case "gte": a >= b
            case "lt": a < b
            case "lte": a <= b
            case "neq": a != b
            default: a == b
            }
            if !ok { return false }
        }
        for (k, v) in properties where !((Self.attribute(k, of: image) ?? image.properties[Name(k)]).map { $0.sameBytes(as: v) } ?? false) { return false }
        return true
    }

    /// Core attributes by their API name, as strings (for equality filters and sorting).
    static func attribute(_ key: String, of i: Image) -> String? {
        switch key {
        case "name": i.name
        case "id": i.id
        case "status": i.status.rawValue
        case "container_format": i.containerFormat
        case "disk_format": i.diskFormat
        case "owner": i.owner
        case "visibility": i.visibility.rawValue
        case "size": i.size.map(String.init)
        case "virtual_size": i.virtualSize.map(String.init)
        case "min_ram": String(i.minRam)
        case "min_disk": String(i.minDisk)
        case "checksum": i.checksum
        case "os_hash_algo": i.osHashAlgo
        case "os_hash_value": i.osHashValue
        default: nil
        }
    }

    /// Orders two images by the sort keys (NULLs first when ascending, as MySQL does).
    func ordered(_ a: Image, _ b: Image) -> Bool {
        for (key, dir) in sort {
            let c = Self.compare(key, a, b)
            if c != 0 { return dir == .asc ? c < 0 : c > 0 }
        }
        return false
    }

    static func compare(_ key: String, _ a: Image, _ b: Image) -> Int {
        func cmp<T: Comparable>(_ x: T?, _ y: T?) -> Int {
            switch (x, y) {
            case (nil, nil): 0
            case (nil, _): -1
            case (_, nil): 1
            case let (x?, y?): x < y ? -1 : (x > y ? 1 : 0)
            }
        }
        // Text orders by bytes, as the database does (Swift's `<` compares normalized text).
        func cmp(_ x: String?, _ y: String?) -> Int { cmp(x.map(Name.init), y.map(Name.init)) }
        switch key {
        case "size": return cmp(a.size, b.size)
        // Glance keeps times to the second; ties go to the next key (then the id).
        case "created_at": return cmp(a.createdAt.timeIntervalSince1970.rounded(.down), b.createdAt.timeIntervalSince1970.rounded(.down))
        case "updated_at": return cmp(a.updatedAt.timeIntervalSince1970.rounded(.down), b.updatedAt.timeIntervalSince1970.rounded(.down))
        default: return cmp(attribute(key, of: a), attribute(key, of: b))
        }
    }

    /// One page computed in memory: the images after `marker` in sort order, and whether a
    /// `next` link is due. This is the reference for the SQL listing in `ImageRepository.list`
    /// (the tests check that the two agree).
    public func page(_ images: [Image], caller: ImageCaller, members: [String: ImageMember.Status]) throws(NimbusError) -> (images: [Image], more: Bool) {
        let visible = images.filter { includes($0, caller: caller, member: members[$0.id]) }.sorted(by: ordered)
        var start = 0
        if let marker {
            guard let m = images.first(where: { $0.id.sameBytes(as: marker) && $0.status != .deleted }) else {
                throw .badRequest("No image found with ID \(marker)")
            }
            guard m.isVisible(to: caller, memberStatus: members[m.id]) else { throw .forbidden("You are not authorized to complete get_image action.") }
            // The first image that sorts after the marker (the marker itself may be filtered out).
            start = visible.firstIndex(where: { ordered(m, $0) }) ?? visible.count
        }
        let slice = Array(visible[start...].prefix(limit))
        return (slice, limit > 0 && slice.count == limit)
    }
}
