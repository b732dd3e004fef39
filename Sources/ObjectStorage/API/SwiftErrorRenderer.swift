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
        var r = Self.render(status, error.message)
        r.headers[HTTPField.Name("X-Trans-Id")!] = context.requestID
        return r
    }

    /// swob's standard explanations: a message equal to one of these (or a 401/403 without its
    /// own text) becomes swob's HTML page; any other message is the whole body, as Swift sends
    /// `HTTPBadRequest(body=…)`.
    static let standard: [Int: String] = [
        400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
        401: "This server could not verify that you are authorized to access the document you requested.",
        403: "Access was denied to this resource.",
        404: "The resource could not be found.",
        405: "The method is not allowed for this resource.",
        406: "The resource is not available in a format acceptable to your browser.",
        408: "The server has waited too long for the request to be sent by the client.",
        409: "There was a conflict when trying to complete your request.",
        411: "Content-Length header required.",
        412: "A precondition for this request was not met.",
        413: "The body of your request was too large for this server.",
        416: "The Range requested is not available.",
        422: "Unable to process the contained instructions",
        499: "The client was disconnected during request.",
        500: "An error occurred while processing your request.",
        501: "The method is not implemented for this resource.",
        503: "The server is currently unavailable. Please try again at a later time.",
    ]

    static func render(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let code = Int(status.code)
        if code == 401, message.hasPrefix("Temp URL") {
            return plain(status, "401 Unauthorized: \(message)\n")
        }
        if let std = standard[code], message == std || code == 401 || (code == 403 && message.hasPrefix("You are not authorized")) {
            return page(status, std)
        }
        let textPlain = plainTextPrefixes.contains { message.hasPrefix($0) }
        return plain(status, message, contentType: textPlain ? "text/plain" : "text/html; charset=UTF-8")
    }

    /// The checks of `swift/common/constraints.py` answer with `content_type='text/plain'`;
    /// swob's other bodies are text/html.
    static let plainTextPrefixes = [
        "Object name length of", "Metadata name cannot be empty", "Metadata must be valid UTF-8", "Metadata name too long",
        "Metadata value longer than", "Too many metadata items", "Total metadata too large", "Header value too long",
        "Your request is too large.", "Missing Content-Length header.", "Invalid Content-Type", "Non-integer X-Delete-",
        "X-Delete-At in past", "X-Delete-After in past", "Unsupported Transfer-Coding",
        "Symlink requests require a zero byte body", "Symlink cannot target itself", "Bad X-Symlink-Target-Etag format",
        "A PUT request is required to set a symlink target", "X-Symlink-Target does not exist",
        "PUT version-id requests require a zero byte body", "The specified version does not exist",
    ]

    static func plain(_ status: HTTPResponse.Status, _ body: String, contentType: String = "text/html; charset=UTF-8") -> Response {
        var h = HTTPFields()
        h[.contentType] = contentType
        h[.contentLength] = String(body.utf8.count)
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
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
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Request Entity Too Large"
        case 414: "Request URI Too Long"
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
        s.markupEscaped(quotes: false)
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
