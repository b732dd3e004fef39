import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWSClient
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import NimbusHTTP

/// The agent API on the wire, both ends in one place. Every request carries the cluster's
/// compute key (`X-Compute-Key`, compared in constant time); bodies are JSON of the Codable
/// types in AgentProtocol.swift.
///
/// Served by the controller (under its one listener), called by `nimbus compute` nodes:
///
///     POST /compute-agent/v1/nodes                   NodeInfo → {"provider_id": …}
///     GET  /compute-agent/v1/desired?host=H          [DesiredInstance]
///     POST /compute-agent/v1/reports?host=H          [InstanceReport] → 204
///     GET  /compute-agent/v1/images/<id>             ImageDescription
///     GET  /compute-agent/v1/images/<id>/data        the image's bytes
///
/// Served by a node (its `--listen`), called by the controller:
///
///     POST /compute-node/v1/poke                     → 204 (reconcile now)
///     GET  /compute-node/v1/console/<id>?lines=N     the console's tail (text)
///     GET  /compute-node/v1/diagnostics/<id>         GuestDiagnostics
///     POST /compute-node/v1/nmi/<id>                 → 204 (crash dump)
///     POST /compute-node/v1/migration-control/<id>?action=force_complete|abort  → 204
///
/// and by the source of a cold move to its destination node (the node inside the controller
/// serves the same under `/compute-agent/v1/node`):
///
///     GET  /compute-node/v1/migrations/<m>/instances/<id>/disks          [MigrationDisk]
///     GET  /compute-node/v1/migrations/<m>/instances/<id>/disks/<name>   the disk's bytes
public enum AgentWire {
    public static let keyHeader = "X-Compute-Key"
    public static var keyField: HTTPField.Name { HTTPField.Name(keyHeader)! }
    /// The largest JSON body either side accepts (a node with many instances reports in one).
    public static let maxBody = 16 << 20

    public static func checkKey(_ headers: HTTPFields, _ key: [UInt8]) throws(NimbusError) {
        guard let given = headers[keyField], ConstantTime.equal(Array(given.utf8), key) else {
            throw .unauthorized("missing or wrong compute key")
        }
    }

    public static func encode(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(value))
    }

    public static func jsonResponse(_ value: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: try encode(value)))
    }

    /// One outgoing disk, streamed from its file.
    static func diskResponse(_ agent: ComputeAgent, id: String, migration: String, disk: String) async throws -> Response {
        let path = try await agent.outgoingDiskPath(id, migration: migration, disk: disk)
        guard let size = FileIO.size(path) else { throw NimbusError.notFound("disk \(disk) is gone") }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                        body: ResponseBody(contentLength: Int(size)) { writer in
                            for try await chunk in FileByteChunks(path: path) { try await writer.write(chunk) }
                            try await writer.finish(nil)
                        })
    }

    /// A request to the controller's agent APIs: the key, and a JSON body when there is one.
    public static func request(_ method: HTTPMethod, _ url: String, key: String, body: ByteBuffer? = nil) -> HTTPClientRequest {
        var r = HTTPClientRequest(url: url)
        r.method = method
        r.headers.add(name: keyHeader, value: key)
        if let body {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(body)
        }
        return r
    }

    /// One call to the controller's agent APIs: the body, or the controller's refusal (503).
    public static func execute(_ r: HTTPClientRequest, client: HTTPClient) async throws -> (ByteBuffer, HTTPClientResponse) {
        let response = try await client.execute(r, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: maxBody)
        guard (200..<300).contains(response.status.code) else {
            throw NimbusError(.serviceUnavailable, "the controller answered \(response.status.code): \(String(buffer: body))")
        }
        return (body, response)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer) throws(NimbusError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView)) } catch {
            throw .badRequest("malformed agent message: \(error)")
        }
    }
}

/// What a node learns about an image before fetching it.
public struct ImageDescription: Sendable, Codable, Equatable {
    public var id: String
    public var diskFormat: String
    public var size: Int64
    public var md5: String?
    public var sha512: String?
}

// MARK: controller side

/// The agent API's routes in the controller, over its `NodeControl`.
public struct AgentControlAPI: Sendable {
    let control: any NodeControl
    let key: [UInt8]
    /// The compute node in the controller's process, whose outgoing disks are served here.
    let localAgent: ComputeAgent?

    public init(control: any NodeControl, key: String, localAgent: ComputeAgent? = nil) {
        self.control = control
        self.key = Array(key.utf8)
        self.localAgent = localAgent
    }

