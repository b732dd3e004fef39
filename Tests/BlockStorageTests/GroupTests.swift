import BlockStorage
import Foundation
import Logging
import NimbusCore
import NimbusStore
import NimbusTestSupport
import StorageNode
import Testing

@Suite struct GroupTests {
    /// A group of the default volume type for `alice`, available.
    func group(_ s: VolumeService) async throws -> (group: String, type: String) {
        let gt = try #require(try await s.createGroupType(name: "gt-\(Identifiers.hex32().prefix(6))", description: nil, isPublic: true, specs: [:])["id"]?.stringValue)
        let g = try #require(try await s.createGroup(name: "g", description: nil, groupType: gt, volumeTypes: ["__DEFAULT__"], availabilityZone: nil,
                                                     actor: alice)["id"]?.stringValue)
        await s.settle()
        #expect(status(s, .group, g) == "available")
        return (g, gt)
    }

    func member(_ s: VolumeService, _ g: String) async throws -> String {
        var r = blank(1)
        r.groupID = g
        let id = try #require(try await s.createVolume(r, actor: alice, caller: anyone)["id"]?.stringValue)
        await s.settle()
        return id
    }

    @Test func groupSnapshotsAndGroupsFromThemFollowTheirMembers() async throws {
        try await withVolumeService { s, backend, _ in
            let (g, gt) = try await group(s)
            let v1 = try await member(s, g), v2 = try await member(s, g)
            #expect(s.state.volumes(inGroup: g).count == 2)
            // Another project can neither see the group nor put a volume in it.
            #expect(throws: NimbusError.self) { try s.group(g, actor: bob) }
            var intruder = blank(1)
            intruder.groupID = g
            await #expect(throws: NimbusError.self) { _ = try await s.createVolume(intruder, actor: bob, caller: anyone) }
            await #expect(throws: NimbusError.self) { try await s.deleteGroupType(gt) }

            let gs = try #require(try await s.createGroupSnapshot(groupID: g, name: "gs", description: nil, actor: alice)["id"]?.stringValue)
            await s.settle()
            #expect(status(s, .groupSnapshot, gs) == "available")
            let snaps = s.state.snapshots(inGroupSnapshot: gs)
            #expect(snaps.count == 2 && snaps.allSatisfy { $0["status"]?.stringValue == "available" })
            #expect(Set(snaps.compactMap { $0["volume_id"]?.stringValue }) == [v1, v2])

            let copy = try #require(try await s.createGroup(fromGroupSnapshot: gs, sourceGroup: nil, name: "copy", description: nil, actor: alice)["id"]?.stringValue)
            await s.settle()
            #expect(status(s, .group, copy) == "available")
            let copies = s.state.volumes(inGroup: copy)
            #expect(copies.count == 2 && copies.allSatisfy { $0["status"]?.stringValue == "available" })
            #expect(copies.allSatisfy { backend.size(of: $0["id"]!.stringValue!) == 1 })

            // The group cannot go while it has group snapshots; a member cannot go on its own.
            await #expect(throws: NimbusError.self) { try await s.deleteGroup(g, deleteVolumes: true, actor: alice) }
            await #expect(throws: NimbusError.self) { try await s.deleteVolume(v1, cascade: false, force: true, actor: admin) }
            try await s.deleteGroupSnapshot(gs, actor: alice)
            await s.settle()
            #expect(s.state[.groupSnapshot, gs] == nil && s.state.snapshots(inGroupSnapshot: gs).isEmpty)
            await #expect(throws: NimbusError.self) { try await s.deleteGroup(g, deleteVolumes: false, actor: alice) }
            try await s.deleteGroup(g, deleteVolumes: true, actor: alice)
            try await s.deleteGroup(copy, deleteVolumes: true, actor: alice)
            await s.settle()
            #expect(s.state[.group, g] == nil && s.state[.volume, v1] == nil && backend.size(of: v2) == nil)
            #expect(s.state.all(.volume).isEmpty)
            try await s.deleteGroupType(gt)
        }
    }

    @Test func aRestartEndsWhatWasInFlight() async throws {
        try await withVolumeService(engines: ["sqlite"]) { s, backend, db in
            let (g, _) = try await group(s)
            _ = try await member(s, g)
            // As a crash leaves them: a group snapshot being made, a group being deleted.
            let gs = try #require(try await s.createGroupSnapshot(groupID: g, name: nil, description: nil, actor: alice)["id"]?.stringValue)
            await s.settle()
            try await s.resetGroupSnapshotStatus(gs, status: "creating", actor: admin)
            let (g2, _) = try await group(s)
            let m2 = try await member(s, g2)
            try await s.resetGroupStatus(g2, status: "deleting", actor: admin)
            let again = try await VolumeService(store: VolumeStore(database: db), backend: backend, images: nil, logger: Logger(label: "test"))
            try await again.recover()
            await again.settle()
            #expect(status(again, .groupSnapshot, gs) == "error")
            #expect(again.state[.group, g2] == nil && again.state[.volume, m2] == nil && backend.size(of: m2) == nil)
            // An unknown status is refused.
            await #expect(throws: NimbusError.self) { try await again.resetGroupStatus(g, status: "sideways", actor: admin) }
        }
    }
}
