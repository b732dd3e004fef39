import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP
import NimbusPolicy

/// The Networking API v2.0 (Neutron) at `/network`: decode, check policy as Neutron's policy
/// engine does (the action, then each attribute the request sets; 404 for what the caller may
/// not see), call `NetworkService`, render the documents with per-attribute read policy,
/// filters, `fields`, sorting and pagination.
public struct NeutronAPI: Sendable {
    public let service: NetworkService
    let policy: PolicyEnforcer
    /// e.g. `http://127.0.0.1:5000/network`; the catalog points here.
    let publicURL: String
    let identityURL: String

    public init(service: NetworkService, policy: PolicyEnforcer, publicURL: String, identityURL: String) {
        self.service = service
        self.policy = policy
        self.publicURL = publicURL
        self.identityURL = identityURL
    }

    public var routes: RouteTable {
        var t = RouteTable(service: "network", prefix: "/network", renderer: NeutronErrorRenderer(identityURL: identityURL))
        t.get("/", auth: .none) { _, _ in
            .json(["versions": [["id": "v2.0", "status": "CURRENT", "links": [["href": .string(self.publicURL + "/v2.0/"), "rel": "self"]]]]])
        }
        t.get("/v2.0", { _, _ in
            .json(["resources": .array(ResourceKind.served.map { k in
                ["name": .string(k.member), "collection": .string(k.collection),
                 "links": [["href": .string("\(self.publicURL)/v2.0/\(k.path)"), "rel": "self"]]]
            })])
        })
        addExtensionRoutes(&t)
        for kind in ResourceKind.served { addResourceRoutes(&t, kind) }
        addRouterActionRoutes(&t)
        addPortForwardingRoutes(&t)
        addSubnetPoolActionRoutes(&t)
        addTagRoutes(&t)
        addQuotaRoutes(&t)
        addAvailabilityRoutes(&t)
        addAgentRoutes(&t)
        return t
    }

    // MARK: callers and policy

    struct Caller: Sendable {
        let auth: AuthContext
        let isAdmin: Bool
        var projectID: String { auth.projectID ?? "" }
        var actor: NetworkActor { NetworkActor(projectID: projectID, isAdmin: isAdmin) }
    }

    func caller(_ ctx: NimbusRequestContext) throws -> Caller {
        let auth = try ctx.caller()
        return Caller(auth: auth, isAdmin: policy.enforce("context_is_admin", credentials: auth.policyCredentials, target: [:]))
    }

    func allows(_ rule: String, _ c: Caller, _ target: [String: String]) -> Bool {
        policy.enforce(rule, credentials: c.auth.policyCredentials, target: target)
    }

    /// Neutron's PolicyNotAuthorized (403).
    func authorize(_ rule: String, _ c: Caller, _ target: [String: String]) throws {
        guard allows(rule, c, target) else {
            throw NeutronFault.error(.forbidden, "PolicyNotAuthorized", "(rule:\(rule)) is disallowed by policy")
        }
    }

    /// The policy target of a document, as Neutron flattens it: scalars as Python prints them,
    /// plus the parent owners its rules name (`network:project_id`, `security_group:project_id`)
    /// and the network's sharing as the caller sees it.
    func target(_ kind: ResourceKind, _ doc: JSONObject, _ c: Caller, _ s: NetworkState) -> [String: String] {
        var t = [String: String]()
        for (k, v) in doc {
            switch v {
            case .string(let x): t[k] = x
            case .bool(let b): t[k] = b ? "True" : "False"
            case .int(let i): t[k] = String(i)
            case .null: t[k] = "None"
            default: break
            }
        }
        if t["project_id"] == nil, let p = t["tenant_id"] { t["project_id"] = p }
        t["tenant_id"] = t["project_id"]
        switch kind {
        case .network:
            t["shared"] = service.isShared(doc, with: c.projectID, in: s) ? "True" : "False"
            t["router:external"] = service.isExternal(doc, for: c.projectID, in: s) ? "True" : "False"
        case .subnet, .port:
            if let n = doc["network_id"]?.stringValue, let network = s[.network, n] {
                t["network:project_id"] = network["project_id"]?.stringValue
                t["network:tenant_id"] = network["project_id"]?.stringValue
                t["shared"] = service.isShared(network, with: c.projectID, in: s) ? "True" : "False"
                t["router:external"] = service.isExternal(network, for: c.projectID, in: s) ? "True" : "False"
            }
        case .securityGroupRule:
            if let g = doc["security_group_id"]?.stringValue, let group = s[.securityGroup, g] {
                t["security_group:project_id"] = group["project_id"]?.stringValue
                t["security_group:tenant_id"] = group["project_id"]?.stringValue
            }
        case .subnetPool, .addressScope:
            // `shared` as the caller sees it: shared with everyone or with its project.
            t["shared"] = service.isShared(doc, with: c.projectID, in: s) ? "True" : "False"
        default: break
        }
        return t
    }

