import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// Swift's `staticweb` middleware: a container with `X-Container-Meta-Web-Index`,
/// `-Web-Listings` (`-Web-Listings-CSS`, `-Web-Listings-Label`), `-Web-Error` or
/// `-Web-Directory-Type` serves anonymous GET and HEAD requests (and token requests with
/// `X-Web-Mode: true`) as a web site: index objects for directories, HTML listings, and
/// `<status><web-error>` objects as error pages. Every object read goes through the ordinary
/// object GET with the caller's own rights, so the container's read ACL (`.r:*`, and
/// `.rlistings` for listings) decides, as in Swift.
extension SwiftAPI {
    struct WebSettings {
        var index = "", error = "", listings = "", listingsCSS = "", listingsLabel = "", directoryType = ""

        init(_ meta: [String: String]) {
            func get(_ k: String) -> String { (meta["x-container-meta-web-\(k)"] ?? "").trimmingCharacters(in: .whitespaces) }
            index = get("index"); error = get("error"); listings = get("listings")
            listingsCSS = get("listings-css"); listingsLabel = get("listings-label"); directoryType = get("directory-type")
        }

        var listingsOn: Bool { ["true", "1", "yes", "on", "t", "y"].contains(listings.lowercased()) }
    }

    /// The static-web answer to this request, or nil when staticweb does not apply.
    func staticWeb(_ request: Request, _ context: NimbusRequestContext, _ target: Target) async throws -> Response? {
        guard request.method == .get || request.method == .head, let container = target.container else { return nil }
        let webMode = ["true", "1", "yes", "on", "t", "y"].contains((request.headers[HTTPField.Name("X-Web-Mode")!] ?? "").lowercased())
        guard context.auth == nil || webMode else { return nil }
        if request.queryString.contains("temp_url_sig") { return nil }
        let row = try await service.index.container(target.account, container)
        guard let row else { return nil }
        let web = WebSettings(row.metadata)
        if web.listings.isEmpty && web.index.isEmpty {
            // Not a web site: the ordinary answer (X-Web-Mode asks for a site, so a container is a 404).
            if webMode && target.object == nil { throw NimbusError.notFound("The resource could not be found.") }
            return nil
        }
        let site = StaticSite(api: self, request: request, context: context, target: target, web: web, webMode: webMode)
        if target.object == nil { return try await site.container() }
        return try await site.object()
    }
}

struct StaticSite {
    let api: SwiftAPI
    let request: Request
    let context: NimbusRequestContext
    let target: SwiftAPI.Target
    let web: SwiftAPI.WebSettings
    let webMode: Bool

    /// The request's path as the client sent it (with Nimbus's `/object` prefix), decoded.
    var path: String { "/object" + (PercentEncoding.decode(context.rawPath) ?? String(context.rawPath)) }

    /// A GET or HEAD (as the request) of `object` in the container, with the caller's rights.
    func fetch(_ object: String) async throws -> Response {
        var t = target
        t.object = object
        var head = HTTPRequest(method: request.method, scheme: nil, authority: nil, path: "/object/v1/\(t.account)/\(t.container!)/\(object)")
        head.headerFields = request.headers
        var r = try await SwiftRequest.make(api: api, request: Request(head: head, body: RequestBody(buffer: ByteBuffer())), context: context, target: t)
        return try await r.object()
    }

    static func status(_ error: any Error) -> Int? { (error as? NimbusError)?.status }

    func redirectWithSlash() -> Response {
        var h = HTTPFields()
        h[.location] = PercentEncoding.encode(path + "/", safe: "/!$&'()*+,;=:@")
        return .swift(.movedPermanently, headers: h, body: "")
    }

    /// `error` as the answer, its body replaced by the `<status><web-error>` object when there is one.
    func errorResponse(_ error: any Error, useErrorPage: Bool = true) async throws -> Response {
        guard useErrorPage, !web.error.isEmpty, let status = Self.status(error) else { throw error }
        guard var page = try? await fetch("\(status)\(web.error)") else { throw error }
        page.status = HTTPResponse.Status(code: status)
        return page
    }

    func container() async throws -> Response {
        do { _ = try await SwiftRequest.make(api: api, request: request, context: context, target: target).authorizeObject(write: false) } catch {
            return try await errorResponse(error)
        }
        if !path.hasByteSuffix("/") { return redirectWithSlash() }
        if web.index.isEmpty { return try await listing(prefix: "") }
        do { return try await fetch(web.index) } catch {
            if Self.status(error) == 404 { return try await listing(prefix: "") }
            return try await errorResponse(error)
        }
    }

    func object() async throws -> Response {
        let object = target.object!
        var notFound: any Error = NimbusError.notFound("The resource could not be found.")
        do {
            let r = try await fetch(object)
            let directoryType = web.directoryType.isEmpty ? "application/directory" : web.directoryType
            let length = Int(r.headers[.contentLength] ?? "0") ?? 0
            if !(r.headers[.contentType] == directoryType && length <= 1) { return r }
        } catch {
            guard Self.status(error) == 404 else { return try await errorResponse(error, useErrorPage: false) }
            notFound = error
        }
        if !web.index.isEmpty {
            do {
                let r = try await fetch((object.hasByteSuffix("/") ? object : object + "/") + web.index)
                return path.hasByteSuffix("/") ? r : redirectWithSlash()
            } catch {
                guard Self.status(error) == 404 else { throw error }
            }
        }
        if !path.hasByteSuffix("/") {
            var q = ListingQuery()
            q.prefix = object + "/"
            q.delimiter = "/"
            q.limit = 1
            if try await api.service.index.listObjects(target.account, target.container!, q).isEmpty {
                return try await errorResponse(notFound)
            }
            return redirectWithSlash()
        }
        return try await listing(prefix: object)
    }

