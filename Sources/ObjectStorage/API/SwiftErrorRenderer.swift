import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// Swift answers errors with a short HTML page (`<html><h1>Not Found</h1><p>…</p></html>`),
/// not JSON.
public struct SwiftErrorRenderer: ErrorRenderer {
    public init() {}

    public func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        let status = HTTPResponse.Status(code: error.status)
        var r = Self.page(status, error.message)
        r.headers[HTTPField.Name("X-Trans-Id")!] = context.requestID
        return r
    }

    static func page(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = "<html><h1>\(reason(Int(status.code)))</h1><p>\(escape(message))</p></html>"
        var h = HTTPFields()
        h[.contentType] = "text/html; charset=UTF-8"
        h[.contentLength] = String(body.utf8.count)
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func reason(_ code: Int) -> String {
        switch code {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Request Entity Too Large"
        case 416: "Requested Range Not Satisfiable"
        case 422: "Unprocessable Entity"
        case 499: "Client Disconnect"
        case 500: "Internal Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        default: HTTPResponse.Status(code: code).reasonPhrase
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// Swift's transaction ids: `tx` + 21 hex digits + `-` + the time as 10 hex digits.
public enum SwiftTransactionID {
    public static func make() -> String {
        let hex = Identifiers.hex32().prefix(21)
        let t = String(UInt64(Date().timeIntervalSince1970), radix: 16)
        return "tx\(hex)-\(String(repeating: "0", count: max(0, 10 - t.count)))\(t)"
    }
}

import Foundation
