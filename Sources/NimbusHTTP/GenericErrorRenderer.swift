import HTTPTypes
import Hummingbird
import NimbusCore

/// For paths outside every service: a plain `{"error": {...}}` body.
public struct GenericErrorRenderer: ErrorRenderer {
    public init() {}

    public func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        .json(["error": ["code": .int(Int64(error.status)), "message": .string(error.message)]], status: HTTPResponse.Status(code: error.status))
    }
}
