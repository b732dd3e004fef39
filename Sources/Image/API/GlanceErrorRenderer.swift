import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// Glance's errors are webob's: JSON `{"message", "code", "title"}` when the client accepts
/// JSON, an HTML page for browsers and `*/*`, plain text otherwise. A 401 is keystonemiddleware's
/// JSON whatever the Accept header says.
public struct GlanceErrorRenderer: ErrorRenderer {
    let identityURL: String
    /// The version document, answered (300) for paths under an unknown version (`/image/v1/…`).
    let versions: JSONValue?

    public init(identityURL: String, versions: JSONValue?) {
        self.identityURL = identityURL
        self.versions = versions
    }

    public func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        let status = error.status
        if status == 401 { return .keystoneUnauthorized(identityURL: identityURL) }
        if status == 404, let versions, request.method == .get {
            let first = request.uri.path.splitBytes("/").dropFirst().first ?? ""
            if first.hasPrefix("v"), first.dropFirst().first?.isNumber == true, first != "v2", !first.hasPrefix("v2.") {
                return .json(versions, status: .multipleChoices)
            }
        }
        let title = HTTPReason.phrase(status)
        let code = "\(status) \(title)"
        let accept = request.headers[.accept]?.lowercased() ?? ""
        let s = HTTPResponse.Status(code: status)
        if accept.containsBytes("application/json") {
            return .json(["message": .string(error.message + "<br /><br />\n\n\n"), "code": .string(code), "title": .string(title)], status: s)
        }
        let (type, text) = accept.containsBytes("text/html") || accept.containsBytes("*/*")
            ? ("text/html; charset=UTF-8", "<html>\n <head>\n  <title>\(code)</title>\n </head>\n <body>\n  <h1>\(code)</h1>\n  \(Self.escape(error.message))<br /><br />\n\n\n\n </body>\n</html>")
            : ("text/plain; charset=UTF-8", "\(code)\n\n\(error.message)\n\n   ")
        let bytes = ByteBuffer(string: text)
        return Response(status: s, headers: [.contentType: type, .contentLength: String(bytes.readableBytes)], body: .init(byteBuffer: bytes))
    }

    static func escape(_ s: String) -> String {
        s.markupEscaped(quotes: false)
    }
}
