import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NimbusCore
import NimbusHTTP

extension PlacementAPI {
    func addCandidateRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/allocation_candidates", since: 10) { req, ctx, v in
            try self.authorize("placement:allocation_candidates:list", ctx)
            try Self.checkAccept(req)
            let parser = try CandidateQueryParser(req.queryString, v: v)
            let bytes = try self.service.candidates({ s in try parser.resolve(s) }) { query, result, s in
                var writer = CandidateWriter(state: s, v: v, suffixes: query.groups.map(\.suffix))
                return writer.write(result, requestedClasses: Set(query.groups.flatMap { $0.resources.map(\.rc) }))
            }
            var h = HTTPFields()
            h[.contentType] = "application/json"
            h[.contentLength] = String(bytes.count)
            if v.atLeast(15) {
                h[.cacheControl] = "no-cache"
                h[.lastModified] = Timestamps.httpDate(Date())
            }
            return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
