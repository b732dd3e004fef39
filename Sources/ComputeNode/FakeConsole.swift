import NIOCore
import NimbusCore
import Synchronization

/// The fake driver's consoles, so the console proxy can be exercised without a guest: a serial
/// port that echoes what it is sent (as a terminal does), and a minimal RFB 3.8 server that
/// completes the handshake (security type None) and announces an empty 0×0 framebuffer named
/// after the instance, then ignores what the client sends.
enum FakeConsole {
    static func run(_ kind: ConsoleKind, name: String, _ body: @escaping @Sendable (ConsoleIO) async throws -> Void) async throws {
        // Bounded like a real serial port's buffer: a client that writes without reading loses
        // the oldest echoes beyond it instead of growing the process.
        let (stream, out) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream(bufferingPolicy: .bufferingOldest(256))
        defer { out.finish() }
        switch kind {
        case .serial:
            try await body(ConsoleIO(inbound: stream, send: { out.yield($0) }))
        case .vnc:
            let server = RFBHandshake(name: name)
            out.yield(ByteBuffer(bytes: RFBHandshake.version))
            try await body(ConsoleIO(inbound: stream, send: { for reply in server.receive($0) { out.yield(reply) } }))
        }
    }
}

/// The server side of an RFB 3.8 handshake (RFC 6143 §7.1–7.3), fed the client's bytes.
final class RFBHandshake: Sendable {
    static let version = Array("RFB 003.008\n".utf8)

    enum Step { case version, security, clientInit, done }
    private let state = Mutex<(step: Step, pending: [UInt8])>((.version, []))
    let name: [UInt8]

    init(name: String) { self.name = Array(name.utf8.prefix(64)) }

    /// The replies the bytes complete, in order.
    func receive(_ bytes: ByteBuffer) -> [ByteBuffer] {
        state.withLock { s in
            s.pending += bytes.readableBytesView
            var replies: [ByteBuffer] = []
            while true {
                switch s.step {
                case .version where s.pending.count >= 12:
                    s.pending.removeFirst(12)
                    replies.append(ByteBuffer(bytes: [1, 1]))   // one security type: None
                    s.step = .security
                case .security where s.pending.count >= 1:
                    s.pending.removeFirst(1)
                    replies.append(ByteBuffer(bytes: [0, 0, 0, 0]))   // SecurityResult: OK
                    s.step = .clientInit
                case .clientInit where s.pending.count >= 1:
                    s.pending.removeFirst(1)
                    var init_ = ByteBuffer()
                    init_.writeInteger(UInt16(0)); init_.writeInteger(UInt16(0))   // width, height
                    // pixel format: 32 bpp, depth 24, little endian, true colour, 8 bits each, shifts 16/8/0
                    init_.writeBytes([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0])
                    init_.writeInteger(UInt32(name.count)); init_.writeBytes(name)
                    replies.append(init_)
                    s.step = .done
                case .done:
                    s.pending.removeAll()
                    return replies
                default:
                    return replies
                }
            }
        }
    }
}
