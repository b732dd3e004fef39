import Testing
@testable import NimbusCore

/// Names, paths and query values are bytes: canonically equivalent spellings stay distinct.
@Suite struct NameTests {
    /// Pairs Swift's `String ==` calls equal although their bytes differ.
    static let equivalentPairs: [(String, String)] = [
        ("caf\u{E9}", "cafe\u{301}"),
        ("\u{C5}", "A\u{30A}"),
        ("\u{212B}", "\u{C5}"),
        ("K", "\u{212A}"),
        (";", "\u{37E}"),
        ("\u{1E69}", "s\u{323}\u{307}"),
    ]

    @Test func equivalentSpellingsAreDistinctNames() {
        for (a, b) in Self.equivalentPairs {
            #expect(a == b, "the premise: Swift calls \(a.unicodeScalars.map(\.value)) and \(b.unicodeScalars.map(\.value)) equal")
            #expect(Name(a) != Name(b))
            #expect(Set([Name(a), Name(b)]).count == 2)
            #expect(!a.sameBytes(as: b))
        }
    }

    @Test func ordersByBytes() {
        let names = ["b", "a\u{301}", "\u{E1}", "A", "\u{212A}"].map(Name.init)
        #expect(names.sorted().map(\.string) == ["A", "a\u{301}", "b", "\u{E1}", "\u{212A}"])
    }

    @Test func splitsOnSeparatorBytesBeforeCombiningMarks() {
        #expect("c/\u{301}data.bin".splitBytes("/").map { Array($0.unicodeScalars) } == [["c"], ["\u{301}", "d", "a", "t", "a", ".", "b", "i", "n"]])
        #expect("c/\u{301}data.bin".split(separator: "/").count == 1, "the premise: a Character split merges / with the mark")
        #expect("a;b\u{37E}c".splitBytes(";").map(String.init) == ["a", "b\u{37E}c"])
        #expect("/a//b/".splitBytes("/", omittingEmpty: false).map(String.init) == ["", "a", "", "b", ""])
        #expect("a/b/c/d".splitBytes("/", maxSplits: 2).map(String.init) == ["a", "b", "c/d"])
        let once = "v1/\u{301}x/y".splitOnceBytes("/")
        #expect(once.map { [String($0.head), String($0.tail)] } == ["v1", "\u{301}x/y"])
        #expect("x/\u{301}".splitOnceBytes("/", last: true).map { Array($0.tail.unicodeScalars) } == ["\u{301}"])
    }

    @Test func prefixesAreBytes() {
        #expect("e\u{301}x".hasBytePrefix("e"))
        #expect(!"e\u{301}x".hasPrefix("e"), "the premise: String.hasPrefix compares Characters")
        #expect(!"\u{212A}elvin".hasBytePrefix("K"))
        #expect("e\u{301}x".droppingBytePrefix("e").map { Array($0.unicodeScalars) } == ["\u{301}", "x"])
        #expect("ab\u{301}".hasByteSuffix("\u{301}"))
        #expect("x\u{37E}y".containsBytes("\u{37E}") && !"x\u{37E}y".containsBytes(";"))
    }

    @Test func replacementIsByScalars() {
        #expect("<\u{301}a<".replacingBytes("<", with: "&lt;") == "&lt;\u{301}a&lt;", "a combining mark does not hide the <")
        #expect("http://h/%(project_id)s/x".replacingBytes("%(project_id)s", with: "p\u{E9}") == "http://h/p\u{E9}/x")
        #expect("e\u{301}".replacingBytes("\u{E9}", with: "x") == "e\u{301}", "no canonical equivalence")
        #expect("\u{E9}\u{E9}".replacingBytes("\u{E9}", with: "") == "")
        #expect("aaa".replacingBytes("aa", with: "b") == "ba")
        #expect("a".replacingBytes("abc", with: "x") == "a")
        #expect("\u{1F600}x\u{1F600}".replacingBytes("x", with: "\u{10FFFF}") == "\u{1F600}\u{10FFFF}\u{1F600}")
    }

    @Test func percentDecodingIsPythonsUnquote() {
        #expect(PercentEncoding.decode("caf%C3%A9") == "caf\u{E9}")
        #expect(PercentEncoding.decode("%%41") == "%A")
        #expect(PercentEncoding.decode("100%") == "100%")
        #expect(PercentEncoding.decode("%zz%4") == "%zz%4")
        #expect(PercentEncoding.decode("a+b") == "a+b")
        #expect(PercentEncoding.decode("a+b", plusAsSpace: true) == "a b")
        #expect(PercentEncoding.decode("%252F") == "%2F")
        #expect(PercentEncoding.decode("%FF") == nil)
        #expect(PercentEncoding.decode("%ED%A0%80") == nil, "a surrogate is not UTF-8")
        #expect(PercentEncoding.encode("a b/\u{E9}", safe: "/") == "a%20b/%C3%A9")
    }

    @Test func queryStringReadsAsWebOb() {
        let q = QueryString("name=updated+name&bulk-delete&x=%E2%82%AC&x=2&k%C3%A9=v")
        #expect(q.isValid)
        #expect(q["name"] == "updated name")
        #expect(q["bulk-delete"] == "")
        #expect(q.contains("bulk-delete"))
        #expect(q.all("x") == ["\u{20AC}", "2"])
        #expect(q["k\u{E9}"] == "v" && q["ke\u{301}"] == nil)
        #expect(!QueryString("a=%FF").isValid)
        let none: String? = nil
        #expect(QueryString(none).items.isEmpty)
    }
}
