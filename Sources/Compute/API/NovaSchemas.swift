import Foundation
import NimbusCore

/// Nova's request schemas (`nova/api/openstack/compute/schemas/*.py`, `nova/api/validation/
/// parameter_types.py`) in the shared `Schema` form, and Nova's wording of a violation:
/// "Invalid input for field/attribute <name>. Value: <value>. <jsonschema message>".
enum NovaSchemas {
    /// Validates a body; returns it for chaining.
    static func validate(_ body: JSONValue, _ schema: Schema) throws -> JSONValue {
        do {
            try schema.validate(body)
        } catch {
            // Nova's `name` format raises InvalidName, whose message replaces jsonschema's.
            if error.message.hasByteSuffix("is not a 'name'") {
                throw NimbusError.badRequest("\(NovaText.invalidNamePrefix) The name must be: printable characters. Can not start or end with whitespace.")
            }
            if let field = error.path.last {
                throw NimbusError.badRequest("Invalid input for field/attribute \(field). Value: \(error.instance.pythonStr). \(error.message)")
            }
            throw NimbusError.badRequest(error.message)
        }
        return body
    }

    // MARK: parameter types

    /// `parameter_types.name`: 1–255 printable characters, no leading or trailing whitespace.
    static let name: Schema = {
        var s = Schema.string(minLength: 1, maxLength: 255)
        s.format = NovaText.nameFormat
        return s
    }()

    /// `parameter_types.description`: printable characters, up to 255, or null.
    static let description: Schema = Schema.string(minLength: 0, maxLength: 255, pattern: NovaText.descriptionPattern).nullable

    /// `parameter_types.boolean`: JSON booleans and oslo's spellings of them.
    static let boolean: Schema = {
        var s = Schema(types: [.boolean, .string])
        s.enumValues = [true, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                        false, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]
        return s
    }()

    /// `volume_size` and its flavor variants: an integer or a string of digits, bounded.
    static func sizeParameter(minimum: Int64) -> Schema {
        var s = Schema(types: [.integer, .string])
        s.pattern = NovaText.digits
        s.minimum = minimum
        s.maximum = 0x7FFF_FFFF
        return s
    }

    static let positiveInteger: Schema = {
        var s = Schema(types: [.integer, .string])
        s.pattern = NovaText.digitsOrEmpty
        s.minimum = 1
        s.minLength = 1
        return s
    }()

    /// `parameter_types.metadata`: keys of 1–255 `[a-zA-Z0-9-_:. ]`, string values up to 255.
    static func metadata(valueTypes: [Schema.Kind] = [.string]) -> Schema {
        var s = Schema.object(additionalProperties: false)
        var value = Schema(types: valueTypes)
        value.maxLength = 255
        s.patternProperties = [(NovaText.metadataKey, value)]
        return s
    }

    // MARK: flavors

    static func flavorCreate(_ v: NovaVersion) -> Schema {
        var id = Schema(types: [.string, .number, .null])
        id.minLength = 1
        id.maxLength = 255
        id.pattern = NovaText.flavorID
        var rxtx = Schema(types: [.number, .string])
        rxtx.pattern = NovaText.decimal
        rxtx.exclusiveMinimum = 0
        rxtx.maximumNumber = 3.40282e+38
        var flavor = Schema.object([
            "name": name, "id": id, "ram": sizeParameter(minimum: 1), "vcpus": sizeParameter(minimum: 1), "disk": sizeParameter(minimum: 0),
            "OS-FLV-EXT-DATA:ephemeral": sizeParameter(minimum: 0), "swap": sizeParameter(minimum: 0), "rxtx_factor": rxtx,
            "os-flavor-access:is_public": boolean,
        ], required: ["name", "ram", "vcpus", "disk"], additionalProperties: false)
        if v.atLeast(55) {
            flavor = flavor.adding(["description": Schema.string(minLength: 0, maxLength: 65535, pattern: NovaText.descriptionPattern).nullable])
        }
        return .object(["flavor": flavor], required: ["flavor"], additionalProperties: false)
    }