    func visible(_ kind: ResourceKind, _ doc: JSONObject, _ c: Caller, _ s: NetworkState) -> Bool {
        allows("get_\(kind.member)", c, target(kind, doc, c, s))
    }

    /// The document, or 404 when it does not exist or the caller may not see it.
    func load(_ kind: ResourceKind, _ id: String, _ c: Caller, _ s: NetworkState) throws -> JSONObject {
        guard let d = s[kind, id], visible(kind, d, c, s) else { throw kind.notFound(id) }
        return d
    }

    /// The attributes a request sets that have their own rule (`create_network:shared`), checked
    /// when set to something other than the default, as Neutron's `_is_attribute_explicitly_set`.
    func authorizeAttributes(_ action: String, _ kind: ResourceKind, _ attrs: JSONObject, body: JSONObject, _ c: Caller, _ t: [String: String]) throws {
        let specs = ResourceSpecs.attributes(kind)
        for (k, v) in body {
            let rule = "\(action)_\(kind.member):\(k)"
            guard policy.hasRule(rule) else { continue }
            if action == "create", let spec = specs.first(where: { $0.name.sameBytes(as: k) }), let d = spec.defaultValue, attrs[k] == d { continue }
            try authorize(rule, c, t)
            // Sub-attributes (`external_gateway_info:enable_snat`, `fixed_ips:ip_address`).
            let subs: [String]
            switch v {
            case .object(let o): subs = o.keys
            case .array(let a): subs = a.flatMap { $0.objectValue?.keys ?? [] }
            default: subs = []
            }
            for sub in Set(subs) where policy.hasRule(rule + ":" + sub) { try authorize(rule + ":" + sub, c, t) }
        }
    }

    /// What the caller sees of a document: per-attribute read rules (`get_network:provider:*`),
    /// the network's sharing as it applies to the caller, then `fields`.
    func view(_ kind: ResourceKind, _ doc: JSONObject, _ c: Caller, _ s: NetworkState, fields: [String] = []) -> JSONObject {
        var d = doc
        switch kind {
        case .network:
            d["shared"] = .bool(service.isShared(doc, with: c.projectID, in: s))
            let scopes = service.addressScopes(ofNetwork: doc["id"]?.stringValue ?? "", in: s)
            d["ipv4_address_scope"] = scopes.v4
            d["ipv6_address_scope"] = scopes.v6
        case .subnetPool, .addressScope:
            d["shared"] = .bool(service.isShared(doc, with: c.projectID, in: s))
        case .subnet:
            if let n = doc["network_id"]?.stringValue, let network = s[.network, n] {
                d["shared"] = .bool(service.isShared(network, with: c.projectID, in: s))
                d["router:external"] = .bool(network["router:external"]?.boolValue == true)
            }
        case .floatingIP:
            d["port_forwardings"] = forwardingsOf(doc["id"]?.stringValue ?? "", s)
        case .agent:
            d = service.agentView(doc)
        case .securityGroup:
            d = service.groupWithRules(doc, s)
            if !c.isAdmin {
                d["security_group_rules"] = .array((d["security_group_rules"]?.arrayValue ?? []).filter { r in
                    r.objectValue.map { visible(.securityGroupRule, $0, c, s) } ?? false
                })
            }
        default: break
        }
        if !c.isAdmin {
            let t = target(kind, doc, c, s)
            for k in d.keys where policy.hasRule("get_\(kind.member):\(k)") && !allows("get_\(kind.member):\(k)", c, t) { d[k] = nil }
        }
        if !fields.isEmpty {
            var out = JSONObject()
            for f in fields { if let v = d[f] { out[f] = v } }
            return out
        }
        return d
    }

    // MARK: bodies

