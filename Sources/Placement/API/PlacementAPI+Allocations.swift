import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

extension PlacementAPI {
    func consumerAllocationsView(_ s: PlacementState, _ uuid: String, _ v: Microversion) -> JSONValue {
        guard let c = s.consumer(uuid), !c.allocations.isEmpty else { return ["allocations": [:]] }
        var byProvider = [Int: JSONObject]()
        for a in c.allocations { byProvider[a.provider, default: [:]][s.className(a.resourceClass)] = .int(a.used) }
        var allocations = JSONObject()
        for (p, resources) in byProvider {
            allocations[s[p].uuid] = ["generation": .int(s[p].generation), "resources": .object(resources)]
        }
        var o: JSONObject = ["allocations": .object(allocations)]
        if v.atLeast(12) {
            o["project_id"] = .string(c.projectID)
            o["user_id"] = .string(c.userID)
            if v.atLeast(28) { o["consumer_generation"] = .int(c.generation) }
            if v.atLeast(38) { o["consumer_type"] = .string(c.consumerType ?? "unknown") }
        }
        return .object(o)
    }

    /// One consumer's part of a PUT or POST body, as the service takes it.
    func consumerRequest(_ uuid: String, _ o: JSONValue, v: Microversion) -> ConsumerAllocationRequest {
        var allocations = [(provider: String, resources: [(String, Int64)])]()
        if v.atLeast(12) {
            for (rp, entry) in (o["allocations"]?.objectValue ?? [:]).sortedMembers {
                allocations.append((rp, (entry["resources"]?.objectValue ?? [:]).sortedMembers.map { ($0.key, $0.value.intValue ?? 0) }))
            }
        } else {
            for item in o["allocations"]?.arrayValue ?? [] {
                let rp = item["resource_provider"]?["uuid"]?.stringValue ?? ""
                let resources = (item["resources"]?.objectValue ?? [:]).sortedMembers.map { ($0.key, $0.value.intValue ?? 0) }
                if let i = allocations.firstIndex(where: { $0.provider.sameBytes(as: rp) }) { allocations[i].resources = resources }
                else { allocations.append((rp, resources)) }
            }
        }
        let settings = service.settings
        let generation: Int64?? = o["consumer_generation"].map { $0.intValue }
        return ConsumerAllocationRequest(
            consumerUUID: uuid,
            projectID: o["project_id"]?.stringValue ?? settings.incompleteConsumerProjectID,
            userID: o["user_id"]?.stringValue ?? settings.incompleteConsumerUserID,
            consumerGeneration: generation, consumerType: o["consumer_type"]?.stringValue, allocations: allocations)
    }

    func addAllocationRoutes(_ t: inout RouteTable) {
        route(&t, .get, "/allocations/{consumer_uuid}") { req, ctx, v in
            try self.authorize("placement:allocations:list", ctx)
            try Self.checkAccept(req)
            let uuid = try ctx.parameter("consumer_uuid")
            return self.service.read { s in Self.json(self.consumerAllocationsView(s, uuid, v), v: v, modified: s.consumer(uuid)?.updatedAt) }
        }
        route(&t, .put, "/allocations/{consumer_uuid}") { req, ctx, v in
            try self.authorize("placement:allocations:update", ctx)
            let raw = try ctx.parameter("consumer_uuid")
            guard let uuid = Self.canonicalUUID(raw) else { throw NimbusError.badRequest("Malformed consumer_uuid: \(raw)") }
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.putAllocations(v))
            let request = self.consumerRequest(uuid, body, v: v)
            try await self.service.write({ s in try s.replaceAllocations([request], checkConsumerGeneration: v.atLeast(28)) }) { _ in () }
            return Self.noContent()
        }
        route(&t, .delete, "/allocations/{consumer_uuid}") { req, ctx, v in
            try self.authorize("placement:allocations:delete", ctx)
            let uuid = try ctx.parameter("consumer_uuid")
            try await self.service.write({ s in try s.deleteAllocations(uuid) }) { _ in () }
            return Self.noContent()
        }
        route(&t, .post, "/allocations", since: 13) { req, ctx, v in
            try self.authorize("placement:allocations:manage", ctx)
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.postAllocations(v))
            let requests = (body.objectValue ?? [:]).sortedMembers.map { self.consumerRequest($0.key, $0.value, v: v) }
            try await self.service.write({ s in try s.replaceAllocations(requests, checkConsumerGeneration: v.atLeast(28)) }) { _ in () }
            return Self.noContent()
        }
        route(&t, .get, "/resource_providers/{uuid}/allocations") { req, ctx, v in
            try self.authorize("placement:resource_providers:allocations:list", ctx)
            try Self.checkAccept(req)
            let uuid = try ctx.parameter("uuid")
            return try self.service.read { s in
                let p = try s.providerOrNotFound(uuid, "Resource provider '\(uuid)' not found: No resource provider with uuid \(uuid) found")
                var out = JSONObject()
                for key in s.consumers(of: p) {
                    guard let c = s.consumers[key] else { continue }
                    var resources = JSONObject()
                    for a in c.allocations where a.provider == p { resources[s.className(a.resourceClass)] = .int(a.used) }
                    var o: JSONObject = ["resources": .object(resources)]
                    if v.atLeast(28) { o["consumer_generation"] = .int(c.generation) }
                    out[c.uuid] = .object(o)
                }
                return Self.json(["allocations": .object(out), "resource_provider_generation": .int(s[p].generation)], v: v)
            }
        }
        route(&t, .post, "/reshaper", since: 30) { req, ctx, v in
            try self.authorize("placement:reshaper:reshape", ctx)
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.reshaper(v))
            let inventories = (body["inventories"]?.objectValue ?? [:]).sortedMembers.map { entry in
                (provider: entry.key, generation: entry.value["resource_provider_generation"]?.intValue ?? -1,
                 records: (entry.value["inventories"]?.objectValue ?? [:]).sortedMembers.map { ($0.key, Self.inventory(from: $0.value)) })
            }
            let allocations = (body["allocations"]?.objectValue ?? [:]).sortedMembers.map { self.consumerRequest($0.key, $0.value, v: v) }
            try await self.service.write({ s in try s.reshape(inventories: inventories, allocations: allocations) }) { _ in () }
            return Self.noContent()
        }
    }
}
