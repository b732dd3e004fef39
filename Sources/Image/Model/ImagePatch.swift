import Foundation
import NimbusCore

/// The disk and container formats a cloud accepts (`[image_format]`).
public struct ImageFormats: Sendable {
    public var disk: [String]
    public var container: [String]
    public static let glanceDefaults = ImageFormats(
        disk: ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"],
        container: ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"])
    public init(disk: [String], container: [String]) { self.disk = disk; self.container = container }
}

/// Validation of attribute values against Glance's image schema, shared by create and PATCH.
enum ImageSchema {
    static func mismatch(_ why: String) -> NimbusError {
        .badRequest("Provided object does not match schema 'image': \(why)")
    }

    static let maxInt: Int64 = 2_147_483_647

    /// Sets core attribute `key` (or an extra property) on `image` from a JSON value.
    static func set(_ key: String, _ value: JSONValue, on image: inout Image, formats: ImageFormats) throws(NimbusError) {
        func string(max: Int = 255, nullable: Bool = true) throws(NimbusError) -> String? {
            switch value {
            case .null where nullable: return nil
            case .string(let s):
                guard s.scalarCount <= max else { throw mismatch("'\(s)' is too long") }
                return s
            default: throw mismatch("\(value.rendered) is not of type 'string'")
            }
        }
        func bool() throws(NimbusError) -> Bool {
            guard case .bool(let b) = value else { throw mismatch("\(value.rendered) is not of type 'boolean'") }
            return b
        }
        func count(_ name: String) throws(NimbusError) -> Int64 {
            guard case .int(let i) = value else { throw mismatch("\(value.rendered) is not of type 'integer'") }
            if i < 0 { throw .badRequest("Invalid value '\(i)' for parameter '\(name)': Cannot be a negative value") }
            if i > maxInt { throw .badRequest("'\(name)' value out of range, must not exceed \(maxInt).") }
            return i
        }
        func oneOf(_ allowed: [String]) throws(NimbusError) -> String? {
            if value == .null { return nil }
            guard case .string(let s) = value, allowed.contains(s) else {
                throw mismatch("\(value.rendered) is not one of [None, \(allowed.map { "'\($0)'" }.joined(separator: ", "))]")
            }
            return s
        }
        switch key {
        case "name": image.name = try string()
        case "visibility":
            guard case .string(let s) = value, let v = Visibility(rawValue: s) else {
                throw mismatch("\(value.rendered) is not one of ['community', 'public', 'private', 'shared']")
            }
            image.visibility = v
        case "protected": image.protected = try bool()
        case "os_hidden": image.osHidden = try bool()
        case "min_disk": image.minDisk = try count("min_disk")
        case "min_ram": image.minRam = try count("min_ram")
        case "disk_format": image.diskFormat = try oneOf(formats.disk)
        case "container_format": image.containerFormat = try oneOf(formats.container)
        case "owner": image.owner = try string()
        case "tags":
            guard case .array(let items) = value else { throw mismatch("\(value.rendered) is not of type 'array'") }
            var tags = Set<Name>()
            for item in items {
                guard case .string(let t) = item else { throw mismatch("\(item.rendered) is not of type 'string'") }
                guard t.scalarCount <= 255 else { throw mismatch("'\(t)' is too long") }
                tags.insert(Name(t))
            }
            image.tags = tags
        default:
            guard key.scalarCount <= 255 else { throw .badRequest("Custom property should not be greater than 255 characters.") }
            guard case .string(let s) = value else { throw mismatch("\(value.rendered) is not of type 'string'") }
            image.properties[Name(key)] = s
        }
    }

    static let core: Set<String> = ["name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "disk_format", "container_format", "owner", "tags"]
}

extension JSONValue {
    /// Python-like rendering for schema messages (`'abc'`, `1`, `True`, `None`).
    var rendered: String {
        switch self {
        case .null: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .string(let s): "'\(s)'"
        case .array, .object: String(decoding: serialized(), as: UTF8.self)
        }
    }
}

/// A PATCH body (`application/openstack-images-v2.1-json-patch`, or the older v2.0 dialect
/// Tempest uses) parsed and applied with Glance's rules (`glance/api/v2/images.py`).
public struct ImagePatch: Sendable {
    public enum Dialect: Sendable { case v20, v21 }
    public enum Operation: String, Sendable { case add, remove, replace }

    public struct Change: Sendable, Equatable {
        public var op: Operation
        public var key: String
        public var value: JSONValue?
    }

    public let dialect: Dialect
    public let changes: [Change]

    public static let mediaTypes = ["application/openstack-images-v2.0-json-patch", "application/openstack-images-v2.1-json-patch"]

    /// The dialect of a Content-Type, nil when it is not a JSON-patch type Glance takes.
    public static func dialect(contentType: String?) -> Dialect? {
        let base = contentType?.splitBytes(";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        switch base {
        case "application/openstack-images-v2.1-json-patch": return .v21
        case "application/openstack-images-v2.0-json-patch": return .v20
        default: return nil
        }
    }

