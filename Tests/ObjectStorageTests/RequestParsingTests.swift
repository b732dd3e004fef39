import Foundation
import NIOCore
import NimbusCore
import Testing
@testable import ObjectStorage

/// Request parsing of the Swift API: paths, ranges, ACLs and listings by bytes, as Swift reads them.
@Suite struct RequestParsingTests {
    func auth(project: String = "p1", projectName: String = "proj", user: String = "u1", userName: String, roles: [String] = ["member"]) -> AuthContext {
        AuthContext(token: "t", user: .init(id: user, name: userName, domainID: "default", domainName: "Default"),
                    scope: .project(.init(id: project, name: projectName, domainID: "default", domainName: "Default")),
                    roles: roles.map { .init(id: $0, name: $0) }, methods: ["password"], issuedAt: Date(), expiresAt: Date(), auditIDs: [])
    }

    @Test func rangesFollowSwobsBounds() {
        let size = 10_240
        #expect(ByteRanges.parse("bytes=0-9", size: size) == [0..<10])
        #expect(ByteRanges.parse("bytes=-5", size: size) == [10_235..<10_240])
        #expect(ByteRanges.parse("bytes=9-0", size: size) == nil, "an invalid range: the header is ignored")
        // More than 50 ranges: unsatisfiable (swob MAX_RANGES), even 100 identical `0-` ones.
        #expect(ByteRanges.parse("bytes=" + Array(repeating: "0-", count: 100).joined(separator: ","), size: size) == [])
        // 50 identical ranges do not overlap by swob's strict test, and are served.
        #expect(ByteRanges.parse("bytes=" + Array(repeating: "0-", count: 50).joined(separator: ","), size: size)?.count == 50)
        // Three overlapping pairs (more than MAX_RANGE_OVERLAPS = 2).
        #expect(ByteRanges.parse("bytes=0-100,50-150,60-160", size: size) == [])
        #expect(ByteRanges.parse("bytes=0-100,50-150", size: size)?.count == 2)
        // Eight ranges out of order (MAX_NONASCENDING_RANGES); seven are fine.
        let descending = (0..<8).reversed().map { "\($0 * 10)-\($0 * 10 + 5)" }
        #expect(ByteRanges.parse("bytes=" + descending.joined(separator: ","), size: size) == [])
        #expect(ByteRanges.parse("bytes=" + descending.dropFirst().joined(separator: ","), size: size)?.count == 7)
    }

    @Test func aclNamesAreBytes() {
        let acl = ContainerACL("proj:caf\u{E9}")
        #expect(acl.grants(auth(userName: "caf\u{E9}")))
        #expect(!acl.grants(auth(userName: "cafe\u{301}")), "a canonically equivalent user name is another user")
        #expect(!ContainerACL("proj:\u{212A}").grants(auth(userName: "K")))
        // Role names compare lower-cased, then as bytes: Python's `lower()` maps KELVIN SIGN to
        // "k" as Swift's does, so keystoneauth lets this one in too.
        #expect(ContainerACL("\u{212A}eeper").grants(auth(userName: "x", roles: ["keeper"])))
        #expect(ContainerACL("keeper").grants(auth(userName: "x", roles: ["Keeper"])))
        #expect(!ContainerACL("ke\u{301}eper").grants(auth(userName: "x", roles: ["k\u{E9}eper"])))
    }

    @Test func aclItemsSplitOnCommaBytes() {
        let acl = ContainerACL(".r:*,\u{301}a:b,.rlistings")
        #expect(acl.referrers == ["*"])
        #expect(acl.listings)
        #expect(acl.groups.map { Array($0.unicodeScalars) } == [["\u{301}", "a", ":", "b"]])
    }

    @Test func manifestSegmentsSplitOnTheFirstSlashByte() {
        let m = SLOManifest(name: "/c/\u{301}seg", hash: "", bytes: 1, contentType: "", lastModified: "")
        #expect(m.container.0 == "c")
        #expect(Array(m.container.1.unicodeScalars) == ["\u{301}", "s", "e", "g"])
    }

    @Test func mimeTypesIgnoreEquivalentExtensions() {
        #expect(MimeTypes.guess("a.json") == "application/json")
        #expect(MimeTypes.guess("a.\u{212A}") == "application/octet-stream")
        #expect(MimeTypes.guess("dir.d/file") == "application/octet-stream")
    }

    @Test func listingRollsUpSubdirsAfterACombiningMark() async throws {
        let h = try await Harness.make("sqlite")
        defer { Task { await h.cleanup() } }
        _ = try await h.service.index.putContainer("AUTH_a", "c", timestamp: h.service.timestamp()) { _ in }
        for name in ["d/\u{301}x", "d/y", "e\u{301}", "\u{E9}"] {
            let upload = ObjectStorageService.Upload(account: "AUTH_a", container: "c", name: name, contentType: "text/plain", metadata: [:], contentLength: 1)
            _ = try await h.service.put(upload, body: [ByteBuffer(string: "x")].async)
        }
        var q = ListingQuery()
        q.delimiter = "/"
        let names = try await h.service.index.listObjects("AUTH_a", "c", q).map { e -> [UInt32] in
            switch e {
            case .row(let r): r.name.unicodeScalars.map(\.value)
            case .subdir(let d): d.unicodeScalars.map(\.value) + [0]
            }
        }
        // Byte order: "d/" < "e\u{301}" < "\u{E9}"; both d/ names roll up into one subdir.
        #expect(names == [[0x64, 0x2F, 0], [0x65, 0x301], [0xE9]])
        var p = ListingQuery()
        p.prefix = "e"
        #expect(try await h.service.index.listObjects("AUTH_a", "c", p).count == 1, "prefix e matches e\u{301} by bytes, not \u{E9}")
    }
}
