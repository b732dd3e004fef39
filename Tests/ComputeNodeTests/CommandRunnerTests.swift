import Foundation
import Testing
@testable import ComputeNode

@Suite struct CommandRunnerTests {
    let runner = ProcessCommandRunner()

    @Test func capturesOutputAndStatus() async throws {
        let r = try await runner.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(10))
        #expect(r.status == 3 && r.stdoutText == "out\n" && r.stderrText == "err\n" && !r.timedOut)
        do {
            try r.check()
            Issue.record("no error")
        } catch {
            #expect(error.argv == ["sh", "-c", "echo out; echo err >&2; exit 3"])
            #expect(error.status == 3 && error.stderr == "err\n" && error.stdout == "out\n")
            #expect(error.description.contains("exited with status 3") && error.description.contains("stderr: err"))
        }
    }

    @Test func argumentsAreNotShellWords() async throws {
        let r = try await runner.run(["printf", "%s|", "a b", "$HOME", "`id`", ";", "*"], timeout: .seconds(10)).check()
        #expect(r.stdoutText == "a b|$HOME|`id`|;|*|")
    }

    @Test func killedAtTimeout() async throws {
        let started = ContinuousClock.now
        let r = try await runner.run(["sleep", "30"], timeout: .milliseconds(200))
        #expect(r.timedOut && r.status == 128 + SIGKILL)
        // Far less than the 30 s the child would sleep (the bound allows for a loaded machine).
        #expect(started.duration(to: .now) < .seconds(15))
        #expect(throws: CommandError.self) { try r.check() }
    }

    @Test func aBusyTapIsTheOnlyLaunchFailureTriedAgain() {
        let busy = CommandError(argv: ["qemu-system-x86_64"], status: 1, stderr: "qemu-system-x86_64: -netdev tap,id=n,ifname=tapx: could not configure /dev/net/tun (tapx): Device or resource busy",
                                reason: "exited with status 1 while starting")
        #expect(QEMUDriver.tapBusy(busy))
        let other = CommandError(argv: ["qemu-system-x86_64"], status: 1, stderr: "qemu-system-x86_64: could not open disk image: Device or resource busy",
                                 reason: "exited with status 1 while starting")
        #expect(!QEMUDriver.tapBusy(other))
    }

    @Test func missingProgram() async throws {
        await #expect(throws: CommandError.self) { try await runner.run(["/nonexistent/tool"], timeout: .seconds(5)) }
    }

    /// A child sees only stdin, stdout and stderr: no descriptor of this process leaks into it.
    @Test func childInheritsNoDescriptors() async throws {
        let leak = open("/dev/null", O_RDONLY)   // not close-on-exec
        defer { close(leak) }
        let r = try await runner.run(["ls", "/proc/self/fd"], timeout: .seconds(10)).check()
        let fds = r.stdoutText.split(separator: "\n").compactMap { Int($0) }.sorted()
        #expect(fds == [0, 1, 2, 3])   // 3: ls's own directory handle
    }

    @Test func detachedProcessIsItsOwnSessionAndIsReaped() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let pid = try runner.startDetached(["sh", "-c", "echo started; exec sleep 30"], logPath: dir.path + "/log")
        #expect(runner.reapDetached(pid) == nil)
        // The child runs setsid and the shell writes its line some time after the fork returns:
        // wait for the line (a loaded machine may take a while) before looking at the session.
        for _ in 0..<500 where (try? String(contentsOfFile: dir.path + "/log", encoding: .utf8)) != "started\n" {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(getsid(pid) == pid && getsid(pid) != getsid(0))
        kill(pid, SIGKILL)
        var status: Int32?
        for _ in 0..<100 where status == nil {
            status = runner.reapDetached(pid)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(status == 128 + SIGKILL)
        #expect(try String(contentsOfFile: dir.path + "/log", encoding: .utf8) == "started\n")
        #expect(runner.reapDetached(pid) == nil)   // not ours any more
    }

    @Test func recordingRunner() async throws {
        let fake = RecordingCommandRunner { argv in
            argv.first == "bad" ? CommandResult(argv: argv, status: 1, stderr: Array("no".utf8)) : CommandResult(argv: argv)
        }
        _ = try await fake.run(["/usr/bin/qemu-img", "create"], timeout: .seconds(1))
        let pid = try fake.startDetached(["qemu-system-x86_64", "-m", "64"], logPath: "/x/log")
        await #expect(throws: CommandError.self) { try await fake.run(["bad"], timeout: .seconds(1)).check() }
        #expect(fake.calls == [.run(["/usr/bin/qemu-img", "create"]), .startDetached(["qemu-system-x86_64", "-m", "64"], logPath: "/x/log"),
                               .run(["bad"])])
        #expect(fake.argvs(of: "qemu-img") == [["/usr/bin/qemu-img", "create"]])
        #expect(fake.reapDetached(pid) == nil)
    }
}
