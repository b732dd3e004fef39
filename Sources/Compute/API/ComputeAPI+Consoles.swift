import ComputeNode
import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Remote consoles (`remote_consoles.py`, `console_auth_tokens.py`): `POST
/// /servers/{id}/remote-consoles` from 2.6, the `os-get*Console` actions up to 2.5 (in the
/// action route), and the admin's token lookup. The URLs point at the console proxy (its own
/// listener on the controller; see `ConsoleProxy` in the nimbus target).
extension ComputeAPI {
    func addConsoleRoutes(_ t: inout RouteTable) {
        t.post("/v2.1/servers/{server_id}/remote-consoles", versioned { req, ctx, v in
            guard v.atLeast(6) else { throw NimbusError.notFound("The resource could not be found.") }
            let c = try self.caller(ctx)
            let body = try await Self.body(req, ctx)
            let i = try await self.service.server(try ctx.parameter("server_id"), caller: c.auth, isAdmin: c.isAdmin)
            try self.authorize("os_compute_api:os-remote-consoles", c, target: ["project_id": i.projectID])
            let entity = try NovaSchemas.validate(body, Self.remoteConsoleSchema(v))["remote_console"]!
            let proto = entity["protocol"]!.stringValue!, type = entity["type"]!.stringValue!
            let url = try await self.consoleURL(i, protocol: proto, type: type, method: "get_\(proto)_console")
            return .json(["remote_console": ["protocol": .string(proto), "type": .string(type), "url": .string(url)]])
        })
        t.get("/v2.1/os-console-auth-tokens/{console_token}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            // Until 2.31 the API served only RDP consoles, which Nova no longer has: 400.
            guard v.atLeast(31) else {
                throw NimbusError.badRequest("The server could not comply with the request since it is either malformed or otherwise incorrect.")
            }
            try self.authorize("os_compute_api:os-console-auth-tokens", c)
            guard let grant = try await self.service.consoleGrant(token: try ctx.parameter("console_token")) else {
                throw NimbusError.notFound("Token not found")
            }
            // The console is a unix socket on the compute host: no TCP port (0) and no path.
            return .json(["console": ["instance_uuid": .string(grant.instanceID), "host": .string(grant.host), "port": 0,
                                      "internal_access_path": .null]])
        })
    }

    /// The legacy `os-getVNCConsole`, `os-getSPICEConsole`, `os-getRDPConsole` and
    /// `os-getSerialConsole` actions (2.1–2.5): `{"console": {"type", "url"}}`.
    func legacyConsoleAction(_ name: String, _ body: JSONValue, _ i: Instance, _ c: Caller, _ v: NovaVersion) async throws -> Response {
        guard !v.atLeast(6) else { throw NimbusError.notFound("The resource could not be found.") }
        try authorize("os_compute_api:os-remote-consoles", c, target: ["project_id": i.projectID])
        let (proto, types): (String, [String]) = switch name {
        case "os-getVNCConsole": ("vnc", ["novnc", "xvpvnc"])
        case "os-getSPICEConsole": ("spice", ["spice-html5"])
        case "os-getSerialConsole": ("serial", ["serial"])
        default: ("rdp", [])
        }
        if proto == "rdp" { throw NimbusError.badRequest("The server could not comply with the request since it is either malformed or otherwise incorrect.") }
        let schema = Schema.object([name: .object(["type": .oneOf(types)], required: ["type"], additionalProperties: false)],
                                   required: [name], additionalProperties: false)
        let type = try NovaSchemas.validate(body, schema)[name]!["type"]!.stringValue!
        let url = try await consoleURL(i, protocol: proto, type: type, method: "get_\(proto)_console")
        return .json(["console": ["type": .string(type), "url": .string(url)]])
    }

    /// `create_v26` / `create_v28` (2.8 adds `mks` and `webmks`).
    static func remoteConsoleSchema(_ v: NovaVersion) -> Schema {
        var protocols = ["vnc", "spice", "serial", "rdp"]
        var types = ["novnc", "xvpvnc", "spice-html5", "serial", "rdp-html5"]
        if v.atLeast(8) { protocols.append("mks"); types.append("webmks") }
        return .object(["remote_console": .object(["protocol": .oneOf(protocols), "type": .oneOf(types)], required: ["protocol", "type"],
                                                  additionalProperties: false)],
                       required: ["remote_console"], additionalProperties: false)
    }

    func consoleURL(_ i: Instance, protocol proto: String, type: String, method: String) async throws -> String {
        let settings = service.settings.consoles
        let proxy = service.consoleProxyBase.withLock { $0 }
        guard !proxy.isEmpty || (!settings.novncBaseURL.isEmpty && !settings.serialBaseURL.isEmpty) else {
            throw NimbusError(.serviceUnavailable, "The console proxy is not running.")
        }
        let (token, kind) = try await service.authorizeConsole(i, protocol: proto, type: type, method: method)
        switch kind {
        case .vnc:
            return Self.novncURL(base: settings.novncBaseURL.isEmpty ? proxy + "/vnc_lite.html" : settings.novncBaseURL, token: token)
        case .serial:
            let base = settings.serialBaseURL.isEmpty ? ConsoleRelay.websocketURL(proxy) + "/websockify" : settings.serialBaseURL
            return base + (base.containsByte("?") ? "&" : "?") + "token=" + token
        }
    }

    /// noVNC's page with `path=<websocket path>?token=…` (noVNC 1.1+ reads the token there; Nova
    /// sends `path=%3Ftoken%3D…` for a proxy at the root). The websocket path is the page's
    /// directory plus `websockify`, relative to the host as noVNC opens it.
    static func novncURL(base: String, token: String) -> String {
        let afterScheme = base.droppingBytePrefix("https://") ?? base.droppingBytePrefix("http://") ?? Substring(base)
        let target = afterScheme.splitOnceBytes("/").map { String($0.tail) } ?? ""
        let path = target.splitOnceBytes("?").map { String($0.head) } ?? target
        let dir = path.splitOnceBytes("/", last: true).map { String($0.head) + "/" } ?? ""
        let sep = base.containsByte("?") ? "&" : "?"
        return base + sep + "path=" + PercentEncoding.encode(dir + "websockify?token=" + token)
    }
}
