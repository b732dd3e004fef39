import Foundation
import NimbusCore
import Testing
@testable import ObjectStorage

/// Container sync: the realm signature (get_sig), the realms file, validate_sync_to.
@Suite struct ContainerSyncTests {
    @Test func signatureIsSwiftsHMACSHA1() {
        // Expected values from Python: hmac.new(realm_key, b'%s\n%s\n%s\n%s\n%s' % (...), hashlib.sha1).hexdigest()
        #expect(ContainerSyncRealms.signature(method: "PUT", path: "/object/v1/AUTH_abc/c2/caf%C3%A9/o", timestamp: "1765130000.12345",
                                              nonce: "0123456789abcdef0123456789abcdef", realmKey: "realm1key", userKey: "sync_key")
                == "2b1a185de64aceda37a362752b8cf6fc5f45d34c")
        #expect(ContainerSyncRealms.signature(method: "DELETE", path: "/v1/AUTH_a/c/o", timestamp: "0", nonce: "nonce",
                                              realmKey: "k\u{E9}y", userKey: "\u{FC}ser") == "b4546cc46edcecbc8f7f30dd05f23f994bdbe6d9")
        // Keys are bytes: the decomposed spelling of the same key signs differently.
        #expect(ContainerSyncRealms.signature(method: "DELETE", path: "/v1/AUTH_a/c/o", timestamp: "0", nonce: "nonce",
                                              realmKey: "ke\u{301}y", userKey: "\u{FC}ser") != "b4546cc46edcecbc8f7f30dd05f23f994bdbe6d9")
    }

    @Test func constantTimeComparisonIsByBytes() {
        #expect(ContainerSyncRealms.constantTimeEqual("abc", "abc"))
        #expect(!ContainerSyncRealms.constantTimeEqual("abc", "abd"))
        #expect(!ContainerSyncRealms.constantTimeEqual("abc", "abcd"))
        #expect(!ContainerSyncRealms.constantTimeEqual("caf\u{E9}", "cafe\u{301}"))
    }

    static let realmsText = """
        [DEFAULT]
        mtime_check_interval = 5

        # a comment
        [realm1]
        key = realm1key
        key2 = realm1key2
        cluster_name1 = http://127.0.0.1:8080/object/v1/
        Cluster_Name2: https://host2/v1/

        [Realm2]
        key = k2
        """

    @Test func realmsFileAsConfigParserReadsIt() {
        let (realms, interval) = ContainerSyncRealms.parse(Self.realmsText)
        #expect(interval == 5)
        #expect(Set(realms.keys) == ["REALM1", "REALM2"])
        #expect(realms["REALM1"]?.key == "realm1key")
        #expect(realms["REALM1"]?.key2 == "realm1key2")
        #expect(realms["REALM1"]?.clusters == ["NAME1": "http://127.0.0.1:8080/object/v1/", "NAME2": "https://host2/v1/"])
        #expect(realms["REALM2"]?.clusters == [:])
        let r = ContainerSyncRealms(text: Self.realmsText)
        #expect(r.key("Realm1") == "realm1key")
        #expect(r.key2("realm2") == nil)
        #expect(r.endpoint("REALM1", "name2") == "https://host2/v1/")
        #expect(r.endpoint("realm1", "name3") == nil)
        // Realm and cluster names are bytes: a decomposed spelling is another realm.
        let accented = ContainerSyncRealms(text: "[caf\u{E9}]\nkey = k\ncluster_n\u{E9} = http://h/v1/\n")
        #expect(accented.key("CAF\u{C9}") == "k")
        #expect(accented.key("CAFE\u{301}") == nil)
        #expect(accented.endpoint("caf\u{E9}", "ne\u{301}") == nil)
        #expect(accented.endpoint("caf\u{E9}", "N\u{C9}") == "http://h/v1/")
    }

    @Test func realmsFileIsReadFromItsPath() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("realms-\(UUID().uuidString).conf").path
        try Self.realmsText.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(ContainerSyncRealms(path: path).key("realm1") == "realm1key")
        #expect(ContainerSyncRealms(path: path + ".missing").realms.isEmpty)
        #expect(ContainerSyncRealms(path: nil).key("realm1") == nil)
    }

    func validate(_ value: String, allowFullURLs: Bool = true) -> Result<ContainerSyncTarget, SyncToError>? {
        var rules = ContainerSyncTarget.Rules()
        rules.allowFullURLs = allowFullURLs
        return ContainerSyncTarget.validate(value, rules: rules, realms: ContainerSyncRealms(text: Self.realmsText))
    }

    func message(_ value: String, allowFullURLs: Bool = true) -> String? {
        if case .failure(let e)? = validate(value, allowFullURLs: allowFullURLs) { return e.message }
        return nil
    }

    /// Expected values are Swift's validate_sync_to run in Python on the same input.
    @Test func syncToAsSwiftValidatesIt() {
        #expect(validate("") == nil)
        #expect(validate("///") == nil)
        let realm = ContainerSyncTarget(url: "http://127.0.0.1:8080/object/v1/AUTH_a/c", realm: "REALM1", realmKey: "realm1key")
        #expect(validate("//realm1/name1/AUTH_a/c") == .success(realm))
        #expect(validate("//Realm1/Name1/AUTH_a/c/") == .success(realm))
        #expect(message("//realm1/name1/a") == "Invalid X-Container-Sync-To format '//realm1/name1/a'")
        #expect(message("//realm1/name1/a/c/d") == "Invalid X-Container-Sync-To format '//realm1/name1/a/c/d'")
        #expect(message("//nope/name1/a/c") == "No realm key for 'nope'")
        #expect(message("//it's/x/a/c") == "No realm key for \"it's\"")
        #expect(message("//realm1/other/a/c") == "No cluster endpoint for 'realm1' 'other'")
        #expect(message("ftp://127.0.0.1/v1/a/c") == "Invalid scheme 'ftp' in X-Container-Sync-To, must be \"//\", \"http\", or \"https\".")
        #expect(message("foo") == "Invalid scheme '' in X-Container-Sync-To, must be \"//\", \"http\", or \"https\".")
        #expect(message("http://127.0.0.1") == "Path required in X-Container-Sync-To")
        #expect(message("http://127.0.0.1/v1/a/c?x=1") == "Params, queries, and fragments not allowed in X-Container-Sync-To")
        #expect(message("http://127.0.0.1/v1/a/c#f") == "Params, queries, and fragments not allowed in X-Container-Sync-To")
        #expect(message("http://example.com/v1/a/c") == "Invalid host 'example.com' in X-Container-Sync-To")
        #expect(message("http://[::1]/v1/a/c") == "Invalid host '::1' in X-Container-Sync-To")
        #expect(validate("http://127.0.0.1:8080/v1/a/c/") == .success(.init(url: "http://127.0.0.1:8080/v1/a/c", realm: nil, realmKey: nil)))
        #expect(message("http://127.0.0.1/v1/a/c", allowFullURLs: false)
                == "Full URLs are not allowed for X-Container-Sync-To values. Only realm values of the format //realm/cluster/account/container are allowed.\n")
        #expect(validate("//realm1/name1/a/c", allowFullURLs: false) == .success(.init(url: "http://127.0.0.1:8080/object/v1/a/c", realm: "REALM1", realmKey: "realm1key")))
    }

    @Test func currentClusterAsTheMiddlewareReadsIt() {
        #expect(ContainerSyncSettings.parseCurrent("//realm1/name1")! == ("REALM1", "NAME1"))
        #expect(ContainerSyncSettings.parseCurrent("//realm1") == nil)
    }

    @Test func timestampsNormalizedAsSwift() {
        #expect(SwiftRequest.normalizedTimestamp("1765130000.123456") == "1765130000.12346")
        #expect(SwiftRequest.normalizedTimestamp("12") == "0000000012.00000")
        #expect(SwiftRequest.normalizedTimestamp("abc") == nil)
        #expect(SwiftRequest.normalizedTimestamp("-1") == nil)
    }
}