    public var routes: RouteTable {
        var t = RouteTable(service: "compute-agent", prefix: "/compute-agent", renderer: GenericErrorRenderer())
        let api = self
        t.post("/v1/nodes", auth: .none) { req, ctx in
            try AgentWire.checkKey(req.headers, api.key)
            let info = try AgentWire.decode(NodeInfo.self, try await req.collectBody(upTo: AgentWire.maxBody))
            return try AgentWire.jsonResponse(["provider_id": try await api.control.register(info)])
        }
        t.get("/v1/desired", auth: .none) { req, ctx in
            try AgentWire.checkKey(req.headers, api.key)
            return try AgentWire.jsonResponse(try await api.control.desired(host: try Self.host(req)))
        }
        t.post("/v1/reports", auth: .none) { req, ctx in
            try AgentWire.checkKey(req.headers, api.key)
            let reports = try AgentWire.decode([InstanceReport].self, try await req.collectBody(upTo: AgentWire.maxBody))
            try await api.control.report(host: try Self.host(req), reports)
            return Response(status: .noContent)
        }
        t.get("/v1/images/{id}", auth: .none) { req, ctx in
            try AgentWire.checkKey(req.headers, api.key)
            let source = try await api.control.image(try ctx.parameter("id"))
            return try AgentWire.jsonResponse(ImageDescription(id: source.id, diskFormat: source.diskFormat, size: source.size, md5: source.md5,
                                                               sha512: source.sha512))
        }
        t.get("/v1/images/{id}/data", auth: .none) { req, ctx in
            try AgentWire.checkKey(req.headers, api.key)
            let source = try await api.control.image(try ctx.parameter("id"))
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                            body: ResponseBody(contentLength: Int(source.size)) { writer in
                                for try await chunk in try await source.bytes() { try await writer.write(ByteBuffer(bytes: chunk)) }
                                try await writer.finish(nil)
                            })
        }
        t.put("/v1/images/{id}/data", auth: .none) { req, ctx in
            try AgentWire.checkKey(req.headers, api.key)
            let q = req.queryString
            guard let instance = q["instance"].flatMap({ try? InstanceID($0) }), let format = q["disk_format"],
                  let size = req.headers[.contentLength].flatMap(Int64.init) else {
                throw NimbusError.badRequest("instance, disk_format and a Content-Length are required")
            }
            try await api.control.uploadImage(try ctx.parameter("id"), instance: instance, host: try Self.host(req), diskFormat: format,
                                              size: size, bytes: req.body)
            return Response(status: .noContent)
        }
        t.get("/v1/node/migrations/{migration}/instances/{id}/disks", auth: .none) { req, ctx in
            try AgentWire.checkKey(req.headers, api.key)
            guard let agent = api.localAgent else { throw NimbusError.notFound("this controller runs no compute node") }
            return try AgentWire.jsonResponse(try await agent.outgoingDisks(try ctx.parameter("id"), migration: try ctx.parameter("migration")))
        }
        t.get("/v1/node/migrations/{migration}/instances/{id}/disks/{disk}", auth: .none) { req, ctx in
            try AgentWire.checkKey(req.headers, api.key)
            guard let agent = api.localAgent else { throw NimbusError.notFound("this controller runs no compute node") }
            return try await AgentWire.diskResponse(agent, id: try ctx.parameter("id"), migration: try ctx.parameter("migration"),
                                                    disk: try ctx.parameter("disk"))
        }
        return t
    }

    static func host(_ req: Request) throws(NimbusError) -> String {
        guard let h = req.queryString["host"], !h.isEmpty else { throw .badRequest("host is required") }
        return h
    }
}

/// The controller's way to a `nimbus compute` node: poke it, read a console.
public struct RemoteNodeEndpoint: NodeEndpoint {
    let url: String
    let consoleURL: String?
    let key: String
    let client: HTTPClient

    public init(url: String, consoleURL: String? = nil, key: String, client: HTTPClient = .shared) {
        self.url = url
        self.consoleURL = consoleURL
        self.key = key
        self.client = client
    }

