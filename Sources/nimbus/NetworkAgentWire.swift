import AsyncHTTPClient
import ComputeNode
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import HTTPTypes
import NetworkNode
import Networking
import NimbusCore
import NimbusHTTP
import Synchronization

/// The network agent API: how the network agent of a `nimbus compute` node gets its host's
/// topology from the controller and reports which ports it wired. Same key as the compute
/// agent API (`X-Compute-Key`); a node is never the network node, and speaks only for the
/// guest ports bound to it.
///
///     GET  /network-agent/v1/topology?host=H[&tunnel_ip=A][&since=V]   HostTopology (X-Network-Version: V')
///          waits up to 20 s while the network state's version is still V (a long poll)
///     POST /network-agent/v1/reports?host=H   {"considered": [port ids], "wired": [port ids]} → 204
enum NetworkAgentWire {
    static let versionHeader = "X-Network-Version"
    static let longPoll = Duration.seconds(20)

    struct Report: Codable { var considered: [String]; var wired: [String] }

    static func routes(service: NetworkService, key: String) -> RouteTable {
        let key = Array(key.utf8)
        var t = RouteTable(service: "network-agent", prefix: "/network-agent", renderer: GenericErrorRenderer())
        t.get("/v1/topology", auth: .none) { req, _ in
            try AgentWire.checkKey(req.headers, key)
            let q = req.queryString
            let host = try Self.host(q)
            let tunnel = q["tunnel_ip"].flatMap { $0.isEmpty ? nil : $0 }
            try await service.agentHello(AgentHello(host: host, tunnelIP: tunnel), networkNode: false)
            if let since = q["since"].flatMap(Int64.init) { await service.waitForChange(since: since, timeout: longPoll) }
            let version = service.state.version
            var response = try AgentWire.jsonResponse(service.topology(host: host, networkNode: false))
            response.headers[HTTPField.Name(versionHeader)!] = String(version)
            return response
        }
        t.post("/v1/reports", auth: .none) { req, _ in
            try AgentWire.checkKey(req.headers, key)
            let host = try Self.host(req.queryString)
            let r = try AgentWire.decode(Report.self, try await req.collectBody(upTo: AgentWire.maxBody))
            try await service.reportWired(host: host, considered: Set(r.considered), wired: Set(r.wired), networkNode: false)
            return Response(status: .noContent)
        }
        return t
    }

    static func host(_ q: QueryString) throws(NimbusError) -> String {
        guard let h = q["host"], !h.isEmpty, h.utf8.count <= 255 else { throw .badRequest("host is required") }
        return h
    }
}

/// A compute node's network agent's way to the controller.
final class RemoteTopologySource: TopologySource {
    let controller: String
    let key: String
    let client: HTTPClient
    private let version = Mutex<Int64?>(nil)

    init(controller: String, key: String, client: HTTPClient = .shared) {
        self.controller = controller.hasByteSuffix("/") ? String(controller.dropLast()) : controller
        self.key = key
        self.client = client
    }

    func call(_ method: HTTPMethod, _ path: String, body: ByteBuffer? = nil) async throws -> (ByteBuffer, HTTPClientResponse) {
        try await AgentWire.execute(AgentWire.request(method, controller + "/network-agent/v1" + path, key: key, body: body), client: client)
    }

    func topology(_ agent: AgentHello) async throws -> HostTopology {
        var path = "/topology?host=" + PercentEncoding.encode(agent.host)
        if let ip = agent.tunnelIP { path += "&tunnel_ip=" + PercentEncoding.encode(ip) }
        if let v = version.withLock({ $0 }) { path += "&since=\(v)" }
        let (body, response) = try await call(.GET, path)
        let t = try AgentWire.decode(HostTopology.self, body)
        let v = response.headers.first(name: NetworkAgentWire.versionHeader).flatMap(Int64.init)
        version.withLock { $0 = v }
        return t
    }

    func reportWired(host: String, considered: Set<String>, wired: Set<String>) async throws {
        let report = NetworkAgentWire.Report(considered: considered.sorted(), wired: wired.sorted())
        _ = try await call(.POST, "/reports?host=" + PercentEncoding.encode(host), body: try AgentWire.encode(report))
    }
}