    static let flavorUpdate = Schema.object([
        "flavor": .object(["description": Schema.string(minLength: 0, maxLength: 65535, pattern: NovaText.descriptionPattern).nullable],
                          required: ["description"], additionalProperties: false),
    ], required: ["flavor"], additionalProperties: false)

    static let extraSpecsCreate = Schema.object(["extra_specs": metadata(valueTypes: [.string, .number])], required: ["extra_specs"],
                                                additionalProperties: false)
    static let extraSpecUpdate = metadata(valueTypes: [.string, .number]).with { $0.minProperties = 1; $0.maxProperties = 1 }

    static let flavorAction: Schema = {
        let tenant = Schema.object(["tenant": .string(minLength: 1, maxLength: 255)], required: ["tenant"], additionalProperties: false)
        var s = Schema.object()
        s.oneOfSchemas = [
            .object(["addTenantAccess": tenant], required: ["addTenantAccess"], additionalProperties: false),
            .object(["removeTenantAccess": tenant], required: ["removeTenantAccess"], additionalProperties: false),
        ]
        return s
    }()

    // MARK: keypairs

    static func keypairCreate(_ v: NovaVersion) -> Schema {
        let keypairName = name.with { $0.pattern = v.atLeast(92) ? NovaText.keypairName292 : NovaText.keypairName }
        var k = Schema.object(["name": keypairName, "public_key": .string()], required: v.atLeast(92) ? ["name", "public_key"] : ["name"],
                              additionalProperties: false)
        if v.atLeast(2) { k = k.adding(["type": .oneOf(["ssh", "x509"])]) }
        if v.atLeast(10) { k = k.adding(["user_id": .string()]) }
        return .object(["keypair": k], required: ["keypair"], additionalProperties: false)
    }

    // MARK: servers

    static let uuidString = Schema.string(format: .uuid)
    static let ipv4 = Schema.string(format: NovaText.ipv4)
    static let ipv6 = Schema.string(format: NovaText.ipv6)
    static let tag = Schema.string(minLength: 1, maxLength: 60, pattern: .tag)
    /// `nova/api/openstack/compute/schemas/multinic.py` (up to 2.43).
    static let addFixedIP = Schema.object(["addFixedIp": .object(["networkId": Schema(types: [.string, .number]).with { $0.minLength = 1; $0.maxLength = 36 }],
                                                                  required: ["networkId"], additionalProperties: false)],
                                          required: ["addFixedIp"], additionalProperties: false)
    static let removeFixedIP = Schema.object(["removeFixedIp": .object(["address": Schema.string().with { $0.oneOfSchemas = [ipv4, ipv6] }],
                                                                       required: ["address"], additionalProperties: false)],
                                             required: ["removeFixedIp"], additionalProperties: false)
    static let hostname = Schema.string(minLength: 2, maxLength: 63, pattern: NovaText.hostname)
    static let fqdn = Schema.string(minLength: 1, maxLength: 255, pattern: NovaText.fqdn)

    /// `block_device_mapping` (legacy) entries (schemas/servers.py `legacy_block_device_mapping`).
    static let legacyBlockDeviceMapping: Schema = .object([
        "virtual_name": .string(maxLength: 255), "volume_id": uuidString, "snapshot_id": uuidString, "volume_size": sizeParameter(minimum: 1),
        "device_name": .string(minLength: 1, maxLength: 255, pattern: NovaText.deviceName), "delete_on_termination": boolean, "no_device": .any,
        "connection_info": .string(maxLength: 16_777_215),
    ], additionalProperties: false)

    /// `block_device_mapping_v2` entries: the legacy fields and the new ones; `tag` at 2.32 and
    /// from 2.42, `volume_type` from 2.67.
    static func blockDeviceMapping(_ v: NovaVersion) -> Schema {
        var s = legacyBlockDeviceMapping.adding([
            "source_type": .oneOf(["volume", "image", "snapshot", "blank"]),
            "uuid": .string(minLength: 1, maxLength: 255, pattern: NovaText.bdmUUID), "image_id": uuidString,
            "destination_type": .oneOf(["local", "volume"]), "guest_format": .string(maxLength: 255), "device_type": .string(maxLength: 255),
            "disk_bus": .string(maxLength: 255), "boot_index": Schema(types: [.integer, .string, .null]).with { $0.pattern = NovaText.signedInteger },
        ])
        if v.minor == 32 || v.atLeast(42) { s = s.adding(["tag": tag]) }
        if v.atLeast(67) { s = s.adding(["volume_type": Schema.string(minLength: 0, maxLength: 255).nullable]) }
        return s
    }

