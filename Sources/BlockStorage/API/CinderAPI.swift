import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP
import NimbusPolicy

/// The Block Storage API v3 (Cinder) at `/volume`: decode, check policy, call `VolumeService`,
/// render Cinder's JSON for the request's microversion. Every resource route exists with and
/// without the project id after `/v3` (3.67 made it optional; Cinder routes both forms).
public struct CinderAPI: Sendable {
    public let service: VolumeService
    let policy: PolicyEnforcer
    /// e.g. `http://127.0.0.1:5000/volume`; the catalog points at `<publicURL>/v3/%(project_id)s`.
    let publicURL: String
    let identityURL: String
    /// Whether a project exists (Cinder asks Keystone: `validate_project_and_authorize`); nil:
    /// no identity service to ask, so any well-formed id is taken.
    let projectExists: (@Sendable (String) async throws -> Bool)?

    static let requestIDHeader = HTTPField.Name("x-compute-request-id")!
    static let maxLimit = 1000

    public init(service: VolumeService, policy: PolicyEnforcer, publicURL: String, identityURL: String,
                projectExists: (@Sendable (String) async throws -> Bool)? = nil) {
        self.service = service
        self.policy = policy
        self.publicURL = publicURL
        self.identityURL = identityURL
        self.projectExists = projectExists
    }

    public var routes: RouteTable {
        var t = RouteTable(service: "volume", prefix: "/volume", renderer: CinderErrorRenderer(identityURL: identityURL))
        // `DELETE /volumes/` names an empty id (404), as Cinder's router sees it.
        t.trailingSlashIsSegment = true
        let versions: JSONValue = ["versions": [versionDocument()]]
        t.get("/", auth: .none, versioned { _, _, _ in .json(versions, status: .multipleChoices) })
        t.get("/v3", versioned { _, _, _ in .json(versions) })
        addVolumeRoutes(&t)
        addVolumeActionRoutes(&t)
        addSnapshotRoutes(&t)
        addTypeRoutes(&t)
        addGroupRoutes(&t)
        addQoSRoutes(&t)
        addDefaultTypeRoutes(&t)
        addTypeEncryptionRoutes(&t)
        addQuotaRoutes(&t)
        addMiscRoutes(&t)
        addTransferRoutes(&t)
        addAttachmentRoutes(&t)
        addBackupRoutes(&t)
        // `GET /v3/`: last, so that no route of a resource is shadowed.
        t.get("/v3/{empty}", versioned { _, ctx, _ in
            guard try ctx.parameter("empty").isEmpty else { throw NimbusError.notFound("The resource could not be found.") }
            return .json(versions)
        })
        return t
    }

    func versionDocument() -> JSONValue {
        ["id": "v3.0", "status": "CURRENT", "version": .string(CinderVersion.maximum.description), "min_version": .string(CinderVersion.minimum.description),
         "updated": "2023-08-31T00:00:00Z",
         "links": [["rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"], ["rel": "self", "href": .string(publicURL + "/v3/")]],
         "media-types": [["base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"]]]
    }

    typealias VersionedHandler = @Sendable (Request, NimbusRequestContext, CinderVersion) async throws -> Response

    func versioned(_ handler: @escaping VersionedHandler) -> RouteHandler {
        { req, ctx in
            let version = try CinderVersion.requested(by: req)
            var response = try await handler(req, ctx, version)
            version.apply(to: &response.headers)
            response.headers[Self.requestIDHeader] = ctx.requestID
            return response
        }
    }

    /// Registers `/v3/{project_id}<path>` and `/v3<path>`. With a project id in the path, it must
    /// be the token's (Cinder: 400 "Malformed request url").
    func route(_ t: inout RouteTable, _ method: HTTPRequest.Method, _ path: String, _ handler: @escaping VersionedHandler) {
        let checked: VersionedHandler = { req, ctx, v in
            if let p = ctx.pathParameters["project_id"] {
                guard let auth = ctx.auth, auth.projectID.map({ $0.sameBytes(as: p) }) ?? false else {
                    throw NimbusError.badRequest("Malformed request url")
                }
            }
            return try await handler(req, ctx, v)
        }
        t.add(method, "/v3" + path, versioned(handler))
        t.add(method, "/v3/{project_id}" + path, versioned(checked))
    }

    // MARK: callers and policy

    struct Caller: Sendable {
        let auth: AuthContext
        let isAdmin: Bool
        var projectID: String { auth.projectID ?? "" }
        var actor: VolumeActor { VolumeActor(projectID: projectID, userID: auth.user.id, isAdmin: isAdmin) }
    }

    func caller(_ ctx: NimbusRequestContext) throws -> Caller {
        let auth = try ctx.caller()
        return Caller(auth: auth, isAdmin: policy.enforce("context_is_admin", credentials: auth.policyCredentials, target: [:]))
    }

    func allows(_ rule: String, _ c: Caller, project: String? = nil) -> Bool {
        policy.enforce(rule, credentials: c.auth.policyCredentials, target: ["project_id": project ?? c.projectID, "user_id": c.auth.user.id])
    }

    /// 403 "Policy doesn't allow <rule> to be performed." when refused.
    func authorize(_ rule: String, _ c: Caller, project: String? = nil) throws {
        guard allows(rule, c, project: project) else { throw NimbusError.forbidden("Policy doesn't allow \(rule) to be performed.") }
    }

