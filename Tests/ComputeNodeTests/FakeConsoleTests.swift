import NIOCore
import Synchronization
import Testing
@testable import ComputeNode

/// The fake driver's RFB server: the handshake Tempest's NoVNCValidateMixin walks, whatever
/// way the client's bytes are cut.
@Suite struct FakeConsoleTests {
    @Test func handshakeInOneMessagePerStep() {
        let rfb = RFBHandshake(name: "fake x")
        #expect(rfb.receive(ByteBuffer(bytes: RFBHandshake.version)).map { Array($0.readableBytesView) } == [[1, 1]])
        #expect(rfb.receive(ByteBuffer(bytes: [1])).map { Array($0.readableBytesView) } == [[0, 0, 0, 0]])
        let init_ = rfb.receive(ByteBuffer(bytes: [1]))
        #expect(init_.count == 1)
        let bytes = Array(init_[0].readableBytesView)
        #expect(bytes.count == 24 + 6 && bytes[20..<24] == [0, 0, 0, 6] && Array(bytes[24...]) == Array("fake x".utf8))
        #expect(rfb.receive(ByteBuffer(bytes: [3, 0, 0, 0, 0, 0, 1, 0, 1])).isEmpty, "client messages after the handshake are ignored")
    }

    @Test func handshakeFromBytesSplitAnywhere() {
        let rfb = RFBHandshake(name: "n")
        let client = RFBHandshake.version + [1, 1]
        var replies: [ByteBuffer] = []
        for b in client { replies += rfb.receive(ByteBuffer(bytes: [b])) }
        #expect(replies.count == 3)
    }

    @Test func serialEchoes() async throws {
        let seen = Mutex<[UInt8]>([])
        try await FakeConsole.run(.serial, name: "s") { console in
            try await console.send(ByteBuffer(string: "hi\n"))
            for try await chunk in console.inbound {
                if seen.withLock({ $0 += chunk.readableBytesView; return $0.count }) >= 3 { break }
            }
        }
        #expect(seen.withLock { $0 } == Array("hi\n".utf8))
    }
}