    static func networks(_ v: NovaVersion) -> Schema {
        var item = Schema.object(["fixed_ip": Schema.string().with { $0.oneOfSchemas = [.string(format: NovaText.ipv4), .string(format: NovaText.ipv6)] },
                                  "port": Schema.string(format: .uuid).nullable, "uuid": v.atLeast(37) ? uuidString : .string()],
                                 additionalProperties: false)
        if v.atLeast(32) && (v.minor <= 32 || v.atLeast(42)) || v.minor == 33 { item = item.adding(["tag": tag]) }
        let list = Schema.array(of: item)
        guard v.atLeast(37) else { return list }
        return Schema().with { $0.oneOfSchemas = [list, .oneOf(["none", "auto"])] }
    }

    /// `POST /servers/{id}/os-interface` (Nova's attach_interfaces schema; `tag` from 2.49).
    static func interfaceAttach(_ v: NovaVersion) -> Schema {
        let ip = Schema.string().with { $0.oneOfSchemas = [.string(format: NovaText.ipv4), .string(format: NovaText.ipv6)] }
        var a = Schema.object(["net_id": uuidString, "port_id": uuidString,
                               "fixed_ips": Schema.array(of: .object(["ip_address": ip], required: ["ip_address"], additionalProperties: false))
                                   .with { $0.minItems = 1; $0.maxItems = 1 }], additionalProperties: false)
        if v.atLeast(49) { a = a.adding(["tag": tag]) }
        return .object(["interfaceAttachment": a], additionalProperties: false)
    }

    static func serverCreate(_ v: NovaVersion) -> Schema {
        var server = Schema.object([
            "name": name, "imageRef": Schema().with { $0.oneOfSchemas = [uuidString, .string(maxLength: 0)] },
            "flavorRef": Schema(types: [.string, .integer]).with { $0.minLength = 1 }, "adminPass": .string(), "metadata": metadata(),
            "networks": networks(v), "OS-DCF:diskConfig": .oneOf(["AUTO", "MANUAL"]), "accessIPv4": ipv4, "accessIPv6": ipv6,
            "availability_zone": name, "block_device_mapping": .array(of: legacyBlockDeviceMapping), "block_device_mapping_v2": .array(of: blockDeviceMapping(v)),
            "config_drive": boolean, "key_name": name, "min_count": positiveInteger, "max_count": positiveInteger, "return_reservation_id": boolean,
            "security_groups": .array(of: .object(["name": name], additionalProperties: false)),
            "user_data": Schema.string(maxLength: 65535, format: NovaText.base64),
        ], required: v.atLeast(37) ? ["name", "flavorRef", "networks"] : ["name", "flavorRef"], additionalProperties: false)
        if !v.atLeast(57) {
            server = server.adding(["personality": .array(of: .object(["path": .string(), "contents": .string(format: NovaText.base64)], additionalProperties: false))])
        }
        if v.atLeast(19) { server = server.adding(["description": description]) }
        if v.atLeast(52) { server = server.adding(["tags": .array(of: tag, maxItems: 50)]) }
        if v.atLeast(63) { server = server.adding(["trusted_image_certificates": Schema.array(of: .string(minLength: 1), minItems: 1, maxItems: 50, uniqueItems: true).nullable]) }
        if v.atLeast(74) { server = server.adding(["host": fqdn, "hypervisor_hostname": fqdn]) }
        if v.atLeast(90) { server = server.adding(["hostname": v.atLeast(94) ? fqdn : hostname]) }
        // scheduler_hints.py: known hints are typed, others pass (additionalProperties: True).
        let uuidOrList = Schema().with { $0.oneOfSchemas = [uuidString, .array(of: uuidString, uniqueItems: true)] }
        let hints = Schema.object(["group": uuidString, "same_host": uuidOrList, "different_host": uuidOrList,
                                   "query": Schema(types: [.string, .object]), "target_cell": .string(maxLength: 255),
                                   "build_near_host_ip": Schema.string(format: NovaText.ipv4), "cidr": Schema.string()])
        return .object(["server": server, "os:scheduler_hints": hints, "OS-SCH-HNT:scheduler_hints": hints], required: ["server"], additionalProperties: false)
    }