    /// Checks the rule against a resource's project; 404 (not 403) is for resources the caller
    /// cannot see at all, which `VolumeService` already answers.
    func authorize(_ rule: String, _ c: Caller, _ doc: JSONObject) throws {
        try authorize(rule, c, project: doc["project_id"]?.stringValue ?? c.projectID)
    }

    // MARK: bodies

    /// The body's JSON object; Cinder's messages for a missing or malformed one.
    static func body(_ req: Request, _ ctx: NimbusRequestContext) async throws -> JSONObject {
        let buffer = try await req.collectBody(upTo: ctx.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw NimbusError.badRequest("The server could not comply with the request since it is either malformed or otherwise incorrect.") }
        guard let value = try? JSONValue.parse(buffer.readableBytesView) else { throw NimbusError.badRequest("Malformed request body") }
        guard case .object(let o) = value else { throw NimbusError.badRequest("Malformed request body") }
        return o
    }

    /// The object under `key` of a body (`{"volume": {...}}`); with `only`, no other top-level
    /// key is allowed (the schema's additionalProperties: false).
    static func member(_ body: JSONObject, _ key: String, only: Bool = false) throws -> JSONObject {
        if only { try CinderInput.only(body, [key], "body") }
        guard let m = body[key] else { throw NimbusError.badRequest("Missing required element '\(key)' in request body.") }
        guard case .object(let o) = m else { throw NimbusError.badRequest("Invalid input for field/attribute \(key). Value: \(m.pythonStr). \(m.pythonStr) is not of type 'object'") }
        return o
    }

    /// `self` and `bookmark` links as Cinder's view builders make them.
    func links(_ collection: String, _ id: String, project: String?) -> JSONValue {
        let p = project.map { "/" + $0 } ?? ""
        return [["rel": "self", "href": .string("\(publicURL)/v3\(p)/\(collection)/\(id)")],
                ["rel": "bookmark", "href": .string("\(publicURL)\(p)/\(collection)/\(id)")]]
    }
}

// MARK: validation of values

enum CinderInput {
    /// A string field of at most 255 characters (after Cinder strips whitespace), or null.
    static func name(_ o: JSONObject, _ key: String, max: Int = 255) throws -> String?? {
        guard let v = o[key] else { return nil }
        if v.isNull { return .some(nil) }
        guard let s = v.stringValue else { throw invalid(key, v, "is not of type 'string', 'null'") }
        let stripped = s.pythonStripped
        guard stripped.unicodeScalars.count <= max else { throw invalid(key, v, "is too long") }
        return .some(stripped)
    }

    static func invalid(_ key: String, _ v: JSONValue, _ why: String) -> NimbusError {
        .badRequest("Invalid input for field/attribute \(key). Value: \(v.pythonStr). \(v.pythonStr) \(why)")
    }

    /// An integer or a string of digits, within `range`.
    static func integer(_ v: JSONValue, _ key: String, _ range: ClosedRange<Int64>) throws -> Int64 {
        var n: Int64?
        switch v {
        case .int(let i): n = i
        case .string(let s) where !s.isEmpty && s.utf8.count < 19 && s.utf8.allSatisfy({ (48...57).contains($0) }): n = Int64(s)
        default: n = nil
        }
        guard let n else { throw invalid(key, v, "is not of type 'integer', 'string'") }
        guard range.contains(n) else { throw invalid(key, v, n < range.lowerBound ? "is less than the minimum of \(range.lowerBound)" : "is greater than the maximum of \(range.upperBound)") }
        return n
    }

    /// oslo's boolean spellings.
    static func boolean(_ v: JSONValue, _ key: String) throws -> Bool {
        if let b = v.boolValue { return b }
        if let s = v.stringValue?.lowercased() {
            if ["true", "1", "on", "yes", "y", "t"].contains(s) { return true }
            if ["false", "0", "off", "no", "n", "f"].contains(s) { return false }
        }
        throw NimbusError.badRequest("Invalid input for field/attribute \(key). Value: \(v.pythonStr). \(v.pythonStr) is not a valid boolean.")
    }

    static let metadataKeyBytes: Set<UInt8> = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:. /".utf8))

    /// A metadata map: keys of 1–255 of `[a-zA-Z0-9-_:. /]`, string values of at most 255.
    static func metadata(_ v: JSONValue?, _ key: String = "metadata", keyBytes: Set<UInt8> = metadataKeyBytes) throws -> [String: String]? {
        guard let v, !v.isNull else { return nil }
        guard case .object(let o) = v else { throw invalid(key, v, "is not of type 'object'") }
        var m = [String: String]()
        for (k, value) in o {
            guard !k.isEmpty, k.utf8.count <= 255, k.utf8.allSatisfy({ keyBytes.contains($0) }) else {
                throw NimbusError.badRequest("Invalid input for field/attribute \(key). Value: \(v.pythonStr). '\(k)' does not match any of the regexes")
            }
            guard let s = value.stringValue else { throw invalid(k, value, "is not of type 'string'") }
            guard s.unicodeScalars.count <= 255 else { throw invalid(k, value, "is too long") }
            m[k] = s
        }
        return m
    }

    /// Only `allowed` keys in an object (jsonschema's additionalProperties: false).
    static func only(_ o: JSONObject, _ allowed: Set<String>, _ what: String) throws {
        let extra = o.keys.filter { !allowed.contains($0) }.sorted()
        if !extra.isEmpty {
            throw NimbusError.badRequest("Invalid input for field/attribute \(what). Additional properties are not allowed (\(extra.map { "'\($0)'" }.joined(separator: ", ")) \(extra.count == 1 ? "was" : "were") unexpected)")
        }
    }
}
