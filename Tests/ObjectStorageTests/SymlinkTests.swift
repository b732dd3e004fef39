import Foundation
import NimbusCore
import Testing
@testable import ObjectStorage

/// How a stored link names its target (symlink.py): quoted container/object, the link's own
/// account unless one was given, paths as bytes.
@Suite struct SymlinkTests {
    func row(_ name: String, account: String = "AUTH_a", metadata: [String: String]) -> ObjectRow {
        ObjectRow(account: account, container: "c", name: name, timestamp: "1.00000", metaTimestamp: nil, size: 0,
                  etag: Symlink.emptyMD5, contentType: "application/symlink", metadata: metadata, deleteAt: nil, part: 0, hash: "h")
    }

    @Test func pathOfALinkInItsOwnAccount() throws {
        let link = row("l", metadata: [Symlink.targetKey: "tc/dir%2Fobj%20x"])
        let path = try #require(Symlink.path(of: link, version: "v1"))
        #expect(path.target.account == "AUTH_a")
        #expect(path.target.container == "tc" && path.target.object == "dir/obj x")
        #expect(path.location == "/v1/AUTH_a/tc/dir%2Fobj%20x", "Content-Location repeats the stored (quoted) value")
    }

    @Test func pathOfACrossAccountLink() throws {
        let link = row("l", metadata: [Symlink.targetKey: "c/o", Symlink.accountKey: "AUTH_b"])
        let path = try #require(Symlink.path(of: link, version: "v1.0"))
        #expect(path.target.account == "AUTH_b" && path.location == "/v1.0/AUTH_b/c/o")
    }

    @Test func notALinkOrAnUnusableTarget() {
        #expect(Symlink.path(of: row("o", metadata: [:]), version: "v1") == nil)
        #expect(Symlink.path(of: row("o", metadata: [Symlink.targetKey: "nocontainer"]), version: "v1") == nil)
        #expect(Symlink.path(of: row("o", metadata: [Symlink.targetKey: "c/"]), version: "v1") == nil)
    }

    /// A decomposed target name stays decomposed: the target is the object of exactly those bytes.
    @Test func targetNamesKeepTheirBytes() throws {
        let decomposed = "cafe\u{301}"
        let link = row("l", metadata: [Symlink.targetKey: "c/" + PercentEncoding.encode(decomposed, safe: "/")])
        let object = try #require(Symlink.path(of: link, version: "v1")?.target.object)
        #expect(Array(object.utf8) == Array(decomposed.utf8))
        #expect(Array(object.utf8) != Array("caf\u{E9}".utf8))
    }

    @Test func etagsAreNormalizedAndPrintedAsPython() {
        #expect(Symlink.normalizeEtag("\"abc\"") == "abc")
        #expect(Symlink.normalizeEtag("abc") == "abc")
        #expect(Symlink.normalizeEtag("") == nil && Symlink.normalizeEtag(nil) == nil)
        #expect(Symlink.normalizeEtag("\"") == "\"", "a lone quote is not a pair")
        #expect(Symlink.repr("abc") == "'abc'")
        #expect(Symlink.repr("it's") == "\"it's\"")
    }
}
