import Compute
import ComputeNode
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import NIOHTTP1
import NIOPosix
import Logging
import NIOCore
import NimbusCore
import NimbusHTTP

/// The console proxy, Nova's novncproxy and serialproxy in one, on a listener of its own
/// (`[console] listen`):
///
///     GET /<noVNC file>                  noVNC's page and scripts (vnc_lite.html …)
///     GET /websockify?token=T            websocket upgrade → the token's console (also `/?token=T`)
///
/// The websocket carries the console's bytes as binary messages: RFB for a VNC console, the
/// guest's serial port for a serial one. A token (from `remote-consoles`) is checked before the
/// upgrade: an unknown or expired one, one whose instance is gone or moved, or an `Origin` of
/// another host gets a bare 400 and the connection closed. The proxy reaches the console
/// through the instance's node (in process, or a websocket to `nimbus compute`).
struct ConsoleProxy: Sendable {
    let service: ComputeService
    /// noVNC's files; nil when noVNC is not installed (the page is then a 404).
    let novncDir: String?
    let logger: Logger

    /// `[vnc] novnc_dir`, else Debian's package's directory, else where install-deps.sh unpacks it.
    static func novncDirectory(configured: String) -> String? {
        let candidates = configured.isEmpty ? ["/usr/share/novnc", "/usr/local/share/novnc"] : [configured]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/vnc_lite.html") }
    }

    typealias Upgrade = ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>

    /// The websocket upgrade of `GET /websockify` (or `/`); `.dontUpgrade` for any other
    /// request that asks for one, and for a refused token.
    func upgrade(_ head: HTTPRequest) async -> Upgrade {
        guard let target = head.path else { return .dontUpgrade }
        let (path, query) = target.splitOnceBytes("?").map { (String($0.head), String($0.tail)) } ?? (target, "")
        guard head.method == .get, ["/", "/websockify", "/websockify/"].contains(where: { path.sameBytes(as: $0) }) else { return .dontUpgrade }
        guard Self.originAllowed(head) else {
            logger.info("console proxy: refused a websocket from another origin")
            return .dontUpgrade
        }
        // noVNC before 1.1 sent the token as a cookie.
        let token = QueryString(query)["token"] ?? Self.cookieToken(head.headerFields)
        guard let token, let grant = try? await service.consoleGrant(token: token) else {
            logger.info("console proxy: refused a websocket with an invalid or expired token")
            return .dontUpgrade
        }
        var headers = HTTPFields()
        if let offered = head.headerFields[.secWebSocketProtocol] {
            // As websockify: the binary subprotocol, or nothing this proxy can speak.
            guard offered.splitBytes(",").contains(where: { $0.trimmingCharacters(in: .whitespaces).sameBytes(as: "binary") }) else {
                return .dontUpgrade
            }
            headers[.secWebSocketProtocol] = "binary"
        }
        let service = self.service, logger = self.logger
        return .upgrade(headers) { inbound, outbound, _ in
            logger.info("console proxy: \(grant.consoleType) console of \(grant.instanceID) on \(grant.host) opened")
            do {
                try await service.withConsole(grant) { console in
                    try await ConsoleRelay.relay(inbound: inbound, outbound: outbound, console: console)
                }
            } catch {
                logger.info("console proxy: console of \(grant.instanceID) failed: \(error)")
            }
        }
    }

    /// Nova's check (NovaProxyRequestHandler): an `Origin`, when sent, is one http(s) URL
    /// whose host is this request's host.
    static func originAllowed(_ head: HTTPRequest) -> Bool {
        let origins = head.headerFields[values: .origin]
        guard let origin = origins.first else { return true }
        guard origins.count == 1, let host = head.authority,
              let rest = origin.droppingBytePrefix("https://") ?? origin.droppingBytePrefix("http://"),
              let originHost = hostname(rest.splitOnceBytes("/")?.head ?? rest), let ownHost = hostname(Substring(host)) else { return false }
        return originHost.lowercased().sameBytes(as: ownHost.lowercased())
    }

