import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP
import NimbusPolicy

/// The Placement HTTP surface at `/placement`: microversion negotiation, policy, body schemas,
/// then `PlacementService`; Placement's JSON out.
public struct PlacementAPI: Sendable {
    public let service: PlacementService
    let policy: PolicyEnforcer
    let identityURL: String
    /// The mount point: links are `/placement/resource_providers/…`, as Placement's SCRIPT_NAME makes them.
    let prefix = "/placement"

    static let versionHeader = HTTPField.Name("OpenStack-API-Version")!
    static let maxQueryItems = 1_000
    static let maxBody = 4 * 1024 * 1024

    public init(service: PlacementService, policy: PolicyEnforcer, identityURL: String) {
        self.service = service
        self.policy = policy
        self.identityURL = identityURL
    }

    public var routes: RouteTable {
        var t = RouteTable(service: "placement", prefix: prefix, renderer: PlacementErrorRenderer(identityURL: identityURL))
        route(&t, .get, "/", auth: .none) { _, _, v in self.root(v) }
        addProviderRoutes(&t)
        addInventoryRoutes(&t)
        addClassAndTraitRoutes(&t)
        addAggregateRoutes(&t)
        addAllocationRoutes(&t)
        addCandidateRoutes(&t)
        return t
    }

    typealias Handler = @Sendable (Request, NimbusRequestContext, Microversion) async throws -> Response

    static func addVersionHeaders(_ h: inout HTTPFields, _ v: Microversion) {
        h[versionHeader] = "placement \(v)"
        h[.vary] = "openstack-api-version"
    }

    /// Adds a route served from microversion 1.`since`; below it the route answers `missing`
    /// (404, or 405 where Placement says so), as `microversion.version_handler` does.
    func route(_ t: inout RouteTable, _ method: HTTPRequest.Method, _ path: String, since: Int = 0,
               missing: NimbusError.Kind = .notFound, auth: RouteTable.Authentication = .token, _ handler: @escaping Handler) {
        t.add(method, path, auth: auth) { req, ctx in
            let v: Microversion
            switch Microversion.negotiate(header: req.headers[Self.versionHeader]) {
            case .invalid(let text): throw NimbusError.badRequest("invalid version string: \(text)")
            case .unacceptable(let text): throw NimbusError(.notAcceptable, "Unacceptable version header: \(text)")
            case .version(let chosen): v = chosen
            }
            guard v >= Microversion(1, since) else {
                throw missing == .notFound ? NimbusError.notFound("The resource could not be found.")
                    : NimbusError(missing, "")
            }
            if let n = req.headers[.contentLength].flatMap(Int.init), n > 0, (req.headers[.contentType] ?? "").isEmpty {
                throw NimbusError.badRequest("content-type header required when content-length > 0")
            }
            var r = try await handler(req, ctx, v)
            Self.addVersionHeaders(&r.headers, v)
            return r
        }
    }

    // MARK: helpers

    func authorize(_ action: String, _ ctx: NimbusRequestContext, target: [String: String]? = nil) throws {
        let auth = try ctx.caller()
        let t = target ?? ["project_id": auth.projectID ?? "None", "user_id": auth.user.id]
        guard policy.enforce(action, credentials: auth.policyCredentials, target: t) else {
            throw NimbusError.forbidden("Policy does not allow \(action) to be performed.")
        }
    }

    /// `util.check_accept('application/json')`.
    static func checkAccept(_ req: Request) throws {
        guard let accept = req.headers[.accept], !accept.isEmpty else { return }
        let ok = accept.splitBytes(",").contains { part in
            let media = part.splitBytes(";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            return media == "application/json" || media == "application/*" || media == "*/*"
        }
        if !ok { throw NimbusError(.notAcceptable, "Only application/json is provided") }
    }

    /// `util.require_content` + `util.extract_json`: the body as JSON valid under `schema`.
    static func body(_ req: Request, _ ctx: NimbusRequestContext, schema: JSONSchema) async throws -> JSONValue {
        let type = req.headers[.contentType].map { String($0.splitBytes(";").first ?? "").trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard type == "application/json" else {
            throw NimbusError(.unsupportedMediaType, "The media type \(type.isEmpty ? "None" : type) is not supported, use application/json")
        }
        let buffer = try await req.collectBody(upTo: maxBody)
        let value: JSONValue
        do { value = try JSONValue.parse(buffer.readableBytesView, maxDepth: 16) } catch {
            throw NimbusError.badRequest("Malformed JSON: \(error)")
        }
        if let problem = schema.firstError(value) { throw NimbusError.badRequest("JSON does not validate: \(problem)") }
        return value
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, v: Microversion, modified: Date? = nil, location: String? = nil) -> Response {
        var h = HTTPFields()
        if v.atLeast(15) {
            h[.lastModified] = Timestamps.httpDate(modified ?? Date())
            h[.cacheControl] = "no-cache"
        }
        if let location { h[.location] = location }
        return .json(value, status: status, headers: h)
    }

    static func noContent() -> Response { .empty(.noContent) }

    /// A member the schema made required, read without trapping if it somehow is not there.
    static func field<T>(_ body: JSONValue, _ key: String, _ get: (JSONValue) -> T?) throws -> T {
        guard let v = body[key], let t = get(v) else { throw NimbusError.badRequest("JSON does not validate: '\(key)' is a required property") }
        return t
    }

    /// WebOb makes a relative `Location` absolute from the request's host, and clients
    /// (osc-placement) follow it as given.
    static func absolute(_ req: Request, _ path: String) -> String {
        guard let host = req.head.authority, !host.isEmpty,
              host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F }) else { return path }
        return "http://\(host)\(path)"
    }

    /// `uuidutils.is_uuid_like`: 32 hex digits, dashes and braces anywhere, `urn:uuid:` allowed.
    static func isUUIDLike(_ s: String) -> Bool { canonicalUUID(s) != nil }

    /// `str(uuid.UUID(s))`: the canonical lowercase form, or nil.
    static func canonicalUUID(_ s: String) -> String? {
        var t = Substring(s)
        if t.lowercased().hasPrefix("urn:uuid:") { t = t.dropFirst(9) }
        var hex = [UInt8]()
        for b in t.utf8 {
            switch b {
            case 0x30...0x39, 0x61...0x66: hex.append(b)
            case 0x41...0x46: hex.append(b + 32)
            case 0x2D, 0x7B, 0x7D: continue
            default: return nil
            }
        }
        guard hex.count == 32 else { return nil }
        let str = String(decoding: hex, as: UTF8.self)
        let c = Array(str)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    // MARK: root

    func root(_ v: Microversion) -> Response {
        let doc: JSONValue = ["versions": [[
            "id": .string("v\(Microversion.minimum)"), "max_version": .string(Microversion.maximum.description),
            "min_version": .string(Microversion.minimum.description), "status": "CURRENT",
            "links": [["rel": "self", "href": ""]],
        ]]]
        return Self.json(doc, v: v)
    }
}
