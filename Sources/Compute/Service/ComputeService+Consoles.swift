import ComputeNode
import Foundation
import NimbusCore

/// Remote consoles (Nova's `get_vnc_console`, `get_serial_console` …): a token that lets its
/// holder reach one console of one instance through the console proxy, for `token_ttl`.
extension ComputeService {
    /// Checks as Nova's compute API and manager do, asks the instance's node whether the
    /// console can be opened, and stores a new token. `method` names the API for errors
    /// (`get_vnc_console`).
    public func authorizeConsole(_ i: Instance, protocol proto: String, type: String, method: String) async throws -> (token: String, kind: ConsoleKind) {
        guard let host = i.host else { throw NimbusError.conflict("Instance \(i.id) is not ready") }
        if let task = i.taskState, task == .deleting || task == .migrating {
            throw Self.invalidState(i, "task_state", task.rawValue, method)
        }
        let consoles = settings.consoles
        let kind: ConsoleKind
        switch proto {
        case "vnc":
            guard consoles.vncEnabled else { throw NimbusError.badRequest("Unavailable console type \(type).") }
            guard type == "novnc" else { throw NimbusError.badRequest("Invalid console type \(type)") }
            kind = .vnc
        case "serial":
            guard consoles.serialEnabled else { throw NimbusError.badRequest("Unavailable console type \(type).") }
            guard type == "serial" else { throw NimbusError.badRequest("Invalid console type \(type)") }
            kind = .serial
        case "rdp":
            throw NimbusError.badRequest("Unavailable console type \(proto).")
        default:
            // SPICE and MKS are off (Nova's `[spice] enabled` and `[mks] enabled` defaults).
            throw NimbusError.badRequest("Unavailable console type \(type).")
        }
        guard let node = nodes.endpoint(host: host) else {
            throw NimbusError(.notImplemented, "The requested functionality is not supported.")
        }
        do { try await node.checkConsole(i.id, kind) } catch let e as NimbusError where e.kind == .notFound {
            throw NimbusError.conflict("Instance \(i.id) is not ready")
        }
        let token = ConsoleAuthorization.newToken()
        let now = Date()
        try await consoleTokens.create(hash: ConsoleAuthorization.hash(token),
                                       ConsoleAuthorization(instanceID: i.id, consoleType: type, host: host,
                                                            expiresAt: now.addingTimeInterval(consoles.tokenTTL)), now: now)
        return (token, kind)
    }

    /// What a token grants now: nil when it is unknown or expired, or its instance is gone or
    /// no longer on the token's host (moved).
    public func consoleGrant(token: String) async throws -> ConsoleAuthorization? {
        guard !token.isEmpty, token.utf8.count <= 256,
              let grant = try await consoleTokens.get(hash: ConsoleAuthorization.hash(token), now: Date()),
              let i = try await instances.get(grant.instanceID), !i.deleted, i.host?.sameBytes(as: grant.host) == true else { return nil }
        return grant
    }

    /// Opens the console a valid grant names, through its node, and runs `body` with it.
    public func withConsole(_ grant: ConsoleAuthorization, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {
        guard let node = nodes.endpoint(host: grant.host) else { throw NimbusError.conflict("the compute host \(grant.host) is not reachable") }
        try await node.withConsole(grant.instanceID, grant.kind, body)
    }
}