    /// `createImage` (schemas/servers.py create_image).
    static let createImage = Schema.object(["createImage": .object(["name": name, "metadata": metadata()], required: ["name"],
                                                                   additionalProperties: false)],
                                           required: ["createImage"], additionalProperties: false)

    /// `createBackup` (schemas/create_backup.py): name, backup type and a non-negative rotation.
    static func createBackup(_ v: NovaVersion) -> Schema {
        var rotation = Schema(types: [.integer, .string])
        rotation.pattern = NovaText.digits
        rotation.minimum = 0
        rotation.minLength = 1
        return .object(["createBackup": .object(["name": name, "backup_type": .string(), "rotation": rotation, "metadata": metadata()],
                                                required: ["name", "backup_type", "rotation"], additionalProperties: false)],
                       required: ["createBackup"], additionalProperties: false)
    }

    /// `lock` from 2.73 (schemas/lock_server.py lock_v273): null or an optional reason.
    static let lockV273 = Schema.object(["lock": Schema.object(["locked_reason": .string(minLength: 1, maxLength: 255)],
                                                               additionalProperties: false).nullable],
                                        required: ["lock"], additionalProperties: false)

    /// `unshelve` (schemas/shelve.py): anything before 2.77; then an availability zone
    /// (required until 2.91, which adds `host` and allows a null zone).
    static func unshelve(_ v: NovaVersion) -> Schema {
        let body: Schema
        if v.atLeast(91) {
            body = Schema.object(["availability_zone": name.nullable, "host": fqdn], additionalProperties: false).nullable
        } else {
            body = Schema.object(["availability_zone": name], required: ["availability_zone"], additionalProperties: false).nullable
        }
        return Schema.object(["unshelve": body], required: ["unshelve"], additionalProperties: false)
    }

    /// `rescue` (schemas/rescue.py): null, or an admin password and a rescue image.
    static let rescue = Schema.object(["rescue": Schema.object(["adminPass": .string(), "rescue_image_ref": uuidString],
                                                               additionalProperties: false).nullable],
                                      required: ["rescue"], additionalProperties: false)

    /// `migrate` (schemas/migrate_server.py): null before 2.56, then an optional host.
    static let migrate: Schema = {
        let host = fqdn.nullable
        return .object(["migrate": Schema.object(["host": host], additionalProperties: false).nullable], required: ["migrate"],
                       additionalProperties: false)
    }()

    /// `os-migrateLive` per microversion (schemas/migrate_server.py).
    static func migrateLive(_ v: NovaVersion) -> Schema {
        let host = fqdn.nullable
        var body: Schema
        if v.atLeast(25) {
            var block = Schema(types: [.boolean, .string])
            block.enumValues = (boolean.enumValues ?? []) + ["auto"]
            body = .object(["block_migration": block, "host": host], required: ["block_migration", "host"], additionalProperties: false)
            if v.atLeast(30) && !v.atLeast(68) { body = body.adding(["force": boolean]) }
        } else {
            body = .object(["block_migration": boolean, "disk_over_commit": boolean, "host": host],
                           required: ["block_migration", "disk_over_commit", "host"], additionalProperties: false)
        }
        return .object(["os-migrateLive": body], required: ["os-migrateLive"], additionalProperties: false)
    }

    /// `evacuate` per microversion (schemas/evacuate.py).
    static func evacuate(_ v: NovaVersion) -> Schema {
        // adminPass: `parameter_types.admin_password`, deliberately of any length
        var body: Schema = .object(["host": fqdn, "adminPass": .string()], additionalProperties: false)
        if !v.atLeast(14) {
            body = .object(["host": fqdn, "adminPass": .string(), "onSharedStorage": boolean], required: ["onSharedStorage"],
                           additionalProperties: false)
        } else if v.atLeast(29) && !v.atLeast(68) {
            body = body.adding(["force": boolean])
        }
        return .object(["evacuate": body], required: ["evacuate"], additionalProperties: false)
    }

