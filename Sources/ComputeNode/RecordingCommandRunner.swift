import Foundation
import Synchronization

/// The fake `CommandRunner`: records every argv and answers from a handler (success with empty
/// output by default). Detached starts get made-up pids that never exit.
public final class RecordingCommandRunner: CommandRunner {
    public enum Call: Sendable, Equatable {
        case run([String])
        case startDetached([String], logPath: String)

        public var argv: [String] {
            switch self {
            case .run(let a), .startDetached(let a, _): a
            }
        }
    }

    public typealias Handler = @Sendable ([String]) throws -> CommandResult

    private struct State {
        var calls: [Call] = []
        // Above any pid_max (at most 2^22), so a made-up pid can never name a real process.
        var nextPid: Int32 = 1 << 30
    }
    private let state = Mutex(State())
    private let handler: Handler

    public init(handler: @escaping Handler = { CommandResult(argv: $0) }) {
        self.handler = handler
    }

    public var calls: [Call] { state.withLock { $0.calls } }

    /// Every argv run whose program (argv[0]'s last path component) is `program`.
    public func argvs(of program: String) -> [[String]] {
        calls.map(\.argv).filter { ($0.first ?? "").splitBytes("/").last.map(String.init) == program }
    }

    public func run(_ argv: [String], timeout: Duration) async throws -> CommandResult {
        state.withLock { $0.calls.append(.run(argv)) }
        return try handler(argv)
    }

    public func startDetached(_ argv: [String], logPath: String) throws -> Int32 {
        let pid = state.withLock { s -> Int32 in
            s.calls.append(.startDetached(argv, logPath: logPath))
            s.nextPid += 1
            return s.nextPid
        }
        _ = try handler(argv)
        return pid
    }

    public func reapDetached(_ pid: Int32) -> Int32? { nil }
}
