import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix
import NimbusCore

/// The interactive consoles of a guest: its VNC server (RFB) and its serial port.
public enum ConsoleKind: String, Sendable, Codable, CaseIterable {
    case vnc, serial
}

/// An open byte stream to one guest console: what the console sends, and a way to send to it.
/// Valid only inside the `withConsole` call that provides it; it closes when that call returns.
public struct ConsoleIO: Sendable {
    public var inbound: any AsyncSequence<ByteBuffer, any Error> & Sendable
    public var send: @Sendable (ByteBuffer) async throws -> Void

    public init(inbound: any AsyncSequence<ByteBuffer, any Error> & Sendable, send: @escaping @Sendable (ByteBuffer) async throws -> Void) {
        self.inbound = inbound
        self.send = send
    }
}

/// A console that QEMU serves on a unix socket (`-vnc unix:`, `-chardev socket,server=on`).
enum UnixConsole {
    static func with(path: String, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw NimbusError.conflict("the guest's console is not available")
        }
        try await channel.executeThenClose { inbound, outbound in
            try await body(ConsoleIO(inbound: inbound, send: { try await outbound.write($0) }))
        }
    }
}

/// Joins a websocket (a user's console client, or the controller's relay to a node) to a guest
/// console: every chunk the console sends goes out as one binary message (RFB clients such as
/// Tempest's read one protocol step per message), every data frame that comes in is written to
/// the console. Returns when either side closes.
public enum ConsoleRelay {
    /// The largest websocket message accepted from a console client or sent to one: larger
    /// console reads are cut into messages of this size.
    public static let maxMessage = 1 << 16

    public static func relay(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, console: ConsoleIO) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await var chunk in console.inbound {
                    while chunk.readableBytes > 0 {
                        let part = chunk.readSlice(length: min(chunk.readableBytes, maxMessage))!
                        try await outbound.write(.binary(part))
                    }
                }
            }
            group.addTask {
                for try await data in bytes(inbound) where data.readableBytes > 0 { try await console.send(data) }
            }
            // Either side ending ends both: the websocket is closed too, so a reader waiting on
            // it (the task group waits for both tasks) ends even when cancelling cannot reach it.
            _ = try? await group.next()
            try? await outbound.close(.normalClosure, reason: nil)
            group.cancelAll()
        }
    }

    /// `ws://` for `http://`, `wss://` for `https://`.
    public static func websocketURL(_ http: String) -> String {
        http.droppingBytePrefix("https://").map { "wss://" + $0 } ?? http.droppingBytePrefix("http://").map { "ws://" + $0 } ?? http
    }

    /// Messages of an inbound websocket as console bytes (the controller's side of a relay
    /// through a node).
    public static func bytes(_ inbound: WebSocketInboundStream) -> AsyncThrowingMapSequence<AsyncFilterSequence<WebSocketInboundStream>, ByteBuffer> {
        inbound.filter { $0.opcode == .binary || $0.opcode == .text || $0.opcode == .continuation }.map { $0.data }
    }
}
