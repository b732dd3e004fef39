import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP
import NimbusPolicy

/// The Glance v2 HTTP surface at `/image`: decode, check visibility and policy, call
/// `ImageService`, render Glance's JSON.
public struct ImageAPI: Sendable {
    public let service: ImageService
    public let metadefs: MetadefService
    let policy: PolicyEnforcer
    /// e.g. `http://127.0.0.1:5000/image`: the version document links here.
    let publicURL: String
    let identityURL: String

    public init(service: ImageService, policy: PolicyEnforcer, publicURL: String, identityURL: String) {
        self.service = service
        self.metadefs = MetadefService(repository: MetadefRepository(database: service.repository.database), logger: service.logger)
        self.policy = policy
        self.publicURL = publicURL
        self.identityURL = identityURL
    }

    public var routes: RouteTable {
        var t = RouteTable(service: "image", prefix: "/image", renderer: GlanceErrorRenderer(identityURL: identityURL, versions: versions()))
        // `GET|DELETE /v2/images/` name an image with an empty id (404), as in Glance.
        t.trailingSlashIsSegment = true
        t.reusesClientRequestID = true
        // Every advertised minor version is served by v2, as Glance's version negotiation does.
        for id in Self.versionIDs(multiple: service.stores.multiple) { t.segmentAliases[Name(id)] = "v2" }
        addVersionRoutes(&t)
        addImageRoutes(&t)
        addDataRoutes(&t)
        addMemberRoutes(&t)
        addDiscoveryRoutes(&t)
        addMetadefNamespaceRoutes(&t)
        addMetadefResourceTypeRoutes(&t)
        addMetadefObjectRoutes(&t)
        addMetadefPropertyRoutes(&t)
        addMetadefTagRoutes(&t)
        addTaskRoutes(&t)
        return t
    }

    // MARK: callers and policy

    struct Caller {
        let auth: AuthContext
        let image: ImageCaller
    }

    func caller(_ ctx: NimbusRequestContext) throws -> Caller {
        let auth = try ctx.caller()
        var project: String?
        if case .project(let p) = auth.scope { project = p.id }
        return Caller(auth: auth, image: ImageCaller(projectID: project, isAdmin: policy.enforce("context_is_admin", credentials: auth.policyCredentials, target: [:])))
    }

    /// A path parameter that may not be empty (a trailing slash makes an empty last segment).
    static func nonEmpty(_ ctx: NimbusRequestContext, _ name: String) throws -> String {
        let v = try ctx.parameter(name)
        guard !v.isEmpty else { throw NimbusError.notFound("The resource could not be found.") }
        return v
    }

    func target(_ image: Image, _ c: Caller) -> [String: String] {
        let memberID = image.visibility == .shared && c.image.projectID != nil && image.owner != c.image.projectID ? c.image.projectID! : "None"
        return ["project_id": image.owner ?? "None", "owner": image.owner ?? "None", "member_id": memberID, "visibility": image.visibility.rawValue]
    }

    func authorize(_ action: String, _ c: Caller, _ target: [String: String]) throws {
        guard policy.enforce(action, credentials: c.auth.policyCredentials, target: target) else {
            throw NimbusError.forbidden("You are not authorized to complete \(action) action.")
        }
    }

    /// The image of the path, visible to the caller (404 otherwise), after `action` is allowed.
    func image(_ ctx: NimbusRequestContext, _ c: Caller, _ action: String? = nil) async throws -> (Image, ImageMember.Status?) {
        let (image, member) = try await service.visible(try ctx.parameter("image_id"), caller: c.image)
        if let action { try authorize(action, c, target(image, c)) }
        return (image, member)
    }

    static func rejectBody(_ request: Request) throws {
        if let n = request.headers[.contentLength].flatMap(Int.init), n > 0 { throw NimbusError.badRequest("A body is not expected with this request.") }
        if request.headers[.transferEncoding]?.lowercased().contains("chunked") == true { throw NimbusError.badRequest("A body is not expected with this request.") }
    }

    static func jsonObject(_ request: Request, _ ctx: NimbusRequestContext) async throws -> JSONObject {
        let buffer = try await request.collectBody(upTo: ctx.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw NimbusError.badRequest("Body expected in request.") }
        guard let value = try? JSONValue.parse(buffer.readableBytesView) else { throw NimbusError.badRequest("Malformed JSON in request body.") }
        switch value {
        case .object(let o): return o
        case .array: throw NimbusError.badRequest("Unexpected body type. Expected dict.")
        default: throw NimbusError.badRequest("Unexpected body type. Expected list/dict.")
        }
    }

