import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// Swift's `formpost` middleware: a browser form (`multipart/form-data`) POSTed to
/// `/v1/<account>/<container>[/<prefix>]`, signed with a temp URL key, becomes one object PUT per
/// file field (`<prefix><filename>`). The form's fields (`redirect`, `max_file_size`,
/// `max_file_count`, `expires`, `signature`, optional `x_delete_at`, `x_delete_after`,
/// `content-type`, `content-encoding`) must come before the files; files are streamed into the
/// object store, never held whole.
extension SwiftAPI {
    /// The boundary of a `multipart/form-data` content type, if this is one.
    static func formBoundary(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        let parts = contentType.splitBytes(";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased().sameBytes(as: "multipart/form-data") == true else { return nil }
        for p in parts.dropFirst() {
            if let (k, v) = p.splitOnceBytes("="), k.trimmingCharacters(in: .whitespaces).lowercased().sameBytes(as: "boundary") {
                let b = v.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return b.isEmpty ? nil : b
            }
        }
        return nil
    }

    struct FormInvalid: Error { let message: String }
    struct FormUnauthorized: Error { let message: String }

    func formPost(_ request: Request, _ context: NimbusRequestContext, _ target: Target, boundary: String) async throws -> Response {
        do {
            return try await translateForm(request, context, target, boundary: boundary)
        } catch is MultipartReader.Invalid {
            return .swift(.badRequest, body: "FormPost: invalid starting boundary", contentType: "text/plain")
        } catch let e as FormInvalid {
            return .swift(.badRequest, body: "FormPost: \(e.message)", contentType: "text/plain")
        } catch let e as FormUnauthorized {
            return .swift(.unauthorized, body: "FormPost: \(e.message.capitalized)")
        }
    }

    private func translateForm(_ request: Request, _ context: NimbusRequestContext, _ target: Target, boundary: String) async throws -> Response {
        let keys = try await formKeys(target)
        let reader = MultipartReader(body: request.body, boundary: boundary)
        var attributes = [String: String]()
        var status: HTTPResponse.Status?
        var message = ""
        var failureBody: String?
        var fileCount = 0
        while let headers = try await reader.nextPart() {
            let (disposition, params) = Self.parseDisposition(headers["content-disposition"] ?? "")
            if disposition == "form-data", let filename = params["filename"], !filename.isEmpty {
                fileCount += 1
                guard let maxCount = Int(attributes["max_file_count"] ?? "0") else { throw FormInvalid(message: "max_file_count not an integer") }
                if fileCount > maxCount {
                    status = .badRequest
                    message = "max file count exceeded"
                    break
                }
                var fileAttributes = attributes
                fileAttributes["filename"] = filename
                if attributes["content-type"] == nil, let t = headers["content-type"] { fileAttributes["content-type"] = t.isEmpty ? "application/octet-stream" : t }
                if attributes["content-encoding"] == nil, let e = headers["content-encoding"] { fileAttributes["content-encoding"] = e }
                let (s, body) = try await putFormFile(fileAttributes, reader: reader, keys: keys, request: request, context: context, target: target)
                status = s
                if !(200..<300).contains(s.code) {
                    failureBody = body
                    break
                }
            } else {
                var value = try await reader.readValue(limit: 4096)
                while let last = value.unicodeScalars.last, last == "\r" || last == "\n" || last == "-" { value.unicodeScalars.removeLast() }
                if let name = params["name"] { attributes[name.lowercased()] = value }
            }
        }
        let final = status ?? .badRequest
        if status == nil { message = "no files to process" }
        let statusLine = "\(final.code) \(final.reasonPhrase)"
        guard let redirect = attributes["redirect"], !redirect.isEmpty else {
            var body = statusLine
            if !message.isEmpty { body += "\r\nFormPost: " + message.capitalized }
            if !(200..<300).contains(final.code), let failureBody { body = failureBody }
            return .swift(final, body: body, contentType: "text/plain")
        }
        let location = redirect + (redirect.containsByte("?") ? "&" : "?")
            + "status=\(final.code)&message=\(PercentEncoding.encode(message, safe: "/"))"
        var headers = HTTPFields()
        headers[.location] = location
        return .swift(.seeOther, headers: headers, body: "<html><body><p><a href=\"\(location)\">Click to continue...</a></p></body></html>")
    }

    /// The temp URL keys of the account and the container; none unless the path names a container.
    func formKeys(_ target: Target) async throws -> [String] {
        guard let container = target.container else { return [] }
        var keys = [String]()
        if let acct = try await service.index.account(target.account) {
            keys += ["x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"].compactMap { acct.metadata[$0] }
        }
        if let c = try await service.index.container(target.account, container) {
            keys += ["x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"].compactMap { c.metadata[$0] }
        }
        return keys
    }

    /// Checks the form's signature and expiry (as each file arrives, as Swift does), then PUTs
    /// the file's bytes as `<path>/<filename>` through the ordinary object PUT, authorized by
    /// the signature. Returns the PUT's status and, on failure, its message.
    private func putFormFile(_ attributes: [String: String], reader: MultipartReader, keys: [String], request: Request,
                             context: NimbusRequestContext, target: Target) async throws -> (HTTPResponse.Status, String?) {
        guard !keys.isEmpty else { throw FormUnauthorized(message: "invalid signature") }
        guard let maxFileSize = Int(attributes["max_file_size"] ?? "0") else { throw FormInvalid(message: "max_file_size not an integer") }
        var headers: HTTPFields = [.transferEncoding: "chunked"]
        if let v = attributes["x_delete_at"] {
            guard let n = Int(v) else { throw FormInvalid(message: "x_delete_at not an integer: Unix timestamp required.") }
            headers[HTTPField.Name("X-Delete-At")!] = String(n)
        }
        if let v = attributes["x_delete_after"] {
            guard let n = Int(v) else { throw FormInvalid(message: "x_delete_after not an integer: Number of seconds required.") }
            headers[HTTPField.Name("X-Delete-After")!] = String(n)
        }
        headers[.contentType] = attributes["content-type"].map { $0.isEmpty ? "application/octet-stream" : $0 } ?? "application/octet-stream"
        if let e = attributes["content-encoding"] { headers[.contentEncoding] = e }
        guard let expires = Int(attributes["expires"] ?? "0") else { throw FormInvalid(message: "expired not an integer") }
        if expires < Int(Date().timeIntervalSince1970) { throw FormUnauthorized(message: "form expired") }

        // The signed path is the form's action path, from /v1 on; a client that signs the full
        // URL path (with Nimbus's /object prefix, as Tempest does) is accepted as well.
        let path = PercentEncoding.decode(context.rawPath) ?? String(context.rawPath)
        let fields = "\n\(attributes["redirect"] ?? "")\n\(attributes["max_file_size"] ?? "0")\n\(attributes["max_file_count"] ?? "0")\n\(attributes["expires"] ?? "0")"
        let (size, given) = SwiftRequest.decodeSignature(attributes["signature"] ?? "")
        guard let given else { throw FormUnauthorized(message: "invalid signature") }
        let valid = SwiftRequest.matchingKey(given, digestSize: size, keys: keys, messages: [path + fields, "/object" + path + fields]) != nil
        guard valid else { throw FormUnauthorized(message: "invalid signature") }

        // The object: the action path as decoded once (formpost.py's PATH_INFO), a slash added
        // when it names only the container, then the file name. Never decoded or parsed for a
        // query again: `%2F` or `?multipart-manifest=put` in a file name are part of its name.
        var objectPath = path
        if !objectPath.hasByteSuffix("/") && objectPath.utf8.filter({ $0 == UInt8(ascii: "/") }).count < 4 { objectPath += "/" }
        objectPath += attributes["filename"] ?? "filename"
        guard let fileTarget = try parse(decoded: objectPath), fileTarget.object != nil, fileTarget.account.sameBytes(as: target.account) else {
            throw FormInvalid(message: "invalid file name")
        }
        let content = FormFileContent(reader: reader, limit: maxFileSize)
        var head = HTTPRequest(method: .put, scheme: nil, authority: nil, path: "/object" + PercentEncoding.encode(objectPath, safe: "/"))
        head.headerFields = headers
        let put = Request(head: head, body: RequestBody(asyncSequence: content))
        var sub = SwiftRequest(api: self, request: put, context: context, target: fileTarget)
        sub.tempURL = true
        do {
            let response = try await sub.object()
            if content.exceeded { throw FormInvalid(message: "max_file_size exceeded") }
            return (response.status, nil)
        } catch let e as NimbusError {
            if content.exceeded { throw FormInvalid(message: "max_file_size exceeded") }
            return (HTTPResponse.Status(code: e.status), e.message)
        } catch {
            if content.exceeded { throw FormInvalid(message: "max_file_size exceeded") }
            throw error
        }
    }

    /// `form-data; name="file1"; filename="a.txt"` → ("form-data", [name: file1, filename: a.txt]).
    /// Read scalar by scalar: a `"` or `;` followed by a combining mark is still a delimiter.
    static func parseDisposition(_ value: String) -> (String, [String: String]) {
        var params = [String: String]()
        let v = Array(value.unicodeScalars)
        func text(_ r: ArraySlice<Unicode.Scalar>) -> String {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: r)
            return String(s).trimmingCharacters(in: .whitespaces)
        }
        var i = v.firstIndex(of: ";") ?? v.endIndex
        let kind = text(v[..<i]).lowercased()
        while i < v.endIndex {
            i += 1  // past ';'
            while i < v.endIndex, v[i] == " " || v[i] == "\t" { i += 1 }
            guard let eq = v[i...].firstIndex(of: "=") else { break }
            let name = text(v[i..<eq]).lowercased()
            i = eq + 1
            var out = String.UnicodeScalarView()
            if i < v.endIndex, v[i] == "\"" {
                i += 1
                while i < v.endIndex, v[i] != "\"" {
                    if v[i] == "\\", i + 1 < v.endIndex { i += 1 }
                    out.append(v[i])
                    i += 1
                }
                i = min(i + 1, v.endIndex)
                params[name] = String(out)
                i = v[i...].firstIndex(of: ";") ?? v.endIndex
            } else {
                let end = v[i...].firstIndex(of: ";") ?? v.endIndex
                params[name] = text(v[i..<end])
                i = end
            }
        }
        return (kind, params)
    }
}

