import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore

extension Response {
    public static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let bytes = value.serialized()
        var h = headers
        h[.contentType] = "application/json"
        h[.contentLength] = String(bytes.count)
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A JSON body encoded earlier (a cached rendering).
    public static func json(encoded body: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        h[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: h, body: .init(byteBuffer: body))
    }

    /// keystonemiddleware's 401, which every service behind it answers alike: its body and a
    /// `WWW-Authenticate` naming the identity service.
    public static func keystoneUnauthorized(identityURL: String, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.wwwAuthenticate] = "Keystone uri=\"\(identityURL)\""
        return .json(["error": ["code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."]],
                     status: .unauthorized, headers: h)
    }

    public static func empty(_ status: HTTPResponse.Status = .noContent, headers: HTTPFields = [:]) -> Response {
        var h = headers
        if status != .noContent && status != .notModified { h[.contentLength] = "0" }
        return Response(status: status, headers: h)
    }
}

extension Request {
    /// The whole body, up to `limit` bytes: the one body reader of every service. A declared or
    /// actual size past the limit is a 413 (nothing more is read), a body that ends before its
    /// declared length or chunked end (the client half-closed) is a 400.
    public func collectBody(upTo limit: Int, tooLarge message: String? = nil) async throws(NimbusError) -> ByteBuffer {
        let tooLarge = message.map { NimbusError(.payloadTooLarge, $0) } ?? Self.tooLarge(limit)
        if let declared = headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        } catch {
            throw NimbusError.badRequest("The request body ended before it was complete.")
        }
    }

    static func tooLarge(_ limit: Int) -> NimbusError {
        NimbusError(.payloadTooLarge, "Request Entity Too Large: the request body is larger than the limit of \(limit) bytes.")
    }

    /// Reads a JSON body, mapping oversize bodies to 413, cut-off and malformed ones to 400.
    public func jsonBody(context: NimbusRequestContext, limit: Int? = nil) async throws -> JSONValue {
        let buffer = try await collectBody(upTo: limit ?? context.maxUploadSize)
        if buffer.readableBytes == 0 { throw NimbusError.badRequest("The request body is empty; a JSON document is required.") }
        do {
            return try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw NimbusError.badRequest("Malformed request body: \(error)")
        }
    }

    /// The query string, parsed as WebOb and swob parse it (`+` is a space; keys compare as bytes).
    public var queryString: QueryString { QueryString(uri.query) }

    /// First value of a query parameter.
    public func query(_ name: String) -> String? { queryString[name] }

    /// Query flags like Keystone's `?nocatalog` or `?include_names`: present and not false/0.
    public func queryFlag(_ name: String) -> Bool {
        guard let v = queryString[name] else { return false }
        return !["0", "false", "no", "off"].contains(v.lowercased())
    }
}

/// A request body streamed to a service (image data, staged uploads) whose transport failures —
/// a client that half-closes before the declared length or the chunked end — are the client's
/// error: a 400, never a 500.
public struct ClientBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let base: RequestBody

    public init(_ base: RequestBody) { self.base = base }

    public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator()) }

    public struct Iterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        public mutating func next() async throws -> ByteBuffer? {
            do { return try await base.next() } catch let e as NimbusError { throw e } catch {
                throw NimbusError.badRequest("The request body ended before it was complete.")
            }
        }
    }
}
