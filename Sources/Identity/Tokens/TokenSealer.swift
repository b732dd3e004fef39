import Crypto
import Foundation
import NimbusCore

/// Seals token payloads with AES-256-GCM (authenticated encryption, like Keystone's Fernet tokens:
/// the token is opaque to clients and unforgeable without the key). Keys live in a key repository
/// file; the first key seals, every key opens, so a rotated-out key keeps old tokens valid until
/// they expire.
public struct TokenSealer: Sendable {
    let keys: [SymmetricKey]
    /// Far above any sealed payload (a few hundred bytes); longer input is not decoded at all.
    static let maxTokenBytes = 2048

    public init(keys: [SymmetricKey]) {
        precondition(!keys.isEmpty)
        self.keys = keys
    }

    /// Loads the key file at `path`, creating it (mode 0600) with one new key if absent.
    public static func loadOrCreate(path: String) throws -> TokenSealer {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            fm.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let keys = text.split(separator: "\n").compactMap { Data(base64Encoded: String($0)) }.filter { $0.count == 32 }.map { SymmetricKey(data: $0) }
        guard !keys.isEmpty else { throw NimbusError(.internal, "token key file \(path) holds no valid key") }
        return TokenSealer(keys: keys)
    }

    public func seal(_ payload: TokenPayload) throws -> String {
        let data = try JSONEncoder().encode(payload)
        // A token never begins with '-': command-line clients would read it as an option
        // (`openstack token revoke <token>` fails). The nonce is random, so a new box begins with
        // another character (one token in 64 is sealed twice).
        while true {
            let box = try AES.GCM.seal(data, using: keys[0])
            guard let combined = box.combined else { throw NimbusError(.internal, "token sealing failed") }
            let token = Base64URL.encode(combined)
            if token.utf8.first != UInt8(ascii: "-") { return token }
        }
    }

    /// nil when the token is malformed or was not sealed by one of our keys.
    ///
    /// A token has exactly one spelling: the unpadded URL-safe base64 that `seal` produced. A
    /// decoder alone also accepts a trailing `=`, the standard alphabet's `+` and `/`, and a last
    /// character whose unused low bits differ, all decoding to the same bytes; so the bytes are
    /// re-encoded and must give the token back byte for byte.
    public func open(_ token: String) -> TokenPayload? {
        guard token.utf8.count < Self.maxTokenBytes, let data = Base64URL.decode(token),
              Base64URL.encode(data).utf8.elementsEqual(token.utf8),
              let box = try? AES.GCM.SealedBox(combined: data) else { return nil }
        for key in keys {
            if let plain = try? AES.GCM.open(box, using: key) {
                return try? JSONDecoder().decode(TokenPayload.self, from: plain)
            }
        }
        return nil
    }

    /// A Keystone-style audit id: 16 random bytes, url-safe base64 (22 characters).
    public static func newAuditID() -> String {
        Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255) })
    }
}
