import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import NimbusCore
import Synchronization

/// The whole HTTP surface: request ids, logging, metrics, service dispatch by path prefix, token
/// validation, and error rendering — each done once here so that service handlers stay thin.
public struct NimbusResponder: HTTPResponder {
    public typealias Context = NimbusRequestContext

    let tables: [RouteTable]
    let validator: any TokenValidator
    let rootHandlers: [String: RouteHandler]
    let fallbackRenderer: any ErrorRenderer
    let metrics = RequestMetrics()

    public init(tables: [RouteTable], validator: any TokenValidator, rootHandlers: [String: RouteHandler], fallbackRenderer: any ErrorRenderer) {
        self.tables = tables.sorted { $0.prefix.count > $1.prefix.count }
        self.validator = validator
        self.rootHandlers = rootHandlers
        self.fallbackRenderer = fallbackRenderer
    }

    public func respond(to request: Request, context: NimbusRequestContext) async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        context.requestID = Identifiers.requestID()
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        var response = await dispatch(request, &context)
        response.headers[HTTPField.Name("x-openstack-request-id")!] = context.requestID
        if request.method == .head { response = response.createHeadResponse() }
        let elapsed = ContinuousClock.now - start
        record(request, context, response, elapsed)
        return response
    }

    /// eventlet's `url_length_limit` (Swift's MAX_REQUEST_LINE) and Apache's LimitRequestLine in
    /// front of the other services: a longer request target is a 414 before any parsing.
    static let maxRequestTargetBytes = 8192

    private func dispatch(_ request: Request, _ context: inout NimbusRequestContext) async -> Response {
        let path = request.uri.path
        if request.uri.description.utf8.count > Self.maxRequestTargetBytes {
            let table = tables.first(where: { path.sameBytes(as: $0.prefix) || path.hasBytePrefix($0.prefix + "/") })
            return (table?.renderer ?? fallbackRenderer).render(NimbusError(.uriTooLong, "The request URL is too long."), request: request, context: context)
        }
        if request.uri.description.containsBytes("%00") || request.uri.description.utf8.contains(0) {
            return fallbackRenderer.render(.badRequest("The request URL contains a NUL character."), request: request, context: context)
        }
        if let root = rootHandlers[path] {
            context.routeName = path
            return await run(root, request, context, renderer: fallbackRenderer)
        }
        guard let table = tables.first(where: { path.sameBytes(as: $0.prefix) || path.hasBytePrefix($0.prefix + "/") }) else {
            return fallbackRenderer.render(.notFound("The resource could not be found."), request: request, context: context)
        }
        context.service = table.service
        if let id = table.requestID {
            context.requestID = id()
            context.logger[metadataKey: "request_id"] = .string(context.requestID)
        }
        guard QueryString(request.uri.query).isValid else {
            return table.renderer.render(.badRequest("Invalid UTF8 in the query string."), request: request, context: context)
        }
        if let raw = table.rawHandler {
            context.routeName = table.prefix
            let encoded = request.uri.path
            context.rawPath = encoded.droppingBytePrefix(table.prefix) ?? ""
            // A token is optional here: the service decides what anonymous callers may do.
            if let token = request.headers[HTTPField.Name("X-Auth-Token")!] ?? request.headers[HTTPField.Name("X-Storage-Token")!], !token.isEmpty {
                // Decoded whole before splitting, as the raw-path service reads it.
                let decoded = PercentEncoding.decode(context.rawPath) ?? String(context.rawPath)
                do { try await authenticate(token, path: decoded.splitBytes("/"), table: table, request, &context) } catch {
                    return render(error, request, context, table.renderer)
                }
            }
            return await run(raw, request, context, renderer: table.renderer)
        }
        if table.reusesClientRequestID, let given = request.headers[HTTPField.Name("X-Openstack-Request-ID")!], !given.isEmpty, given.utf8.count <= 64 {
            context.requestID = given
            context.logger[metadataKey: "request_id"] = .string(given)
        }
        guard var segments = Self.segments(path.droppingBytePrefix(table.prefix) ?? "", trailingSlash: table.trailingSlashIsSegment) else {
            return table.renderer.render(.badRequest("Invalid UTF8 or NUL in the request path."), request: request, context: context)
        }
        if let first = segments.first, let alias = table.segmentAliases[Name(first)] { segments[0] = Substring(alias) }
        switch table.match(method: request.method, segments: segments) {
        case .notFound:
            return table.renderer.render(.notFound("The resource could not be found."), request: request, context: context)
        case .methodNotAllowed(let allowed):
            var r = table.renderer.render(NimbusError(.methodNotAllowed, "The method is not allowed for the requested URL."), request: request, context: context)
            r.headers[.allow] = Set(allowed).sorted().joined(separator: ", ")
            return r
        case .found(let entry, let params, _):
            context.pathParameters = params
            context.routeName = entry.name
            if entry.authentication == .token {
                guard let token = request.headers[HTTPField.Name("X-Auth-Token")!], !token.isEmpty else {
                    return table.renderer.render(.unauthorized(), request: request, context: context)
                }
                do { try await authenticate(token, path: segments, table: table, request, &context) } catch {
                    return render(error, request, context, table.renderer)
                }
            }
            return await run(entry.handler, request, context, renderer: table.renderer)
        }
    }

    /// The path below a service prefix as percent-decoded segments, split on `/` bytes before
    /// decoding (so `%2F` stays inside a segment); nil when a segment is not UTF-8 or holds NUL.
    static func segments(_ relative: Substring, trailingSlash: Bool) -> [Substring]? {
        var out = [Substring]()
        for raw in relative.splitBytes("/") {
            guard let d = PercentEncoding.decode(raw), !d.utf8.contains(0) else { return nil }
            out.append(Substring(d))
        }
        if trailingSlash && relative.utf8.count > 1 && relative.hasByteSuffix("/") { out.append("") }
        return out
    }

    /// Validates the token (and an `X-Service-Token`), enforces an application credential's
    /// access rules against the decoded path segments, and puts the caller in the context.
    private func authenticate(_ token: String, path: [Substring], table: RouteTable, _ request: Request,
                              _ context: inout NimbusRequestContext) async throws {
        let auth = try await validator.validate(token: token)
        if !auth.accessRules.isEmpty,
           !auth.accessRules.contains(where: { $0.permits(service: table.service, path: path, method: request.method.rawValue) }) {
            throw NimbusError.unauthorized("The request is not permitted by the application credential's access rules.")
        }
        context.auth = auth
        if let service = request.headers[HTTPField.Name("X-Service-Token")!], !service.isEmpty {
            context.serviceAuth = try await validator.validate(token: service)
        }
    }

    private func run(_ handler: RouteHandler, _ request: Request, _ context: NimbusRequestContext, renderer: any ErrorRenderer) async -> Response {
        do {
            return try await handler(request, context)
        } catch {
            return render(error, request, context, renderer)
        }
    }

    private func render(_ error: any Error, _ request: Request, _ context: NimbusRequestContext, _ renderer: any ErrorRenderer) -> Response {
        if let e = error as? NimbusError {
            if e.kind == .internal { context.logger.error("internal error: \(e)") }
            return renderer.render(e, request: request, context: context)
        }
        context.logger.error("unhandled error on \(request.method) \(request.uri.path): \(String(reflecting: error))")
        return renderer.render(NimbusError(.internal, "An unexpected error prevented the server from fulfilling your request."),
                               request: request, context: context)
    }

    private func record(_ request: Request, _ context: NimbusRequestContext, _ response: Response, _ elapsed: Duration) {
        let nanos = Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        let handles = metrics.handles(service: context.service, route: context.routeName, method: request.method.rawValue, status: Int(response.status.code))
        handles.requests.increment()
        handles.duration.recordNanoseconds(nanos)
        context.logger.info("\(request.method) \(request.uri.path) \(response.status.code)",
                            metadata: ["elapsed_ms": .string(Self.milliseconds(nanos))])
    }

    /// `nanos` as milliseconds with two decimals ("0.52"), without `String(format:)`, which cost
    /// more than a cached token validation.
    static func milliseconds(_ nanos: Int64) -> String {
        let hundredths = (max(nanos, 0) + 5_000) / 10_000
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + String(fraction)
    }
}

/// Metric handles per (service, route, method, status), created once: looking a metric up in the
/// Prometheus registry on every request costs more than the request itself on the hot paths.
final class RequestMetrics: Sendable {
    struct Handles: Sendable {
        let requests: Counter
        let duration: Metrics.Timer
    }

    private let cache = Mutex<[String: Handles]>([:])

    func handles(service: String, route: String, method: String, status: Int) -> Handles {
        let key = "\(service) \(method) \(route) \(status)"
        if let h = cache.withLock({ $0[key] }) { return h }
        let dimensions = [("service", service), ("route", route), ("method", method), ("status", String(status))]
        let h = Handles(requests: Counter(label: "nimbus_http_requests_total", dimensions: dimensions),
                        duration: Metrics.Timer(label: "nimbus_http_request_duration_seconds", dimensions: Array(dimensions.prefix(3))))
        cache.withLock { $0[key] = h }
        return h
    }
}