    /// The HTML listing of the objects and subdirectories at `prefix` (`delimiter=/`).
    func listing(prefix: String) async throws -> Response {
        var label = path
        if !web.listingsLabel.isEmpty {
            label = web.listingsLabel + "/" + path.splitBytes("/", omittingEmpty: false).dropFirst(5).joined(separator: "/")
        }
        let css: String
        if !web.listingsCSS.isEmpty {
            css = "  <link rel=\"stylesheet\" type=\"text/css\" href=\"\(Self.escape(cssPath(prefix)))\" />\n"
        } else {
            css = "  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n   th {text-align: left; padding: 0px 1em 0px 1em;}\n   td {padding: 0px 1em 0px 1em;}\n   a {text-decoration: none;}\n  </style>\n"
        }
        guard web.listingsOn else {
            var body = "<!DOCTYPE html>\n<html>\n<head>\n<title>Listing of \(Self.escape(label))</title>\n"
            body += web.listingsCSS.isEmpty ? "  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n   p {font-size: 2}\n  </style>\n" : css
            body += "</head>\n<body>  <h1>Web Listing Disabled</h1>   <p>The owner of this web site has disabled web listing.   <p>If you are the owner of this web site, you can enable   web listing by setting X-Container-Meta-Web-Listings.</p>"
            if !web.index.isEmpty {
                body += "<h1>Index File Not Found</h1> <p>The owner of this web site has set  <b>X-Container-Meta-Web-Index: \(Self.escape(web.index))</b>.  However, this file is not found.</p>"
            }
            body += " </body>\n</html>\n"
            if !web.error.isEmpty, let page = try? await errorResponse(NimbusError.notFound("")) { return page }
            return .swift(.notFound, body: body)
        }
        // Listing the container needs what a container GET needs (`.rlistings` for anonymous).
        do {
            let listRequest = try await SwiftRequest.make(api: api, request: request, context: context,
                                                          target: SwiftAPI.Target(account: target.account, container: target.container))
            _ = try await listRequest.authorizeListing()
        } catch { return try await errorResponse(error) }
        var q = ListingQuery()
        q.prefix = prefix
        q.delimiter = "/"
        let entries = try await api.service.index.listObjects(target.account, target.container!, q)
        if !prefix.isEmpty && entries.isEmpty { return try await errorResponse(NimbusError.notFound("The resource could not be found.")) }
        var body = "<!DOCTYPE html>\n<html>\n <head>\n  <title>Listing of \(Self.escape(label))</title>\n" + css
        body += " </head>\n <body>\n  <h1 id=\"title\">Listing of \(Self.escape(label))</h1>\n  <table id=\"listing\">\n   <tr id=\"heading\">\n    <th class=\"colname\">Name</th>\n    <th class=\"colsize\">Size</th>\n    <th class=\"coldate\">Date</th>\n   </tr>\n"
        if !prefix.isEmpty {
            body += "   <tr id=\"parent\" class=\"item\">\n    <td class=\"colname\"><a href=\"../\">../</a></td>\n    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n"
        }
        for case .subdir(let full) in entries {
            let sub = String(full.droppingBytePrefix(prefix) ?? full[...])
            body += "   <tr class=\"item subdir\">\n    <td class=\"colname\"><a href=\"./\(Self.link(sub))\">\(Self.escape(sub))</a></td>\n    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n"
        }
        for case .row(let o) in entries {
            let name = String(o.name.droppingBytePrefix(prefix) ?? o.name[...])
            let types = o.contentType.splitBytes("/", omittingEmpty: false).map { "type-" + Self.escape($0.lowercased()) }.joined(separator: " ")
            let date = (HTTPDate.iso(o.lastModified).splitBytes(".").first.map(String.init) ?? "").replacingBytes("T", with: " ")
            body += "   <tr class=\"item \(types)\">\n    <td class=\"colname\"><a href=\"./\(Self.link(name))\">\(Self.escape(name))</a></td>\n    <td class=\"colsize\">\(Self.humanReadable(o.size))</td>\n    <td class=\"coldate\">\(date)</td>\n   </tr>\n"
        }
        body += "  </table>\n </body>\n</html>\n"
        var r = Response.swift(.ok, body: request.method == .head ? nil : body)
        r.headers[.contentLength] = String(body.utf8.count)
        return r
    }

    func cssPath(_ prefix: String) -> String {
        let css = web.listingsCSS
        if css.hasBytePrefix("/") || css.hasBytePrefix("http://") || css.hasBytePrefix("https://") { return css }
        return String(repeating: "../", count: prefix.utf8.filter { $0 == UInt8(ascii: "/") }.count) + Self.quote(css)
    }

    /// Python's `quote(s)`.
    static func quote(_ s: String) -> String { PercentEncoding.encode(s, safe: "/") }

    /// A listing link: `quote(name).replace('.', '%2E')`.
    static func link(_ s: String) -> String { quote(s).replacingBytes(".", with: "%2E") }

    static func escape(_ s: some StringProtocol) -> String { s.markupEscaped() }

    /// swift.common.utils.human_readable: 1023, 1Ki, 20Mi …
    static func humanReadable(_ bytes: Int) -> String {
        var value = Double(bytes)
        var index = -1
        let suffixes = Array("KMGTPEZY")
        while value >= 1024 && index + 1 < suffixes.count {
            index += 1
            value = (value / 1024).rounded()
        }
        return index == -1 ? String(Int(value)) : "\(Int(value.rounded()))\(suffixes[index])i"
    }
}
