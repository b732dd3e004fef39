import NimbusCore
import Testing

/// The linear-time matcher agrees with Python's `re.search` on the syntax it accepts, refuses
/// what needs backtracking, and takes time linear in the text on patterns that make
/// backtracking engines exponential.
@Suite struct LinearRegexTests {
    static func search(_ p: String, _ t: String) throws -> Bool { try LinearRegex(p).search(t) }

    @Test(arguments: [
        ("abc", "xxabcxx", true), ("^abc", "xabc", false), ("abc$", "abc\n", true), ("abc\\Z", "abc\n", false),
        ("a.c", "a\nc", false), ("a.c", "abc", true), ("colou?r", "color", true), ("colou?r", "colouur", false),
        ("^(ab)+$", "ababab", true), ("^(ab)+$", "ababa", false), ("^a{2,3}$", "aaa", true), ("^a{2,3}$", "aaaa", false),
        ("^a{2}$", "aa", true), ("^a{2,}$", "aaaaa", true), ("^a{,2}$", "aaa", false), ("a{x}", "a{x}", true),
        ("^[a-c]+$", "abcab", true), ("^[^a-c]+$", "xyz", true), ("^[^a-c]+$", "xaz", false), ("[]a]", "]", true),
        ("^\\d+$", "٣4", true), ("^\\w+$", "héllo_1", true), ("\\s", "a b", true), ("^\\S+$", "a b", false),
        ("cat|dog", "hotdog", true), ("^(cat|dog)$", "cats", false), ("^(?:x|y)z$", "yz", true), ("(?P<n>ab)c", "abc", true),
        ("\\bfoo\\b", "a foo b", true), ("\\bfoo\\b", "afoob", false), ("^\\x41\\u00e9$", "Aé", true), ("a\\.b", "axb", false),
        ("é", "e\u{301}", false), ("e\u{301}", "e\u{301}", true), ("", "anything", true), ("^$", "", true), ("a*?b", "aab", true),
        ("^(a|)+$", "aaa", true), ("(a*)*b", "aaaa", false),
    ])
    func agreesWithPython(_ c: (String, String, Bool)) throws {
        #expect(try Self.search(c.0, c.1) == c.2, "\(c.0) on \(c.1)")
    }

    @Test(arguments: ["(a", "a)", "[a", "*a", "a{3,2}", "(?=a)", "(?i)a", "\\1", "(a)\\1", "\\q", "[z-a]", "a{1000}{1000}",
                      "a**", "a+*", "a{2}{3}", "{1}", "x|{2,3}", "(?:){9}{9}", "(?:){999999999}", "((?:){99999}){99999}"])
    func refused(_ p: String) {
        #expect(throws: LinearRegex.Error.self) { try LinearRegex(p) }
    }

    @Test func largeClassesAndEmptyRepeatsAreCheap() throws {
        let clock = ContinuousClock()
        let name = String(repeating: "z", count: 255)
        let took = try clock.measure {
            let big = try LinearRegex("[" + String(repeating: "b", count: 4000) + "a]{999}")
            #expect(!big.search(name))
            #expect(throws: LinearRegex.Error.self) { try LinearRegex("(?:){99999999}") }
        }
        #expect(took < .seconds(2))
        #expect(try LinearRegex("^[a-cx-z0-9_]+$").search("abz09_") && !LinearRegex("^[a-cx-z]+$").search("abd"))
    }

    @Test func catastrophicPatternsStayLinear() throws {
        let name = String(repeating: "r", count: 255) + "!"
        let patterns = try ["^(r+)+$", "^(r|r)*$", "^(r*)*$", "^(r?){25}r{25}$", "(x+x+)+y"].map { try LinearRegex($0) }
        let clock = ContinuousClock()
        let took = clock.measure {
            for p in patterns { #expect(!p.search(name)) }
        }
        #expect(took < .seconds(2))
    }
}
