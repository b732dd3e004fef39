import Compute
import ComputeNode
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NetworkNode
import Networking
import NimbusCore
import Synchronization

/// The metadata service at 169.254.169.254, inside each network's DHCP namespace (as Neutron's
/// isolated-metadata proxy sits there), answered in process: a listening socket is opened in
/// the namespace (a thread enters it with `setns`, creates the socket, and leaves), then served
/// by NIO here. The caller is the guest whose port on that network has the request's source
/// address — the security groups' anti-spoofing ties addresses to ports, so a guest cannot
/// pose as another; nothing the guest sends names the instance.
final class MetadataServer: MetadataEndpoints {
    let network: NetworkService
    let logger: Logger
    private let channels = Mutex<[String: any Channel]>([:])
    /// Set once the compute service exists (it is built after the network service).
    private let computeService = Mutex<ComputeService?>(nil)

    init(network: NetworkService, logger: Logger) {
        self.network = network
        self.logger = logger
    }

    func attach(compute: ComputeService) { computeService.withLock { $0 = compute } }

    func serve(namespaces: [String: String]) async {
        let current = channels.withLock { $0 }
        for (ns, ch) in current where namespaces[ns] == nil {
            try? await ch.close()
            _ = channels.withLock { $0.removeValue(forKey: ns) }
        }
        for (ns, networkID) in namespaces where current[ns] == nil {
            do {
                let fd = try await NetNS.listeningSocket(namespace: ns, address: Metadata.address, port: 80)
                let handler = MetadataHTTP(server: self, networkID: networkID)
                let ch = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { child in
                        child.eventLoop.makeCompletedFuture {
                            // At most `maxConnections` at once per network (a failed initializer
                            // closes the connection at once).
                            let admitted = handler.open.count.withLock { n in
                                guard n < MetadataHTTP.maxConnections else { return false }
                                n += 1
                                return true
                            }
                            guard admitted else {
                                throw NetNS.Failure(description: "too many metadata connections")
                            }
                            child.closeFuture.whenComplete { _ in handler.open.count.withLock { $0 -= 1 } }
                            try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                            try child.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                            try child.pipeline.syncOperations.addHandler(MetadataHTTP.Connection(handler: handler))
                        }
                    }
                    .withBoundSocket(fd).get()
                channels.withLock { $0[ns] = ch }
            } catch {
                logger.error("metadata service not started in \(ns): \(error)")
            }
        }
    }

