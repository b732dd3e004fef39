import NIOCore
import Testing
@testable import ObjectStorage

@Suite struct StorageNodeTests {
    @Test func namesThatCouldLeaveADeviceAreRefused() {
        #expect(StorageNames.isHash("0123456789abcdef0123456789abcdef"))
        #expect(!StorageNames.isHash("0123456789ABCDEF0123456789abcdef"))
        #expect(!StorageNames.isHash("../3456789abcdef0123456789abcdef"))
        #expect(StorageNames.isTimestamp("1700000000.00000"))
        #expect(!StorageNames.isTimestamp("1700000000.0000"))
        #expect(!StorageNames.isTimestamp("17000000/0.00000"))
        #expect(!StorageNames.isTimestamp("../../../..00000"))
        #expect(StorageNames.isFile("1700000000.00000.data"))
        #expect(StorageNames.isFile("1700000000.00000.meta"))
        #expect(!StorageNames.isFile("../1700000000.00000.data"))
        #expect(!StorageNames.isFile("1700000000.00000.tmp"))
        #expect(StorageNames.isDevice("d1") && StorageNames.isDevice("node-1.sdb_2"))
        #expect(!StorageNames.isDevice("..") && !StorageNames.isDevice("a/b") && !StorageNames.isDevice(""))
    }

    @Test func removalsRoundTripAndBadOnesAreRejected() {
        for r in [Removal.olderThan("1700000000.00000"), .timestamp("1700000001.00000"), .files(["1700000000.00000.data", "1700000000.00001.meta"])] {
            let bytes = Array(StorageNodeProtocol.encode(r).readableBytesView)
            #expect(StorageNodeProtocol.decodeRemoval(bytes) == r)
        }
        #expect(StorageNodeProtocol.decodeRemoval(Array(#"{"files": ["../../etc/passwd"]}"#.utf8)) == nil)
        #expect(StorageNodeProtocol.decodeRemoval(Array(#"{"older_than": "yesterday"}"#.utf8)) == nil)
        #expect(StorageNodeProtocol.decodeRemoval(Array("not json".utf8)) == nil)
    }

    @Test func metadataSurvivesTheHeaderEncoding() {
        let m = DiskMetadata(name: "/AUTH_x/c/ünïcode object", timestamp: "1700000000.00000", size: 3, etag: "900150983cd24fb0d6963f7d28e17f72",
                             headers: ["content-type": "text/plain", "x-object-meta-colour": "blau"])
        #expect(StorageNodeProtocol.decode(StorageNodeProtocol.encode(m)) == m)
        #expect(StorageNodeProtocol.decode("%%%") == nil)
    }

    @Test func framesCarryTheirKindAndLength() {
        var f = StorageNodeProtocol.frame(StorageNodeProtocol.dataFrame, ByteBuffer(string: "abc"))
        #expect(f.readInteger(as: UInt8.self) == StorageNodeProtocol.dataFrame)
        #expect(f.readInteger(as: UInt32.self) == 3)
        #expect(f.readString(length: 3) == "abc")
        #expect(StorageNodeAPI.parseRange("bytes=2-5") == 2..<6)
        #expect(StorageNodeAPI.parseRange("bytes=5-2") == nil)
        #expect(StorageNodeAPI.parseRange("bytes=-5") == nil)
    }
}
