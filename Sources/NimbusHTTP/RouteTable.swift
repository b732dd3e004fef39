import HTTPTypes
import Hummingbird
import NimbusCore

public typealias RouteHandler = @Sendable (Request, NimbusRequestContext) async throws -> Response

/// Turns a domain error into a service's own fault body (Keystone, Nova, Neutron… each differ).
public protocol ErrorRenderer: Sendable {
    func render(_ error: NimbusError, request: Request, context: NimbusRequestContext) -> Response
}

/// The routes of one service under its path prefix. Matching is by path segments with `{name}`
/// parameters; a path that matches with another method gives 405, no match 404, both in the
/// service's own error format.
public struct RouteTable: Sendable {
    public enum Authentication: Sendable { case none, token }

    struct Entry: Sendable {
        let method: HTTPRequest.Method
        let segments: [Segment]
        let name: String
        let authentication: Authentication
        let handler: RouteHandler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    public let service: String
    public let prefix: String
    public let renderer: any ErrorRenderer
    var entries: [Entry] = []
    /// For APIs whose paths are free-form (Swift object names hold slashes, empty segments and
    /// trailing slashes): one handler takes every request under the prefix, reading the raw path
    /// from `NimbusRequestContext.rawPath`. A token is validated when one is sent; the handler
    /// decides what anonymous callers may do (Swift's container ACLs and temp URLs).
    public var rawHandler: RouteHandler?
    /// The request id format of the service (Swift's `tx…` transaction ids); default `req-<uuid>`.
    public var requestID: (@Sendable () -> String)?
    /// Whether a trailing slash names an empty last segment (Glance: `GET /v2/images/` asks for
    /// the image with an empty id, which is a 404), instead of being ignored.
    public var trailingSlashIsSegment = false
    /// Whether a client's `X-Openstack-Request-ID` (up to 64 characters) is used as the request
    /// id, as Glance does, instead of a new one.
    public var reusesClientRequestID = false
    /// First path segments that stand for another (Glance: `/v2.9/images` is `/v2/images`).
    public var segmentAliases: [Name: String] = [:]

    public init(service: String, prefix: String, renderer: any ErrorRenderer) {
        self.service = service
        self.prefix = prefix
        self.renderer = renderer
    }

    public mutating func add(_ method: HTTPRequest.Method, _ path: String, auth: Authentication = .token, _ handler: @escaping RouteHandler) {
        let segments = path.splitBytes("/").map { s -> Segment in
            s.hasPrefix("{") && s.hasSuffix("}") ? .parameter(String(s.dropFirst().dropLast())) : .literal(String(s))
        }
        entries.append(Entry(method: method, segments: segments, name: path, authentication: auth, handler: handler))
    }

    public mutating func get(_ path: String, auth: Authentication = .token, _ h: @escaping RouteHandler) { add(.get, path, auth: auth, h) }
    public mutating func head(_ path: String, auth: Authentication = .token, _ h: @escaping RouteHandler) { add(.head, path, auth: auth, h) }
    public mutating func post(_ path: String, auth: Authentication = .token, _ h: @escaping RouteHandler) { add(.post, path, auth: auth, h) }
    public mutating func put(_ path: String, auth: Authentication = .token, _ h: @escaping RouteHandler) { add(.put, path, auth: auth, h) }
    public mutating func patch(_ path: String, auth: Authentication = .token, _ h: @escaping RouteHandler) { add(.patch, path, auth: auth, h) }
    public mutating func delete(_ path: String, auth: Authentication = .token, _ h: @escaping RouteHandler) { add(.delete, path, auth: auth, h) }

    public var routeNames: [(method: String, path: String, authentication: Authentication)] {
        entries.map { ($0.method.rawValue, $0.name, $0.authentication) }
    }

    enum Match {
        case found(Entry, [String: String], headFromGet: Bool)
        case methodNotAllowed([String])
        case notFound
    }

    /// `path` is relative to the prefix, already split into percent-decoded segments. Literals
    /// match by bytes: a segment canonically equivalent to a literal is another path.
    func match(method: HTTPRequest.Method, segments path: [Substring]) -> Match {
        var allowed = [String]()
        var getCandidate: (Entry, [String: String])?
        for entry in entries where entry.segments.count == path.count {
            guard let params = bind(entry.segments, path) else { continue }
            if entry.method == method { return .found(entry, params, headFromGet: false) }
            if method == .head && entry.method == .get && getCandidate == nil { getCandidate = (entry, params) }
            allowed.append(entry.method.rawValue)
        }
        if let (entry, params) = getCandidate { return .found(entry, params, headFromGet: true) }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed)
    }

    private func bind(_ pattern: [Segment], _ path: [Substring]) -> [String: String]? {
        var params = [String: String]()
        for (p, s) in zip(pattern, path) {
            switch p {
            case .literal(let l): if !l.sameBytes(as: s) { return nil }
            case .parameter(let name): params[name] = String(s)
            }
        }
        return params
    }
}