/// One file's bytes, as the object PUT reads them; fails past `limit` bytes.
final class FormFileContent: AsyncSequence, @unchecked Sendable {
    typealias Element = ByteBuffer
    let reader: MultipartReader
    let limit: Int
    var received = 0
    var exceeded = false

    init(reader: MultipartReader, limit: Int) { self.reader = reader; self.limit = limit }

    struct AsyncIterator: AsyncIteratorProtocol {
        let content: FormFileContent
        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await content.reader.readContent() else { return nil }
            content.received += chunk.readableBytes
            if content.received > content.limit {
                content.exceeded = true
                throw SwiftAPI.FormInvalid(message: "max_file_size exceeded")
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(content: self) }
}

/// A streaming reader of a `multipart/form-data` body (`iter_multipart_mime_documents`): part
/// headers, then the part's content in chunks up to the next boundary. Used by one task.
final class MultipartReader: @unchecked Sendable {
    struct Invalid: Error {}

    var iterator: RequestBody.AsyncIterator
    let delimiter: [UInt8]
    var buffer: [UInt8] = []
    var start = 0
    var eof = false
    /// Whether the content of the current part has been read to its boundary.
    var partDone = true
    var finished = false
    var begun = false
    /// How far the buffer is known not to hold the start of the delimiter (or of the blank line
    /// ending part headers): each search resumes there, so a body sent in tiny writes is scanned
    /// once, not once per write.
    var scannedDelimiter = 0
    var scannedBlank = 0

