import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Keystone's fault body: `{"error": {"code": 404, "title": "Not Found", "message": "..."}}`, with
/// `WWW-Authenticate` on 401 so clients know where to authenticate.
public struct KeystoneErrorRenderer: ErrorRenderer {
    let publicURL: String

    public init(publicURL: String) { self.publicURL = publicURL }

    public func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        let status = HTTPResponse.Status(code: error.status)
        let body: JSONValue = ["error": ["code": .int(Int64(error.status)), "title": .string(Self.title(error.status)), "message": .string(error.message)]]
        var headers = HTTPFields()
        if error.status == 401 { headers[.wwwAuthenticate] = "Keystone uri=\"\(publicURL)\"" }
        return .json(body, status: status, headers: headers)
    }

    static func title(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Request Entity Too Large"
        case 415: "Unsupported Media Type"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        default: status >= 500 ? "Internal Server Error" : "Error"
        }
    }
}
