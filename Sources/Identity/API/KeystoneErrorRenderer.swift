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
        let body: JSONValue = ["error": ["code": .int(Int64(error.status)), "title": .string(HTTPReason.phrase(error.status)), "message": .string(error.message)]]
        var headers = HTTPFields()
        if error.status == 401 { headers[.wwwAuthenticate] = "Keystone uri=\"\(publicURL)\"" }
        return .json(body, status: status, headers: headers)
    }
}