    /// `os-resetState` (schemas/reset_server_state.py).
    static let resetState = Schema.object(["os-resetState": .object(["state": .oneOf(["active", "error"])], required: ["state"],
                                                                     additionalProperties: false)],
                                          required: ["os-resetState"], additionalProperties: false)

    /// `resize` (schemas/servers.py): flavorRef and, optionally, the disk config.
    static let resize = Schema.object(["resize": .object(["flavorRef": Schema(types: [.string, .integer]).with { $0.minLength = 1 },
                                                          "OS-DCF:diskConfig": .oneOf(["AUTO", "MANUAL"])],
                                                         required: ["flavorRef"], additionalProperties: false)],
                                      required: ["resize"], additionalProperties: false)

    /// `rebuild` by microversion (schemas/servers.py base_rebuild and its versions).
    static func rebuild(_ v: NovaVersion) -> Schema {
        var r = Schema.object([
            "name": name, "imageRef": uuidString, "adminPass": .string(),
            "metadata": metadata(), "preserve_ephemeral": boolean, "OS-DCF:diskConfig": .oneOf(["AUTO", "MANUAL"]),
            "accessIPv4": ipv4, "accessIPv6": ipv6,
        ], required: ["imageRef"], additionalProperties: false)
        if !v.atLeast(57) {
            r = r.adding(["personality": .array(of: .object(["path": .string(), "contents": .string(format: NovaText.base64)], additionalProperties: false))])
        }
        if v.atLeast(19) { r = r.adding(["description": description]) }
        if v.atLeast(54) { r = r.adding(["key_name": name.nullable]) }
        if v.atLeast(57) { r = r.adding(["user_data": Schema.string(maxLength: 65535, format: NovaText.base64).nullable]) }
        if v.atLeast(63) { r = r.adding(["trusted_image_certificates": Schema.array(of: .string(minLength: 1), minItems: 1, maxItems: 50, uniqueItems: true).nullable]) }
        if v.atLeast(90) { r = r.adding(["hostname": v.atLeast(94) ? fqdn : hostname]) }
        return .object(["rebuild": r], required: ["rebuild"], additionalProperties: false)
    }

    static func serverUpdate(_ v: NovaVersion) -> Schema {
        var server = Schema.object(["name": name, "OS-DCF:diskConfig": .oneOf(["AUTO", "MANUAL"]), "accessIPv4": ipv4, "accessIPv6": ipv6],
                                   additionalProperties: false)
        if v.atLeast(19) { server = server.adding(["description": description]) }
        if v.atLeast(90) { server = server.adding(["hostname": v.atLeast(94) ? fqdn : hostname]) }
        return .object(["server": server], required: ["server"], additionalProperties: false)
    }

    // MARK: values

