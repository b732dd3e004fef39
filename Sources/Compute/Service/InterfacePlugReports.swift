import Synchronization

/// What the compute nodes said about an instance's interfaces while an interface attach waits:
/// the attach marks the instance before its port exists, then waits for a hot-plug report made
/// after the mark (one made before it may predate the port). Reports reach the controller that
/// a node talks to; an attach served by another controller hears none and stops waiting at its
/// deadline.
final class InterfacePlugReports: Sendable {
    struct Report: Sendable {
        var seq: Int
        var plugged: [String]
        var failure: String?
    }

    private struct Entry {
        var listeners = 0
        var seq = 0
        var last: Report?
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Attaches past the interface bound's check whose port is not yet on the instance.
    private let pending = Mutex<[String: Int]>([:])

    /// Takes one of the instance's interface slots for an attach, or false when `count` (the
    /// interfaces it has) and the attaches still allocating leave none; `count` is read under the
    /// lock, so attaches sent together cannot all pass the bound.
    func claimSlot(_ instance: String, max: Int, count: () -> Int) -> Bool {
        pending.withLock { p in
            let n = p[instance] ?? 0
            guard count() + n < max else { return false }
            p[instance] = n + 1
            return true
        }
    }

    /// Gives back a slot once the attach's port is on the instance (or the attach failed).
    func releaseSlot(_ instance: String) {
        pending.withLock { p in
            let n = (p[instance] ?? 1) - 1
            p[instance] = n > 0 ? n : nil
        }
    }

    /// Starts listening to the instance's reports; returns the mark that later reports pass.
    func mark(_ instance: String) -> Int {
        entries.withLock { e in
            var x = e[instance] ?? Entry()
            x.listeners += 1
            e[instance] = x
            return x.seq
        }
    }

    func unmark(_ instance: String) {
        entries.withLock { e in
            guard var x = e[instance] else { return }
            x.listeners -= 1
            e[instance] = x.listeners > 0 ? x : nil
        }
    }

    /// A node's report, kept only while someone listens.
    func record(_ instance: String, plugged: [String], failure: String?) {
        entries.withLock { e in
            guard var x = e[instance] else { return }
            x.seq += 1
            x.last = Report(seq: x.seq, plugged: plugged, failure: failure)
            e[instance] = x
        }
    }

    /// The newest report made after `mark`.
    func latest(_ instance: String, after mark: Int) -> Report? {
        entries.withLock { e in e[instance]?.last.flatMap { $0.seq > mark ? $0 : nil } }
    }
}
