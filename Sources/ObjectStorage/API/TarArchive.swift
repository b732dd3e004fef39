import Foundation

/// Reads the regular files of a POSIX tar archive (ustar, with GNU long names and pax `path`
/// records), as Swift's bulk upload (`?extract-archive=tar`) accepts it.
enum TarArchive {
    struct Entry {
        /// The member's name as bytes (it need not be UTF-8; the caller checks).
        var path: [UInt8]
        var data: Range<Int>
    }

    enum Failure: Error { case malformed(String) }

    static func files(_ bytes: [UInt8]) throws(Failure) -> [Entry] {
        var out = [Entry]()
        var offset = 0
        var longName: [UInt8]?
        var paxPath: [UInt8]?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }
            guard let size = octal(header[(offset + 124)..<(offset + 136)]) else { throw .malformed("bad size field") }
            let type = header[offset + 156]
            let start = offset + 512
            guard start + size <= bytes.count else { throw .malformed("truncated entry") }
            var name = field(header[offset..<(offset + 100)])
            if String(decoding: header[(offset + 257)..<(offset + 262)], as: UTF8.self) == "ustar" {
                let prefix = field(header[(offset + 345)..<(offset + 500)])
                if !prefix.isEmpty { name = prefix + [UInt8(ascii: "/")] + name }
            }
            offset = start + (size + 511) / 512 * 512
            switch type {
            case UInt8(ascii: "L"):
                longName = field(bytes[start..<(start + size)])
            case UInt8(ascii: "x"):
                paxPath = pax(bytes[start..<(start + size)])["path"]
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                out.append(Entry(path: paxPath ?? longName ?? name, data: start..<(start + size)))
                longName = nil
                paxPath = nil
            default:
                longName = nil
                paxPath = nil
            }
        }
        if offset < bytes.count, bytes[offset...].count < 512, !bytes[offset...].allSatisfy({ $0 == 0 }) {
            throw .malformed("truncated header")
        }
        return out
    }

    /// A NUL-terminated header field's bytes.
    static func field(_ b: ArraySlice<UInt8>) -> [UInt8] { Array(b.prefix { $0 != 0 }) }

    static func string(_ b: ArraySlice<UInt8>) -> String {
        String(decoding: b.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func octal(_ b: ArraySlice<UInt8>) -> Int? {
        let s = string(b).trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return 0 }
        guard s.count <= 11, s.allSatisfy({ ("0"..."7").contains($0) }) else { return nil }
        return Int(s, radix: 8)
    }

    /// pax extended header records: `<length> <key>=<value>\n`.
    static func pax(_ b: ArraySlice<UInt8>) -> [String: [UInt8]] {
        var out = [String: [UInt8]]()
        var i = b.startIndex
        while i < b.endIndex {
            guard let space = b[i...].firstIndex(of: UInt8(ascii: " ")), space - i <= 9,
                  let len = Int(String(decoding: b[i..<space], as: UTF8.self)),
                  len > space - i + 1, len <= b.endIndex - i else { break }
            let record = b[(space + 1)..<(i + len - 1)]
            if let eq = record.firstIndex(of: UInt8(ascii: "=")) {
                out[String(decoding: record[..<eq], as: UTF8.self)] = Array(record[(eq + 1)...])
            }
            i += len
        }
        return out
    }
}
