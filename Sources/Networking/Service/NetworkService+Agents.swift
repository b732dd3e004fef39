import Foundation
import NetworkNode
import NimbusCore

/// Neutron's agent records: one per host and agent type (the L2 agent on every host; DHCP, L3
/// and metadata on the network node), written when an agent first reports or its
/// configuration changes. Heartbeats stay in memory (Neutron writes each one to its database):
/// `alive` is a heartbeat within `agentDownTime`.
extension NetworkService {
    /// Neutron's `agent_down_time`.
    public static let agentDownTime: TimeInterval = 75
    /// The least time between two rewrites of one host's agent records (Neutron's agents report every 30 s).
    public static let agentRewriteInterval: TimeInterval = 30
    static let l2Agent = (type: "Linux bridge agent", binary: "neutron-linuxbridge-agent", topic: "N/A")
    static let networkNodeAgents = [(type: "DHCP agent", binary: "neutron-dhcp-agent", topic: "dhcp_agent"),
                                    (type: "L3 agent", binary: "neutron-l3-agent", topic: "l3_agent"),
                                    (type: "Metadata agent", binary: "neutron-metadata-agent", topic: "N/A")]

    static func configurations(type: String, _ hello: AgentHello, networkNode: Bool) -> JSONObject {
        switch type {
        case l2Agent.type:
            var c: JSONObject = ["interface_mappings": [:], "l2_population": true, "tunnel_types": hello.tunnelIP == nil ? [] : ["vxlan"],
                                 "devices": 0]
            if let ip = hello.tunnelIP { c["tunneling_ip"] = .string(ip) }
            return c
        case "DHCP agent": return ["dhcp_driver": "dnsmasq", "dhcp_lease_duration": 86400]
        case "L3 agent": return ["agent_mode": "legacy", "ex_gw_ports": 0, "routers": 0]
        default: return ["metadata_proxy_socket": "", "nova_metadata_host": "in process"]
        }
    }

    /// A tunnel endpoint an agent may report: a unicast address (not unspecified, multicast or
    /// the broadcast address), in its canonical form.
    public static func tunnelEndpoint(_ text: String) throws -> String {
        guard let a = IPAddress(text) else { throw NimbusError.badRequest("tunnel address \(text) is not an IP address") }
        let s = a.description
        let multicast = a.version == 4 ? (a.value >> 28) == 0xE : (a.value >> 120) == 0xFF
        guard a.value != 0, !multicast, !(a.version == 4 && a.value == 0xFFFF_FFFF) else {
            throw NimbusError.badRequest("tunnel address \(s) is not a unicast address")
        }
        return s
    }

    /// Whether `host` is a network node (its L3 agent is recorded): remote agents may not speak for it.
    func isNetworkNode(_ host: String) -> Bool {
        agents(host: host)["L3 agent"] != nil
    }

