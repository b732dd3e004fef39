import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// The Swift API (`/object/v1/AUTH_<project>/<container>/<object>`). Object names hold slashes,
/// so the API takes its raw path from one route-table handler and dispatches itself.
public struct SwiftAPI: Sendable {
    let service: ObjectStorageService
    let access: SwiftAccessPolicy
    let limits: SwiftConstraints

    public init(service: ObjectStorageService, access: SwiftAccessPolicy = .init(), limits: SwiftConstraints = .init()) {
        self.service = service
        self.access = access
        var l = limits
        l.maxFileSize = service.settings.maxFileSize
        self.limits = l
    }

    public var routes: RouteTable {
        var t = RouteTable(service: "object-store", prefix: "/object", renderer: SwiftErrorRenderer())
        t.requestID = { SwiftTransactionID.make() }
        let api = self
        t.rawHandler = { request, context in try await api.handle(request, context) }
        return t
    }

    /// Whether a request target (path and query, as sent) is the object store's. Its answers
    /// without a body keep `Content-Length: 0`, as Swift's proxy sends it on them.
    public static func keepsEmptyLength(_ uri: String) -> Bool {
        uri.hasBytePrefix("/object/") || uri.sameBytes(as: "/object") || uri.hasBytePrefix("/object?")
    }

    /// `GET /info` at the root of the server: what tempest and `swift capabilities` read.
    public var infoHandler: RouteHandler {
        let api = self
        return { _, _ in api.info() }
    }

    // MARK: dispatch

    struct Target {
        var account: String
        var container: String?
        var object: String?
        /// The path's version segment (`v1` or `v1.0`), which symlink paths repeat.
        var version = "v1"
    }

    /// Swift unquotes the whole path and then splits it, so `%2F` in a container name is a slash.
    func parse(_ raw: Substring) throws(NimbusError) -> Target? {
        guard let decoded = PercentEncoding.decode(raw) else {
            throw NimbusError(.preconditionFailed, "Invalid UTF8 or contains NULL")
        }
        return try parse(decoded: decoded)
    }

    /// The target of an already decoded path (`/v1/<account>/<container>/<object>`): decoded
    /// exactly once, so a `%` or `?` that reached here is part of a name.
    func parse(decoded: String) throws(NimbusError) -> Target? {
        guard !decoded.utf8.contains(0) else { throw NimbusError(.preconditionFailed, "Invalid UTF8 or contains NULL") }
        let path = decoded.droppingBytePrefix("/") ?? decoded[...]
        // Split on `/` bytes: a `/` followed by a combining mark is one Character.
        let parts = path.splitBytes("/", maxSplits: 3, omittingEmpty: false).map(String.init)
        if parts.count == 1 && ["info", "healthcheck", "crossdomain.xml"].containsBytes(parts[0]) { return nil }
        guard parts.count >= 2, parts[0].sameBytes(as: "v1") || parts[0].sameBytes(as: "v1.0"), !parts[1].isEmpty else {
            throw .notFound("The resource could not be found.")
        }
        var t = Target(account: parts[1], version: parts[0])
        if parts.count > 2, !parts[2].isEmpty { t.container = parts[2] }
        if parts.count > 3, !parts[3].isEmpty {
            guard t.container != nil else { throw .notFound("The resource could not be found.") }
            t.object = parts[3]
        }
        // Lengths in code points, as Python's len() of the unquoted name.
        let a = t.account.unicodeScalars.count
        if a > limits.maxAccountNameLength { throw .badRequest("Account name length of \(a) longer than \(limits.maxAccountNameLength)") }
        if let c = t.container?.unicodeScalars.count, c > limits.maxContainerNameLength {
            throw .badRequest("Container name length of \(c) longer than \(limits.maxContainerNameLength)")
        }
        if let o = t.object?.unicodeScalars.count, o > limits.maxObjectNameLength {
            throw .badRequest("Object name length of \(o) longer than \(limits.maxObjectNameLength)")
        }
        return t
    }

