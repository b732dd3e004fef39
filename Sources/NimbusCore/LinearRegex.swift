/// A regular expression matcher whose cost is bounded by pattern size × text length: a Pike VM
/// (Thompson's construction), no backtracking. For patterns that API users supply and the
/// server runs, such as Nova's server list `name` filter: Swift's `Regex` backtracks, so a
/// pattern like `^(a+)+$` against a 30-character name takes seconds of a shared core.
///
/// The syntax is Python's `re` (what Nova's filter means) without the parts that need
/// backtracking: literals, `.`, `^`, `$`, `\A`, `\Z`, `\b`, `\B`, classes `[...]` with ranges,
/// negation and `\d \w \s \D \W \S`, groups `( )`, `(?: )`, `(?P<name> )`, alternation, and the
/// quantifiers `* + ? {m} {m,} {m,n}` (lazy forms accepted; only whether it matches is asked).
/// Backreferences, lookaround and inline flags are refused (`LinearRegex.Error`). Matching is
/// by Unicode scalar, as Python matches code points.
public struct LinearRegex: Sendable {
    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Patterns compile to at most this many instructions by default (counted repetitions
    /// expand): a match then costs at most that many steps per scalar of the text.
    public static let defaultMaxProgram = 1_000

    enum Instruction: Sendable {
        case scalar(Unicode.Scalar)
        case set(CharSet)
        case any            // any scalar but "\n"
        case split(Int, Int)
        case jump(Int)
        case assert(Anchor)
        case match
    }

    enum Anchor: Sendable { case lineStart, textStart, end, textEnd, wordBoundary, notWordBoundary }

    struct CharSet: Sendable {
        var negated = false
        var ranges: [ClosedRange<UInt32>] = []
        var classes: [(kind: Character, negated: Bool)] = []
        func contains(_ s: Unicode.Scalar) -> Bool {
            // ranges are sorted and disjoint (normalized()): a binary search
            var lo = 0, hi = ranges.count
            var hit = false
            while lo < hi {
                let mid = (lo + hi) / 2
                if ranges[mid].upperBound < s.value { lo = mid + 1 } else if ranges[mid].lowerBound > s.value { hi = mid } else { hit = true; break }
            }
            if !hit { hit = classes.contains { LinearRegex.inClass(s, $0.kind) != $0.negated } }
            return hit != negated
        }

        /// Sorted, merged ranges and at most one entry per class kind.
        func normalized() -> CharSet {
            var out = CharSet(negated: negated)
            for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                if let last = out.ranges.last, r.lowerBound <= last.upperBound &+ 1 {
                    out.ranges[out.ranges.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
                } else {
                    out.ranges.append(r)
                }
            }
            for c in classes where !out.classes.contains(where: { $0.kind == c.kind && $0.negated == c.negated }) { out.classes.append(c) }
            return out
        }
    }

    indirect enum Node {
        case empty
        case scalar(Unicode.Scalar)
        case set(CharSet)
        case any
        case anchor(Anchor)
        case concat([Node])
        case alternate([Node])
        case repeatNode(Node, min: Int, max: Int?)
    }

    let program: [Instruction]

    public init(_ pattern: String, maxProgram: Int = LinearRegex.defaultMaxProgram) throws(Error) {
        var parser = Parser(scalars: Array(pattern.unicodeScalars))
        let node = try parser.parseAlternation()
        guard parser.position == parser.scalars.count else { throw Error(description: "unbalanced parenthesis") }
        var compiler = Compiler(limit: maxProgram)
        try compiler.emit(node)
        compiler.program.append(.match)
        program = compiler.program
    }

    /// Whether the pattern matches anywhere in `text` (Python's `re.search`).
    public func search(_ text: String) -> Bool {
        let s = Array(text.unicodeScalars)
        var current = ThreadList(capacity: program.count)
        var next = ThreadList(capacity: program.count)
        for pos in 0...s.count {
            add(0, at: pos, in: s, to: &current)   // a new thread at every position: an unanchored search
            if current.contains(matchAt: program.count - 1) { return true }
            guard pos < s.count else { break }
            let c = s[pos]
            next.clear()
            for pc in current.items {
                switch program[pc] {
                case .scalar(let x): if x == c { add(pc + 1, at: pos + 1, in: s, to: &next) }
                case .set(let set): if set.contains(c) { add(pc + 1, at: pos + 1, in: s, to: &next) }
                case .any: if c != "\n" { add(pc + 1, at: pos + 1, in: s, to: &next) }
                default: break
                }
            }
            swap(&current, &next)
            if current.contains(matchAt: program.count - 1) { return true }
        }
        return false
    }

    struct ThreadList {
        /// The threads waiting on a scalar (and `match`), in priority order.
        var items: [Int] = []
        /// Every instruction reached at this position, consuming or not.
        var visited: [Int] = []
        var onList: [Bool]
        init(capacity: Int) { onList = Array(repeating: false, count: capacity) }
        mutating func clear() {
            for i in visited { onList[i] = false }
            visited.removeAll(keepingCapacity: true)
            items.removeAll(keepingCapacity: true)
        }
        func contains(matchAt pc: Int) -> Bool { onList[pc] }
    }

    /// Follows jumps, splits and assertions from `pc` (iteratively: no recursion depth to blow).
    func add(_ start: Int, at pos: Int, in s: [Unicode.Scalar], to list: inout ThreadList) {
        var stack = [start]
        while let pc = stack.popLast() {
            if list.onList[pc] { continue }
            list.onList[pc] = true
            list.visited.append(pc)
            switch program[pc] {
            case .jump(let to): stack.append(to)
            case .split(let a, let b): stack.append(b); stack.append(a)
            case .assert(let anchor): if holds(anchor, at: pos, in: s) { stack.append(pc + 1) }
            default: list.items.append(pc)
            }
        }
    }

    func holds(_ a: Anchor, at pos: Int, in s: [Unicode.Scalar]) -> Bool {
        switch a {
        case .lineStart, .textStart: return pos == 0
        case .end: return pos == s.count || (pos == s.count - 1 && s[pos] == "\n")
        case .textEnd: return pos == s.count
        case .wordBoundary, .notWordBoundary:
            let before = pos > 0 && Self.inClass(s[pos - 1], "w")
            let after = pos < s.count && Self.inClass(s[pos], "w")
            return (before != after) == (a == .wordBoundary)
        }
    }

    static func inClass(_ s: Unicode.Scalar, _ kind: Character) -> Bool {
        switch kind {
        case "d": return s.properties.numericType == .decimal
        case "s": return s.properties.isWhitespace || (0x1C...0x1F).contains(s.value)
        default: return s.properties.isAlphabetic || s.properties.numericType != nil || s == "_"   // "w"
        }
    }

    struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0
        var depth = 0

        var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

        mutating func next() -> Unicode.Scalar? {
            defer { position += 1 }
            return peek
        }

        mutating func parseAlternation() throws(Error) -> Node {
            depth += 1
            defer { depth -= 1 }
            guard depth < 200 else { throw Error(description: "too deeply nested") }
            var branches = [try parseConcatenation()]
            while peek == "|" {
                position += 1
                branches.append(try parseConcatenation())
            }
            return branches.count == 1 ? branches[0] : .alternate(branches)
        }

        mutating func parseConcatenation() throws(Error) -> Node {
            var items = [Node]()
            while let c = peek, c != "|", c != ")" {
                var atom = try parseAtom()
                if let q = peek, "*+?{".unicodeScalars.contains(q), let (lo, hi) = try parseQuantifier() {
                    if case .anchor = atom { throw Error(description: "nothing to repeat") }
                    if case .empty = atom { throw Error(description: "nothing to repeat") }
                    atom = .repeatNode(atom, min: lo, max: hi)
                    if peek == "?" || peek == "+" { position += 1 }   // lazy / possessive: same answer to "does it match"
                    // Python: a quantifier on a quantifier is an error ("multiple repeat")
                    if let q2 = peek, "*+?".unicodeScalars.contains(q2) { throw Error(description: "multiple repeat") }
                    if peek == "{" {
                        let save = position
                        if try parseQuantifier() != nil { throw Error(description: "multiple repeat") }
                        position = save
                    }
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : .concat(items)
        }

        /// nil when `{` does not start a valid count (Python then reads it as a literal).
        mutating func parseQuantifier() throws(Error) -> (Int, Int?)? {
            let start = position
            switch next() {
            case "*": return (0, nil)
            case "+": return (1, nil)
            case "?": return (0, 1)
            default: break
            }
            func number() -> Int? {
                var digits = ""
                while let c = peek, ("0"..."9").contains(c) { digits.unicodeScalars.append(c); position += 1 }
                return digits.isEmpty ? nil : Int(digits.prefix(9))
            }
            let lo = number()
            var hi: Int?? = .some(lo)
            if peek == "," { position += 1; hi = .some(number()) }
            guard peek == "}", lo != nil || hi != .some(lo) else { position = start; return nil }
            position += 1
            let low = lo ?? 0
            if let h = hi ?? nil, h < low { throw Error(description: "min repeat greater than max repeat") }
            return (low, hi ?? nil)
        }

        mutating func parseAtom() throws(Error) -> Node {
            guard let c = next() else { throw Error(description: "unexpected end of pattern") }
            switch c {
            case "(":
                if peek == "?" {
                    position += 1
                    if peek == ":" {
                        position += 1
                    } else if peek == "P" || peek == "<" {
                        if peek == "P" { position += 1 }
                        guard next() == "<" else { throw Error(description: "unsupported group") }
                        while let n = next(), n != ">" {
                            guard n == "_" || n.properties.isAlphabetic || n.properties.numericType == .decimal else {
                                throw Error(description: "bad character in group name")
                            }
                        }
                    } else {
                        throw Error(description: "lookaround, inline flags and conditionals are not supported")
                    }
                }
                let inner = try parseAlternation()
                guard next() == ")" else { throw Error(description: "missing ), unterminated subpattern") }
                return inner
            case ")": throw Error(description: "unbalanced parenthesis")
            case "[": return .set(try parseClass())
            case ".": return .any
            case "^": return .anchor(.lineStart)
            case "$": return .anchor(.end)
            case "*", "+", "?": throw Error(description: "nothing to repeat")
            case "{":
                // a valid count with nothing before it is Python's "nothing to repeat"; else a literal
                let after = position
                position -= 1
                if try parseQuantifier() != nil { throw Error(description: "nothing to repeat") }
                position = after
                return .scalar(c)
            case "\\": return try parseEscape(inClass: false)
            default: return .scalar(c)
            }
        }

        mutating func parseEscape(inClass: Bool) throws(Error) -> Node {
            guard let e = next() else { throw Error(description: "bad escape (end of pattern)") }
            switch e {
            case "d", "w", "s": return .set(CharSet(classes: [(Character(e), false)]))
            case "D", "W", "S": return .set(CharSet(classes: [(Character(String(e).lowercased()), true)]))
            case "A" where !inClass: return .anchor(.textStart)
            case "Z" where !inClass: return .anchor(.textEnd)
            case "b" where !inClass: return .anchor(.wordBoundary)
            case "B" where !inClass: return .anchor(.notWordBoundary)
            case "b": return .scalar("\u{8}")
            case "n": return .scalar("\n")
            case "t": return .scalar("\t")
            case "r": return .scalar("\r")
            case "f": return .scalar("\u{C}")
            case "v": return .scalar("\u{B}")
            case "a": return .scalar("\u{7}")
            case "0": return .scalar("\0")
            case "x": return .scalar(try hex(2))
            case "u": return .scalar(try hex(4))
            case "U": return .scalar(try hex(8))
            default:
                if e.properties.isAlphabetic || e.properties.numericType == .decimal {
                    throw Error(description: "bad escape \\\(e) (backreferences are not supported)")
                }
                return .scalar(e)
            }
        }

        mutating func hex(_ count: Int) throws(Error) -> Unicode.Scalar {
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let c = next(), let d = Int(String(c), radix: 16) else { throw Error(description: "incomplete escape") }
                value = value * 16 + UInt32(d)
            }
            guard let s = Unicode.Scalar(value) else { throw Error(description: "bad escape: not a code point") }
            return s
        }

        mutating func parseClass() throws(Error) -> CharSet {
            var set = CharSet()
            if peek == "^" { set.negated = true; position += 1 }
            var first = true
            while true {
                guard let c = next() else { throw Error(description: "unterminated character set") }
                if c == "]" && !first { break }
                first = false
                var low: UInt32
                if c == "\\" {
                    switch try parseEscape(inClass: true) {
                    case .scalar(let s): low = s.value
                    case .set(let inner): set.classes += inner.classes; continue
                    default: throw Error(description: "bad escape in character set")
                    }
                } else {
                    low = c.value
                }
                if peek == "-", position + 1 < scalars.count, scalars[position + 1] != "]" {
                    position += 1
                    guard let h = next() else { throw Error(description: "unterminated character set") }
                    var high = h.value
                    if h == "\\" {
                        guard case .scalar(let s) = try parseEscape(inClass: true) else { throw Error(description: "bad character range") }
                        high = s.value
                    }
                    guard low <= high else { throw Error(description: "bad character range") }
                    set.ranges.append(low...high)
                } else {
                    set.ranges.append(low...low)
                }
            }
            return set.normalized()
        }
    }

    struct Compiler {
        let limit: Int
        var program: [Instruction] = []

        mutating func append(_ i: Instruction) throws(Error) {
            guard program.count < limit else { throw Error(description: "pattern too large") }
            program.append(i)
        }

        /// Work spent compiling (every node visited, empty ones too): `(?:){999999}` emits
        /// nothing but must not loop a million times.
        var steps = 0

        mutating func emit(_ node: Node) throws(Error) {
            steps += 1
            guard steps <= limit * 4 else { throw Error(description: "pattern too large") }
            switch node {
            case .empty: break
            case .scalar(let s): try append(.scalar(s))
            case .set(let s): try append(.set(s))
            case .any: try append(.any)
            case .anchor(let a): try append(.assert(a))
            case .concat(let items): for n in items { try emit(n) }
            case .alternate(let branches):
                var jumps = [Int]()
                for (k, b) in branches.enumerated() {
                    if k < branches.count - 1 {
                        let split = program.count
                        try append(.split(split + 1, -1))
                        try emit(b)
                        jumps.append(program.count)
                        try append(.jump(-1))
                        program[split] = .split(split + 1, program.count)
                    } else {
                        try emit(b)
                    }
                }
                for j in jumps { program[j] = .jump(program.count) }
            case .repeatNode(let inner, let lo, let hi):
                for _ in 0..<lo { try emit(inner) }
                if let hi {
                    // (inner(inner(…)?)?)? for the optional part
                    var splits = [Int]()
                    for _ in lo..<hi {
                        splits.append(program.count)
                        try append(.split(program.count + 1, -1))
                        try emit(inner)
                    }
                    for s in splits { program[s] = .split(s + 1, program.count) }
                } else {
                    let loop = program.count
                    try append(.split(loop + 1, -1))
                    try emit(inner)
                    try append(.jump(loop))
                    program[loop] = .split(loop + 1, program.count)
                }
            }
        }
    }
}
