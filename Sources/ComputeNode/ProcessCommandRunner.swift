import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The real `CommandRunner`: posix_spawn(3p) with an explicit argv (PATH lookup of argv[0]), the
/// caller's environment, stdin on /dev/null, and every descriptor above 2 closed in the child, so
/// a guest never inherits Nimbus' listening sockets or database files.
public struct ProcessCommandRunner: CommandRunner {
    /// Stop reading a killed command's pipes this long after SIGKILL (a grandchild may hold them).
    static let drainAfterKill: Duration = .seconds(2)

    public init() {}

    public func run(_ argv: [String], timeout: Duration) async throws -> CommandResult {
        try await Blocking.run { try Self.runBlocking(argv, timeout: timeout) }
    }

    public func startDetached(_ argv: [String], logPath: String) throws -> Int32 {
        let log = open(logPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard log >= 0 else { throw Self.spawnError(argv, "cannot open \(logPath)", errno) }
        defer { close(log) }
        let pid = try Self.spawn(argv, stdout: log, stderr: log, newSession: true)
        DetachedChildren.shared.insert(pid)
        return pid
    }

    public func reapDetached(_ pid: Int32) -> Int32? { DetachedChildren.shared.reap(pid) }

    // MARK: - blocking core

    static func runBlocking(_ argv: [String], timeout: Duration) throws -> CommandResult {
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        guard pipe(&out) == 0 else { throw spawnError(argv, "pipe", errno) }
        guard pipe(&err) == 0 else {
            close(out[0]); close(out[1])
            throw spawnError(argv, "pipe", errno)
        }
        // (pipe2 is not exported to Swift; spawns of this runner close inherited descriptors anyway.)
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let pid: Int32
        do {
            pid = try spawn(argv, stdout: out[1], stderr: err[1], newSession: false)
        } catch {
            for fd in out + err { close(fd) }
            throw error
        }
        close(out[1]); close(err[1])
        defer { close(out[0]); close(err[0]) }
        let (stdout, stderr, timedOut) = collect(pid: pid, stdout: out[0], stderr: err[0], timeout: timeout)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return CommandResult(argv: argv, status: decode(status), stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    /// Reads both pipes until EOF; at the deadline kills the child and drains a little longer.
    private static func collect(pid: Int32, stdout: Int32, stderr: Int32, timeout: Duration)
        -> (stdout: [UInt8], stderr: [UInt8], timedOut: Bool)
    {
        var buffers: [[UInt8]] = [[], []]
        var open = [true, true]
        var timedOut = false
        var deadline = ContinuousClock.now + timeout
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open[0] || open[1] {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero {
                if timedOut { break }
                timedOut = true
                kill(pid, SIGKILL)
                deadline = ContinuousClock.now + drainAfterKill
                continue
            }
            var fds = [pollfd(fd: open[0] ? stdout : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: open[1] ? stderr : -1, events: Int16(POLLIN), revents: 0)]
            let ms = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 1000))
            let n = poll(&fds, 2, ms)
            if n < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 where open[i] && fds[i].revents != 0 {
                let got = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    if buffers[i].count < CommandResult.maxCapturedBytes {
                        buffers[i].append(contentsOf: chunk[0..<min(got, CommandResult.maxCapturedBytes - buffers[i].count)])
                    }
                } else if got == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[i] = false
                }
            }
        }
        return (buffers[0], buffers[1], timedOut)
    }

    static func spawn(_ argv: [String], stdout: Int32, stderr: Int32, newSession: Bool) throws -> Int32 {
        guard let program = argv.first, !program.isEmpty else { throw spawnError(argv, "empty argv", EINVAL) }
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attr)
        defer { posix_spawn_file_actions_destroy(&actions); posix_spawnattr_destroy(&attr) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        _ = withUnsafeMutablePointer(to: &actions) { LibC.addCloseFrom($0, 3) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= LibC.POSIX_SPAWN_SETSID }
        posix_spawnattr_setflags(&attr, Int16(flags))

        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, &attr, &cArgs, environ)
        guard rc == 0 else { throw spawnError(argv, "cannot start \(program)", rc) }
        return pid
    }

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    static func spawnError(_ argv: [String], _ what: String, _ code: Int32) -> CommandError {
        CommandError(argv: argv, status: -1, stderr: "", reason: "failed: \(what): \(String(cString: strerror(code)))")
    }
}

/// The guest processes this process started. waitpid(2) is process-wide, so this table is too:
/// only pids in it are ever waited for, so a stale pidfile can never make the driver reap (and
/// steal the status of) an unrelated child that reused the pid. Every `reap` call reaps every
/// exited guest, not only the one asked about: a QEMU that exits while nobody looks at it (its
/// pidfile overwritten by a restart) must not stay a zombie; its status is kept until asked for.
final class DetachedChildren: Sendable {
    static let shared = DetachedChildren()
    static let maxKeptStatuses = 1024

    private struct State {
        var running: Set<Int32> = []
        var exited: [Int32: Int32] = [:]
    }
    private let state = Mutex(State())

    func insert(_ pid: Int32) {
        state.withLock { s in
            s.running.insert(pid)
            s.exited[pid] = nil   // an old status of a reused pid
        }
    }

    /// The exit status of `pid` if it was started here and has exited; nil while it runs or when
    /// it was not started by this process.
    func reap(_ pid: Int32) -> Int32? {
        state.withLock { s in
            for child in s.running {
                var status: Int32 = 0
                let r = waitpid(child, &status, WNOHANG)
                guard r == child || (r < 0 && errno == ECHILD) else { continue }
                s.running.remove(child)
                if s.exited.count >= Self.maxKeptStatuses { s.exited.removeAll() }
                s.exited[child] = r == child ? ProcessCommandRunner.decode(status) : -1
            }
            return s.exited.removeValue(forKey: pid)
        }
    }
}
