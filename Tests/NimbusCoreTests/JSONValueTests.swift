import Testing
@testable import NimbusCore

@Suite struct JSONValueTests {
    @Test func parsesAndSerializesRoundTrip() throws {
        let text = #"{"a":[1,2.5,true,false,null],"b":{"c":"x\"y\\z\n\u00e9"},"d":-7}"#
        let v = try JSONValue.parse(string: text)
        #expect(v["d"] == .int(-7))
        #expect(v["b"]?["c"] == .string("x\"y\\z\né"))
        let again = try JSONValue.parse(v.serialized())
        #expect(again == v)
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "tru", "\"unterminated", "{} x", "[1e999]", "\"\\ud800\""])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(string: text) }
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(string: deep) }
    }

    @Test func surrogatePairsDecode() throws {
        #expect(try JSONValue.parse(string: #""\ud83d\ude00""#) == .string("😀"))
    }

    @Test func escapesControlCharacters() {
        #expect(JSONValue.string("a\u{01}b").serializedString() == #""a\u0001b""#)
    }
}

@Suite struct JSONObjectReaderTests {
    @Test func reportsWrongTypesPerField() throws {
        let r = try JSONObjectReader(try JSONValue.parse(string: #"{"name": 5, "enabled": "yes", "tags": ["a", 1]}"#), path: "user")
        #expect(throws: NimbusError.self) { try r.string("name") }
        #expect(throws: NimbusError.self) { try r.bool("enabled") }
        #expect(throws: NimbusError.self) { try r.stringArray("tags") }
        do {
            _ = try r.string("name")
        } catch {
            #expect(error.status == 400)
            #expect(error.message.contains("'name'"))
        }
    }

    @Test func requiresObject() {
        #expect(throws: NimbusError.self) { try JSONObjectReader(.array([]), path: "user") }
        #expect(throws: NimbusError.self) { try JSONObjectReader(nil, path: "user") }
    }

    @Test func collectsExtras() throws {
        let r = try JSONObjectReader(try JSONValue.parse(string: #"{"name": "n", "email": "e@x"}"#), path: "user")
        #expect(r.extras(excluding: ["name"]) == ["email": .string("e@x")])
    }

    @Test func objectKeysAreBytes() throws {
        // Two canonically equivalent keys are two members, as in Python's dict.
        let v = try JSONValue.parse(Array(#"{"caf\u00e9": 1, "cafe\u0301": 2, "K": 3, "\u212a": 4}"#.utf8))
        let o = try #require(v.objectValue)
        #expect(o.count == 4)
        #expect(o["caf\u{E9}"] == 1 && o["cafe\u{301}"] == 2 && o["K"] == 3 && o["\u{212A}"] == 4)
        // Written back in byte order of the keys, both kept.
        #expect(v.serializedString() == "{\"K\":3,\"cafe\u{301}\":2,\"caf\u{E9}\":1,\"\u{212A}\":4}")
    }

    @Test func stringsMustBeUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(#""\ud800""#.utf8)) }
        #expect((try? JSONValue.parse(Array("\"\u{E9}\"".utf8))) == .string("\u{E9}"))
    }
}
