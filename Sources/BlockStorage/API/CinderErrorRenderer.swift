import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Cinder's faults (`cinder/api/openstack/wsgi.py` `Fault`): `{"<faultName>": {"code", "message"}}`,
/// `retryAfter` on a quota's 413, and the request's microversion echoed. A 401 is
/// keystonemiddleware's.
public struct CinderErrorRenderer: ErrorRenderer {
    let identityURL: String

    public init(identityURL: String) { self.identityURL = identityURL }

    static func faultName(_ status: Int) -> String { WebObFault.name(status) }

    public func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        var h = HTTPFields()
        h[CinderAPI.requestIDHeader] = context.requestID
        if error.status == 401 { return .keystoneUnauthorized(identityURL: identityURL, headers: h) }
        // Cinder echoes the version asked for, even one out of range (the 406).
        if let v = try? CinderVersion.requested(by: request) { v.apply(to: &h) } else if let asked = CinderVersion.wellFormed(request) {
            h[CinderVersion.header] = "volume \(asked)"
            h[.vary] = "OpenStack-API-Version"
        }
        let message = error.kind == .internal ? "The server has either erred or is incapable of performing the requested operation." : error.message
        var fault: JSONObject = ["code": .int(Int64(error.status)), "message": .string(message)]
        if error.status == 413 {
            h[.retryAfter] = "0"
            fault["retryAfter"] = "0"
        }
        return .json([Self.faultName(error.status): .object(fault)], status: HTTPResponse.Status(code: error.status), headers: h)
    }
}