    init(body: RequestBody, boundary: String) {
        self.iterator = body.makeAsyncIterator()
        self.delimiter = Array("\r\n--\(boundary)".utf8)
    }

    var available: Int { buffer.count - start }

    /// Reads more of the body; false at its end.
    func fill() async throws -> Bool {
        if eof { return false }
        guard let chunk = try await iterator.next() else { eof = true; return false }
        if start > 1 << 16 && start > buffer.count / 2 {
            buffer.removeFirst(start)
            scannedDelimiter = max(0, scannedDelimiter - start)
            scannedBlank = max(0, scannedBlank - start)
            start = 0
        }
        buffer.append(contentsOf: chunk.readableBytesView)
        return true
    }

    func index(of pattern: [UInt8], from: Int) -> Int? {
        guard buffer.count - from >= pattern.count else { return nil }
        var i = from
        let first = pattern[0]
        while i <= buffer.count - pattern.count {
            if buffer[i] == first && buffer[i..<(i + pattern.count)].elementsEqual(pattern) { return i }
            i += 1
        }
        return nil
    }

    /// The headers of the next part (lowercased names), or nil after the last one. Content of
    /// the current part not read yet is skipped.
    func nextPart() async throws -> [String: String]? {
        if !begun {
            begun = true
            let opening = Array(delimiter.dropFirst(2))  // "--boundary" at the very start
            while available < opening.count + 2 { guard try await fill() else { throw Invalid() } }
            guard buffer[start..<(start + opening.count)].elementsEqual(opening) else { throw Invalid() }
            start += opening.count
            partDone = true
            try await afterDelimiter()
        } else {
            while try await readContent() != nil {}
        }
        if finished { return nil }
        // Headers up to a blank line.
        var headers = [String: String]()
        let blank: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        // A part may have no headers at all: the blank line comes first.
        while true {
            if available >= 2, buffer[start] == 13, buffer[start + 1] == 10 { start += 2; return headers }
            if let e = index(of: blank, from: max(start, scannedBlank)) { end = e; break }
            scannedBlank = max(start, buffer.count - blank.count + 1)
            if available > 65536 { throw SwiftAPI.FormInvalid(message: "part headers too long") }
            guard try await fill() else { throw SwiftAPI.FormInvalid(message: "incomplete form") }
        }
        let text = String(decoding: buffer[start..<end!], as: UTF8.self)
        start = end! + 4
        for line in text.splitBytes("\n") {
            guard let (name, value) = line.splitOnceBytes(":") else { continue }
            headers[name.trimmingCharacters(in: .whitespaces).lowercased()] = value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        partDone = false
        return headers
    }

    /// After a boundary: `--` ends the body, `\r\n` (or anything else, as Swift tolerates) starts
    /// the next part's headers.
    func afterDelimiter() async throws {
        while available < 2 { guard try await fill() else { finished = true; return } }
        if buffer[start] == 45 && buffer[start + 1] == 45 { finished = true; return }
        if buffer[start] == 13 && buffer[start + 1] == 10 { start += 2 }
    }

    /// The next chunk of the current part's content, nil at its end.
    func readContent() async throws -> ByteBuffer? {
        if partDone || finished { return nil }
        while true {
            if let i = index(of: delimiter, from: max(start, scannedDelimiter)) {
                if i > start {
                    let out = ByteBuffer(bytes: buffer[start..<i])
                    start = i
                    return out
                }
                start += delimiter.count
                partDone = true
                try await afterDelimiter()
                return nil
            }
            scannedDelimiter = max(start, buffer.count - delimiter.count + 1)
            // Everything but a tail that could begin the delimiter is content.
            let safe = available - (delimiter.count - 1)
            if safe >= 65536 || (eof && safe > 0) {
                let out = ByteBuffer(bytes: buffer[start..<(start + safe)])
                start += safe
                return out
            }
            guard try await fill() else {
                if safe > 0 { continue }
                throw SwiftAPI.FormInvalid(message: "incomplete form")
            }
        }
    }

    /// The content of a value field, up to `limit` bytes (the rest is read and dropped).
    func readValue(limit: Int) async throws -> String {
        var out = [UInt8]()
        while let chunk = try await readContent() {
            if out.count < limit { out += chunk.readableBytesView.prefix(limit - out.count) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
