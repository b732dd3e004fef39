import ComputeNode
import Foundation
import Logging
import NimbusCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One `qemu-storage-daemon` per storage node serving attached volumes over NBD on a unix
/// socket only root can reach, running while anything is exported (the last unexport stops it). Each attachment is an export of its own, named by a random
/// secret (the per-attachment key); the volume's qcow2 is opened once (`blockdev-add`) however
/// many exports it has. The daemon is started detached: it keeps serving guests through a
/// restart or `kill -9` of Nimbus, which reconnects to its QMP socket and reconciles the
/// exports with the attachments it knows.
public final class NBDExporter: Sendable {
    let runDir: String
    let binary: String
    let runner: any CommandRunner
    let logger: Logger
    private let lock = AsyncLock()
    /// The daemon this process started (its child, reaped when it quits).
    private let child = Mutex<Int32?>(nil)

    public init(runDir: String, binary: String = "/usr/bin/qemu-storage-daemon", runner: any CommandRunner = ProcessCommandRunner(),
                logger: Logger) throws {
        self.runDir = runDir
        self.binary = binary
        self.runner = runner
        self.logger = logger
    }

    public var socketPath: String { runDir + "/nbd.sock" }
    var qmpPath: String { runDir + "/qmp.sock" }

    /// The block node of a volume: a name QEMU accepts (a letter, then at most 31 characters).
    static func nodeName(_ volume: String) -> String {
        "v" + String(volume.utf8.filter { $0 != UInt8(ascii: "-") }.prefix(30).map { Character(Unicode.Scalar($0)) })
    }

    var qmp: QMPClient { QMPClient(socketPath: qmpPath, timeout: .seconds(10)) }

    /// The QMP id of export `name` (ids start with a letter and are short; names are hex).
    static func exportID(_ name: String) -> String {
        "x" + name
    }

