import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Placement's errors (`util.json_error_formatter`, API-WG format): `{"errors": [{"status",
/// "title", "detail", "request_id", "code" (1.23+)}]}`, `detail` being webob's explanation,
/// a blank line and the message. A 401 is keystonemiddleware's. Every error carries the
/// microversion headers when the request's version could be read.
public struct PlacementErrorRenderer: ErrorRenderer {
    let identityURL: String

    public init(identityURL: String) { self.identityURL = identityURL }

    static let explanations: [Int: String] = [
        400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
        403: "Access was denied to this resource.",
        404: "The resource could not be found.",
        405: "The method is not allowed for this resource.",
        406: "The resource could not be generated that was acceptable to your browser.",
        409: "There was a conflict when trying to complete your request.",
        413: "The request is larger than the server is willing or able to process.",
        415: "The request media type is not supported by this server.",
        500: "The server has either erred or is incapable of performing the requested operation.",
    ]

    public func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        let status = error.status
        if status == 401 { return .keystoneUnauthorized(identityURL: identityURL) }
        let choice = Microversion.negotiate(header: request.headers[PlacementAPI.versionHeader])
        var detail = status == 406 || error.message.isEmpty ? error.message
            : "\(Self.explanations[status] ?? HTTPReason.phrase(status))\n\n \(error.message)  "
        if status == 405 {
            // webob's HTTPMethodNotAllowed names the method; a route missing at this
            // microversion (version_handler's 405) adds nothing else.
            let head = "The method \(request.method.rawValue) is not allowed for this resource."
            detail = error.message.isEmpty ? head + "  " : "\(head)\n\n \(error.message)  "
        }
        var entry: JSONObject = [
            "status": .int(Int64(status)),
            "title": .string(HTTPReason.phrase(status)),
            "detail": .string(detail),
            "request_id": .string(context.requestID),
        ]
        var headers = HTTPFields()
        switch choice {
        case .version(let v):
            if v.atLeast(23) { entry["code"] = .string(error.kind == .internal ? PlacementErrorCode.undefined : (error.detail ?? PlacementErrorCode.undefined)) }
            PlacementAPI.addVersionHeaders(&headers, v)
        case .invalid, .unacceptable:
            if status == 406 {
                entry["max_version"] = .string(Microversion.maximum.description)
                entry["min_version"] = .string(Microversion.minimum.description)
            }
        }
        return .json(["errors": [.object(entry)]], status: HTTPResponse.Status(code: status), headers: headers)
    }
}
