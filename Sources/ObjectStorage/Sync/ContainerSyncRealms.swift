import Crypto
import Foundation
import NimbusCore
import Synchronization

/// Swift's `container-sync-realms.conf`: one section per realm with `key`, optional `key2`
/// and `cluster_<name> = <endpoint>` entries (realm and cluster names case-insensitive,
/// upper-cased as Swift keeps them). The file is read again when its modification time
/// changes, checked at most every `mtime_check_interval` seconds (`[DEFAULT]`, 300 by default),
/// as `ContainerSyncRealms._reload` does.
public final class ContainerSyncRealms: Sendable {
    public struct Realm: Sendable, Equatable {
        public var key: String?
        public var key2: String?
        /// Upper-cased cluster name → endpoint URL (names compared as bytes).
        public var clusters: [Name: String]
    }

    public let path: String?
    private struct State { var realms: [Name: Realm] = [:]; var mtime: Date?; var nextCheck: Date = .distantPast; var interval: TimeInterval = 300 }
    private let state = Mutex(State())

    /// `path` nil or empty: no realms (the realm form of X-Container-Sync-To is refused).
    public init(path: String?) {
        self.path = path.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Realms parsed from `text` as Python's configparser reads the file (fixed, never reloaded).
    public init(text: String) {
        self.path = nil
        let (realms, interval) = Self.parse(text)
        state.withLock { $0.realms = realms; $0.interval = interval ?? 300; $0.nextCheck = .distantFuture }
    }

    /// The realms of `text`, and `mtime_check_interval` when it is set.
    public static func parse(_ text: String) -> (realms: [Name: Realm], checkInterval: TimeInterval?) {
        var sections = [(name: String, items: [(String, String)])]()
        var defaults = [(String, String)]()
        var current: Int? = nil
        var inDefault = false
        for rawLine in text.splitBytes("\n", omittingEmpty: false) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasBytePrefix("#") || line.hasBytePrefix(";") { continue }
            if line.hasBytePrefix("["), line.hasByteSuffix("]") {
                let name = String(line.dropFirst().dropLast())
                inDefault = name.sameBytes(as: "DEFAULT")
                if !inDefault { sections.append((name, [])); current = sections.count - 1 } else { current = nil }
                continue
            }
            // configparser: the first `=` or `:` separates an option (lower-cased) from its value.
            guard let sep = line.utf8.firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":") }) else { continue }
            let option = String(line[..<sep]).trimmingCharacters(in: .whitespaces).lowercased()
            let value = String(line[line.index(after: sep)...]).trimmingCharacters(in: .whitespaces)
            if inDefault { defaults.append((option, value)) } else if let current { sections[current].items.append((option, value)) }
        }
        var realms = [Name: Realm]()
        for s in sections {
            var realm = Realm(key: nil, key2: nil, clusters: [:])
            for (option, value) in defaults + s.items {
                if option.sameBytes(as: "key") { realm.key = value }
                else if option.sameBytes(as: "key2") { realm.key2 = value }
                else if let name = option.droppingBytePrefix("cluster_") { realm.clusters[Name(name.uppercased())] = value }
            }
            realms[Name(s.name.uppercased())] = realm
        }
        let interval = defaults.last { $0.0.sameBytes(as: "mtime_check_interval") }.flatMap { TimeInterval($0.1) }
        return (realms, interval)
    }

    private func current() -> [Name: Realm] {
        guard let path else { return state.withLock { $0.realms } }
        let now = Date()
        return state.withLock { s in
            guard now >= s.nextCheck else { return s.realms }
            s.nextCheck = now.addingTimeInterval(s.interval)
            let mtime = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
            guard let mtime, mtime != s.mtime, let data = FileManager.default.contents(atPath: path) else { return s.realms }
            s.mtime = mtime
            let (realms, interval) = Self.parse(String(decoding: data, as: UTF8.self))
            s.realms = realms
            s.interval = interval ?? 300
            s.nextCheck = now.addingTimeInterval(s.interval)
            return s.realms
        }
    }

    /// Realm names (upper-cased) → realms; names compare as bytes, so a header's realm matches
    /// only the bytes the file spells.
    public var realms: [Name: Realm] { current() }
    public func key(_ realm: String) -> String? { current()[Name(realm.uppercased())]?.key.flatMap { $0.isEmpty ? nil : $0 } }
    public func key2(_ realm: String) -> String? { current()[Name(realm.uppercased())]?.key2.flatMap { $0.isEmpty ? nil : $0 } }
    public func endpoint(_ realm: String, _ cluster: String) -> String? {
        current()[Name(realm.uppercased())]?.clusters[Name(cluster.uppercased())].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `get_sig`: the hex HMAC-SHA1, keyed by the realm key, of
    /// `<method>\n<path>\n<x-timestamp>\n<nonce>\n<user key>` (all as UTF-8 bytes; `path` as sent,
    /// URL-encoded).
    public static func signature(method: String, path: String, timestamp: String, nonce: String, realmKey: String, userKey: String) -> String {
        let message = Array("\(method)\n\(path)\n\(timestamp)\n\(nonce)\n\(userKey)".utf8)
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: Array(realmKey.utf8)))
        return Hex.encode(Array(mac))
    }

    /// Byte comparison whose time does not depend on where the values differ.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }
}
