import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore

/// Swift's limits, as `/info` reports them under `swift`.
public struct SwiftConstraints: Sendable {
    public var maxFileSize = 5_368_709_122
    public var maxMetaNameLength = 128
    public var maxMetaValueLength = 256
    public var maxMetaCount = 90
    public var maxMetaOverallSize = 4096
    public var maxHeaderSize = 8192
    public var maxObjectNameLength = 1024
    public var containerListingLimit = 10000
    public var accountListingLimit = 10000
    public var maxAccountNameLength = 256
    public var maxContainerNameLength = 256
    public var extraHeaderCount = 0
    public init() {}
}

extension HTTPFields {
    subscript(_ name: String) -> String? {
        get { self[HTTPField.Name(name)!] }
        set { self[HTTPField.Name(name)!] = newValue }
    }
}

/// Swift's timestamps (`1700000000.12345` seconds) as HTTP and listing dates.
enum HTTPDate {
    /// Last-Modified for a Swift timestamp: its second, rounded up, as Swift does.
    static func lastModified(_ ts: String) -> String {
        Timestamps.httpDate(Date(timeIntervalSince1970: (Double(ts) ?? 0).rounded(.up)))
    }

    /// Listing `last_modified`: ISO 8601 with microseconds and no zone, e.g. 2026-11-22T03:12:56.123450.
    static func iso(_ ts: String) -> String {
        String(Timestamps.micros(Date(timeIntervalSince1970: Double(ts) ?? 0)).dropLast())
    }
}

/// Content types for objects stored without one, by file extension (Python's mimetypes, abridged).
enum MimeTypes {
    static let table: [String: String] = [
        "txt": "text/plain", "html": "text/html", "htm": "text/html", "css": "text/css", "csv": "text/csv",
        "js": "application/javascript", "json": "application/json", "xml": "application/xml", "pdf": "application/pdf",
        "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar", "tgz": "application/x-tar",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
        "iso": "application/x-iso9660-image", "img": "application/octet-stream", "qcow2": "application/octet-stream",
        "mp4": "video/mp4", "mp3": "audio/mpeg", "sh": "application/x-sh", "py": "text/x-python", "md": "text/markdown",
        "yaml": "application/yaml", "yml": "application/yaml",
    ]

    static func guess(_ name: String) -> String {
        guard let (_, ext) = name.splitOnceBytes(".", last: true), !ext.containsByte("/") else { return "application/octet-stream" }
        // The table's keys are ASCII; an extension canonically equivalent to one (a KELVIN SIGN
        // for a "k") must not match it.
        guard ext.utf8.allSatisfy({ $0 < 0x80 }) else { return "application/octet-stream" }
        return table[ext.lowercased()] ?? "application/octet-stream"
    }
}

extension Response {
    /// A 202 as swob answers it when the response has no body of its own: the status's
    /// explanation from `RESPONSE_REASONS` (Swift's object POST and a container PUT that
    /// finds the container both answer so).
    static func swiftAccepted(headers: HTTPFields = [:]) -> Response {
        .swift(.accepted, headers: headers, body: "<html><h1>Accepted</h1><p>The request is accepted for processing.</p></html>")
    }

    static func swift(_ status: HTTPResponse.Status, headers: HTTPFields = [:], body: String? = nil, contentType: String = "text/html; charset=UTF-8") -> Response {
        var h = headers
        if let body {
            if h[.contentType] == nil { h[.contentType] = contentType }
            h[.contentLength] = String(body.utf8.count)
            return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        // Swift sends Content-Type and Content-Length even on 204s (Tempest checks for them).
        if status != .notModified {
            if h[.contentLength] == nil { h[.contentLength] = "0" }
            if h[.contentType] == nil { h[.contentType] = contentType }
        }
        return Response(status: status, headers: h)
    }
}
