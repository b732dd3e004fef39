import ComputeNode
import Crypto
import Foundation
import NimbusCore

/// Where the remote consoles are served and for how long a console URL lets its holder in
/// (Nova's `[vnc]`, `[serial_console]` and `[consoleauth]` options).
public struct ConsoleSettings: Sendable {
    /// Nova's `[vnc] enabled` (on by default) and `[serial_console] enabled` (off in Nova;
    /// on here, since Nimbus serves the serial console itself).
    public var vncEnabled = true
    public var serialEnabled = true
    /// Nova's `[vnc] novncproxy_base_url`: the noVNC page; its URLs add `?path=<websocket path
    /// and token>`. Empty: the console proxy's own `/vnc_lite.html`.
    public var novncBaseURL = ""
    /// Nova's `[serial_console] base_url`: the websocket a serial client connects to, plus
    /// `?token=`. Empty: the console proxy's own `/websockify`.
    public var serialBaseURL = ""
    /// Nova's `[consoleauth] token_ttl`.
    public var tokenTTL: TimeInterval = 600
    public init() {}
}

/// What a console URL's token grants: one console of one instance on the host it was on when
/// the URL was made. Only the token's SHA-256 is stored.
public struct ConsoleAuthorization: Sendable, Equatable {
    public var instanceID: String
    /// Nova's console type (`novnc`, `serial`).
    public var consoleType: String
    public var host: String
    public var expiresAt: Date

    public init(instanceID: String, consoleType: String, host: String, expiresAt: Date) {
        self.instanceID = instanceID; self.consoleType = consoleType; self.host = host; self.expiresAt = expiresAt
    }

    public var kind: ConsoleKind { consoleType == "serial" ? .serial : .vnc }

    /// A new token: 32 random bytes, hex.
    static func newToken() -> String {
        Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255) })
    }

    /// What is stored and looked up: the token's SHA-256, hex.
    static func hash(_ token: String) -> String {
        Hex.encode(SHA256.hash(data: Array(token.utf8)))
    }
}