    func request(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest {
        var r = HTTPClientRequest(url: url + path)
        r.method = method
        r.headers.add(name: AgentWire.keyHeader, value: key)
        return r
    }

    public func poke() async {
        // Best effort: the node also reconciles on its own every few seconds.
        _ = try? await client.execute(request(.POST, "/compute-node/v1/poke"), timeout: .seconds(5))
    }

    public func consoleLog(_ instance: String, lines: Int?) async throws -> String {
        let path = "/compute-node/v1/console/\(PercentEncoding.encode(instance))" + (lines.map { "?lines=\($0)" } ?? "")
        let response = try await client.execute(request(.GET, path), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else { throw NimbusError(.conflict, "the compute node answered \(response.status.code): \(String(buffer: body))") }
        return String(buffer: body)
    }

    /// A node's answer, its error kept (404 and 409 stay what they are).
    func call(_ method: HTTPMethod, _ path: String) async throws -> ByteBuffer {
        let response = try await client.execute(request(method, path), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        switch response.status.code {
        case 200..<300: return body
        case 404: throw NimbusError(.notFound, String(buffer: body))
        case 409: throw NimbusError(.conflict, String(buffer: body))
        default: throw NimbusError(.conflict, "the compute node answered \(response.status.code): \(String(buffer: body))")
        }
    }

    public func diagnostics(_ instance: String) async throws -> GuestDiagnostics {
        try AgentWire.decode(GuestDiagnostics.self, try await call(.GET, "/compute-node/v1/diagnostics/\(PercentEncoding.encode(instance))"))
    }

    public func injectNMI(_ instance: String) async throws {
        _ = try await call(.POST, "/compute-node/v1/nmi/\(PercentEncoding.encode(instance))")
    }

    public func controlMigration(_ instance: String, _ action: MigrationControl) async throws {
        _ = try await call(.POST, "/compute-node/v1/migration-control/\(PercentEncoding.encode(instance))?action=\(action.rawValue)")
    }

    public func checkConsole(_ instance: String, _ kind: ConsoleKind) async throws {
        _ = try await call(.GET, "/compute-node/v1/consoles/\(PercentEncoding.encode(instance))?kind=\(kind.rawValue)")
    }

    /// A websocket to the node's console stream, relayed message for message.
    public func withConsole(_ instance: String, _ kind: ConsoleKind, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {
        guard let base = consoleURL else { throw NimbusError.conflict("the compute node did not register a console listener") }
        let ws = ConsoleRelay.websocketURL(base)
        var config = WebSocketClientConfiguration(maxFrameSize: ConsoleRelay.maxMessage)
        config.additionalHeaders[AgentWire.keyField] = key
        try await WebSocketClient.connect(url: ws + "/compute-node/v1/consoles/\(PercentEncoding.encode(instance))/stream?kind=\(kind.rawValue)",
                                          configuration: config, logger: Logger(label: "nimbus.console")) { inbound, outbound, _ in
            try await body(ConsoleIO(inbound: ConsoleRelay.bytes(inbound), send: { try await outbound.write(.binary($0)) }))
        }
    }
}

// MARK: node side

/// A node's way to the controller: `NodeControl` over the agent API.
public struct RemoteNodeControl: NodeControl {
    let controller: String
    let key: String
    let client: HTTPClient

    /// `controller`: the controller's base URL (e.g. `http://127.0.0.1:5000`).
    public init(controller: String, key: String, client: HTTPClient = .shared) {
        self.controller = controller.hasByteSuffix("/") ? String(controller.dropLast()) : controller
        self.key = key
        self.client = client
    }

    func request(_ method: HTTPMethod, _ path: String, body: ByteBuffer? = nil) -> HTTPClientRequest {
        AgentWire.request(method, controller + "/compute-agent/v1" + path, key: key, body: body)
    }

    func call(_ r: HTTPClientRequest) async throws -> ByteBuffer {
        try await AgentWire.execute(r, client: client).0
    }

    static func query(_ host: String) -> String { "?host=" + PercentEncoding.encode(host) }

    public func register(_ node: NodeInfo) async throws -> String {
        let body = try await call(request(.POST, "/nodes", body: try AgentWire.encode(node)))
        return try AgentWire.decode([String: String].self, body)["provider_id"] ?? ""
    }

    public func desired(host: String) async throws -> [DesiredInstance] {
        try AgentWire.decode([DesiredInstance].self, try await call(request(.GET, "/desired" + Self.query(host))))
    }

    public func report(host: String, _ reports: [InstanceReport]) async throws {
        _ = try await call(request(.POST, "/reports" + Self.query(host), body: try AgentWire.encode(reports)))
    }

    public func image(_ id: String) async throws -> any ImageSource {
        let d = try AgentWire.decode(ImageDescription.self, try await call(request(.GET, "/images/" + PercentEncoding.encode(id))))
        return RemoteImage(description: d, control: self)
    }

    public func uploadImage(_ imageID: String, instance: InstanceID, host: String, diskFormat: String, size: Int64,
                            bytes: any AsyncSequence<ByteBuffer, any Error> & Sendable) async throws {
        let query = Self.query(host) + "&instance=\(instance.rawValue)&disk_format=" + PercentEncoding.encode(diskFormat)
        var r = request(.PUT, "/images/" + PercentEncoding.encode(imageID) + "/data" + query)
        r.body = .stream(bytes, length: .known(size))
        let response = try await client.execute(r, timeout: .hours(1))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(response.status.code) else {
            throw NimbusError(.serviceUnavailable, "the controller answered \(response.status.code): \(String(buffer: body))")
        }
    }

    public func migrationSource(base: String?, instance: InstanceID, migration: String) throws -> any MigrationSource {
        RemoteMigrationSource(base: base ?? controller + "/compute-agent/v1/node", key: key, instance: instance, migration: migration, client: client)
    }

    struct RemoteImage: ImageSource {
        let description: ImageDescription
        let control: RemoteNodeControl
        var id: String { description.id }
        var diskFormat: String { description.diskFormat }
        var size: Int64 { description.size }
        var md5: String? { description.md5 }
        var sha512: String? { description.sha512 }

        func bytes() async throws -> any AsyncSequence<[UInt8], any Error> {
            let r = control.request(.GET, "/images/" + PercentEncoding.encode(description.id) + "/data")
            let response = try await control.client.execute(r, timeout: .hours(1))
            guard response.status == .ok else {
                throw NimbusError(.serviceUnavailable, "the controller answered \(response.status.code) for image \(description.id)")
            }
            return response.body.map { Array($0.readableBytesView) }
        }
    }
}

/// The HTTP API a `nimbus compute` node serves to the controller.
public struct NodeAgentAPI: Sendable {
    let agent: ComputeAgent
    let key: [UInt8]

    public init(agent: ComputeAgent, key: String) {
        self.agent = agent
        self.key = Array(key.utf8)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/healthcheck") { _, _ in "OK" }
        let api = self
        router.post("/compute-node/v1/poke") { req, _ -> Response in
            try api.check(req)
            await api.agent.poke()
            return Response(status: .noContent)
        }
        router.get("/compute-node/v1/console/:id") { req, ctx -> Response in
            try api.check(req)
            guard let id = ctx.parameters.get("id") else { throw HTTPError(.badRequest) }
            var lines: Int?
            if let l = req.uri.queryParameters.get("lines") {
                guard let n = Int(l), n >= 0 else { throw HTTPError(.badRequest, message: "lines must be a number") }
                lines = n
            }
            do {
                let text = try await api.agent.consoleLog(id, lines: lines)
                return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
            } catch let e as NimbusError {
                throw HTTPError(e.kind == .notFound ? .notFound : .badRequest, message: e.message)
            }
        }
        router.get("/compute-node/v1/diagnostics/:id") { req, ctx -> Response in
            try api.check(req)
            guard let id = ctx.parameters.get("id") else { throw HTTPError(.badRequest) }
            do { return try AgentWire.jsonResponse(try await api.agent.diagnostics(id)) } catch let e as NimbusError {
                throw Self.httpError(e)
            }
        }
        router.post("/compute-node/v1/nmi/:id") { req, ctx -> Response in
            try api.check(req)
            guard let id = ctx.parameters.get("id") else { throw HTTPError(.badRequest) }
            do { try await api.agent.injectNMI(id) } catch let e as NimbusError {
                throw Self.httpError(e)
            }
            return Response(status: .noContent)
        }
        router.post("/compute-node/v1/migration-control/:id") { req, ctx -> Response in
            try api.check(req)
            guard let id = ctx.parameters.get("id"), let action = req.uri.queryParameters.get("action").flatMap({ MigrationControl(rawValue: String($0)) }) else {
                throw HTTPError(.badRequest, message: "an instance and action=force_complete|abort are required")
            }
            do { try await api.agent.controlMigration(id, action) } catch let e as NimbusError {
                throw Self.httpError(e)
            }
            return Response(status: .noContent)
        }
        router.get("/compute-node/v1/consoles/:id") { req, ctx -> Response in
            try api.check(req)
            guard let id = ctx.parameters.get("id"), let kind = req.uri.queryParameters.get("kind").flatMap({ ConsoleKind(rawValue: String($0)) }) else {
                throw HTTPError(.badRequest, message: "an instance and kind=vnc|serial are required")
            }
            do { try await api.agent.checkConsole(id, kind) } catch let e as NimbusError {
                throw Self.httpError(e)
            }
            return Response(status: .noContent)
        }
        router.get("/compute-node/v1/migrations/:migration/instances/:id/disks") { req, ctx -> Response in
            try api.check(req)
            guard let id = ctx.parameters.get("id"), let m = ctx.parameters.get("migration") else { throw HTTPError(.badRequest) }
            do { return try AgentWire.jsonResponse(try await api.agent.outgoingDisks(id, migration: m)) } catch let e as NimbusError {
                throw HTTPError(e.kind == .notFound ? .notFound : .badRequest, message: e.message)
            }
        }
        router.get("/compute-node/v1/migrations/:migration/instances/:id/disks/:disk") { req, ctx -> Response in
            try api.check(req)
            guard let id = ctx.parameters.get("id"), let m = ctx.parameters.get("migration"), let disk = ctx.parameters.get("disk") else {
                throw HTTPError(.badRequest)
            }
            do { return try await AgentWire.diskResponse(api.agent, id: id, migration: m, disk: disk) } catch let e as NimbusError {
                throw HTTPError(e.kind == .notFound ? .notFound : .badRequest, message: e.message)
            }
        }
        return router
    }

    /// The websocket upgrade of `GET /compute-node/v1/consoles/<id>/stream?kind=`: the
    /// controller's console proxy relays a user's console through it. Nil: not this route, or
    /// refused (wrong key, unknown kind), so the request is answered as plain HTTP.
    public func consoleUpgrade(_ head: HTTPRequest) async -> (@Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void)? {
        guard head.method == .get, let target = head.path, target.hasBytePrefix("/compute-node/v1/consoles/") else { return nil }
        guard (try? AgentWire.checkKey(head.headerFields, key)) != nil else { return nil }
        let (path, query) = target.splitOnceBytes("?") ?? (Substring(target), "")
        let parts = path.splitBytes("/", omittingEmpty: false)
        // "", "compute-node", "v1", "consoles", <id>, "stream"
        guard parts.count == 6, parts[5].sameBytes(as: "stream"), let id = PercentEncoding.decode(parts[4]),
              let kind = QueryString(query)["kind"].flatMap({ ConsoleKind(rawValue: $0) }) else { return nil }
        let agent = self.agent
        // An instance this node does not have, or whose guest is not running: refused before the upgrade.
        guard (try? await agent.checkConsole(id, kind)) != nil else { return nil }
        return { inbound, outbound in
            try await agent.withConsole(id, kind) { console in
                try await ConsoleRelay.relay(inbound: inbound, outbound: outbound, console: console)
            }
        }
    }

    /// A node's error as the controller reads it back (`RemoteNodeEndpoint.call`): 404 and 409
    /// kept, anything else 400.
    static func httpError(_ e: NimbusError) -> HTTPError {
        HTTPError(e.kind == .notFound ? .notFound : e.kind == .conflict ? .conflict : .badRequest, message: e.message)
    }

    func check(_ req: Request) throws {
        guard let given = req.headers[AgentWire.keyField], ConstantTime.equal(Array(given.utf8), key) else {
            throw HTTPError(.unauthorized, message: "missing or wrong compute key")
        }
    }
}

/// The disks of an outgoing instance, read from the source node's API by the destination node.
public struct RemoteMigrationSource: MigrationSource {
    let base: String
    let key: String
    let instance: InstanceID
    let migration: String
    let client: HTTPClient

    public init(base: String, key: String, instance: InstanceID, migration: String, client: HTTPClient = .shared) {
        self.base = base.hasByteSuffix("/") ? String(base.dropLast()) : base
        self.key = key
        self.instance = instance
        self.migration = migration
        self.client = client
    }

    var url: String { base + "/migrations/" + PercentEncoding.encode(migration) + "/instances/" + instance.rawValue + "/disks" }

    func request(_ url: String) -> HTTPClientRequest {
        var r = HTTPClientRequest(url: url)
        r.headers.add(name: AgentWire.keyHeader, value: key)
        return r
    }

    public func disks() async throws -> [MigrationDisk] {
        let response = try await client.execute(request(url), timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw NimbusError(.serviceUnavailable, "the source node answered \(response.status.code) for the disks of \(instance): \(String(buffer: body))")
        }
        return try AgentWire.decode([MigrationDisk].self, body)
    }

    public func download(_ disk: String, to path: String) async throws {
        let response = try await client.execute(request(url + "/" + PercentEncoding.encode(disk)), timeout: .hours(6))
        guard response.status == .ok else {
            throw NimbusError(.serviceUnavailable, "the source node answered \(response.status.code) for disk \(disk) of \(instance)")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileIO.Failure(what: "cannot create", path: path, code: errno) }
        defer { close(fd) }
        for try await chunk in response.body {
            try FileIO.writeAll(fd, Array(chunk.readableBytesView), path: path)
        }
        guard fsync(fd) == 0 else { throw FileIO.Failure(what: "cannot fsync", path: path, code: errno) }
    }
}
