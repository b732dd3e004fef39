import Testing
@testable import ObjectStorage

@Suite struct RingTests {
    func ring(devices: Int, zones: Int? = nil, partPower: Int = 8) throws -> Ring {
        var r = Ring(partPower: partPower, replicas: 3, hashPrefix: "p", hashSuffix: "s")
        for i in 0..<devices { try r.addDevice(name: "d\(i)", zone: (i % (zones ?? devices)) + 1, weight: 100, address: nil) }
        try r.rebalance()
        return r
    }

    @Test func everyPartitionHasDistinctDevicesInDistinctZones() throws {
        let r = try ring(devices: 6, zones: 3)
        for p in 0..<r.partitionCount {
            let devices = r.primaries(partition: p)
            #expect(devices.count == 3)
            #expect(Set(devices.map(\.id)).count == 3)
            #expect(Set(devices.map(\.zone)).count == 3)
        }
    }

    @Test func partitionsAreSpreadByWeight() throws {
        var r = try ring(devices: 4)
        try r.setWeight(name: "d3", weight: 200)
        try r.rebalance()
        var counts = [Int: Int]()
        for row in r.assignment { for id in row { counts[id, default: 0] += 1 } }
        let total = r.partitionCount * 3
        // d3 has 2/5 of the weight but may hold at most one replica of each partition.
        #expect(counts[3]! <= r.partitionCount)
        #expect(counts[3]! > counts[0]!)
        #expect(counts.values.reduce(0, +) == total)
    }

    @Test func addingADeviceMovesOnlyItsShare() throws {
        var r = try ring(devices: 3)
        let before = r.assignment
        try r.addDevice(name: "new", zone: 4, weight: 100, address: nil)
        try r.rebalance()
        var moved = 0
        for (a, b) in zip(before, r.assignment) { for (x, y) in zip(a, b) where x != y { moved += 1 } }
        let share = r.partitionCount * 3 / 4
        #expect(moved > 0)
        #expect(moved <= share + r.partitionCount / 8)
    }

    @Test func tooFewDevicesIsAnError() throws {
        var r = Ring(partPower: 4, replicas: 3)
        try r.addDevice(name: "a", zone: 1, weight: 1, address: nil)
        #expect(throws: Ring.BuildError.self) { try r.rebalance() }
        #expect(throws: Ring.BuildError.self) { try r.addDevice(name: "a", zone: 2, weight: 1, address: nil) }
    }

    @Test func hashesAndPartitionsAreStableAndInRange() throws {
        let r = try ring(devices: 3)
        let h = r.hash(account: "AUTH_x", container: "c", object: "o")
        #expect(h.count == 32)
        #expect(h == r.hash(account: "AUTH_x", container: "c", object: "o"))
        #expect(h != r.hash(account: "AUTH_x", container: "c", object: "o2"))
        #expect((0..<r.partitionCount).contains(r.partition(forHash: h)))
        let handoffs = r.handoffs(partition: 5)
        #expect(Set(handoffs.map(\.id)).isDisjoint(with: r.primaries(partition: 5).map(\.id)))
    }
}

@Suite struct ParsingTests {
    @Test func byteRanges() {
        #expect(ByteRanges.parse("bytes=0-4", size: 10) == [0..<5])
        #expect(ByteRanges.parse("bytes=5-", size: 10) == [5..<10])
        #expect(ByteRanges.parse("bytes=-3", size: 10) == [7..<10])
        #expect(ByteRanges.parse("bytes=0-1,4-5", size: 10) == [0..<2, 4..<6])
        #expect(ByteRanges.parse("bytes=8-100", size: 10) == [8..<10])
        #expect(ByteRanges.parse("bytes=10-", size: 10) == [])        // unsatisfiable: 416
        #expect(ByteRanges.parse("bytes=5-2", size: 10) == nil)       // malformed: ignored
        #expect(ByteRanges.parse("items=0-1", size: 10) == nil)
        #expect(ByteRanges.parse("bytes=a-b", size: 10) == nil)
    }

    @Test func containerACLs() {
        let acl = ContainerACL(".r:*, .rlistings, projA:userB, *:userC, reader-role")
        #expect(acl.listings)
        #expect(acl.referrerAllowed(nil))
        #expect(acl.groups == ["projA:userB", "*:userC", "reader-role"])
        let referrers = ContainerACL(".r:.example.com,.r:-bad.example.com")
        #expect(referrers.referrerAllowed("http://www.example.com/page"))
        #expect(!referrers.referrerAllowed("http://bad.example.com/"))
        #expect(!referrers.referrerAllowed("http://other.org/"))
        #expect(!referrers.referrerAllowed(nil))
        #expect(ContainerACL(".x:foo, .r:, .r:-").invalid == [".x:foo", ".r:", ".r:-"])
        #expect(ContainerACL(" .referrer : * , .rlistings,a:b").invalid.isEmpty)
        #expect(ContainerACL(" .referrer : * , .rlistings,a:b").cleaned == [".r:*", ".rlistings", "a:b"])
    }

    @Test func tempURLSignatures() {
        let (size, bytes) = SwiftRequest.decodeSignature(String(repeating: "ab", count: 32))
        #expect(size == 32 && bytes?.count == 32)
        #expect(SwiftRequest.decodeSignature("sha512:" + String(repeating: "A", count: 86)).0 == 64)
        #expect(SwiftRequest.decodeSignature("zz").1 == nil)
        #expect(SwiftRequest.decodeSignature("md5:AAAA").1 == nil)
    }

    @Test func versionNames() {
        #expect(ObjectStorageService.versionName("obj", "0000000001.00000") == "003obj/0000000001.00000")
    }
}
