import Foundation
import Logging
import NimbusCore
import Synchronization

/// Makes a host's kernel match a `HostTopology`. Level-triggered and idempotent: each call
/// looks at what exists, adds what is missing, fixes what differs and removes what nothing
/// wants any more, so a restart (or `kill -9`) of Nimbus leaves traffic flowing and the next
/// call reconciles without duplicates.
public protocol Datapath: Sendable {
    /// Converges; returns the ids of the ports that are wired (Neutron's ACTIVE).
    func converge(_ t: HostTopology) async throws -> Set<String>
    /// Removes everything this datapath made.
    func teardown() async throws
}

/// The metadata service's listeners: one at 169.254.169.254:80 inside each namespace named
/// (namespace → the network it serves); listeners of namespaces no longer named are closed.
public protocol MetadataEndpoints: Sendable {
    func serve(namespaces: [String: String]) async
}

/// The scale-test datapath: remembers the last topology and calls every port wired (but those
/// administratively down, as the Linux one). Nothing touches the kernel.
public final class FakeDatapath: Datapath {
    private let last = Mutex<HostTopology?>(nil)
    public init() {}
    public var topology: HostTopology? { last.withLock { $0 } }
    public func converge(_ t: HostTopology) async throws -> Set<String> {
        last.withLock { $0 = t }
        return Set(t.ports.filter(\.adminUp).map(\.id) + t.dhcp.map(\.portID)
                   + t.routers.flatMap { r in (r.interfaces + (r.gateway.map { [$0] } ?? [])).filter(\.adminUp).map(\.portID) })
    }
    public func teardown() async throws { last.withLock { $0 = nil } }
}

/// Where the agent gets its topology from and reports port states to: the network service in
/// this process, or the controller's agent API for a `nimbus compute` node.
public protocol TopologySource: Sendable {
    /// The host's topology; the request is also the agent's heartbeat.
    func topology(_ agent: AgentHello) async throws -> HostTopology
    /// Of the ports in `considered` (those of the topology just converged), the `wired` ones.
    func reportWired(host: String, considered: Set<String>, wired: Set<String>) async throws
}

/// The network agent of one host: converges its datapath whenever the topology may have
/// changed (woken by the service) and at least every `interval`.
public actor NetworkAgent {
    let host: String
    let tunnelIP: String?
    let source: any TopologySource
    let datapath: any Datapath
    let interval: Duration
    let logger: Logger
    private var wake: AsyncStream<Void>.Continuation
    private let stream: AsyncStream<Void>
    /// What the last report said: the wired ports, and the floating IPs then mapped (their
    /// status follows their router's gateway, so a new mapping needs a report too).
    private var lastReport: (wired: Set<String>, floating: Set<String>)?

    public init(host: String, tunnelIP: String? = nil, source: any TopologySource, datapath: any Datapath, interval: Duration = .seconds(10),
                logger: Logger) {
        self.host = host
        self.tunnelIP = tunnelIP
        self.source = source
        self.datapath = datapath
        self.interval = interval
        self.logger = logger
        (stream, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a pass soon (coalesced).
    public nonisolated func poke() { Task { await self.yield() } }
    private func yield() { wake.yield() }

    /// One pass: topology, converge, report; false when it failed.
    @discardableResult
    public func pass() async -> Bool {
        do {
            let t = try await source.topology(AgentHello(host: host, tunnelIP: tunnelIP))
            let wired = try await datapath.converge(t)
            let floating = Set(t.routers.flatMap { r in
                r.floatingIPs.map { "\(r.id) \($0.floating) \($0.fixed)" } + r.portForwardings.map { "\(r.id) \($0.floating) forwarding" }
            })
            if lastReport?.wired != wired || lastReport?.floating != floating {
                try await source.reportWired(host: host, considered: t.portIDs, wired: wired)
                lastReport = (wired, floating)
            }
        } catch {
            logger.error("network agent pass failed: \(error)")
            return false
        }
        return true
    }

    /// Pass after pass, for a source whose `topology` waits until something changed (the
    /// controller's long poll); a failed pass waits `retry` before the next.
    public func runBackToBack(retry: Duration = .seconds(2)) async {
        while !Task.isCancelled {
            if await !pass() { try? await Task.sleep(for: retry) }
        }
    }

    public func run() async {
        let ticker = Task { [interval] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                self.poke()
            }
        }
        defer { ticker.cancel() }
        await pass()
        for await _ in stream {
            if Task.isCancelled { break }
            await pass()
        }
    }
}