    func view(_ image: Image) -> JSONValue { ImageViews.image(image, showStores: service.stores.multiple) }

    // MARK: versions

    func addVersionRoutes(_ t: inout RouteTable) {
        let doc = versions()
        t.get("/", auth: .none) { _, _ in .json(doc, status: .multipleChoices) }
        t.get("/versions", auth: .none) { _, _ in .json(doc) }
    }

    /// Glance's order, odd as it is; multi-store adds 2.8 and 2.10–2.13 (2.12: image tasks).
    static func versionIDs(multiple: Bool) -> [String] {
        let middle = multiple ? ["v2.13", "v2.12", "v2.11", "v2.10", "v2.9", "v2.8"] : ["v2.9"]
        return ["v2.15"] + middle + ["v2.17"] + (0...7).reversed().map { "v2.\($0)" }
    }

    func versions() -> JSONValue {
        let href = JSONValue.string(publicURL + "/v2/")
        let order = Self.versionIDs(multiple: service.stores.multiple).map { ($0, $0 == "v2.17" ? "CURRENT" : "SUPPORTED") }
        return ["versions": .array(order.map { ["id": .string($0.0), "status": .string($0.1), "links": [["rel": "self", "href": href]]] })]
    }

    // MARK: images

    func addImageRoutes(_ t: inout RouteTable) {
        t.get("/v2/images") { req, ctx in
            let c = try self.caller(ctx)
            try self.authorize("get_images", c, ["project_id": c.image.projectID ?? "None"])
            let pairs = req.queryString.pairs
            let listing = try ImageListing(query: pairs)
            let (images, more) = try await self.service.list(listing, caller: c.image)
            var body: JSONObject = ["images": .array(images.map(self.view)), "schema": "/v2/schemas/images"]
            let rest = pairs.filter { $0.0 != "marker" }
            body["first"] = .string("/v2/images" + Self.query(rest))
            if more, let last = images.last { body["next"] = .string("/v2/images" + Self.query(rest + [("marker", last.id)])) }
            return .json(.object(body))
        }
        t.post("/v2/images") { req, ctx in
            let c = try self.caller(ctx)
            let body = try await Self.jsonObject(req, ctx)
            var owner = c.image.projectID
            if let o = body["owner"] {
                guard case .string(let s) = o, s.scalarCount <= 255 else { throw ImageSchema.mismatch("\(o.rendered) is not of type 'string'") }
                owner = s
            }
            let visibility = body["visibility"]?.stringValue ?? "private"
            let target = ["project_id": owner ?? "None", "owner": owner ?? "None", "visibility": visibility]
            guard self.policy.enforce("add_image", credentials: c.auth.policyCredentials, target: target) else {
                if owner != c.image.projectID { throw NimbusError.forbidden("You are not permitted to create images owned by '\(owner ?? "None")'") }
                throw NimbusError.forbidden("You are not authorized to complete add_image action.")
            }
            if visibility == "public" { try self.authorize("publicize_image", c, target) }
            if visibility == "community" { try self.authorize("communitize_image", c, target) }
            let image = try await self.service.create(body, owner: owner)
            var h = HTTPFields()
            h[.location] = self.publicURL + "/v2/images/\(image.id)"
            if !self.service.settings.importMethods.isEmpty {
                h[HTTPField.Name("OpenStack-image-import-methods")!] = self.service.settings.importMethods.joined(separator: ",")
            }
            if self.service.stores.multiple { h[HTTPField.Name("OpenStack-image-store-ids")!] = self.service.stores.ids.joined(separator: ",") }
            return .json(self.view(image), status: .created, headers: h)
        }
        t.get("/v2/images/{image_id}") { req, ctx in
            try Self.rejectBody(req)
            let c = try self.caller(ctx)
            return .json(self.view(try await self.image(ctx, c, "get_image").0))
        }
        t.patch("/v2/images/{image_id}") { req, ctx in
            let c = try self.caller(ctx)
            guard let dialect = ImagePatch.dialect(contentType: req.headers[.contentType]) else {
                let e = NimbusError(.unsupportedMediaType, "The request media type \(req.headers[.contentType] ?? "None") is not supported by this server.\n<br /><br />\nImage PATCH expects Content-Type one of: \(ImagePatch.mediaTypes.joined(separator: ", "))")
                var r = GlanceErrorRenderer(identityURL: self.identityURL, versions: nil).render(e, request: req, context: ctx)
                r.headers[HTTPField.Name("Accept-Patch")!] = ImagePatch.mediaTypes.joined(separator: ", ")
                return r
            }
            let buffer = try await req.collectBody(upTo: ctx.maxUploadSize)
            guard let body = try? JSONValue.parse(buffer.readableBytesView) else { throw NimbusError.badRequest("Malformed JSON in request body.") }
            let patch = try ImagePatch(body, dialect: dialect)
            let (image, _) = try await self.image(ctx, c)
            let target = self.target(image, c)
            try self.authorize("modify_image", c, target)
            for change in patch.changes where change.key == "visibility" {
                if change.value?.stringValue == "public" { try self.authorize("publicize_image", c, target) }
                if change.value?.stringValue == "community" { try self.authorize("communitize_image", c, target) }
            }
            return .json(self.view(try await self.service.update(image, patch: patch, isAdmin: c.image.isAdmin)))
        }
        t.delete("/v2/images/{image_id}") { req, ctx in
            try Self.rejectBody(req)
            let c = try self.caller(ctx)
            let (image, _) = try await self.image(ctx, c, "delete_image")
            try await self.service.delete(image)
            return .empty()
        }
        t.post("/v2/images/{image_id}/actions/deactivate") { req, ctx in
            let c = try self.caller(ctx)
            try await self.service.deactivate(try await self.image(ctx, c, "deactivate").0)
            return .empty()
        }
        t.post("/v2/images/{image_id}/actions/reactivate") { req, ctx in
            let c = try self.caller(ctx)
            try await self.service.reactivate(try await self.image(ctx, c, "reactivate").0)
            return .empty()
        }
        t.put("/v2/images/{image_id}/tags/{tag}") { req, ctx in
            try Self.rejectBody(req)
            let c = try self.caller(ctx)
            try await self.service.addTag(try await self.image(ctx, c, "modify_image").0, try Self.nonEmpty(ctx, "tag"))
            return .empty()
        }
        t.delete("/v2/images/{image_id}/tags/{tag}") { req, ctx in
            let c = try self.caller(ctx)
            try await self.service.removeTag(try await self.image(ctx, c, "modify_image").0, try Self.nonEmpty(ctx, "tag"))
            return .empty()
        }
    }

