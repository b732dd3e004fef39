import Foundation
import NimbusCore
import Testing
@testable import ComputeNode

/// Volumes extended while attached: which ones the node must grow, and the NBD client options
/// that let a guest ride out the storage node restarting an export to grow it.
@Suite struct VolumeResizeTests {
    func volume(_ attachment: String, size: UInt64?) -> GuestVolume {
        GuestVolume(volumeID: "vol-" + attachment, attachmentID: attachment, socketPath: "/run/nbd.sock", export: "abc", readOnly: false,
                    sizeBytes: size)
    }

    @Test func resizedListsOnlyVolumesWhoseWantedSizeChanged() {
        let have = [volume("a", size: nil), volume("b", size: 1 << 30), volume("c", size: 2 << 30)]
        let wanted = [volume("a", size: 2 << 30), volume("b", size: 1 << 30), volume("c", size: nil), volume("d", size: 4 << 30)]
        // `a` grew; `b` is as it was; `c` has no wanted size (nothing to do); `d` is not plugged
        // yet (the plug connects afresh and sees its size).
        #expect(GuestVolume.resized(have: have, wanted: wanted).map(\.attachmentID) == ["a"])
        #expect(GuestVolume.resized(have: [], wanted: wanted).isEmpty)
    }

    @Test func sizesReportOnlyExtendedVolumes() {
        #expect(ComputeAgent.sizes([volume("a", size: nil)]) == nil)
        #expect(ComputeAgent.sizes([volume("a", size: nil), volume("b", size: 3 << 30)]) == ["b": 3 << 30])
    }

    @Test func nbdClientsReconnect() throws {
        let node = QEMUSystem.volumeNode(volume("a", size: nil))
        #expect(node["driver"]?.stringValue == "raw")
        #expect(node["file"]?["driver"]?.stringValue == "nbd")
        #expect(node["file"]?["reconnect-delay"]?.intValue == QEMUSystem.nbdReconnectDelay)
        #expect(node["file"]?["node-name"] == nil)
        let named = QEMUSystem.nbdNode(volume("a", size: nil), name: "vol-a-a")
        #expect(named["node-name"]?.stringValue == "vol-a-a")
        var ro = volume("a", size: nil)
        ro.readOnly = true
        #expect(QEMUSystem.volumeNode(ro)["read-only"]?.boolValue == true)
        #expect(QEMUSystem.nbdNode(ro)["read-only"]?.boolValue == true)
    }

    @Test func fakeDriverTakesTheNewSize() async throws {
        let d = FakeDriver()
        let s = try spec()
        try await d.spawn(s, image: BytesImageSource(format: "raw", data: [1]))
        try await d.setVolumes(s.id, [volume("a", size: nil)])
        try await d.setVolumes(s.id, [volume("a", size: 2 << 30)])
        #expect(try await d.volumes(s.id).map(\.sizeBytes) == [2 << 30])
    }
}