    /// An integer-valued field (integer or numeric string, already validated).
    /// A count (min_count, max_count) the schema accepted: numbers past Int's range (Python's
    /// are unbounded) read as a huge count, which the quota check then refuses.
    static func count(_ v: JSONValue) -> Int? {
        if let i = integer(v) { return i }
        switch v {
        case .string(let s) where !s.isEmpty && s.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }): return Int(Int32.max)
        case .double(let d) where d.isFinite && d >= 9e15: return Int(Int32.max)
        default: return nil
        }
    }

    static func integer(_ v: JSONValue) -> Int? {
        switch v {
        case .int(let i): Int(exactly: i)
        case .double(let d): d.isFinite && d == d.rounded() && abs(d) < 9e15 ? Int(d) : nil
        case .string(let s): Int(s)
        default: nil
        }
    }

    /// A `parameter_types.boolean` value.
    static func bool(_ v: JSONValue) -> Bool? {
        switch v {
        case .bool(let b): b
        case .string(let s): strictBool(s)
        default: nil
        }
    }

    /// oslo's `bool_from_string(strict=True)`.
    static func strictBool(_ s: String) -> Bool? {
        switch s.lowercased().trimmingCharacters(in: .whitespaces) {
        case "1", "t", "true", "on", "y", "yes": true
        case "0", "f", "false", "off", "n", "no": false
        default: nil
        }
    }

    /// An extra spec value: strings as given, numbers as Python's `str()` writes them.
    static func extraSpecValue(_ v: JSONValue) -> String? {
        switch v {
        case .string(let s): s
        case .int(let i): String(i)
        case .double: v.pythonStr
        default: nil
        }
    }

    /// From 2.75 unknown query parameters are a 400 (`additionalProperties: False`).
    static func checkQuery(_ q: QueryString, allowed: [String]?) throws {
        guard let allowed else { return }
        for item in q.items where !allowed.containsBytes(item.key) {
            throw NimbusError.badRequest("Invalid input for query parameters \(item.key). Value: \(item.value ?? ""). Additional properties are not allowed ('\(item.key)' was unexpected)")
        }
    }

    /// `common.get_limit_and_marker`: `limit` a non-negative integer capped at 1000.
    static func limitAndMarker(_ q: QueryString) throws -> (Int?, String?) {
        var limit: Int?
        if let l = q["limit"] {
            // any digit string, capped at max_limit (Python's ints have no bound)
            guard !l.isEmpty, l.utf8.allSatisfy({ (48...57).contains($0) }) else { throw NimbusError.badRequest("limit param must be an integer") }
            limit = min(Int(l) ?? 1000, 1000)
        }
        return (limit, q["marker"])
    }
}

/// Nova's character classes and patterns, on code points as Python's `re` sees them.
enum NovaText {
    static let invalidNamePrefix = "An invalid 'name' value was provided."

