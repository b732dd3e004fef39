import Hummingbird
import NimbusCore

extension SwiftRequest {
    /// bulk.py's defaults (also what `/info` advertises).
    static let maxContainersPerExtraction = 10_000
    static let maxFailedExtractions = 1_000

    /// `PUT /v1/<account>[/<container>[/<prefix>]]?extract-archive=tar|tar.gz|tar.bz2`: every
    /// regular file of the archive becomes an object (`ArchiveExtraction`), read and stored as
    /// the body streams in. As bulk.py, the answer is a 200 whose report (text, JSON or XML by
    /// Accept) says what happened; an unknown format is a plain 400. Deliberate difference: a
    /// request without a token is refused (401) before its body is read, where Swift reads the
    /// first header and reports the 401 of its first subrequest.
    func extractArchive() async throws -> Response {
        guard context.auth != nil else { throw deny() }
        guard let compression = ArchiveCompression(query: query("extract-archive") ?? "") else {
            throw NimbusError.badRequest("Unsupported archive format")
        }
        func report(_ status: String, _ body: String = "", created: Int = 0, errors: [(String, String)] = []) -> Response {
            bulkReport(root: "extract", counts: [("Number Files Created", created)], errors: errors, status: status, body: body)
        }
        guard (try? listingFormat()) != nil else { return report("406 Not Acceptable") }
        guard headers[.contentLength] != nil || headers[.transferEncoding]?.lowercased() == "chunked" else {
            return report("411 Length Required")
        }
        var extraction = ArchiveExtraction(request: self, compression: compression)
        let outcome = try await extraction.run()
        return report(outcome.status, outcome.body, created: extraction.created, errors: extraction.errors)
    }
}
