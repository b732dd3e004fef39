import Foundation
import NimbusCore
import Testing
@testable import ComputeNode

@Suite struct InstanceIDTests {
    @Test(arguments: ["6c2bd1c5-4c8c-4a4b-9a64-6b0a7a3c2f10", "a", "vm_1.test", String(repeating: "x", count: 64)])
    func accepts(_ id: String) throws {
        #expect(try InstanceID(id).rawValue == id)
    }

    @Test(arguments: ["", ".", "..", "../etc", "a/b", "/abs", ".hidden", "a,b", "a b", "a\u{0}b", "caf\u{E9}",
                      "\u{212A}", String(repeating: "x", count: 65), "a\nb", "x:y"])
    func refuses(_ id: String) {
        #expect(throws: NimbusError.self) { try InstanceID(id) }
    }

    @Test func decodingValidates() throws {
        let good = #"{"id":"abc","name":"n","hostname":"h","projectID":"p","userID":"u","vcpus":1,"memoryMB":64,"rootGB":0,"ephemeralGB":0,"swapMB":0,"imageID":"i"}"#
        let spec = try JSONDecoder().decode(InstanceSpec.self, from: Data(good.utf8))
        #expect(spec.id.rawValue == "abc")
        let bad = good.replacingOccurrences(of: #""id":"abc""#, with: #""id":"../../etc""#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(InstanceSpec.self, from: Data(bad.utf8)) }
    }

    @Test func uuidShape() throws {
        #expect(try InstanceID("6c2bd1c5-4c8c-4a4b-9a64-6b0a7a3c2f10").isUUID)
        #expect(try !InstanceID("6c2bd1c5-4c8c-4a4b-9a64-6b0a7a3c2f1").isUUID)
        #expect(try !InstanceID("6c2bd1c5x4c8c-4a4b-9a64-6b0a7a3c2f10").isUUID)
    }
}
