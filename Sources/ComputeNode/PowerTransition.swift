import NimbusCore

/// A power action the agent asks of a driver.
public enum PowerAction: String, Sendable, CaseIterable {
    case powerOff, powerOn, softReboot, hardReboot, pause, unpause, suspend, resume
}

extension PowerState {
    /// The one table of legal power transitions, shared by every driver: the state `action` leads
    /// to from `self`, nil when the instance is there already (the call is a no-op), or a
    /// `.conflict` error when the action is not possible from this state.
    ///
    /// Follows Nova's libvirt driver: a soft reboot of a guest that is not running is a hard one;
    /// power on of a suspended guest resumes it; power off of a suspended guest discards its saved
    /// memory; a hard reboot works from any state (it is the "make it run" action).
    public func after(_ action: PowerAction) throws(NimbusError) -> PowerState? {
        switch (action, self) {
        case (.powerOff, .shutdown): return nil
        case (.powerOff, _): return .shutdown
        case (.powerOn, .running), (.powerOn, .paused): return nil
        case (.powerOn, _): return .running
        case (.softReboot, _), (.hardReboot, _): return .running
        case (.pause, .paused): return nil
        case (.pause, .running): return .paused
        case (.unpause, .running): return nil
        case (.unpause, .paused): return .running
        case (.suspend, .suspended): return nil
        case (.suspend, .running), (.suspend, .paused): return .suspended
        case (.resume, .running): return nil
        case (.resume, .suspended): return .running
        case (.pause, _), (.unpause, _), (.suspend, _), (.resume, _):
            throw NimbusError(.conflict, "Cannot \(action.rawValue) an instance in power state \(self)")
        }
    }
}
