import Compute
import Testing

@Suite struct InterfaceTagTests {
    /// Given ports keep their tags; the ports made for networks take theirs in request order.
    @Test func tagsFollowTheirPorts() {
        let nics = [RequestedNIC(networkID: "n1", portID: nil, fixedIP: nil, tag: "first"),
                    RequestedNIC(networkID: nil, portID: "given", fixedIP: nil, tag: "mine"),
                    RequestedNIC(networkID: "n2", portID: nil, fixedIP: nil, tag: nil),
                    RequestedNIC(networkID: "n3", portID: nil, fixedIP: nil, tag: "third")]
        #expect(Instance.tags(of: nics, created: ["p1", "p2", "p3"]) == ["p1": "first", "given": "mine", "p3": "third"])
        #expect(Instance.tags(of: nics, created: []) == ["given": "mine"])
    }
}
