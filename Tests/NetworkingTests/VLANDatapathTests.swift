@testable import NetworkNode
import Foundation
import Testing

/// Provider VLANs as the linuxbridge agent makes them: a tagged subinterface of the physical
/// network's interface, named `<interface>.<vlan>` (hashed when that passes 15 bytes).
@Suite struct VLANDatapathTests {
    @Test func subinterfaceNames() {
        #expect(LinuxDatapath.vlanDevice(parent: "eth1", id: 100) == "eth1.100")
        #expect(LinuxDatapath.vlanDevice(parent: "enp0s31f6abc", id: 4094).utf8.count <= 15)
        let long = LinuxDatapath.vlanDevice(parent: "physicalnic0", id: 4094)
        #expect(long.hasPrefix("vl") && long.hasSuffix(".4094") && long.utf8.count == 13)
        // Two long parents with one VLAN id get two names.
        #expect(LinuxDatapath.vlanDevice(parent: "physicalnic0", id: 7) != LinuxDatapath.vlanDevice(parent: "physicalnic1", id: 7))
        #expect(LinuxDatapath.isVLAN("eth1.100") && LinuxDatapath.isVLAN(long))
        for other in ["eth1", "brq0123456789a", "vxlan-100", "a.0", "a.4095", "a.12345", ".100", "a.1x"] {
            #expect(!LinuxDatapath.isVLAN(other), "\(other)")
        }
    }
}