    /// The response to `path` for the guest at `source` on `networkID`.
    func respond(networkID: String, source: String, path: String, post: [UInt8]? = nil) async -> (HTTPResponseStatus, String, String) {
        // The port the request came from must be the instance's own: another project's port
        // naming the instance as its device is not.
        guard let compute = computeService.withLock({ $0 }), let caller = network.metadataCaller(network: networkID, address: source),
              let docs = try? await compute.metadataDocuments(instance: caller.instance),
              docs.instance.projectID.sameBytes(as: caller.portProject) else {
            return (.notFound, "text/plain", "404 Not Found\n")
        }
        let parts = path.splitBytes("/").map(String.init)
        let text = "text/plain; charset=UTF-8"
        if parts.isEmpty {
            return (.ok, text, (MetadataServer.ec2Versions + ["latest"]).joined(separator: "\n"))
        }
        if parts[0] == "openstack" {
            let versions = ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "latest"]
            if parts.count == 1 { return (.ok, text, versions.joined(separator: "\n")) }
            // The password a guest agent posts (from 2013-04-04, Grizzly), shown by Nova's
            // os-server-password: GET reads it, POST sets it once.
            let withPassword = versions.firstIndex(where: { $0.sameBytes(as: parts[1]) }).map { $0 >= versions.firstIndex(of: "2013-04-04")! } ?? false
            let isPassword = parts.count == 3 && parts[2].sameBytes(as: "password")
            if isPassword, withPassword {
                guard let body = post else { return (.ok, text, docs.instance.password ?? "") }
                guard let outcome = try? await compute.postPassword(instance: docs.instance.id, body: body) else {
                    return (.internalServerError, text, "")
                }
                switch outcome {
                case .stored: return (.ok, text, "")
                case .conflict: return (.conflict, text, "409 Conflict\n")
                case .tooLarge: return (.badRequest, text, "400 Bad Request\n\nRequest is too large.\n")
                case .notUTF8: return (.badRequest, text, "400 Bad Request\n\nThe password is not UTF-8.\n")
                case .noInstance: return (.notFound, text, "404 Not Found\n")
                }
            }
            if isPassword { return (.notFound, text, "404 Not Found\n") }  // before 2013-04-04
            if post != nil { return (.methodNotAllowed, text, "405 Method Not Allowed\n") }
            guard let files = try? ConfigDriveFiles.list(docs.drive) else { return (.internalServerError, text, "") }
            let prefix = "openstack/\(parts[1])/"
            let here = files.filter { $0.path.hasBytePrefix(prefix) }
            if here.isEmpty { return (.notFound, text, "404 Not Found\n") }
            if parts.count == 2 {
                var names = here.map { String($0.path.utf8.dropFirst(prefix.utf8.count))! }
                if withPassword { names.insert("password", at: min(names.count, names.firstIndex(where: { $0 == "user_data" }).map { $0 + 1 } ?? 1)) }
                return (.ok, text, names.joined(separator: "\n"))
            }
            guard parts.count == 3, let f = here.first(where: { $0.path == prefix + parts[2] }) else { return (.notFound, text, "404 Not Found\n") }
            return (.ok, parts[2].hasByteSuffix(".json") ? "application/json" : "text/plain", String(decoding: f.bytes, as: UTF8.self))
        }
        if post != nil { return (.methodNotAllowed, text, "405 Method Not Allowed\n") }
        // The EC2-style tree cloud-init also reads.
        guard MetadataServer.ec2Versions.contains(parts[0]) || parts[0] == "latest" else { return (.notFound, text, "404 Not Found\n") }
        if parts.count == 1 { return (.ok, text, "meta-data/\nuser-data") }
        if parts[1] == "user-data" {
            guard let u = docs.drive.userData else { return (.notFound, text, "404 Not Found\n") }
            return (.ok, "application/octet-stream", String(decoding: u, as: UTF8.self))
        }
        guard parts[1] == "meta-data" else { return (.notFound, text, "404 Not Found\n") }
        let i = docs.instance
        var meta: [(String, String)] = [
            ("ami-id", "ami-" + String(String.UnicodeScalarView((i.imageID ?? "00000000").unicodeScalars.prefix(8)))),
            ("ami-launch-index", String(i.launchIndex)), ("hostname", i.hostname), ("instance-id", "i-" + String(String.UnicodeScalarView(i.id.unicodeScalars.prefix(8)))),
            ("instance-type", i.flavor.name), ("local-hostname", i.hostname), ("local-ipv4", caller.fixedIP), ("public-hostname", i.hostname),
            ("public-ipv4", caller.floatingIP ?? ""), ("reservation-id", i.reservationID), ("placement/availability-zone", i.availabilityZone ?? "nova"),
        ]
        if let data = i.keyData { meta.append(("public-keys/0/openssh-key", data)) }
        let rest = parts.dropFirst(2).joined(separator: "/")
        if rest.isEmpty {
            var keys = Set<String>()
            var listing = [String]()
            for (k, _) in meta {
                let top = k.splitBytes("/").first.map(String.init) ?? k
                if keys.insert(top).inserted { listing.append(k.containsByte("/") ? top + "/" : top) }
            }
            return (.ok, text, listing.joined(separator: "\n"))
        }
        if rest == "public-keys", let k = i.keyName, i.keyData != nil { return (.ok, text, "0=\(k)") }
        if rest == "public-keys/0" { return (.ok, text, "openssh-key") }
        if rest == "placement" { return (.ok, text, "availability-zone") }
        guard let v = meta.first(where: { $0.0 == rest }) else { return (.notFound, text, "404 Not Found\n") }
        return (.ok, text, v.1)
    }

    static let ec2Versions = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04"]
}

