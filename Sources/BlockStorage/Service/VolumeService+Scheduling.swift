import Foundation
import NimbusCore

/// The scheduler's part (Cinder's CapabilitiesFilter over the one backend), the services the
/// API lists and changes, and the user messages failures leave.
extension VolumeService {
    /// What the backend reports, as a Cinder driver's stats: volume types' extra specs are
    /// matched against these.
    public var capabilities: JSONObject {
        ["volume_backend_name": .string(settings.backendName), "vendor_name": .string(settings.vendorName), "driver_version": "1.0",
         "storage_protocol": .string(settings.storageProtocol), "thin_provisioning_support": true, "thick_provisioning_support": false,
         "multiattach": true, "QoS_support": false, "reserved_percentage": 0]
    }

    /// Whether a type's extra specs allow this backend (`cinder/scheduler/filters/
    /// capabilities_filter.py` with `extra_specs_ops.match`): unscoped keys and keys scoped
    /// `capabilities:` must match a capability; other scopes are for other consumers.
    public func satisfies(_ type: JSONObject) -> Bool {
        let caps = capabilities
        for (key, value) in type["extra_specs"]?.objectValue ?? [:] {
            var name = key
            if let colon = key.utf8.firstIndex(of: UInt8(ascii: ":")) {
                guard key[..<colon] == "capabilities" else { continue }
                name = String(key[key.utf8.index(after: colon)...])
            }
            guard let want = value.stringValue else { continue }
            guard let have = caps[name] else { return false }
            if !Self.matches(have, want) { return false }
        }
        return true
    }

    /// `extra_specs_ops.match` for the operators clients use.
    static func matches(_ have: JSONValue, _ spec: String) -> Bool {
        let words = spec.splitBytes(" ").map(String.init)
        let haveText: String = switch have {
        case .string(let s): s
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        default: ""
        }
        guard words.count >= 2 else { return haveText.sameBytes(as: spec) }
        let op = words[0], operand = words[1...].joined(separator: " ")
        switch op {
        case "<is>": return haveText.lowercased() == operand.lowercased()
        case "<in>": return haveText.utf8.contains(subsequence: Array(operand.utf8))
        case "s==": return haveText.sameBytes(as: operand)
        case "s!=": return !haveText.sameBytes(as: operand)
        case "==": return Double(haveText) != nil && Double(haveText) == Double(operand)
        case "!=": return Double(haveText) != Double(operand)
        case "=", ">=": return (Double(haveText) ?? -.infinity) >= (Double(operand) ?? .infinity)
        case "<=": return (Double(haveText) ?? .infinity) <= (Double(operand) ?? -.infinity)
        case "<or>": return words.dropFirst().filter { $0 != "<or>" }.contains { $0.sameBytes(as: haveText) }
        default: return haveText.sameBytes(as: spec)
        }
    }

    /// A user message about a resource (`cinder/message`): kept 30 days.
    func recordMessage(_ s: inout VolumeState, project: String, resourceType: String, resource: String, event: String, text: String,
                       requestID: String?) {
        let now = Date()
        s.put(.message, ["id": .string(Identifiers.uuid()), "project_id": .string(project), "event_id": .string(event),
                         "user_message": .string(text), "message_level": "ERROR", "resource_type": .string(resourceType),
                         "resource_uuid": .string(resource), "request_id": JSONValue(requestID),
                         "created_at": .string(String(Timestamps.micros(now).dropLast())),
                         "expires_at": .string(String(Timestamps.micros(now.addingTimeInterval(30 * 86400)).dropLast()))])
    }

    public func message(_ id: String, actor: VolumeActor) throws -> JSONObject {
        guard let m = state[.message, id], visible(m, actor) else { throw NimbusError.notFound("Message \(id) could not be found.") }
        return m
    }

    public func deleteMessage(_ id: String, actor: VolumeActor) async throws {
        try await write { s in
            guard let m = s[.message, id], self.visible(m, actor) else { throw NimbusError.notFound("Message \(id) could not be found.") }
            s.remove(.message, id)
        }
    }

    // MARK: services

    /// The services of this process: the scheduler on the host, the volume service on the backend.
    public func services() -> [JSONObject] {
        let backendHost = backend.host.splitBytes("#").first.map(String.init) ?? backend.host
        let host = backendHost.splitBytes("@").first.map(String.init) ?? backendHost
        var binaries = [("cinder-scheduler", host), ("cinder-volume", backendHost)]
        // The backup service exists where an object store does (Cinder's `cinder-backup`).
        if backups != nil { binaries.append(("cinder-backup", host)) }
        return binaries.map { binary, h in
            let stored = state[.service, "\(binary):\(h)"]
            return ["binary": .string(binary), "host": .string(h), "disabled": stored?["disabled"] ?? false,
                    "disabled_reason": stored?["disabled_reason"] ?? .null, "frozen": stored?["frozen"] ?? false]
        }
    }

    /// Cinder's `_filter_host`: a host matches itself and its `host@backend#pool` forms.
    public static func hostMatches(_ service: String, _ filter: String) -> Bool {
        if service.sameBytes(as: filter) { return true }
        for sep in ["@", "#"] where service.hasBytePrefix(filter + sep) { return true }
        return false
    }

    /// Enables or disables a service; 404 when no such service runs.
    public func setService(host: String, binary: String, disabled: Bool, reason: String?) async throws {
        guard services().contains(where: { $0["host"]?.stringValue?.sameBytes(as: host) == true && $0["binary"]?.stringValue == binary }) else {
            throw NimbusError.notFound("Service \(binary) on host \(host) could not be found.")
        }
        try await write { s in
            var d = s[.service, "\(binary):\(host)"] ?? ["id": .string("\(binary):\(host)")]
            d["disabled"] = .bool(disabled)
            d["disabled_reason"] = disabled ? JSONValue(reason) : .null
            s.put(.service, d)
        }
    }

    /// Freezes or thaws the volume service of a backend host; 400 for a host that has none
    /// (Cinder turns ServiceNotFound into InvalidInput here).
    public func setFrozen(host: String, _ frozen: Bool) async throws {
        guard let svc = services().first(where: { $0["binary"]?.stringValue == "cinder-volume" && Self.hostMatches($0["host"]?.stringValue ?? "", host) }),
              let h = svc["host"]?.stringValue else {
            throw NimbusError.badRequest("Invalid input received: Service \(host) could not be found.")
        }
        try await write { s in
            var d = s[.service, "cinder-volume:\(h)"] ?? ["id": .string("cinder-volume:\(h)")]
            d["frozen"] = .bool(frozen)
            s.put(.service, d)
        }
    }

    /// Whether backups can be made and restored: an object store is there and `cinder-backup`
    /// is not disabled.
    var backupServiceAvailable: Bool {
        guard backups != nil, let b = services().first(where: { $0["binary"]?.stringValue == "cinder-backup" }) else { return false }
        return b["disabled"]?.boolValue != true
    }

    /// Whether new volumes may be placed: the volume service is enabled and not frozen.
    var volumeServiceAvailable: Bool {
        guard let v = services().first(where: { $0["binary"]?.stringValue == "cinder-volume" }) else { return false }
        return v["disabled"]?.boolValue != true && v["frozen"]?.boolValue != true
    }
}
