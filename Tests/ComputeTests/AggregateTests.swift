import Foundation
import NimbusCore
import NimbusTestSupport
import Testing
@testable import Compute

/// Aggregates and availability zones: Nova's zone rules and the zone the scheduler reads.
@Suite struct AggregateTests {
    static func message(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch let e as NimbusError { return "\(e.status) \(e.message)" } catch { return "\(error)" }
        return nil
    }

    @Test(arguments: Engines.available)
    func zonesFollowAggregates(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        try await f.host("h1")
        try await f.host("h2")
        let a = try await f.service.createAggregate(name: "rack", zone: "az1")
        _ = try await f.service.addAggregateHost(a.id, host: "h1")
        #expect(try await f.service.hosts.get(host: "h1")?.zone == "az1")
        #expect(try await f.service.hosts.get(host: "h2")?.zone == "nova")
        let zones = Dictionary(try await f.service.services().filter(\.isCompute).map { ($0.host, $0.zone) }, uniquingKeysWith: { a, _ in a })
        #expect(zones == ["h1": "az1", "h2": "nova"])
        #expect(try await f.service.availableZones() == ["az1", "nova"])
        // a second aggregate may not put h1 in another zone, but may share its zone
        let b = try await f.service.createAggregate(name: "other", zone: "az2")
        #expect(await Self.message { _ = try await f.service.addAggregateHost(b.id, host: "h1") }
            == "409 Cannot add host to aggregate \(b.id). Reason: One or more hosts already in availability zone(s) ['az1'].")
        _ = try await f.service.updateAggregate(b.id, name: nil, zone: .some("az1"))
        _ = try await f.service.addAggregateHost(b.id, host: "h1")
        #expect(await Self.message { _ = try await f.service.updateAggregate(b.id, name: nil, zone: .some("az9")) }
            == "400 Cannot update aggregate \(b.id). Reason: One or more hosts already in availability zone(s) ['az1'].")
        #expect(await Self.message { _ = try await f.service.setAggregateMetadata(b.id, [Name("availability_zone"): String?.none]) }
            == "400 Cannot update metadata of aggregate \(b.id). Reason: Aggregate other does not support empty named availability zone.")
        #expect(await Self.message { _ = try await f.service.createAggregate(name: "rack", zone: nil) } == "409 Aggregate rack already exists.")
        #expect(await Self.message { _ = try await f.service.updateAggregate(b.id, name: "rack", zone: nil) } == "409 Aggregate rack already exists.")
        #expect(await Self.message { _ = try await f.service.addAggregateHost(a.id, host: "nowhere") } == "404 Compute host nowhere could not be found.")
        #expect(await Self.message { try await f.service.deleteAggregate(a.id) }
            == "400 Cannot remove host from aggregate \(a.id). Reason: Host aggregate is not empty.")
        // instances pin the zone
        try await f.instance("pinned", host: "h1")
        _ = try await f.service.removeAggregateHost(b.id, host: "h1")     // rack still says az1
        #expect(await Self.message { _ = try await f.service.removeAggregateHost(a.id, host: "h1") }?
            .hasBytePrefix("409 Cannot remove host from aggregate \(a.id). Reason: The host cannot be removed from the aggregate as the availability zone of the host would change from 'az1' to 'None' but the host already has 1 instance(s).") == true)
        #expect(await Self.message { _ = try await f.service.setAggregateMetadata(a.id, [Name("availability_zone"): "az3"]) }
            == "400 Cannot update metadata of aggregate \(a.id). Reason: One or more hosts contain instances in this zone.")
        // metadata keys are bytes: two spellings of one word are two keys
        let m = try await f.service.setAggregateMetadata(a.id, [Name("caf\u{E9}"): "1", Name("cafe\u{301}"): "2"])
        #expect(m.metadata.count == 3)
        let n = try await f.service.setAggregateMetadata(a.id, [Name("cafe\u{301}"): String?.none])
        #expect(n.metadata[Name("caf\u{E9}")] == "1" && n.metadata[Name("cafe\u{301}")] == nil)
        await f.cleanup()
    }

    @Test(arguments: Engines.available)
    func deletingAServiceLeavesItsAggregates(_ engine: String) async throws {
        let f = try await ComputeFixture.make(engine)
        try await f.host("h1")
        let a = try await f.service.createAggregate(name: "rack", zone: "az1")
        _ = try await f.service.addAggregateHost(a.id, host: "h1")
        let busy = try await f.instance("x", host: "h1")
        let s = try #require(try await f.service.services().first { $0.isCompute })
        #expect(await Self.message { try await f.service.deleteComputeService(s) }?.hasBytePrefix("409 Unable to delete compute service that is hosting instances.") == true)
        _ = try await f.service.instances.modify(busy.id) { $0.deleted = true }
        try await f.service.deleteComputeService(s)
        #expect(try await f.service.aggregate(a.id).hosts.isEmpty)
        #expect(try await f.service.services().filter(\.isCompute).isEmpty)
        try await f.service.deleteAggregate(a.id)
        #expect(try await f.service.aggregates.list().isEmpty)
        await f.cleanup()
    }
}