    /// The body's JSON object; Neutron's messages for a missing or malformed one.
    static func body(_ req: Request, _ ctx: NimbusRequestContext) async throws -> JSONObject {
        let buffer: ByteBuffer
        do { buffer = try await req.collectBody(upTo: ctx.maxUploadSize) } catch {
            throw NeutronFault.error(.payloadTooLarge, "HTTPRequestEntityTooLarge", "Request entity too large.")
        }
        guard buffer.readableBytes > 0 else { throw NeutronFault.badRequest("Resource body required") }
        let value: JSONValue
        do { value = try JSONValue.parse(buffer.readableBytesView) } catch {
            throw NeutronFault.badRequest("Malformed request body", type: "MalformedRequestBody")
        }
        guard case .object(let o) = value else { throw NeutronFault.badRequest("Body contains invalid data") }
        return o
    }

    /// The resource member of a body (`{"network": {...}}`).
    static func member(_ body: JSONObject, _ kind: ResourceKind) throws -> JSONObject {
        guard let v = body[kind.member] else { throw NeutronFault.badRequest("Unable to find '\(kind.member)' in request body") }
        guard case .object(let o) = v else { throw NeutronFault.badRequest("Invalid format: \(Validators.repr(v))") }
        return o
    }

    /// `If-Match: revision_number=N` (Neutron's revision-if-match).
    /// The If-Match revision (nil without one), after checking it against `doc` as read.
    @discardableResult
    static func checkRevision(_ req: Request, _ doc: JSONObject) throws -> Int64? {
        guard let header = req.headers[.ifMatch] else { return nil }
        let parts = header.splitBytes(",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasBytePrefix("revision_number=") }
        if parts.count > 1 { throw NeutronFault.badRequest("Multiple revision_number If-Match constraints are not supported.", type: "BadRequest") }
        guard let p = parts.first, let digits = p.droppingBytePrefix("revision_number=") else { return nil }
        let t = digits.hasBytePrefix("-") ? digits.dropFirst() : digits[...]
        guard !t.isEmpty, t.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw NeutronFault.badRequest("Could not parse If-Match revision_number \(digits).", type: "BadRequest")
        }
        let have = doc["revision_number"]?.intValue ?? 0
        if Int64(digits) != have {
            throw NeutronFault.error(.preconditionFailed, "RevisionNumberConstraintFailed", "Constrained to \(digits), but current revision is \(have)")
        }
        return have
    }

    /// Runs an update or delete of `doc` so that its first write re-checks the If-Match revision.
    static func guardingRevision<R: Sendable>(_ revision: Int64?, _ kind: ResourceKind, _ doc: JSONObject,
                                              _ body: () async throws -> R) async throws -> R {
        guard let revision, let id = doc["id"]?.stringValue else { return try await body() }
        return try await NetworkService.$revisionGuard.withValue(.init(kind: kind, id: id, revision: revision), operation: body)
    }
}

extension ResourceKind {
    /// The collections this service serves.
    static let served: [ResourceKind] = [.network, .subnet, .port, .securityGroup, .securityGroupRule, .router, .floatingIP, .rbacPolicy,
                                         .subnetPool, .addressScope]
}

/// Neutron's faults: `{"NeutronError": {"type", "message", "detail"}}`; a 401 is
/// keystonemiddleware's.
public struct NeutronErrorRenderer: ErrorRenderer {
    let identityURL: String
    public init(identityURL: String) { self.identityURL = identityURL }

    static func defaultType(_ status: Int) -> String {
        switch status {
        case 400: "HTTPBadRequest"
        case 403: "HTTPForbidden"
        case 404: "HTTPNotFound"
        case 405: "HTTPMethodNotAllowed"
        case 409: "HTTPConflict"
        case 412: "HTTPPreconditionFailed"
        case 413: "HTTPRequestEntityTooLarge"
        case 415: "HTTPUnsupportedMediaType"
        case 501: "HTTPNotImplemented"
        case 503: "HTTPServiceUnavailable"
        default: "HTTPInternalServerError"
        }
    }

    public func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response {
        if error.status == 401 { return .keystoneUnauthorized(identityURL: identityURL) }
        let type = NeutronFault.type(of: error) ?? Self.defaultType(error.status)
        let message = error.kind == .internal ? "Request Failed: internal server error while processing your request." : error.message
        return .json(["NeutronError": ["type": .string(type), "message": .string(message), "detail": ""]],
                     status: HTTPResponse.Status(code: error.status))
    }
}
