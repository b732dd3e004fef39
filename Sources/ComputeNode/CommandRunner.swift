import Foundation

/// Runs host programs from argument arrays, never through a shell. Each external tool has its own
/// small wrapper (`QEMUSystem`, `QEMUImg`, `GenISOImage`) that builds the argv and reads the
/// result; the runner only executes. `ProcessCommandRunner` is the real one,
/// `RecordingCommandRunner` the fake for unit tests.
public protocol CommandRunner: Sendable {
    /// Runs `argv` to completion with stdin on /dev/null, capturing stdout and stderr (each kept
    /// up to `CommandResult.maxCapturedBytes`). Killed (SIGKILL) after `timeout`.
    func run(_ argv: [String], timeout: Duration) async throws -> CommandResult

    /// Starts `argv` as a long-lived guest process that must outlive this one: a new session (no
    /// signal to Nimbus' process group reaches it), stdin on /dev/null, stdout and stderr appended
    /// to `logPath`, no other inherited descriptor. Returns its pid at once.
    func startDetached(_ argv: [String], logPath: String) throws -> Int32

    /// For a process `startDetached` started: its exit status if it has exited (it is reaped
    /// then), nil while it runs or when it is not this process' child (e.g. after a restart).
    func reapDetached(_ pid: Int32) -> Int32?
}

public struct CommandResult: Sendable, Equatable {
    public static let maxCapturedBytes = 1 << 20
    public var argv: [String]
    /// Exit status; 128 + signal number when killed by a signal.
    public var status: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var timedOut: Bool

    public init(argv: [String], status: Int32 = 0, stdout: [UInt8] = [], stderr: [UInt8] = [], timedOut: Bool = false) {
        self.argv = argv; self.status = status; self.stdout = stdout; self.stderr = stderr; self.timedOut = timedOut
    }

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// Self when the command exited 0 in time, else a `CommandError` carrying all of it.
    @discardableResult
    public func check() throws(CommandError) -> CommandResult {
        guard status == 0, !timedOut else { throw CommandError(self) }
        return self
    }
}

/// A host command that failed: the argv, exit status, stdout and stderr, for logs and faults.
public struct CommandError: Error, Sendable, CustomStringConvertible {
    public var argv: [String]
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var reason: String

    public init(_ result: CommandResult, reason: String? = nil) {
        argv = result.argv; status = result.status
        stdout = result.stdoutText; stderr = result.stderrText
        self.reason = reason ?? (result.timedOut ? "timed out" : "exited with status \(result.status)")
    }

    public init(argv: [String], status: Int32, stdout: String = "", stderr: String, reason: String) {
        self.argv = argv; self.status = status; self.stdout = stdout; self.stderr = stderr; self.reason = reason
    }

    public var description: String {
        var s = "command \(argv.map(Self.quoted).joined(separator: " ")) \(reason)"
        if !stderr.isEmpty { s += "; stderr: \(Self.clipped(stderr))" }
        if !stdout.isEmpty { s += "; stdout: \(Self.clipped(stdout))" }
        return s
    }

    static func clipped(_ text: String, limit: Int = 2000) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let bytes = Array(trimmed.utf8)
        return bytes.count <= limit ? trimmed : "…" + String(decoding: bytes.suffix(limit), as: UTF8.self)
    }

    /// Shell-like quoting for the log line only; nothing is ever run through a shell.
    static func quoted(_ arg: String) -> String {
        let plain = arg.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "-_./=:,+@%".utf8.contains(b)
        }
        return plain && !arg.isEmpty ? arg : "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
