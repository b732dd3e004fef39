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

    public static func empty(_ status: HTTPResponse.Status = .noContent, headers: HTTPFields = [:]) -> Response {
        var h = headers
        if status != .noContent && status != .notModified { h[.contentLength] = "0" }
        return Response(status: status, headers: h)
    }
}

extension Request {
    /// Reads a JSON body, mapping oversize bodies to 413 and malformed ones to 400.
    public func jsonBody(context: NimbusRequestContext, limit: Int? = nil) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit ?? context.maxUploadSize)
        } catch {
            throw NimbusError(.payloadTooLarge, "Request Entity Too Large: the request body is larger than the limit of \(limit ?? context.maxUploadSize) bytes.")
        }
        if buffer.readableBytes == 0 { throw NimbusError.badRequest("The request body is empty; a JSON document is required.") }
        do {
            return try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw NimbusError.badRequest("Malformed request body: \(error)")
        }
    }

    /// First value of a query parameter.
    public func query(_ name: String) -> String? { uri.queryParameters[name[...]].map { String($0) } }

    /// Query flags like Keystone's `?nocatalog` or `?include_names`: present and not false/0.
    public func queryFlag(_ name: String) -> Bool {
        guard let v = uri.queryParameters[name[...]] else { return false }
        return !["0", "false", "no", "off"].contains(v.lowercased())
    }
}
