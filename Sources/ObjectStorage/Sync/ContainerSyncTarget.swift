import Foundation
import NimbusCore

/// Where a container syncs to: `validate_sync_to` of Swift's utils, which the container server
/// runs on every PUT/POST carrying `X-Container-Sync-To` (a 400 with its message) and the
/// sync daemon again before each pass.
public struct ContainerSyncTarget: Sendable, Equatable {
    /// The container's URL (`<endpoint>/<account>/<container>` or the full URL as set).
    public var url: String
    /// The realm (upper-cased) and its key for the realm form; nil for a full URL (old style:
    /// the sync key is sent as `X-Container-Sync-Key`).
    public var realm: String?
    public var realmKey: String?

    public struct Rules: Sendable {
        /// The container_sync middleware's `allow_full_urls` (Swift's default: true).
        public var allowFullURLs = true
        /// The container server's `allowed_sync_hosts` (default `127.0.0.1`).
        public var allowedSyncHosts: [String] = ["127.0.0.1"]
        public init() {}
    }

    /// nil when `value` is empty (sync off); otherwise the target, or an error carrying Swift's
    /// message.
    public static func validate(_ value: String, rules: Rules, realms: ContainerSyncRealms) -> Result<ContainerSyncTarget, SyncToError>? {
        if !rules.allowFullURLs, !value.isEmpty, !value.hasBytePrefix("//") {
            return .failure(.init(message: "Full URLs are not allowed for X-Container-Sync-To values. Only realm values of the format //realm/cluster/account/container are allowed.\n"))
        }
        var trimmed = Substring(value)
        while trimmed.hasByteSuffix("/") { trimmed = trimmed.dropLast() }
        if trimmed.isEmpty { return nil }
        if let rest = trimmed.droppingBytePrefix("//") {
            let data = rest.splitBytes("/", omittingEmpty: false).map(String.init)
            guard data.count == 4 else { return .failure(.init(message: "Invalid X-Container-Sync-To format \(pythonRepr(value))")) }
            let (realm, cluster, account, container) = (data[0], data[1], data[2], data[3])
            guard let key = realms.key(realm) else { return .failure(.init(message: "No realm key for \(pythonRepr(realm))")) }
            guard var endpoint = realms.endpoint(realm, cluster) else {
                return .failure(.init(message: "No cluster endpoint for \(pythonRepr(realm)) \(pythonRepr(cluster))"))
            }
            while endpoint.hasByteSuffix("/") { endpoint.removeLast() }
            return .success(.init(url: "\(endpoint)/\(account)/\(container)", realm: realm.uppercased(), realmKey: key))
        }
        guard let url = URLComponents(string: String(trimmed)), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            let scheme = trimmed.splitOnceBytes(":").map { String($0.head) }.flatMap { $0.containsByte("/") ? nil : $0 } ?? ""
            return .failure(.init(message: "Invalid scheme \(pythonRepr(scheme)) in X-Container-Sync-To, must be \"//\", \"http\", or \"https\"."))
        }
        if url.percentEncodedPath.isEmpty { return .failure(.init(message: "Path required in X-Container-Sync-To")) }
        if url.percentEncodedQuery != nil || url.percentEncodedFragment != nil || url.percentEncodedPath.containsByte(";") {
            return .failure(.init(message: "Params, queries, and fragments not allowed in X-Container-Sync-To"))
        }
        let host = (url.host ?? "").lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard rules.allowedSyncHosts.containsBytes(host) else {
            return .failure(.init(message: "Invalid host \(host.isEmpty ? "None" : pythonRepr(host)) in X-Container-Sync-To"))
        }
        return .success(.init(url: String(trimmed), realm: nil, realmKey: nil))
    }

    /// Python's `repr` of a str (the messages quote values with `%r`).
    static func pythonRepr(_ s: String) -> String {
        let quote = s.containsByte("'") && !s.containsByte("\"") ? "\"" : "'"
        var out = quote
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if String(c) == quote { out += "\\" + quote }
                else if c.value < 0x20 || c.value == 0x7F { out += String(format: "\\x%02x", c.value) }
                else { out.unicodeScalars.append(c) }
            }
        }
        return out + quote
    }
}

public struct SyncToError: Error, Sendable, Equatable {
    public var message: String
}
