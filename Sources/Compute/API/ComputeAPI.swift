import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP
import NimbusPolicy

/// The compute API (Nova v2.1) at `/compute`: decode, check policy, call `ComputeService`,
/// render Nova's JSON for the request's microversion.
public struct ComputeAPI: Sendable {
    public let service: ComputeService
    let policy: PolicyEnforcer
    /// e.g. `http://127.0.0.1:5000/compute`; the catalog points at `<publicURL>/v2.1`.
    let publicURL: String
    let identityURL: String

    public init(service: ComputeService, policy: PolicyEnforcer, publicURL: String, identityURL: String) {
        self.service = service
        self.policy = policy
        self.publicURL = publicURL
        self.identityURL = identityURL
    }

    public var routes: RouteTable {
        var t = RouteTable(service: "compute", prefix: "/compute", renderer: NovaErrorRenderer(identityURL: identityURL))
        addVersionRoutes(&t)
        addFlavorRoutes(&t)
        addKeypairRoutes(&t)
        addServerRoutes(&t)
        addQuotaRoutes(&t)
        addAvailabilityZoneRoutes(&t)
        addHypervisorRoutes(&t)
        addServiceRoutes(&t)
        addAggregateRoutes(&t)
        addServerGroupRoutes(&t)
        addUsageRoutes(&t)
        addMigrationRoutes(&t)
        addServerMigrationRoutes(&t)
        addServerMigrationActionRoutes(&t)
        addImageProxyRoutes(&t)
        addOSHostRoutes(&t)
        addAuditLogRoutes(&t)
        addConsoleRoutes(&t)
        addExtensionRoutes(&t)
        addServerMetadataRoutes(&t)
        addVolumeAttachmentRoutes(&t)
        addVolumeProxyRoutes(&t)
        return t
    }

    /// A versioned route: the request's microversion is read first (400/406 before anything
    /// else, as Nova's wsgi layer does) and echoed on the response.
    typealias VersionedHandler = @Sendable (Request, NimbusRequestContext, NovaVersion) async throws -> Response

    func versioned(_ handler: @escaping VersionedHandler) -> RouteHandler {
        { req, ctx in
            let version = try NovaVersion.requested(by: req)
            var response = try await handler(req, ctx, version)
            version.apply(to: &response.headers)
            response.headers[NovaVersion.computeRequestID] = ctx.requestID   // Nova sends both request id headers
            return response
        }
    }

    // MARK: callers and policy

    struct Caller: Sendable {
        let auth: AuthContext
        let isAdmin: Bool
        var projectID: String? { auth.projectID }
        var userID: String { auth.user.id }
    }

    func caller(_ ctx: NimbusRequestContext) throws -> Caller {
        let auth = try ctx.caller()
        return Caller(auth: auth, isAdmin: policy.enforce("context_is_admin", credentials: auth.policyCredentials, target: [:]))
    }

    /// Nova's `context.can`: 403 "Policy doesn't allow <rule> to be performed." when refused.
    func authorize(_ rule: String, _ c: Caller, target: [String: String]? = nil) throws {
        let t = target ?? ["project_id": c.projectID ?? "None", "user_id": c.userID]
        guard policy.enforce(rule, credentials: c.auth.policyCredentials, target: t) else {
            throw NimbusError.forbidden("Policy doesn't allow \(rule) to be performed.")
        }
    }

    func allows(_ rule: String, _ c: Caller, target: [String: String]? = nil) -> Bool {
        policy.enforce(rule, credentials: c.auth.policyCredentials, target: target ?? ["project_id": c.projectID ?? "None", "user_id": c.userID])
    }

    /// The image service's URL next to this one (`<base>/image`), for createImage's Location.
    var imageURL: String {
        (publicURL.hasByteSuffix("/compute") ? String(publicURL.dropLast("/compute".count)) : publicURL) + "/image"
    }

    /// `self` and `bookmark` links of a resource (`collection/id`), as Nova's view builders make them.
    func links(_ collection: String, _ id: String) -> JSONValue {
        let quoted = PercentEncoding.encode(id)
        return [["rel": "self", "href": .string("\(publicURL)/v2.1/\(collection)/\(quoted)")],
                ["rel": "bookmark", "href": .string("\(publicURL)/\(collection)/\(quoted)")]]
    }

    /// The body's JSON object; Nova's messages for a missing or malformed one.
    /// Nova's `[oslo_middleware] max_request_body_size` (the sizelimit filter): 112 KiB.
    static let maxBodyBytes = 114_688

    static func body(_ req: Request, _ ctx: NimbusRequestContext) async throws -> JSONValue {
        let buffer = try await req.collectBody(upTo: maxBodyBytes, tooLarge: "Request is too large.")
        guard buffer.readableBytes > 0 else { throw NimbusError.badRequest("The request body is empty.") }
        do { return try JSONValue.parse(buffer.readableBytesView) } catch {
            throw NimbusError.badRequest("Malformed request body")
        }
    }
}
