import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

/// What container sync's overrides let a signed request store as it comes: an SLO manifest in
/// its stored form (`swift.slo_override`: it may arrive before its segments) and a static
/// symlink whose target is not checked (`swift.symlink_override`).
extension SwiftRequest {
    /// A synced SLO manifest (`X-Static-Large-Object: True`, the body in the stored format:
    /// `name`, `hash`, `bytes`, optional `range`). Its ETag and size are computed from the
    /// entries, as the SLO middleware computes them at `multipart-manifest=put`.
    mutating func putSyncedManifest(_ container: ContainerRow) async throws -> Response {
        let senderTimestamp = try syncTimestamp()
        if let accepted = try await syncPutSuperseded(senderTimestamp) { return accepted }
        let limit = 8 * 1024 * 1024
        let buffer = try await request.collectBody(upTo: limit + 1, tooLarge: "Manifest File > 8388608 bytes")
        guard buffer.readableBytes <= limit else { throw NimbusError(.payloadTooLarge, "Manifest File > 8388608 bytes") }
        guard let parsed = try? JSONValue.parse(buffer.readableBytesView), let items = parsed.arrayValue, !items.isEmpty, items.count <= 1000 else {
            throw NimbusError.badRequest("Manifest must be valid JSON.\n")
        }
        var md5 = Insecure.MD5()
        var total = 0
        for item in items {
            guard let name = item["name"]?.stringValue, name.hasBytePrefix("/"), let hash = item["hash"]?.stringValue,
                  let bytes = item["bytes"]?.intValue, bytes >= 0 else { throw NimbusError.badRequest("Manifest must be valid JSON.\n") }
            var length = Int(bytes)
            if let r = item["range"]?.stringValue {
                guard let parsed = ByteRanges.parse("bytes=" + r, size: Int(bytes))?.first else { throw NimbusError.badRequest("Manifest must be valid JSON.\n") }
                length = parsed.count
                md5.update(data: Array("\(hash):\(r);".utf8))
            } else {
                md5.update(data: Array(hash.utf8))
            }
            let (sum, overflow) = total.addingReportingOverflow(length)
            guard !overflow else { throw NimbusError.badRequest("Manifest must be valid JSON.\n") }
            total = sum
        }
        var meta = try objectMetadata(base: [:])
        meta["x-static-large-object"] = "True"
        meta["x-object-sysmeta-slo-etag"] = Hex.encode(md5.finalize())
        meta["x-object-sysmeta-slo-size"] = String(total)
        try await checkQuotas(container, adding: total)
        var upload = ObjectStorageService.Upload(account: target.account, container: target.container!, name: target.object!,
                                                 contentType: contentType(), metadata: meta, deleteAt: try deleteAtHeader(),
                                                 contentLength: buffer.readableBytes,
                                                 expectedETag: headers[.eTag]?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        upload.expectedETag = upload.expectedETag.flatMap { $0.isEmpty ? nil : $0 }
        upload.timestamp = senderTimestamp
        let (row, superseded) = try await service.putReporting(upload, body: [buffer].async, in: container)
        if superseded { return .swiftAccepted() }
        var h = HTTPFields()
        h[.eTag] = row.etag
        h[.lastModified] = HTTPDate.lastModified(row.timestamp)
        h["X-Timestamp"] = row.timestamp
        return .swift(.created, headers: h)
    }

    /// symlink.py `_validate_etag_and_update_sysmeta` under `swift.symlink_override`: a synced
    /// static link records the ETag and size the sender sent (`X-Symlink-Target-Bytes`)
    /// without looking at its target. False for other requests (the target is checked).
    func syncedStaticLink(_ link: inout SymlinkPut) -> Bool {
        guard syncAuthorized, let etag = link.etag else { return false }
        link.metadata[Symlink.etagKey] = etag
        let bytes = headers["x-symlink-target-bytes"].flatMap { Int($0) }.map { max(0, $0) } ?? 0
        link.metadata[Symlink.bytesKey] = String(bytes)
        return true
    }
}