    /// Records the agents of `hello.host` and their heartbeat; writes only what changed, and a
    /// host's records at most every `agentRewriteInterval` once they exist (two agents that
    /// disagree about one host must not turn into a stream of commits waking every agent). The
    /// caller says whether the host is the network node (a remote node never is).
    public func agentHello(_ hello: AgentHello, networkNode: Bool) async throws {
        var hello = hello
        if let ip = hello.tunnelIP { hello.tunnelIP = try Self.tunnelEndpoint(ip) }
        // The network node's host is the controller's own agent; no other agent speaks for it.
        if !networkNode && isNetworkNode(hello.host) { throw NimbusError.conflict("host \(hello.host) is the network node") }
        var types = [Self.l2Agent]
        if networkNode { types += Self.networkNodeAgents }
        let existing = agents(host: hello.host)
        let now = Date()
        let stale = types.contains { t in
            guard let a = existing[t.type] else { return true }
            return a["configurations"]?.objectValue != Self.configurations(type: t.type, hello, networkNode: networkNode)
        }
        let recent = agentWrites.withLock { w in w[hello.host].map { now.timeIntervalSince($0) < Self.agentRewriteInterval } ?? false }
        let missing = types.contains { existing[$0.type] == nil }
        if stale && (missing || !recent) {
            agentWrites.withLock { $0[hello.host] = now }
            try await write { s in
                for t in types {
                    let found = s.all(.agent).first { $0["host"]?.stringValue?.sameBytes(as: hello.host) == true && $0["agent_type"]?.stringValue == t.type }
                    let config = Self.configurations(type: t.type, hello, networkNode: networkNode)
                    if var a = found {
                        guard a["configurations"]?.objectValue != config else { continue }
                        a["configurations"] = .object(config)
                        a["started_at"] = .string(Timestamps.spaced(now))
                        s.put(.agent, a)
                    } else {
                        s.put(.agent, ["id": .string(Identifiers.uuid()), "agent_type": .string(t.type), "binary": .string(t.binary),
                                       "topic": .string(t.topic), "host": .string(hello.host), "admin_state_up": true,
                                       "created_at": .string(Timestamps.spaced(now)), "started_at": .string(Timestamps.spaced(now)), "configurations": .object(config),
                                       "description": .null, "availability_zone": t.type == Self.l2Agent.type ? .null : .string(settings.availabilityZone),
                                       "resources_synced": .null, "resource_versions": [:], "project_id": ""])
                    }
                }
            }
        }
        let ids = agents(host: hello.host).filter { k, _ in types.contains { $0.type == k } }.compactMap { $0.value["id"]?.stringValue }
        heartbeats.withLock { h in for id in ids { h[id] = now } }
    }

    /// The agents of one host by type.
    func agents(host: String) -> [String: JSONObject] {
        var out = [String: JSONObject]()
        for a in state.all(.agent) where a["host"]?.stringValue?.sameBytes(as: host) == true {
            if let t = a["agent_type"]?.stringValue { out[t] = a }
        }
        return out
    }

    /// An agent as the API shows it: with its heartbeat and whether it is alive.
    public func agentView(_ a: JSONObject) -> JSONObject {
        var v = a
        v["project_id"] = nil
        let beat = a["id"]?.stringValue.flatMap { id in heartbeats.withLock { $0[id] } }
        v["heartbeat_timestamp"] = beat.map { .string(Timestamps.spaced($0)) } ?? a["started_at"] ?? .null
        v["alive"] = .bool(beat.map { Date().timeIntervalSince($0) < Self.agentDownTime } ?? false)
        return v
    }

    /// Each host's VXLAN endpoint, from its L2 agent's configuration.
    static func tunnelEndpoints(_ s: NetworkState) -> [String: String] {
        var out = [String: String]()
        for a in s.all(.agent) where a["agent_type"]?.stringValue == l2Agent.type && a["admin_state_up"]?.boolValue != false {
            if let h = a["host"]?.stringValue, let ip = a["configurations"]?["tunneling_ip"]?.stringValue { out[h] = ip }
        }
        return out
    }

    /// The hosts that serve DHCP and routers (their L3 agent is up).
    static func networkNodes(_ s: NetworkState) -> Set<String> {
        Set(s.all(.agent).filter { $0["agent_type"]?.stringValue == "L3 agent" && $0["admin_state_up"]?.boolValue != false }
            .compactMap { $0["host"]?.stringValue })
    }

    /// Changes an agent's `admin_state_up` or `description` (admin).
    public func updateAgent(_ id: String, _ changes: JSONObject) async throws -> JSONObject {
        try await write { s in
            guard var a = s[.agent, id] else { throw ResourceKind.agent.notFound(id) }
            for (k, v) in changes { a[k] = v }
            s.put(.agent, a)
            return a
        }
    }

    /// Forgets an agent (Neutron lets an admin delete a dead agent's record; a live one reports again).
    public func deleteAgent(_ id: String) async throws {
        try await write { s in
            guard s[.agent, id] != nil else { throw ResourceKind.agent.notFound(id) }
            s.remove(.agent, id)
        }
        _ = heartbeats.withLock { $0.removeValue(forKey: id) }
    }
}
