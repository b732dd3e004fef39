/// The one domain error type. Every service throws it; each service's HTTP layer turns it into that
/// service's OpenStack fault body in exactly one place. `message` is safe to show to API users;
/// `detail` is for logs only.
public struct NimbusError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case badRequest
        case unauthorized
        case forbidden
        case notFound
        case methodNotAllowed
        case conflict
        case gone
        case preconditionFailed
        case lengthRequired
        case rangeNotSatisfiable
        case requestTimeout
        case payloadTooLarge
        case uriTooLong
        case unsupportedMediaType
        case notAcceptable
        case unprocessable
        case notImplemented
        case serviceUnavailable
        case `internal`
    }

    /// The `detail` of a 500 whose message the API shows as it is (Nova's explained
    /// `HTTPInternalServerError`, e.g. InterfaceAttachFailed), not as an unexpected error.
    public static let explainedFault = "explained-internal-error"

    public var kind: Kind
    public var message: String
    public var detail: String?

    public init(_ kind: Kind, _ message: String, detail: String? = nil) {
        self.kind = kind
        self.message = message
        self.detail = detail
    }

    public var status: Int {
        switch kind {
        case .badRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .notAcceptable: 406
        case .conflict: 409
        case .gone: 410
        case .preconditionFailed: 412
        case .lengthRequired: 411
        case .rangeNotSatisfiable: 416
        case .requestTimeout: 408
        case .payloadTooLarge: 413
        case .uriTooLong: 414
        case .unsupportedMediaType: 415
        case .unprocessable: 422
        case .internal: 500
        case .notImplemented: 501
        case .serviceUnavailable: 503
        }
    }

    public var description: String {
        "\(status) \(message)" + (detail.map { " (\($0))" } ?? "")
    }

    public static func badRequest(_ message: String) -> NimbusError { .init(.badRequest, message) }
    public static func notFound(_ message: String) -> NimbusError { .init(.notFound, message) }
    public static func conflict(_ message: String) -> NimbusError { .init(.conflict, message) }
    public static func forbidden(_ message: String = "You are not authorized to perform the requested action.") -> NimbusError {
        .init(.forbidden, message)
    }
    public static func unauthorized(_ message: String = "The request you have made requires authentication.") -> NimbusError {
        .init(.unauthorized, message)
    }
}
