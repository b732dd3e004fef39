import NIOCore
import NIOHTTP1

/// Sets each response's framing headers (Content-Length, Transfer-Encoding) the way NIO's
/// encoder would, with one difference: an answer without a body (204, 304) to a request whose
/// path `keepsEmptyLength` selects keeps `Content-Length: 0`. Swift's proxy sends it on every
/// such answer (swob sets `content_length = 0`) and Swift's clients and tests read it; NIO's
/// encoder removes it, as RFC 9110 asks of a 204. So the pipeline runs the encoder with
/// `automaticallySetFramingHeaders` off and this handler just in front of it.
public final class ResponseFramingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    private let keepsEmptyLength: @Sendable (String) -> Bool
    /// For each request whose final response head is not written yet (pipelined requests
    /// queue up): whether its path keeps `Content-Length: 0` on empty answers.
    private var pending = CircularBuffer<Bool>(initialCapacity: 4)

    public init(keepsEmptyLength: @escaping @Sendable (String) -> Bool) {
        self.keepsEmptyLength = keepsEmptyLength
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { pending.append(keepsEmptyLength(head.uri)) }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let code = head.status.code
        let interim = (100..<200).contains(code) && code != 101
        let keep = interim ? false : (pending.popFirst() ?? false)
        Self.frame(&head.headers, status: head.status, version: head.version, keepEmptyLength: keep)
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }

    /// NIO's `correctlyFrameTransportHeaders`, plus the empty-answer rule above.
    static func frame(_ headers: inout HTTPHeaders, status: HTTPResponseStatus, version: HTTPVersion, keepEmptyLength: Bool) {
        if !status.mayHaveResponseBody {
            headers.remove(name: "transfer-encoding")
            if keepEmptyLength && (status == .noContent || status == .notModified) {
                headers.replaceOrAdd(name: "content-length", value: "0")
            } else {
                headers.remove(name: "content-length")
            }
            return
        }
        if headers.contains(name: "content-length") {
            headers.remove(name: "transfer-encoding")
        } else if version.major == 1 && version.minor >= 1 {
            headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        }
    }
}