    func handle(_ request: Request, _ context: NimbusRequestContext) async throws -> Response {
        guard let target = try parse(context.rawPath) else {
            guard request.method == .get || request.method == .head else { throw NimbusError(.methodNotAllowed, "The method is not allowed for this resource.") }
            var r: Response
            if context.rawPath.hasByteSuffix("healthcheck") { r = .swift(.ok, body: "OK", contentType: "text/plain") }
            else if context.rawPath.hasByteSuffix("crossdomain.xml") { r = .swift(.ok, body: Self.crossDomainPolicy, contentType: "application/xml; charset=utf-8") }
            else { r = info() }
            r.headers[HTTPField.Name("X-Trans-Id")!] = context.requestID
            return r
        }
        if request.method == .post, let boundary = Self.formBoundary(request.headers[.contentType]) {
            var out = try await formPost(request, context, target, boundary: boundary)
            out.headers[HTTPField.Name("X-Trans-Id")!] = context.requestID
            return out
        }
        var r = SwiftRequest(api: self, request: request, context: context, target: target)
        if request.method == .options { return try await r.preflight() }
        try await r.applyAccountACL()
        let response: Response
        do {
            if target.container != nil, let auth = request.headers[HTTPField.Name("X-Container-Sync-Auth")!] { try await r.checkContainerSyncAuth(auth) }
            if let page = try await staticWeb(request, context, target) {
                var out = page
                out.headers[HTTPField.Name("X-Trans-Id")!] = context.requestID
                return out
            }
            // bulk.py sees every PUT with `extract-archive`, at any depth (a prefix in the container).
            if request.method == .put && r.hasQuery("extract-archive") {
                response = try await r.extractArchive()
            } else {
                switch (target.container, target.object) {
                case (nil, _): response = try await r.account()
                case (_?, nil): response = try await r.container()
                case (_?, _?): response = try await r.object()
                }
            }
        } catch let reply as SwiftReply {
            var out = r.withCORS(reply.response)
            out.headers[HTTPField.Name("X-Trans-Id")!] = context.requestID
            return out
        } catch let e as ReplicaError {
            context.logger.error("storage error: \(e)")
            throw NimbusError(.serviceUnavailable, "The server is currently unavailable. Please try again at a later time.")
        }
        var out = r.withCORS(response)
        out.headers[HTTPField.Name("X-Trans-Id")!] = context.requestID
        return out
    }

    /// Swift's `crossdomain` middleware answer (Flash clients' cross-domain policy), with its
    /// default `cross_domain_policy`.
    static let crossDomainPolicy = """
        <?xml version="1.0"?>
        <!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >
        <cross-domain-policy>
        <allow-access-from domain="*" secure="false" />
        </cross-domain-policy>
        """

    func info() -> Response {
        let l = limits
        let swift: JSONValue = [
            "version": "2.38.0", "max_file_size": .int(Int64(l.maxFileSize)), "max_meta_name_length": .int(Int64(l.maxMetaNameLength)),
            "max_meta_value_length": .int(Int64(l.maxMetaValueLength)), "max_meta_count": .int(Int64(l.maxMetaCount)),
            "max_meta_overall_size": .int(Int64(l.maxMetaOverallSize)), "max_header_size": .int(Int64(l.maxHeaderSize)),
            "max_object_name_length": .int(Int64(l.maxObjectNameLength)), "container_listing_limit": .int(Int64(l.containerListingLimit)),
            "account_listing_limit": .int(Int64(l.accountListingLimit)), "max_account_name_length": .int(Int64(l.maxAccountNameLength)),
            "max_container_name_length": .int(Int64(l.maxContainerNameLength)), "extra_header_count": 0,
            "strict_cors_mode": true, "allow_account_management": false, "account_autocreate": true,
            "valid_api_versions": ["v1", "v1.0"],
            "policies": service.policies.info,
        ]
        var body: JSONObject = [
            "swift": swift,
            "tempurl": ["methods": ["GET", "HEAD", "PUT", "POST", "DELETE"], "incoming_remove_headers": ["x-timestamp"],
                        "incoming_allow_headers": [], "outgoing_remove_headers": ["x-object-meta-*"], "outgoing_allow_headers": ["x-object-meta-public-*"],
                        "allowed_digests": ["sha1", "sha256", "sha512"]],
            "slo": ["max_manifest_segments": 1000, "max_manifest_size": 8_388_608, "min_segment_size": 1, "yield_frequency": 10,
                    "allow_async_delete": false],
            "bulk_delete": ["max_deletes_per_request": 10000, "max_failed_deletes": 1000],
            "bulk_upload": ["max_containers_per_extraction": 10000, "max_failed_extractions": 1000],
            "versioned_writes": ["allowed_flags": ["x-versions-location", "x-history-location"]],
            "container_quotas": [:], "account_quotas": [:],
            "keystoneauth": [:],
            "cors": [:],
            "crossdomain": [:],
            "formpost": ["allowed_digests": ["sha1", "sha256", "sha512"]],
            "staticweb": [:],
            "symlink": ["symloop_max": .int(Int64(Symlink.symloopMax)), "static_links": true],
        ]
        if service.settings.allowObjectVersioning { body["object_versioning"] = [:] }
        body["container_sync"] = ["realms": .object(containerSyncRealmsInfo())]
        return .json(.object(body))
    }
}
