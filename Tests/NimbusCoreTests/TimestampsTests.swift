import Foundation
import Testing
@testable import NimbusCore

@Suite struct TimestampsTests {
    @Test func formatsKeystoneStyles() {
        let d = Date(timeIntervalSince1970: 1_700_000_000.123456)
        #expect(Timestamps.micros(d) == "2023-11-14T22:13:20.123456Z")
    }

    @Test(arguments: [
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20.5Z", 1_700_000_000.5),
        ("2023-11-14T22:13:20", 1_700_000_000.0),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20.000000Z", 1_700_000_000.0),
    ])
    func parses(_ text: String, _ epoch: Double) throws {
        let d = try #require(Timestamps.parse(text))
        #expect(abs(d.timeIntervalSince1970 - epoch) < 0.001)
    }

    @Test func roundTripsMicroseconds() throws {
        for text in ["2026-11-22T02:02:55.491725Z", "2026-11-22T02:02:55.000001Z", "2026-11-22T02:02:55.999999Z"] {
            #expect(Timestamps.micros(try #require(Timestamps.parse(text))) == text)
        }
    }

    @Test(arguments: ["", "yesterday", "2023-13-01T00:00:00", "2023-11-14T25:00:00Z", "2030-01-01T.", "2030-01-01T", "2030-01-01T10",
                      "300000-01-01T00:00:00", "-5-01-01", "2030-01-01T10:00:00.", "2030-01-01T10:00:00.abc", "2030--01T10:00:00", "bad.123Z",
                      "2030-01-01T10:-1:00"])
    func rejects(_ text: String) {
        #expect(Timestamps.parse(text) == nil)
    }
}

@Suite struct ConfigurationTests {
    static let options = [
        ConfigOption("DEFAULT", "listen", default: "127.0.0.1:5000", "listener"),
        ConfigOption("identity", "token_expiration", default: "3600", "lifetime"),
    ]

    @Test func precedenceIsFlagThenEnvironmentThenFileThenDefault() throws {
        let file = NSTemporaryDirectory() + "nimbus-test-\(UUID().uuidString).conf"
        try "[DEFAULT]\nlisten = 0.0.0.0:1\n[identity]\ntoken_expiration = 10\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let fromFile = try Configuration(options: Self.options, file: file, environment: [:])
        #expect(fromFile.string("DEFAULT", "listen") == "0.0.0.0:1")
        #expect(fromFile.int("identity", "token_expiration") == 10)
        let fromEnv = try Configuration(options: Self.options, file: file, environment: ["NIMBUS_IDENTITY_TOKEN_EXPIRATION": "20"])
        #expect(fromEnv.int("identity", "token_expiration") == 20)
        let fromFlag = try Configuration(options: Self.options, file: file, environment: ["NIMBUS_IDENTITY_TOKEN_EXPIRATION": "20"],
                                         overrides: ["identity": ["token_expiration": "30"]])
        #expect(fromFlag.int("identity", "token_expiration") == 30)
        let defaults = try Configuration(options: Self.options, environment: [:])
        #expect(defaults.string("DEFAULT", "listen") == "127.0.0.1:5000")
    }

    @Test func rejectsMalformedINI() {
        #expect(throws: NimbusError.self) { try Configuration.parseINI("[broken\n") }
        #expect(throws: NimbusError.self) { try Configuration.parseINI("no equals sign\n") }
    }

    @Test func sampleListsEveryOption() {
        let s = Configuration.sample(Self.options)
        #expect(s.contains("[identity]") && s.contains("#token_expiration = 3600") && s.contains("# lifetime"))
    }

    @Test func httpDates() throws {
        let d = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(Timestamps.httpDate(d) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(Timestamps.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == d)
        #expect(Timestamps.parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT") == d)
        #expect(Timestamps.parseHTTPDate("Sun Nov  6 08:49:37 1994") == d)
        #expect(Timestamps.parseHTTPDate("yesterday") == nil)
        #expect(Timestamps.parseHTTPDate("Sun, 06 Foo 1994 08:49:37 GMT") == nil)
        #expect(Timestamps.parseHTTPDate("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
    }
}