    public init(_ body: JSONValue, dialect: Dialect) throws(NimbusError) {
        self.dialect = dialect
        guard case .array(let items) = body else { throw .badRequest("Request body must be a JSON array of operation objects.") }
        var changes = [Change]()
        for item in items {
            guard case .object(let o) = item else { throw .badRequest("Operations must be JSON objects.") }
            let op: Operation
            let path: String
            switch dialect {
            case .v21:
                guard case .string(let name)? = o["op"] else {
                    throw .badRequest("Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.")
                }
                guard let parsed = Operation(rawValue: name) else {
                    throw .badRequest("Invalid operation: `\(name)`. It must be one of the following: add, remove, replace.")
                }
                guard case .string(let p)? = o["path"] else { throw .badRequest("Unable to find 'path' in JSON Schema change") }
                (op, path) = (parsed, p)
            case .v20:
                let present = [Operation.add, .remove, .replace].filter { o[$0.rawValue] != nil }
                guard !present.isEmpty else {
                    throw .badRequest("Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".")
                }
                guard present.count == 1 else {
                    throw .badRequest("Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".")
                }
                guard case .string(let p)? = o[present[0].rawValue] else { throw .badRequest("Unable to find 'path' in JSON Schema change") }
                (op, path) = (present[0], p)
            }
            let tokens = try Self.pointer(path)
            let isLocations = tokens.first == "locations"
            let depthOK = isLocations ? (op == .replace ? tokens.count == 1 : tokens.count == 2) : tokens.count == 1
            guard depthOK else { throw .badRequest("Invalid JSON pointer for this resource: '/\(tokens.joined(separator: "/"))'") }
            var value: JSONValue?
            if op != .remove {
                guard let v = o["value"] else { throw .badRequest("Operation \"\(op.rawValue)\" requires a member named \"value\".") }
                value = v
            }
            changes.append(Change(op: op, key: tokens[0], value: value))
        }
        for c in changes {
            if Image.readOnly.contains(c.key) { throw .forbidden("Attribute '\(c.key)' is read-only.") }
            if Image.isReserved(c.key) { throw .forbidden("Attribute '\(c.key)' is reserved.") }
        }
        self.changes = changes
    }

    /// JSON pointer tokens (RFC 6901 escapes), with Glance's checks and messages.
    static func pointer(_ path: String) throws(NimbusError) -> [String] {
        guard path.hasBytePrefix("/") else { throw .badRequest("Pointer `\(path)` does not start with \"/\".") }
        if path.containsBytes("//") { throw .badRequest("Pointer `\(path)` contains adjacent \"/\".") }
        if path.utf8.count > 1 && path.hasByteSuffix("/") { throw .badRequest("Pointer `\(path)` end with \"/\".") }
        var tokens = [String]()
        // Scalars, not Characters: `/` or `~` followed by a combining mark is still a delimiter.
        for raw in (path.droppingBytePrefix("/") ?? "").splitBytes("/", omittingEmpty: false) {
            var out = String.UnicodeScalarView()
            var it = raw.unicodeScalars.makeIterator()
            while let ch = it.next() {
                if ch == "~" {
                    switch it.next() {
                    case "0": out.append("~")
                    case "1": out.append("/")
                    default: throw .badRequest("Pointer `\(path)` contains \"~\" not part of a recognized escape sequence.")
                    }
                } else {
                    out.append(ch)
                }
            }
            tokens.append(String(out).trimmingCharacters(in: .whitespaces))
        }
        return tokens
    }

    /// Applies the changes in order to a copy of `image`; the first failure aborts (nothing is
    /// kept). `isAdmin` decides owner changes.
    public func apply(to image: Image, isAdmin: Bool, formats: ImageFormats) throws(NimbusError) -> Image {
        var out = image
        for c in changes {
            if c.key == "locations" {
                throw .forbidden("It's not allowed to \(c.op == .remove ? "remove" : c.op == .add ? "add" : "update") locations if locations are invisible.")
            }
            if c.key == "owner" && !isAdmin { throw .forbidden("Owner can't be updated by non admin.") }
            if c.key == "disk_format" || c.key == "container_format", c.op != .remove,
               out.status != .queued && out.status != .importing {
                throw .forbidden("Attribute \(c.key) can be only replaced for a queued image.")
            }
            let isCore = ImageSchema.core.contains(c.key)
            switch c.op {
            case .replace:
                if !isCore && out.properties[Name(c.key)] == nil { throw .conflict("Property \(c.key) does not exist.") }
                try ImageSchema.set(c.key, c.value!, on: &out, formats: formats)
            case .add:
                if dialect == .v20 && (isCore || out.properties[Name(c.key)] != nil) { throw .conflict("Property \(c.key) already present.") }
                try ImageSchema.set(c.key, c.value!, on: &out, formats: formats)
            case .remove:
                if isCore { throw .forbidden("Property \(c.key) may not be removed.") }
                guard out.properties.removeValue(forKey: Name(c.key)) != nil else { throw .conflict("Property \(c.key) does not exist.") }
            }
        }
        return out
    }
}