    /// Export names are the attachments' secrets: hex digits only, so they are safe as ids too.
    static func checked(_ name: String) throws -> String {
        guard (16...64).contains(name.utf8.count), name.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw NimbusError.badRequest("Invalid export name.")
        }
        return name
    }

    /// Connects to the running daemon, or starts one (its old sockets removed first).
    func ensureRunning() async throws {
        if (try? await qmp.execute("query-version")) != nil { return }
        try FileIO.makeDirectory(runDir, mode: 0o700)
        unlink(qmpPath)
        unlink(socketPath)
        // glibc hands each 1 MiB NBD request a fresh mmap'd (zeroed) buffer unless the mmap
        // threshold is above it: measured, that halves the daemon's CPU per GiB served.
        let argv = ["env", "MALLOC_MMAP_THRESHOLD_=33554432", binary, "--chardev", "socket,id=qmp,path=\(qmpPath),server=on,wait=off", "--monitor", "chardev=qmp",
                    "--nbd-server", "addr.type=unix,addr.path=\(socketPath)", "--pidfile", runDir + "/qsd.pid"]
        let pid = try runner.startDetached(argv, logPath: runDir + "/qsd.log")
        child.withLock { $0 = pid }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? await qmp.execute("query-version")) != nil {
                logger.info("qemu-storage-daemon serving NBD on \(socketPath)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw NimbusError(.serviceUnavailable, "qemu-storage-daemon did not start (see \(runDir)/qsd.log)")
    }

    /// Whether the daemon answers on its QMP socket.
    func isRunning() async -> Bool { (try? await qmp.execute("query-version")) != nil }

    /// The names of the exports being served (none when the daemon is not running).
    public func exports() async throws -> Set<String> {
        try await lock.withLock {
            guard await isRunning() else { return [] }
            return Set(try await qmp.execute("query-block-exports").arrayValue?.compactMap { e in
                e["id"]?.stringValue.flatMap { $0.hasBytePrefix("x") ? String($0.dropFirst()) : nil }
            } ?? [])
        }
    }

    /// Exports `path` (the qcow2 of `volume`) as `name`, writable; nothing when it is already.
    public func export(volume: String, path: String, name: String) async throws {
        try await lock.withLock {
            let id = Self.exportID(try Self.checked(name))
            try await ensureRunning()
            let q = qmp
            let exports = try await q.execute("query-block-exports").arrayValue ?? []
            if exports.contains(where: { $0["id"]?.stringValue == id }) { return }
            let node = Self.nodeName(volume)
            let nodes = try await q.execute("query-named-block-nodes", ["flat": true]).arrayValue ?? []
            if !nodes.contains(where: { $0["node-name"]?.stringValue == node }) {
                try await q.execute("blockdev-add", ["driver": "qcow2", "node-name": .string(node), "discard": "unmap",
                                                     "file": ["driver": "file", "filename": .string(path), "aio": "threads"]])
            }
            try await q.execute("block-export-add", ["type": "nbd", "id": .string(id), "node-name": .string(node), "name": .string(name),
                                                     "writable": true])
        }
    }

    /// Stops export `name` (clients are cut off) and closes the volume once no export uses it;
    /// nothing when it is gone.
    public func unexport(_ name: String) async throws {
        try await lock.withLock {
            let q = qmp
            // Not running (nothing to connect to): nothing is exported. A daemon that does not
            // answer in time is another matter: the export may still serve, so that is an error
            // (the caller tries again) rather than a success.
            do {
                _ = try await q.execute("query-version")
            } catch let e as QMPError where e.kind == .connect {
                return
            }
            let id = Self.exportID(name)
            let exports = try await q.execute("query-block-exports").arrayValue ?? []
            guard let entry = exports.first(where: { $0["id"]?.stringValue == id }) else { return }
            let node = entry["node-name"]?.stringValue
            try await q.execute("block-export-del", ["id": .string(id), "mode": "hard"])
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline,
                  (try await q.execute("query-block-exports").arrayValue ?? []).contains(where: { $0["id"]?.stringValue == id }) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let left = try await q.execute("query-block-exports").arrayValue ?? []
            if let node, !left.contains(where: { $0["node-name"]?.stringValue == node }) {
                try await q.execute("blockdev-del", ["node-name": .string(node)])
            }
            if left.isEmpty {
                // Nothing attached: the daemon (which flushes and closes on quit) is not needed.
                _ = try? await q.execute("quit")
                // Its sockets and files go with it once it has exited.
                let deadline = ContinuousClock.now + .seconds(5)
                while await isRunning(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                if let pid = child.withLock({ p in defer { p = nil }; return p }) {
                    // No zombie left behind: wait for our child's exit status.
                    for _ in 0..<100 {
                        if runner.reapDetached(pid) != nil { break }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                try? FileIO.removeTree(runDir)
                logger.info("qemu-storage-daemon stopped: no volume is attached")
            }
        }
    }

    /// Grows an exported volume in place. QEMU's NBD server forbids resizing a node it exports
    /// (its clients were told the size), so the volume's exports stop, the node grows, and they
    /// start again under the same names: the clients (guests' NBD clients with a reconnect
    /// delay) hold their requests, reconnect and see the new size on a new connection.
    /// Returns false (and does nothing) when the volume is not open in the daemon.
    public func resizeIfOpen(volume: String, bytes: UInt64) async throws -> Bool {
        try await lock.withLock {
            guard await isOpen(volume: volume) else { return false }
            let node = Self.nodeName(volume)
            let q = qmp
            let exports = (try await q.execute("query-block-exports").arrayValue ?? []).filter { $0["node-name"]?.stringValue == node }
            let ids = exports.compactMap { $0["id"]?.stringValue }
            // The export name is the id without its first character (`exportID`).
            let names = ids.map { String($0.utf8.dropFirst()) ?? "" }
            for id in ids { try await q.execute("block-export-del", ["id": .string(id), "mode": "hard"]) }
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline,
                  (try await q.execute("query-block-exports").arrayValue ?? []).contains(where: { ids.contains($0["id"]?.stringValue ?? "") }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            var failure: (any Error)?
            do {
                try await q.execute("block_resize", ["node-name": .string(node), "size": .int(Int64(bytes))])
            } catch {
                failure = error
            }
            // The exports come back whether or not the node grew.
            for (id, name) in zip(ids, names) {
                try await q.execute("block-export-add", ["type": "nbd", "id": .string(id), "node-name": .string(node), "name": .string(name),
                                                         "writable": true])
            }
            if let failure { throw failure }
            return true
        }
    }

    /// Whether the volume's file is open in the daemon (then only it may write the file).
    public func isOpen(volume: String) async -> Bool {
        guard let nodes = try? await qmp.execute("query-named-block-nodes", ["flat": true]).arrayValue else { return false }
        return nodes.contains { $0["node-name"]?.stringValue == Self.nodeName(volume) }
    }
}
