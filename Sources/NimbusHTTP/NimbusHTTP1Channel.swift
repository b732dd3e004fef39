import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's `HTTP1Channel` with one change: the response encoder does not set framing
/// headers itself; `ResponseFramingHandler` does, so that empty object storage answers keep
/// `Content-Length: 0` (see there). The pipeline is otherwise Hummingbird's.
public struct NimbusHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    let idleTimeout: Duration?
    let additionalChannelHandlers: @Sendable () -> [any RemovableChannelHandler]
    let keepsEmptyLength: @Sendable (String) -> Bool

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            var encoder = HTTPResponseEncoder.Configuration()
            encoder.automaticallySetFramingHeaders = false
            // Hummingbird's decoder limits.
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = 80 * 1024
            limits.maxHeaderListSize = 80 * 1024
            limits.maxHeaderFieldCount = 1000
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: encoder, withDecoderLimitConfiguration: limits
            )
            try channel.pipeline.syncOperations.addHandler(ResponseFramingHandler(keepsEmptyLength: keepsEmptyLength))
            try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try channel.pipeline.syncOperations.addHandlers(additionalChannelHandlers())
            try channel.pipeline.syncOperations.addHandler(
                HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// An HTTP/1.1 server whose empty answers to paths `keepsEmptyLength` selects carry
    /// `Content-Length: 0`.
    public static func nimbusHTTP1(
        additionalChannelHandlers: @autoclosure @escaping @Sendable () -> [any RemovableChannelHandler] = [],
        idleTimeout: Duration? = nil,
        keepsEmptyLength: @escaping @Sendable (String) -> Bool
    ) -> HTTPServerBuilder {
        .init { responder in
            NimbusHTTP1Channel(responder: responder, idleTimeout: idleTimeout, additionalChannelHandlers: additionalChannelHandlers,
                               keepsEmptyLength: keepsEmptyLength)
        }
    }
}