    /// The host of an authority (`host`, `host:port`, `[v6]`, `[v6]:port`); nil when malformed.
    static func hostname(_ authority: Substring) -> Substring? {
        if authority.hasBytePrefix("[") {
            guard let (inside, after) = authority.splitOnceBytes("]"), after.isEmpty || after.hasBytePrefix(":") else { return nil }
            guard after.isEmpty || Int(after.dropFirst()) != nil else { return nil }
            return inside + "]"
        }
        let (name, port) = authority.splitOnceBytes(":", last: true) ?? (authority, "")
        guard !name.isEmpty, !name.containsByte(":"), !name.containsByte("@"), port.isEmpty || Int(port) != nil else { return nil }
        return name
    }

    static func cookieToken(_ headers: HTTPFields) -> String? {
        for cookie in headers[values: .cookie] {
            for pair in cookie.splitBytes(";") {
                let kv = pair.trimmingCharacters(in: .whitespaces)
                if let value = kv.droppingBytePrefix("token=") { return String(value) }
            }
        }
        return nil
    }

    /// What the listener answers besides upgrades: noVNC's files (Hummingbird's FileMiddleware:
    /// GET and HEAD, no `..`, streamed), and a plain request to the websocket path.
    var router: Router<BasicRequestContext> {
        let router = Router()
        let refusal = "This is the console proxy's websocket: connect with a websocket client and a console URL's token."
        router.get("/") { _, _ -> Response in throw HTTPError(.badRequest, message: refusal) }
        router.get("/websockify") { _, _ -> Response in throw HTTPError(.badRequest, message: refusal) }
        if let novncDir {
            router.add(middleware: RefuseNUL())
            router.add(middleware: FileMiddleware(novncDir, logger: logger))
        }
        return router
    }

    /// A NUL in the path is a 400 (as on the API's listener): the file system would cut the name
    /// there (`vnc_lite.html%00.png` would be `vnc_lite.html`).
    struct RefuseNUL: RouterMiddleware {
        func handle(_ request: Request, context: BasicRequestContext,
                    next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
            let path = request.uri.path
            guard !path.containsBytes("%00"), !path.utf8.contains(0) else { throw HTTPError(.badRequest, message: "The request URL contains a NUL character.") }
            return try await next(request, context)
        }
    }
}

/// The console listeners (the controller's proxy, a node's console streams): Hummingbird's
/// HTTP/1.1 with websocket upgrades, on a port of their own so that the API's listener keeps
/// Hummingbird's plain HTTP/1.1 (the upgrade pipeline treats requests differently before their
/// first head; an adversarial review found API requests with `Upgrade: h2c` unanswered there).
/// Hardened: a connection that is idle, or sends what the HTTP decoder cannot parse, is closed.
enum ConsoleListener {
    static let idleSeconds: Int64 = 60

    static func server(upgrade: @escaping @Sendable (HTTPRequest) async -> ConsoleProxy.Upgrade) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            Hardened(inner: HTTP1WebSocketUpgradeChannel(
                responder: responder,
                configuration: .init(http1: .init(idleTimeout: .seconds(idleSeconds)), ws: .init(maxFrameSize: ConsoleRelay.maxMessage)),
                shouldUpgrade: { head, _, _ in await upgrade(head) }))
        }
    }

    struct Hardened<Inner: ServerChildChannel>: ServerChildChannel {
        typealias Value = Inner.Value
        let inner: Inner

        func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
            inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
                // Reads only: websocket clients answer the server's pings, so an open console is never idle this long.
                try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(ConsoleListener.idleSeconds)), position: .first)
                // Last, so the HTTP decoder's errors and the idle event pass through it.
                try channel.pipeline.syncOperations.addHandler(CloseOnIdleOrError(), position: .last)
                return value
            }
        }

        func handle(value: Value, logger: Logger) async { await inner.handle(value: value, logger: logger) }
    }

    /// Closes the connection on a read timeout or on an error nothing else handled (a request
    /// the HTTP decoder refused).
    final class CloseOnIdleOrError: ChannelDuplexHandler, RemovableChannelHandler, Sendable {
        typealias InboundIn = NIOAny
        typealias OutboundIn = NIOAny

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is IdleStateHandler.IdleStateEvent {
                context.close(promise: nil)
                return
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if error is HTTPParserError || error is ByteToMessageDecoderError {
                context.close(promise: nil)
                return
            }
            context.fireErrorCaught(error)
        }
    }
}