/// One metadata request per connection (HTTP/1.1: GET or HEAD, or POST of a password of at most
/// 1,020 bytes), answered and closed; what follows it on the connection is ignored. Bounded as
/// Neutron's haproxy in front of the metadata agent is (`neutron/common/metadata.py`): at most
/// 1,024 connections per network, and a request must arrive whole within 30 s (a guest that
/// trickles a byte at a time, never idle, would otherwise hold its connection for ever).
struct MetadataHTTP: Sendable {
    let server: MetadataServer
    let networkID: String
    /// The connections open on this network's listener.
    let open = Open()
    final class Open: Sendable { let count = Mutex<Int>(0) }
    static let maxConnections = 1024
    static let requestTimeout = TimeAmount.seconds(30)

    init(server: MetadataServer, networkID: String) {
        self.server = server
        self.networkID = networkID
    }

    final class Connection: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let handler: MetadataHTTP
        var head: HTTPRequestHead?
        /// A POST's body so far; one byte more than a password may have marks it too large.
        var body: [UInt8] = []
        /// The request has been read whole: anything after it (a pipelined request, the rest of a
        /// body longer than its Content-Length) is not read as another.
        var answered = false
        var deadline: Scheduled<Void>?
        init(handler: MetadataHTTP) { self.handler = handler }

        func channelActive(context: ChannelHandlerContext) {
            let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: MetadataHTTP.requestTimeout) { ctx.value.close(promise: nil) }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            deadline?.cancel()
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !answered else { return }
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = []
            case .body(let chunk):
                let room = ComputeService.maxPasswordBytes + 1 - body.count
                if room > 0 { body += chunk.readableBytesView.prefix(room) }
            case .end:
                answered = true
                guard let h = head else { context.close(promise: nil); return }
                let source = context.channel.remoteAddress?.ipAddress ?? ""
                let loop = context.eventLoop
                let ctx = NIOLoopBound(context, eventLoop: loop)
                let handler = self.handler
                let posted = self.body
                Task {
                    let (status, type, body): (HTTPResponseStatus, String, String)
                    if h.method != .GET && h.method != .HEAD && h.method != .POST {
                        (status, type, body) = (.methodNotAllowed, "text/plain", "405 Method Not Allowed\n")
                    } else {
                        let path = String(h.uri.splitBytes("?", maxSplits: 1, omittingEmpty: false).first ?? "")
                        (status, type, body) = await handler.server.respond(networkID: handler.networkID, source: source, path: path,
                                                                            post: h.method == .POST ? posted : nil)
                    }
                    loop.execute {
                        let context = ctx.value
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: type)
                        headers.add(name: "Content-Length", value: String(body.utf8.count))
                        headers.add(name: "Connection", value: "close")
                        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
                        if h.method != .HEAD {
                            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                        }
                        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
                    }
                }
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
        }
    }
}

/// glibc's setns(2), which Swift's Glibc module does not export (it needs _GNU_SOURCE).
@_silgen_name("setns") private func c_setns(_ fd: CInt, _ nstype: CInt) -> CInt
private let cloneNewNet: CInt = 0x4000_0000

/// Network namespaces entered by one thread at a time.
enum NetNS {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// A TCP socket bound and listening at `address:port` inside `namespace`.
    static func listeningSocket(namespace: String, address: String, port: UInt16) async throws -> CInt {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<CInt, any Error>) in
            let thread = Thread {
                c.resume(with: Result { try Self.openInside(namespace: namespace, address: address, port: port) })
            }
            thread.start()
        }
    }

    private static func openInside(namespace: String, address: String, port: UInt16) throws -> CInt {
        let target = open("/run/netns/" + namespace, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw Failure(description: "cannot open namespace \(namespace): errno \(errno)") }
        defer { close(target) }
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw Failure(description: "cannot open this thread's namespace: errno \(errno)") }
        defer { close(home) }
        guard c_setns(target, cloneNewNet) == 0 else { throw Failure(description: "setns into \(namespace): errno \(errno)") }
        // Back home before the thread ends, whatever happens.
        defer { _ = c_setns(home, cloneNewNet) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &sa.sin_addr) == 1 else { close(fd); throw Failure(description: "bad address \(address)") }
        let bound = withUnsafePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let e = errno
            close(fd)
            throw Failure(description: "bind/listen \(address):\(port) in \(namespace): errno \(e)")
        }
        return fd
    }
}
