import Foundation
import NimbusCore

/// A compute node as `os-hypervisors` shows it: the node's report and what its instances use,
/// summed as Nova's resource tracker sums them.
public struct HypervisorState: Sendable {
    public var service: ServiceRecord
    public var host: ComputeHost
    public var instances: [Instance]

    public var vcpus: Int { Int(host.hypervisor["vcpus"]?.intValue ?? 0) }
    public var memoryMB: Int { Int(host.hypervisor["memory_mb"]?.intValue ?? 0) }
    public var localGB: Int { Int(host.hypervisor["local_gb"]?.intValue ?? 0) }
    public var vcpusUsed: Int { instances.reduce(0) { $0 + $1.flavor.vcpus } }
    /// Reserved host memory (as the node reports it to Placement) plus the instances' RAM.
    public var memoryMBUsed: Int {
        min(ComputeNodeControl.reservedHostMemoryMB, memoryMB / 2) + instances.reduce(0) { $0 + $1.flavor.memoryMB }
    }
    /// Root and ephemeral disks plus swap (MiB summed, then whole GiB).
    public var localGBUsed: Int {
        instances.reduce(0) { $0 + $1.flavor.rootGB + $1.flavor.ephemeralGB } + instances.reduce(0) { $0 + $1.flavor.swapMB } / 1024
    }
    public var freeRAMMB: Int { memoryMB - memoryMBUsed }
    public var freeDiskGB: Int { localGB - localGBUsed }
    /// Instances with a task in progress (Nova's `current_workload`).
    public var currentWorkload: Int { instances.filter { $0.taskState != nil }.count }
    public var runningVMs: Int { instances.count }
}

extension ComputeService {
    /// Every compute node with its service and instances, in service id order.
    public func hypervisors() async throws -> [HypervisorState] {
        let byHost = try await instances.liveByHost()
        return try await services().compactMap { s in
            s.compute.map { HypervisorState(service: s, host: $0, instances: byHost[Name($0.host)] ?? []) }
        }
    }
}
