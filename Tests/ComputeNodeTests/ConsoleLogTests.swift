import Foundation
import Testing
@testable import ComputeNode

@Suite struct ConsoleLogTests {
    func write(_ path: String, _ text: String, append: Bool = false) throws {
        let fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o600)
        defer { close(fd) }
        try FileIO.writeAll(fd, Array(text.utf8), path: path)
    }

    @Test func tailByLines() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let log = ConsoleLog(path: dir.path + "/c.log", maxBytes: 1 << 20)
        #expect(log.tail(lines: 3, maxReadBytes: 1000) == "")
        try write(log.path, "one\ntwo\nthree\nfour\n")
        #expect(log.tail(lines: 2, maxReadBytes: 1000) == "three\nfour\n")
        #expect(log.tail(lines: nil, maxReadBytes: 1000) == "one\ntwo\nthree\nfour\n")
        #expect(log.tail(lines: 10, maxReadBytes: 1000) == "one\ntwo\nthree\nfour\n")
        #expect(log.tail(lines: 0, maxReadBytes: 1000) == "")
        #expect(log.tail(lines: nil, maxReadBytes: 12) == "three\nfour\n")   // partial first line dropped
        try write(log.path, "a\nb", append: false)
        #expect(log.tail(lines: 1, maxReadBytes: 1000) == "b")
        let fd = open(log.path, O_WRONLY | O_TRUNC)
        try FileIO.writeAll(fd, [0x61, 0xFF, 0x0A], path: log.path)
        close(fd)
        #expect(log.tail(lines: nil, maxReadBytes: 1000) == "a\u{FFFD}\n")
    }

    /// Trimming keeps the newest bytes, and an O_APPEND writer (QEMU) keeps appending after it.
    @Test func trimKeepsTheTailAndAppendsContinue() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let log = ConsoleLog(path: dir.path + "/c.log", maxBytes: 64 << 10)
        let writer = open(log.path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        defer { close(writer) }
        var all = ""
        for i in 0..<20_000 {
            let line = "line \(i)\n"
            all += line
            try FileIO.writeAll(writer, Array(line.utf8), path: log.path)
        }
        log.trim()
        let size = try #require(FileIO.size(log.path))
        #expect(size <= 64 << 10 && size >= 16 << 10)
        try FileIO.writeAll(writer, Array("after trim\n".utf8), path: log.path)
        let text = log.tail(lines: nil, maxReadBytes: 1 << 20)
        #expect(text.hasSuffix("line 19999\nafter trim\n"))
        #expect(all.hasSuffix(String(text.dropLast("after trim\n".count))))   // no byte lost or duplicated
        log.trim()   // under the cap: nothing happens
        #expect(FileIO.size(log.path) == size + 11)
    }
}
