import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import NimbusHTTP

/// `ResponseFramingHandler`: NIO's framing rules, except that empty answers (204, 304) to the
/// paths it is told about keep `Content-Length: 0`.
@Suite struct ResponseFramingTests {
    func framed(_ status: HTTPResponseStatus, _ headers: HTTPHeaders, keep: Bool, version: HTTPVersion = .http1_1) -> HTTPHeaders {
        var h = headers
        ResponseFramingHandler.frame(&h, status: status, version: version, keepEmptyLength: keep)
        return h
    }

    @Test func emptyAnswersKeepContentLengthOnlyWhereAsked() {
        let zero: HTTPHeaders = ["Content-Length": "0"]
        #expect(framed(.noContent, zero, keep: true)["content-length"] == ["0"])
        #expect(framed(.notModified, zero, keep: true)["content-length"] == ["0"])
        #expect(framed(.noContent, [:], keep: true)["content-length"] == ["0"], "added when the response had none")
        #expect(framed(.noContent, zero, keep: false)["content-length"].isEmpty, "other services: as NIO (RFC 9110)")
        #expect(framed(.continue, zero, keep: true)["content-length"].isEmpty, "never on an interim answer")
        #expect(framed(.noContent, ["Transfer-Encoding": "chunked"], keep: true)["transfer-encoding"].isEmpty)
    }

    @Test func bodiesAreFramedAsNIODoes() {
        let sized = framed(.ok, ["Content-Length": "5", "Transfer-Encoding": "chunked"], keep: true)
        #expect(sized["content-length"] == ["5"] && sized["transfer-encoding"].isEmpty)
        #expect(framed(.ok, [:], keep: false)["transfer-encoding"] == ["chunked"])
        #expect(framed(.ok, [:], keep: false, version: .http1_0)["transfer-encoding"].isEmpty)
    }

    /// Pipelined requests: each response head is matched with its own request's path.
    @Test func responsesPairWithTheirRequestsInOrder() throws {
        let channel = EmbeddedChannel(handler: ResponseFramingHandler { $0.utf8.starts(with: "/object/".utf8) })
        for uri in ["/object/v1/AUTH_a", "/identity/v3/auth/tokens"] {
            try channel.writeInbound(HTTPServerRequestPart.head(.init(version: .http1_1, method: .HEAD, uri: uri)))
        }
        for _ in 0..<2 {
            let head = HTTPResponseHead(version: .http1_1, status: .noContent, headers: ["Content-Length": "0"])
            try channel.writeOutbound(HTTPServerResponsePart.head(head))
        }
        guard case .head(let first)? = try channel.readOutbound(as: HTTPServerResponsePart.self),
              case .head(let second)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("two response heads expected")
            return
        }
        #expect(first.headers["content-length"] == ["0"])
        #expect(second.headers["content-length"].isEmpty)
        _ = try channel.finish()
    }
}
