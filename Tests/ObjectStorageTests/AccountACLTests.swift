import Foundation
import NimbusCore
import Testing
@testable import ObjectStorage

/// `X-Account-Access-Control` as tempauth checks it and acl.py formats it; grantees named as
/// keystoneauth names users in container ACLs, by bytes.
@Suite struct AccountACLTests {
    func auth(project: String = "p1", projectName: String = "proj", user: String = "u1", userName: String = "alice",
              roles: [String] = ["member"]) -> AuthContext {
        AuthContext(token: "t", user: .init(id: user, name: userName, domainID: "default", domainName: "Default"),
                    scope: .project(.init(id: project, name: projectName, domainID: "default", domainName: "Default")),
                    roles: roles.map { .init(id: $0, name: $0) }, methods: ["password"], issuedAt: Date(), expiresAt: Date(), auditIDs: [])
    }

    @Test func tempauthsErrors() {
        #expect(AccountACL.parse("not json").error == "Syntax error in input ('not json')")
        #expect(AccountACL.parse("[1]").error == "Syntax error in input ('[1]')")
        #expect(AccountACL.parse(#"{"admins":[]}"#).error == #"Key "admins" not recognized"#)
        #expect(AccountACL.parse(#"{"admin":"p1:u1"}"#).error == #"Value for key "admin" must be a list"#)
        #expect(AccountACL.parse(#"{"read-only":[1]}"#).error == #"Elements of "read-only" list must be strings"#)
        #expect(AccountACL.parse("").error == nil, "an empty header removes the ACL")
        #expect(AccountACL.parse(#"{"read-write":["p1:*"]}"#).0?.readWrite == ["p1:*"])
    }

    @Test func storedACLsWithNoMembersAreNone() {
        #expect(AccountACL.stored([AccountACL.key: #"{"admin":[],"read-only":[]}"#]) == nil)
        #expect(AccountACL.stored([:]) == nil)
        #expect(AccountACL.stored([AccountACL.key: #"{"read-only":["*:*"]}"#])?.readOnly == ["*:*"])
    }

    @Test func formattedAsFormatACLv2() {
        // sort_keys, separators (',', ':'), ensure_ascii
        #expect(AccountACL.format(#"{ "read-only" : ["b", "caf\u00e9"], "admin": ["a\"x"] }"#)
                == #"{"admin":["a\"x"],"read-only":["b","caf\u00e9"]}"#)
        #expect(AccountACL.format(#"{"read-write":["\ud83d\ude00"]}"#) == #"{"read-write":["\ud83d\ude00"]}"#)
        #expect(AccountACL.format("") == nil)
    }

    @Test func theHighestGrantWins() throws {
        let acl = try #require(AccountACL.parse(#"{"read-only":["*:*"],"read-write":["p1:u1"],"admin":["other:u9"]}"#).0)
        #expect(acl.grant(auth()) == .readWrite)
        #expect(acl.grant(auth(project: "p2", user: "u2")) == .readOnly)
        #expect(acl.grant(auth(project: "other", user: "u9")) == .admin)
    }

    /// Names compare as bytes: a precomposed user name does not match a decomposed entry.
    @Test func namesAreBytes() throws {
        let acl = try #require(AccountACL.parse(#"{"admin":["proj:cafe\u0301"]}"#).0)
        #expect(acl.grant(auth(userName: "cafe\u{301}")) == .admin)
        #expect(acl.grant(auth(userName: "caf\u{E9}")) == nil)
    }
}
