import Foundation
import NimbusCore
import Testing
@testable import ComputeNode

@Suite struct FakeDriverTests {
    let image = BytesImageSource(format: "raw", data: [1, 2, 3])

    @Test func lifecycle() async throws {
        let d = FakeDriver()
        let s = try spec()
        try await d.spawn(s, image: image)
        #expect(try await d.powerState(s.id) == .running)
        try await d.pause(s.id)
        #expect(try await d.powerState(s.id) == .paused)
        try await d.pause(s.id)   // idempotent
        try await d.unpause(s.id)
        try await d.powerOff(s.id, timeout: .seconds(1))
        #expect(try await d.powerState(s.id) == .shutdown)
        await #expect(throws: NimbusError.self) { try await d.pause(s.id) }
        try await d.powerOn(s.id)
        try await d.suspend(s.id)
        #expect(try await d.instances() == [s.id: .suspended])
        try await d.resume(s.id)
        try await d.reboot(s.id, hard: true)
        #expect(try await d.powerState(s.id) == .running)
        let console = try await d.consoleLog(s.id, lines: 1)
        #expect(console == "=== nimbus-test ready: hostname=vm-1 ip=none ===\n")
        #expect(try await d.consoleLog(s.id, lines: nil).components(separatedBy: "nimbus-test ready").count - 1 == 3)
        try await d.destroy(s.id)
        try await d.destroy(s.id)   // idempotent
        await #expect(throws: NimbusError.self) { try await d.powerState(s.id) }
        #expect(try await d.instances().isEmpty)
    }

    @Test func repeatedSpawnRestartsAStoppedInstance() async throws {
        let d = FakeDriver()
        let s = try spec()
        try await d.spawn(s, image: image)
        d.simulateCrash(s.id)
        #expect(try await d.powerState(s.id) == .shutdown)
        try await d.spawn(s, image: image)
        #expect(try await d.powerState(s.id) == .running)
    }

    @Test func injectedFailureHitsOnce() async throws {
        let d = FakeDriver()
        let s = try spec()
        d.failNext(.spawn)
        await #expect(throws: NimbusError.self) { try await d.spawn(s, image: image) }
        try await d.spawn(s, image: image)
        #expect(try await d.powerState(s.id) == .running)
    }

    @Test func refusesAnotherImage() async throws {
        let d = FakeDriver()
        await #expect(throws: NimbusError.self) { try await d.spawn(try spec(imageID: "other"), image: image) }
    }

    /// One process hosts a thousand fake nodes with ten instances each, cheaply.
    @Test func thousandNodes() async throws {
        let started = ContinuousClock.now
        let nodes = (0..<1000).map { _ in FakeDriver() }
        for (n, node) in nodes.enumerated() {
            for i in 0..<10 {
                try await node.spawn(try spec(String(format: "n%04d-i%02d", n, i)), image: image)
            }
        }
        var running = 0
        for node in nodes { running += try await node.instances().values.filter { $0 == .running }.count }
        #expect(running == 10_000)
        #expect(started.duration(to: .now) < .seconds(20))
    }
}
