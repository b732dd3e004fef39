import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Compute

/// The password a guest posts to the metadata service (nova/api/metadata/password.py), at the
/// service: the HTTP side is tested end to end in tests/test_adversarial_review_password.py.
@Suite struct PasswordTests {
    @Test(arguments: Engines.available)
    func setOnceBoundedAndConflictFirst(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        let i = try await f.instance("a")
        let max = ComputeService.maxPasswordBytes
        #expect(try await f.service.postPassword(instance: i.id, body: Array(repeating: 0x78, count: max + 1)) == .tooLarge)
        #expect(try await f.service.postPassword(instance: i.id, body: [0xff, 0xfe]) == .notUTF8)
        // an empty password is not one set (Nova: `if meta_data.password`)
        #expect(try await f.service.postPassword(instance: i.id, body: []) == .stored)
        // 1,020 bytes of a two-byte character split at the end: 1,019 would not be UTF-8
        let e = Array("é".utf8)
        #expect(try await f.service.postPassword(instance: i.id, body: Array([[UInt8]](repeating: e, count: max / 2).joined())) == .stored)
        #expect(try await f.instances(i.id)?.password?.utf8.count == max)
        // set: a conflict whatever the body (Nova checks that before the size)
        #expect(try await f.service.postPassword(instance: i.id, body: Array("x".utf8)) == .conflict)
        #expect(try await f.service.postPassword(instance: i.id, body: Array(repeating: 0x78, count: max + 1)) == .conflict)
        try await f.service.clearPassword(instance: i.id)
        #expect(try await f.instances(i.id)?.password == nil)
        #expect(try await f.service.postPassword(instance: i.id, body: Array("k\u{212A}".utf8)) == .stored)
        #expect(try await f.instances(i.id)?.password.map { Array($0.utf8) } == Array("k\u{212A}".utf8))
        // deleted, or never there
        _ = try await f.service.instances.modify(i.id) { $0.deleted = true }
        #expect(try await f.service.postPassword(instance: i.id, body: Array("x".utf8)) == .noInstance)
        #expect(try await f.service.postPassword(instance: Identifiers.uuid(), body: Array("x".utf8)) == .noInstance)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func concurrentPostsOneWins(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        let i = try await f.instance("a")
        let outcomes = try await withThrowingTaskGroup(of: ComputeService.PasswordPost.self) { g in
            for n in 0..<8 { g.addTask { try await f.service.postPassword(instance: i.id, body: Array("p\(n)".utf8)) } }
            return try await g.reduce(into: [ComputeService.PasswordPost]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .stored }.count == 1 && outcomes.filter { $0 == .conflict }.count == 7)
        await f.cleanup()
    }
}

extension ComputeFixture {
    func instances(_ id: String) async throws -> Instance? { try await service.instances.get(id) }
}
