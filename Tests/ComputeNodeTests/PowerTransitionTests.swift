import NimbusCore
import Testing
@testable import ComputeNode

@Suite struct PowerTransitionTests {
    /// (from, action, expected): a state, nil for "nothing to do", or "conflict".
    static let table: [(PowerState, PowerAction, String)] = [
        (.running, .powerOff, "shutdown"), (.paused, .powerOff, "shutdown"), (.suspended, .powerOff, "shutdown"),
        (.crashed, .powerOff, "shutdown"), (.shutdown, .powerOff, "nil"),
        (.shutdown, .powerOn, "running"), (.crashed, .powerOn, "running"), (.suspended, .powerOn, "running"),
        (.running, .powerOn, "nil"), (.paused, .powerOn, "nil"),
        (.running, .softReboot, "running"), (.shutdown, .softReboot, "running"),
        (.paused, .hardReboot, "running"), (.suspended, .hardReboot, "running"), (.shutdown, .hardReboot, "running"),
        (.running, .pause, "paused"), (.paused, .pause, "nil"), (.shutdown, .pause, "conflict"), (.suspended, .pause, "conflict"),
        (.paused, .unpause, "running"), (.running, .unpause, "nil"), (.shutdown, .unpause, "conflict"),
        (.running, .suspend, "suspended"), (.paused, .suspend, "suspended"), (.suspended, .suspend, "nil"),
        (.shutdown, .suspend, "conflict"),
        (.suspended, .resume, "running"), (.running, .resume, "nil"), (.shutdown, .resume, "conflict"), (.paused, .resume, "conflict"),
    ]

    @Test(arguments: table.indices)
    func transition(_ i: Int) {
        let (from, action, expected) = Self.table[i]
        let got: String
        do { got = try from.after(action).map { "\($0)" } ?? "nil" } catch {
            #expect(error.kind == .conflict)
            got = "conflict"
        }
        #expect(got == expected, "\(from) + \(action)")
    }

    @Test func everyStateAndActionHasAnAnswer() {
        for s in PowerState.allCases {
            for a in PowerAction.allCases { _ = try? s.after(a) }
        }
    }
}