    static func query(_ pairs: [(String, String)]) -> String {
        guard !pairs.isEmpty else { return "" }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        // Repeated keys collapse to the last value, as Glance's dict(MultiDict) does.
        var seen = [String: String]()
        var order = [String]()
        for (k, v) in pairs {
            if seen[k] == nil { order.append(k) }
            seen[k] = v
        }
        return "?" + order.map { k in
            (k.addingPercentEncoding(withAllowedCharacters: allowed) ?? k) + "=" + (seen[k]!.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }.joined(separator: "&")
    }

    // MARK: data

    func addDataRoutes(_ t: inout RouteTable) {
        t.put("/v2/images/{image_id}/file") { req, ctx in
            let c = try self.caller(ctx)
            try Self.requireOctetStream(req)
            let declared = try Self.declaredSize(req)
            let store = self.service.stores.multiple ? req.headers[Self.storeHeader] : nil
            if let store { _ = try self.service.stores.require(store) }
            let (image, _) = try await self.image(ctx, c, "upload_image")
            _ = try await self.service.upload(image, body: ClientBody(req.body), declaredSize: declared, storeID: store)
            return .empty()
        }
        t.get("/v2/images/{image_id}/file") { req, ctx in
            let c = try self.caller(ctx)
            let (image, _) = try await self.image(ctx, c)
            if image.status == .deactivated && !c.image.isAdmin {
                throw NimbusError.forbidden("The requested image has been deactivated. Image data download is forbidden.")
            }
            try self.authorize("download_image", c, self.target(image, c))
            // `?prefer=s1,s2`: read from those stores first (falling back to the others).
            let prefer = (req.query("prefer") ?? "").splitBytes(",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if !prefer.isEmpty {
                try self.authorize("download_from_store", c, self.target(image, c))
                guard self.service.stores.multiple else {
                    throw NimbusError.badRequest("Store selection for download is not available when multiple backends are not enabled.")
                }
                for id in prefer where self.service.stores[id] == nil { throw NimbusError.badRequest("Store '\(id)' is not configured.") }
            }
            guard let size = image.size, !image.locations.isEmpty, image.status == .active || image.status == .deactivated else { return .empty() }
            let range = try Self.range(req.headers[.range] ?? req.headers[HTTPField.Name("Content-Range")!], size: size)
            guard let stream = try await self.service.download(image, range: range, prefer: prefer) else { return .empty() }
            var h: HTTPFields = [.contentType: "application/octet-stream"]
            if let md5 = image.checksum { h[HTTPField.Name("Content-MD5")!] = md5 }
            let length = range.map { $0.count } ?? Int(size)
            if let range { h[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)" }
            let logger = ctx.logger
            return Response(status: range == nil ? .ok : .partialContent, headers: h, body: ResponseBody(contentLength: length) { writer in
                do {
                    for try await chunk in stream { try await writer.write(chunk) }
                    try await writer.finish(nil)
                } catch {
                    logger.info("image download broke off: \(error)")
                    throw error
                }
            })
        }
        t.put("/v2/images/{image_id}/stage") { req, ctx in
            let c = try self.caller(ctx)
            guard self.service.settings.importMethods.contains("glance-direct") else {
                throw NimbusError.notFound("'glance-direct' method is not available at this site.")
            }
            try Self.requireOctetStream(req)
            let (image, _) = try await self.image(ctx, c, "modify_image")
            try await self.service.stage(image, body: ClientBody(req.body))
            return .empty()
        }
        t.post("/v2/images/{image_id}/import") { req, ctx in
            let c = try self.caller(ctx)
            let body = try await Self.jsonObject(req, ctx)
            guard case .object(let method)? = body["method"] else { throw NimbusError.badRequest("Import request requires a 'method' field.") }
            guard case .string(let name)? = method["name"] else { throw NimbusError.badRequest("Import request requires a 'name' field.") }
            guard self.service.settings.importMethods.contains(name), let kind = ImportRequest.Method(rawValue: name) else {
                throw NimbusError.badRequest("Unknown import method name '\(name)'.")
            }
            for key in ["all_stores_must_succeed", "all_stores"] where body[key] != nil && body[key]?.boolValue == nil {
                throw NimbusError.badRequest("'\(key)' must be boolean value only")
            }
            let (image, _) = try await self.image(ctx, c)
            try ImageService.checkImportable(image, kind)
            try self.authorize(kind == .copyImage ? "copy_image" : "modify_image", c, self.target(image, c))
            let targets = try self.service.importTargets(body: body, header: req.headers[Self.storeHeader])
            let mustSucceed = body["all_stores_must_succeed"]?.boolValue ?? true
            if !mustSucceed && !self.service.stores.multiple {
                throw NimbusError.badRequest("All_stores_must_succeed can only be set with enabled_backends None")
            }
            let caller = ImageService.ImportCaller(projectID: c.image.projectID, userID: c.auth.user.id, requestID: ctx.requestID)
            try await self.service.startImport(image, ImportRequest(method: kind, stores: targets, allStoresMustSucceed: mustSucceed),
                                               body: .object(body), allStores: body["all_stores"]?.boolValue == true, caller: caller)
            return .empty(.accepted)
        }
        t.get("/v2/images/{image_id}/tasks") { req, ctx in
            let c = try self.caller(ctx)
            let (image, _) = try await self.image(ctx, c, "get_image")
            return .json(["tasks": .array(try await self.service.tasks(of: image, caller: c.image).map(ImageViews.task))])
        }
        t.delete("/v2/stores/{store_id}/{image_id}") { req, ctx in
            let c = try self.caller(ctx)
            guard self.service.stores.multiple else { throw NimbusError.notFound("The resource could not be found.") }
            let storeID = try ctx.parameter("store_id")
            guard self.service.stores[storeID] != nil else { throw NimbusError.conflict("The selected store \(storeID) is not available on this node.") }
            let image: Image
            do { image = try await self.image(ctx, c).0 } catch let e as NimbusError where e.kind == .notFound {
                throw NimbusError.notFound("Failed to find image \(try ctx.parameter("image_id"))")
            }
            let target = self.target(image, c)
            try self.authorize("get_image_location", c, target)
            try self.authorize("delete_image_location", c, target)
            try await self.service.deleteFromStore(image, storeID: storeID)
            return .empty()
        }
    }

    static let storeHeader = HTTPField.Name("X-Image-Meta-Store")!

    static func requireOctetStream(_ req: Request) throws {
        let type = req.headers[.contentType]?.splitBytes(";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/octet-stream" else {
            throw NimbusError(.unsupportedMediaType, "Invalid content type \(req.headers[.contentType] ?? "None")")
        }
    }

    static func declaredSize(_ req: Request) throws -> Int64? {
        if let v = req.headers[HTTPField.Name("x-openstack-image-size")!] {
            guard let n = Int64(v), n >= 0 else { throw NimbusError.badRequest("Invalid or missing image size in request headers.") }
            return n
        }
        return req.headers[.contentLength].flatMap { Int64($0) }
    }

    /// One byte range of an image of `size` bytes (`Range` or, as Glance also accepts, a
    /// request `Content-Range`); nil for the whole image.
    static func range(_ header: String?, size: Int64) throws -> Range<Int64>? {
        guard var h = header?.trimmingCharacters(in: .whitespaces), !h.isEmpty, size > 0 else { return nil }
        if h.contains(",") {
            throw NimbusError.badRequest("Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.")
        }
        if h.hasPrefix("bytes ") { h = String(h.dropFirst(6)).splitBytes("/").first.map(String.init) ?? "" }  // Content-Range form
        else if h.hasPrefix("bytes=") { h = String(h.dropFirst(6)) } else { throw NimbusError(.rangeNotSatisfiable, "Invalid Range header.") }
        let parts = h.splitBytes("-", maxSplits: 1, omittingEmpty: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { throw NimbusError(.rangeNotSatisfiable, "Invalid Range header.") }
        if parts[0].isEmpty {
            guard let n = Int64(parts[1]), n > 0 else { throw NimbusError(.rangeNotSatisfiable, "Invalid Range header.") }
            return max(0, size - n)..<size
        }
        guard let start = Int64(parts[0]) else { throw NimbusError(.rangeNotSatisfiable, "Invalid Range header.") }
        var end = size - 1
        if !parts[1].isEmpty {
            guard let e = Int64(parts[1]), e >= start else { throw NimbusError(.rangeNotSatisfiable, "Invalid Range header.") }
            end = min(e, size - 1)
        }
        guard start < size else {
            throw NimbusError(.rangeNotSatisfiable, "Invalid start position in Range header. Start position MUST be in the inclusive range [0, \(size - 1)].")
        }
        return start..<(end + 1)
    }

    // MARK: members

    func addMemberRoutes(_ t: inout RouteTable) {
        t.get("/v2/images/{image_id}/members") { req, ctx in
            let c = try self.caller(ctx)
            let (image, _) = try await self.image(ctx, c, "get_members")
            let members = try await self.service.members(of: image, caller: c.image)
            return .json(["members": .array(members.map(ImageViews.member)), "schema": "/v2/schemas/members"])
        }
        t.post("/v2/images/{image_id}/members") { req, ctx in
            let c = try self.caller(ctx)
            let body: JSONObject
            do { body = try await Self.jsonObject(req, ctx) } catch let e as NimbusError where e.message.hasPrefix("Unexpected body type") {
                throw NimbusError.badRequest("Expected a member in the form: {\"member\": \"image_id\"}")
            }
            guard let m = body["member"] else { throw NimbusError.badRequest("Member to be added not specified") }
            guard case .string(let member) = m, !member.isEmpty else { throw NimbusError.badRequest("Member can't be empty") }
            let (image, _) = try await self.image(ctx, c, "add_member")
            return .json(ImageViews.member(try await self.service.addMember(image, member: member)))
        }
        t.get("/v2/images/{image_id}/members/{member_id}") { req, ctx in
            let c = try self.caller(ctx)
            let memberID = try Self.nonEmpty(ctx, "member_id")
            let notFound = NimbusError.notFound("\(memberID) not found in the member list of the image \(try ctx.parameter("image_id")).")
            let image: Image
            do { image = try await self.image(ctx, c, "get_member").0 } catch let e as NimbusError where e.kind == .notFound || e.kind == .forbidden { throw notFound }
            guard image.visibility == .shared,
                  c.image.isAdmin || image.owner == c.image.projectID || memberID == c.image.projectID,
                  let m = try await self.service.repository.member(image.id, memberID) else { throw notFound }
            return .json(ImageViews.member(m))
        }
        t.put("/v2/images/{image_id}/members/{member_id}") { req, ctx in
            let c = try self.caller(ctx)
            let memberID = try Self.nonEmpty(ctx, "member_id")
            let body: JSONObject
            do { body = try await Self.jsonObject(req, ctx) } catch let e as NimbusError where e.message.hasPrefix("Unexpected body type") {
                throw NimbusError.badRequest("Expected a status in the form: {\"status\": \"status\"}")
            }
            guard let s = body["status"] else { throw NimbusError.badRequest("Status not specified") }
            guard case .string(let name) = s, let status = ImageMember.Status(rawValue: name) else {
                throw NimbusError.badRequest("Incorrect request: Status must be \"pending\", \"accepted\" or \"rejected\".")
            }
            let (image, _) = try await self.image(ctx, c)
            var target = self.target(image, c)
            target["member_id"] = c.image.projectID == memberID ? memberID : "None"
            try self.authorize("modify_member", c, target)
            guard let m = try await self.service.repository.member(image.id, memberID),
                  c.image.isAdmin || image.owner == c.image.projectID || memberID == c.image.projectID else {
                throw NimbusError.notFound("\(memberID) not found in the member list of the image \(image.id).")
            }
            return .json(ImageViews.member(try await self.service.updateMember(image, m, status: status)))
        }
        t.delete("/v2/images/{image_id}/members/{member_id}") { req, ctx in
            let c = try self.caller(ctx)
            let memberID = try Self.nonEmpty(ctx, "member_id")
            let (image, _) = try await self.image(ctx, c, "delete_member")
            guard image.visibility == .shared else { throw NimbusError.forbidden("Not allowed to delete members for image \(image.id).") }
            guard try await self.service.repository.member(image.id, memberID) != nil else {
                throw NimbusError.notFound("\(memberID) not found in the member list of the image \(image.id).")
            }
            try await self.service.repository.deleteMember(image.id, memberID)
            return .empty()
        }
    }

    // MARK: schemas and discovery

    func addDiscoveryRoutes(_ t: inout RouteTable) {
        let schemas = ImageSchemaDocuments.documents(formats: service.settings.formats)
        for (name, doc) in schemas {
            t.get("/v2/schemas/\(name)") { req, _ in
                try Self.rejectBody(req)
                return .json(doc)
            }
        }
        let methods = service.settings.importMethods
        t.get("/v2/info/import") { _, _ in
            .json(["import-methods": ["description": "Import methods available.", "type": "array", "value": .array(methods.map { .string($0) })]])
        }
        let stores = service.stores
        t.get("/v2/info/stores") { _, ctx in
            _ = try self.caller(ctx)
            guard stores.multiple else { throw NimbusError.notFound("Multi backend is not supported at this site.") }
            return .json(["stores": .array(stores.entries.map { ImageViews.store($0, isDefault: $0.store.id == stores.defaultID, detail: false) })])
        }
        t.get("/v2/info/stores/detail") { _, ctx in
            let c = try self.caller(ctx)
            guard stores.multiple else { throw NimbusError.notFound("Multi backend is not supported at this site.") }
            try self.authorize("stores_info_detail", c, ["project_id": c.image.projectID ?? "None"])
            return .json(["stores": .array(stores.entries.map { ImageViews.store($0, isDefault: $0.store.id == stores.defaultID, detail: true) })])
        }
        t.get("/v2/info/usage") { _, ctx in .json(try await self.service.usageDocument(project: try self.caller(ctx).image.projectID)) }
    }
}

extension ImageSchemaDocuments {
    /// The four schema documents, with the format enums of this cloud.
    static func documents(formats: ImageFormats) -> [(String, JSONValue)] {
        guard var image = try? JSONValue.parse(Array(Self.image.utf8)), let member = try? JSONValue.parse(Array(Self.member.utf8)) else { return [] }
        if case .object(var o) = image, case .object(var props)? = o["properties"] {
            for (key, list) in [("disk_format", formats.disk), ("container_format", formats.container)] {
                if case .object(var p)? = props[key] {
                    p["enum"] = .array([.null] + list.map { .string($0) })
                    props[key] = .object(p)
                }
            }
            o["properties"] = .object(props)
            image = .object(o)
        }
        let images: JSONValue = ["name": "images",
                                 "properties": ["images": ["type": "array", "items": image], "first": ["type": "string"], "next": ["type": "string"], "schema": ["type": "string"]],
                                 "links": [["rel": "first", "href": "{first}"], ["rel": "next", "href": "{next}"], ["rel": "describedby", "href": "{schema}"]]]
        let members: JSONValue = ["name": "members",
                                  "properties": ["members": ["type": "array", "items": member], "schema": ["type": "string"]],
                                  "links": [["rel": "describedby", "href": "{schema}"]]]
        let more = GlanceStandardMetadefs.schemas.compactMap { name, text in (try? JSONValue.parse(Array(text.utf8))).map { (name, $0) } }
        return [("image", image), ("images", images), ("member", member), ("members", members)] + more
    }
}
