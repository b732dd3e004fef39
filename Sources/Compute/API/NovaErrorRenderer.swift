import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Nova's faults (`nova/api/openstack/wsgi.py` `Fault`): `{"<faultName>": {"code", "message"}}`
/// with the fault name of the status, and the microversion headers of the request. A 401 is
/// keystonemiddleware's, whatever the route.
public struct NovaErrorRenderer: ErrorRenderer {
    let identityURL: String

    public init(identityURL: String) { self.identityURL = identityURL }

    static func faultName(_ status: Int) -> String { status == 429 ? "overLimit" : WebObFault.name(status) }

    public func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        var h = HTTPFields()
        h[NovaVersion.computeRequestID] = context.requestID
        if error.status == 401 { return .keystoneUnauthorized(identityURL: identityURL, headers: h) }
        // A malformed or unsupported version header has no version to echo.
        if let v = try? NovaVersion.requested(by: request) { v.apply(to: &h) }
        let message = error.kind == .internal && error.detail != NimbusError.explainedFault
            ? "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible."
            : error.message
        return .json([Self.faultName(error.status): ["code": .int(Int64(error.status)), "message": .string(message)]],
                     status: HTTPResponse.Status(code: error.status), headers: h)
    }
}
