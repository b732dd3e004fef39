/// One 512-byte tar header block, checked as Python's tarfile checks it (`TarInfo.frombuf`,
/// which bulk.py relies on): the checksum (unsigned or signed sum), then every number field
/// (octal text as Python's `int(s, 8)` reads it, or GNU base-256).
///
/// Deliberate difference: a negative number (base-256 with a 0xFF lead byte, or `-` in octal)
/// is an invalid header. tarfile accepts one and then fails in ways that depend on the value.
struct TarHeader: Equatable {
    enum Problem: Error, Equatable {
        case empty, truncated, endOfArchive, badChecksum, invalid

        /// tarfile's message when the header should have been another header's continuation
        /// (`SubsequentHeaderError(str(e))`).
        var message: String {
            switch self {
            case .empty: "empty header"
            case .truncated: "truncated header"
            case .endOfArchive: "end of file header"
            case .badChecksum: "bad checksum"
            case .invalid: "invalid header"
            }
        }
    }

    static let blockSize = 512
    /// Sizes are clamped here: more than any body can hold, small enough never to overflow.
    static let hugeSize = Int.max >> 4

    var name: [UInt8]
    var prefix: [UInt8]
    var size: Int
    var type: UInt8
    /// A GNU sparse header (`S`) says an extension block follows.
    var sparseExtended: Bool

    init(_ block: [UInt8]) throws(Problem) {
        if block.isEmpty { throw .empty }
        guard block.count == Self.blockSize else { throw .truncated }
        if block.allSatisfy({ $0 == 0 }) { throw .endOfArchive }
        let stored = try Self.number(block[148..<156])
        // Sums of the bytes, the checksum field counted as eight spaces; a signed byte is 256 less.
        var unsigned = 256, high = 0
        block.withUnsafeBufferPointer { bytes in
            for i in 0..<Self.blockSize where i < 148 || i >= 156 {
                unsigned &+= Int(bytes[i])
                if bytes[i] >= 0x80 { high &+= 1 }
            }
        }
        guard stored == unsigned || stored == unsigned - 256 * high else { throw .badChecksum }
        for range in [100..<108, 108..<116, 116..<124, 136..<148, 329..<337, 337..<345] {
            _ = try Self.number(block[range])
        }
        name = Self.field(block[0..<100])
        size = try Self.number(block[124..<136])
        type = block[156]
        prefix = Self.field(block[345..<500])
        sparseExtended = block[482] != 0
    }

    /// The bytes of a NUL-terminated field (tarfile's `nts`).
    static func field(_ bytes: ArraySlice<UInt8>) -> [UInt8] { Array(bytes.prefix { $0 != 0 }) }

    /// tarfile's `nti`: GNU base-256 (lead byte 0x80), or octal text up to the first NUL.
    static func number(_ field: ArraySlice<UInt8>) throws(Problem) -> Int {
        guard let lead = field.first else { return 0 }
        if lead == 0x80 || lead == 0xFF {
            guard lead == 0x80 else { throw .invalid }
            var n = 0
            for b in field.dropFirst() {
                guard n <= hugeSize >> 8 else { return hugeSize }
                n = n << 8 | Int(b)
            }
            return n
        }
        guard let n = pythonInteger(field.prefix { $0 != 0 }, radix: 8) else { throw .invalid }
        guard n >= 0 else { throw .invalid }
        return n
    }

    /// Python's `int(text.strip() or "0", radix)` on ASCII bytes: whitespace around, a sign, a
    /// `0o` prefix for octal, single underscores between digits; nil where Python raises.
    /// Values past `hugeSize` are clamped to it.
    static func pythonInteger(_ text: some Collection<UInt8>, radix: Int) -> Int? {
        let space: Set<UInt8> = [9, 10, 11, 12, 13, 28, 29, 30, 31, 32]
        guard text.allSatisfy({ $0 < 0x80 }) else { return nil }
        var s = Array(text)[...]
        while let f = s.first, space.contains(f) { s.removeFirst() }
        while let l = s.last, space.contains(l) { s.removeLast() }
        if s.isEmpty { return 0 }
        var negative = false
        if s.first == UInt8(ascii: "+") || s.first == UInt8(ascii: "-") { negative = s.removeFirst() == UInt8(ascii: "-") }
        var underscoreAllowed = false
        if radix == 8, s.count >= 2, s.first == UInt8(ascii: "0"), s.dropFirst().first == UInt8(ascii: "o") || s.dropFirst().first == UInt8(ascii: "O") {
            s.removeFirst(2)
            underscoreAllowed = true
        }
        var n = 0, digits = 0
        for b in s {
            if b == UInt8(ascii: "_") {
                guard underscoreAllowed else { return nil }
                underscoreAllowed = false
                continue
            }
            let d = Int(b) - 48
            guard d >= 0, d < radix else { return nil }
            n = n > hugeSize / radix ? hugeSize : min(hugeSize, n * radix + d)
            digits += 1
            underscoreAllowed = true
        }
        guard digits > 0, s.last != UInt8(ascii: "_") else { return nil }
        return negative ? -n : n
    }
}

/// pax extended header records (`<length> <keyword>=<value>\n`), read as tarfile's `_proc_pax`
/// reads them: records are taken while they match, a zero length is an invalid header, and
/// keywords and values stay bytes.
enum PaxRecords {
    static func parse(_ payload: [UInt8]) throws(TarHeader.Problem) -> [(key: [UInt8], value: [UInt8])] {
        var out = [(key: [UInt8], value: [UInt8])]()
        var pos = 0
        while pos < payload.count {
            var i = pos
            while i < payload.count, payload[i] >= 48, payload[i] <= 57 { i += 1 }
            guard i > pos, i < payload.count, payload[i] == UInt8(ascii: " ") else { break }
            let keyStart = i + 1
            var eq = keyStart
            while eq < payload.count, payload[eq] != UInt8(ascii: "=") { eq += 1 }
            guard eq > keyStart, eq < payload.count else { break }
            let length = TarHeader.pythonInteger(payload[pos..<i], radix: 10) ?? TarHeader.hugeSize
            if length == 0 { throw .invalid }
            let valueEnd = min(payload.count, pos + length - 1)
            let value = valueEnd > eq + 1 ? Array(payload[(eq + 1)..<valueEnd]) : []
            out.append((Array(payload[keyStart..<eq]), value))
            pos += length
        }
        return out
    }
}
