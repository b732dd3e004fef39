import AsyncHTTPClient
import Foundation
import Image
import NIOCore
import NimbusCore

/// Fetches `import_from` URLs for the deprecated `import` task (`POST /v2/tasks`), only from
/// hosts the operator lists in `[image] task_import_allowed_hosts` (Glance's import filtering
/// with an allow list): no redirects, http(s) only, the image size cap enforced while reading.
/// With the list empty the composition root installs no fetcher and such tasks are refused.
struct AllowListImageFetcher: ImageURLFetcher {
    let allowedHosts: [String]
    let client: HTTPClient
    static let timeout: TimeAmount = .seconds(3600)

    func check(_ url: URL) throws {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host?.lowercased(), allowedHosts.contains(where: { $0.sameBytes(as: host) }) else {
            throw NimbusError.badRequest("URI for legacy import task does not pass filtering: \(url.absoluteString)")
        }
    }

    func fetch(_ url: URL, sizeCap: Int64) async throws -> AsyncThrowingStream<ByteBuffer, any Error> {
        try check(url)
        let response = try await client.execute(HTTPClientRequest(url: url.absoluteString), timeout: Self.timeout)
        guard response.status.code == 200 else {
            throw NimbusError.badRequest("Fetching \(url.absoluteString) answered \(response.status.code).")
        }
        if let declared = response.headers.first(name: "content-length").flatMap(Int64.init), declared > sizeCap {
            throw NimbusError(.payloadTooLarge, "The image at \(url.absoluteString) is larger than the image size cap.")
        }
        let body = response.body
        return AsyncThrowingStream { continuation in
            let reader = Task {
                var total: Int64 = 0
                do {
                    for try await chunk in body {
                        total += Int64(chunk.readableBytes)
                        guard total <= sizeCap else { throw NimbusError(.payloadTooLarge, "The image is larger than the image size cap.") }
                        continuation.yield(chunk)
                    }
                    continuation.finish()
                } catch { continuation.finish(throwing: error) }
            }
            continuation.onTermination = { _ in reader.cancel() }
        }
    }

    /// One client for task imports: redirects are not followed (a redirect could leave the list).
    static let sharedClient: HTTPClient = {
        var c = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(60)))
        c.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }()
}