    /// `parameter_types._is_printable` over Nova's character range (`range(0xFFFF)`: code points
    /// from U+FFFF on are outside every class built from it).
    static func printable(_ u: Unicode.Scalar) -> Bool {
        guard u.value < 0xFFFF else { return false }
        switch u.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return false
        case .lineSeparator, .paragraphSeparator: return false
        default: return true
        }
    }

    static func printableNonSpace(_ u: Unicode.Scalar) -> Bool {
        printable(u) && u.properties.generalCategory != .spaceSeparator
    }

    /// `valid_name_regex`: printable, not starting or ending with whitespace.
    static let nameFormat = Format("name") { s in
        let scalars = Array(s.unicodeScalars)
        guard scalars.allSatisfy(printable) else { return false }
        if let f = scalars.first, !printableNonSpace(f) { return false }
        if let l = scalars.last, !printableNonSpace(l) { return false }
        return true
    }

    static let descriptionPattern = Pattern("^[printable]*$") { s in s.unicodeScalars.allSatisfy(printable) }
    static let digits = Pattern.ascii("^[0-9]+$") { (48...57).contains($0) }
    static let digitsOrEmpty = Pattern("^[0-9]*$") { s in Pattern.body(s).allSatisfy { (48...57).contains($0) } }
    static let decimal = Pattern("^[0-9]+(\\.[0-9]+)?$") { s in
        let parts = String(Pattern.body(s))!.splitBytes(".", omittingEmpty: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { (48...57).contains($0) } }
    }
    /// `^(?! )[a-zA-Z0-9. _-]+(?<! )$` (flavor ids).
    static let flavorID = Pattern("^(?! )[a-zA-Z0-9. _-]+(?<! )$") { s in
        let b = Pattern.body(s)
        return !b.isEmpty && b.first != 32 && b.last != 32
            && b.allSatisfy { Pattern.isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == 32 || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }
    static let metadataKey = Pattern("^[a-zA-Z0-9-_:. ]{1,255}$") { s in
        let b = Pattern.body(s)
        return (1...255).contains(b.count)
            && b.allSatisfy { Pattern.isAlnum($0) || "-_:. ".utf8.contains($0) }
    }
    static let hostname = Pattern("^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$") { s in
        let b = Array(Pattern.body(s))
        return b.count >= 2 && Pattern.isAlnum(b.first!) && Pattern.isAlnum(b.last!) && b.allSatisfy { Pattern.isAlnum($0) || $0 == UInt8(ascii: "-") }
    }
    static let fqdn = Pattern("^[a-zA-Z0-9-._]*$") { s in Pattern.body(s).allSatisfy { Pattern.isAlnum($0) || "-._".utf8.contains($0) } }
    static let deviceName = Pattern("^[a-zA-Z0-9._/-]*$") { s in Pattern.body(s).allSatisfy { Pattern.isAlnum($0) || "._/-".utf8.contains($0) } }
    static let bdmUUID = Pattern("^[a-zA-Z0-9._-]*$") { s in Pattern.body(s).allSatisfy { Pattern.isAlnum($0) || "._-".utf8.contains($0) } }
    static let signedInteger = Pattern("^-?[0-9]+$") { s in
        let b = Pattern.body(s)
        let digits = b.first == UInt8(ascii: "-") ? b.dropFirst() : b[...]
        return !digits.isEmpty && digits.allSatisfy { (48...57).contains($0) }
    }
    /// jsonschema's `ipv4` format (`ipaddress.IPv4Address`: four decimal octets, no leading zeros).
    static let ipv4 = Format("ipv4") { s in
        let parts = s.splitBytes(".", omittingEmpty: false)
        return parts.count == 4 && parts.allSatisfy { p in
            !p.isEmpty && p.utf8.count <= 3 && p.utf8.allSatisfy { (48...57).contains($0) } && (p.utf8.count == 1 || p.utf8.first != 48)
                && Int(p)! <= 255
        }
    }
    static let ipv6 = Format("ipv6") { s in
        var addr = in6_addr()
        return s.utf8.allSatisfy { $0 < 0x80 } && inet_pton(AF_INET6, s, &addr) == 1
    }
    /// An IPv6 address in the compact form Nova stores (`netaddr.IPAddress(…, 6)`): `::babe:220.12.22.2`
    /// is kept as `::babe:dc0c:1602`.
    static func normalizedIPv6(_ s: String) -> String {
        var addr = in6_addr()
        guard inet_pton(AF_INET6, s, &addr) == 1 else { return s }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return s }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    /// oslo's `base64.decode_as_text` accepts padded standard base64.
    static let base64 = Format("base64") { s in
        let t = s.filter { !$0.isWhitespace }
        return t.utf8.count % 4 == 0 && Data(base64Encoded: t) != nil
    }
    static let keypairName = Pattern.ascii("^[_\\- a-zA-Z0-9]+$") { Pattern.isAlnum($0) || "_- ".utf8.contains($0) }
    static let keypairName292 = Pattern.ascii("^[_\\-\\@\\. a-zA-Z0-9]+$") { Pattern.isAlnum($0) || "_-@. ".utf8.contains($0) }
}

/// Nova's times: `2013-09-03T04:01:32Z` for resources, `…T…:…:….ffffff` for some fields.
enum NovaTime {
    static func format(_ d: Date) -> String { Timestamps.seconds(d) }
    static func micros(_ d: Date) -> String {
        let s = Timestamps.micros(d)
        return s.hasByteSuffix("Z") ? String(s.dropLast()) : s
    }
}

/// Flavor extra specs as Nova checks them before storing (`nova/api/validation/extra_specs`):
/// keys and values of the metadata shape; the `resources*:`, `trait*:` and `hw:` namespaces
/// Nimbus understands are checked for their values.
enum ExtraSpecs {
    static func validate(_ specs: [Name: String]) throws {
        for (key, value) in specs {
            let k = key.string
            if let rc = k.droppingBytePrefix("resources") {
                guard let (group, cls) = rc.splitOnceBytes(":"), group.utf8.allSatisfy({ Pattern.isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }),
                      !cls.isEmpty, Int(value).map({ $0 >= 0 }) ?? false else {
                    throw NimbusError.badRequest("Validation failed; \(value) is not a valid value for \(k).")
                }
            } else if k.hasBytePrefix("trait"), k.containsByte(":") {
                guard value == "required" || value == "forbidden" else {
                    throw NimbusError.badRequest("Validation failed; \(value) is not a valid value for \(k).")
                }
            }
        }
    }
}
