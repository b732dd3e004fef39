import Foundation
import HTTPTypes
import Hummingbird
import NimbusCore
import NimbusHTTP

extension PlacementAPI {
    static func inventoryView(_ i: Inventory) -> JSONObject {
        ["total": .int(i.total), "reserved": .int(i.reserved), "min_unit": .int(i.minUnit), "max_unit": .int(i.maxUnit),
         "step_size": .int(i.stepSize), "allocation_ratio": .double(i.allocationRatio)]
    }

    static func inventoriesView(_ s: PlacementState, _ p: Int) -> JSONValue {
        var inv = JSONObject()
        for (rc, i) in s[p].inventories { inv[s.className(rc)] = .object(inventoryView(i)) }
        return ["inventories": .object(inv), "resource_provider_generation": .int(s[p].generation)]
    }

    static func inventory(from o: JSONValue?) -> Inventory {
        let int = { (k: String, d: Int64) in o?[k]?.intValue ?? d }
        let ratio: Double = switch o?["allocation_ratio"] { case .int(let i)?: Double(i); case .double(let d)?: d; default: 1.0 }
        return Inventory(total: int("total", 0), reserved: int("reserved", 0), minUnit: int("min_unit", 1),
                         maxUnit: int("max_unit", Int64(Int32.max)), stepSize: int("step_size", 1), allocationRatio: ratio)
    }

    func addInventoryRoutes(_ t: inout RouteTable) {
        let base = "/resource_providers/{uuid}/inventories"
        route(&t, .get, base) { req, ctx, v in
            try self.authorize("placement:resource_providers:inventories:list", ctx)
            try Self.checkAccept(req)
            let uuid = try ctx.parameter("uuid")
            return try self.service.read { s in
                let p = try s.providerOrNotFound(uuid, "No resource provider with uuid \(uuid) found")
                return Self.json(Self.inventoriesView(s, p), v: v, modified: s[p].updatedAt)
            }
        }
        route(&t, .put, base) { req, ctx, v in
            try self.authorize("placement:resource_providers:inventories:update", ctx)
            let uuid = try ctx.parameter("uuid")
            _ = try self.service.read { s in try s.providerOrNotFound(uuid) }
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.putInventories)
            let generation = try Self.field(body, "resource_provider_generation", \.intValue)
            let records = (body["inventories"]?.objectValue ?? [:]).sortedMembers.map { ($0.key, Self.inventory(from: $0.value)) }
            let view = try await self.service.write({ s in
                try s.setInventories(try s.providerOrNotFound(uuid), records, generation: generation, reservedMayEqualTotal: v.atLeast(26))
            }) { s in Self.inventoriesView(s, s.provider(uuid: uuid)!) }
            return Self.json(view, v: v)
        }
        route(&t, .delete, base, since: 5, missing: .methodNotAllowed) { req, ctx, v in
            try self.authorize("placement:resource_providers:inventories:delete", ctx)
            let uuid = try ctx.parameter("uuid")
            try await self.service.write({ s in
                let p = try s.providerOrNotFound(uuid)
                return try s.setInventories(p, [], generation: nil, reservedMayEqualTotal: true) { $0 }
            }) { _ in () }
            return Self.noContent()
        }
        route(&t, .post, base) { req, ctx, v in
            try self.authorize("placement:resource_providers:inventories:create", ctx)
            let uuid = try ctx.parameter("uuid")
            _ = try self.service.read { s in try s.providerOrNotFound(uuid) }
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.postInventory)
            let rcName = try Self.field(body, "resource_class", \.stringValue)
            let record = Self.inventory(from: body)
            let view = try await self.service.write({ s in
                let p = try s.providerOrNotFound(uuid)
                guard let rc = s.resourceClass(rcName) else {
                    throw NimbusError.badRequest("Unable to create inventory for resource provider \(uuid): No such resource class \(rcName).")
                }
                if s[p].inventories[rc] != nil {
                    throw NimbusError.concurrentUpdate("Update conflict: Inventory for '\(rcName)' on resource provider '\(uuid)' already exists.")
                }
                if record.reserved > record.total || (!v.atLeast(26) && record.reserved == record.total) {
                    throw NimbusError.badRequest("Unable to create inventory for resource provider \(uuid): Invalid inventory for '\(rcName)' on resource provider '\(uuid)'. The reserved value is greater than\(v.atLeast(26) ? "" : " or equal to") total.")
                }
                return try s.setInventories(p, s.inventoryRecords(p) + [(rcName, record)], generation: body["resource_provider_generation"]?.intValue,
                                            reservedMayEqualTotal: true)
            }) { s in
                var o = Self.inventoryView(record)
                o["resource_provider_generation"] = .int(s[s.provider(uuid: uuid)!].generation)
                return JSONValue.object(o)
            }
            return Self.json(view, status: .created, v: v, location: Self.absolute(req, "\(self.providerURL(uuid))/inventories/\(rcName)"))
        }
        route(&t, .get, base + "/{resource_class}") { req, ctx, v in
            try self.authorize("placement:resource_providers:inventories:show", ctx)
            try Self.checkAccept(req)
            let uuid = try ctx.parameter("uuid"), rcName = try ctx.parameter("resource_class")
            return try self.service.read { s in
                let p = try s.providerOrNotFound(uuid, "No resource provider with uuid \(uuid) found")
                guard let rc = s.resourceClass(rcName), let inv = s[p].inventories[rc] else {
                    throw NimbusError.notFound("No inventory of class \(rcName) for \(uuid)")
                }
                var o = Self.inventoryView(inv)
                o["resource_provider_generation"] = .int(s[p].generation)
                return Self.json(.object(o), v: v, modified: s[p].updatedAt)
            }
        }
        route(&t, .put, base + "/{resource_class}") { req, ctx, v in
            try self.authorize("placement:resource_providers:inventories:update", ctx)
            let uuid = try ctx.parameter("uuid"), rcName = try ctx.parameter("resource_class")
            _ = try self.service.read { s in try s.providerOrNotFound(uuid) }
            let body = try await Self.body(req, ctx, schema: PlacementSchemas.baseInventory)
            let record = Self.inventory(from: body)
            let generation = try Self.field(body, "resource_provider_generation", \.intValue)
            let view = try await self.service.write({ s in
                let p = try s.providerOrNotFound(uuid)
                try s.checkGeneration(p, generation)
                guard let rc = s.resourceClass(rcName), s[p].inventories[rc] != nil else {
                    throw NimbusError.badRequest("No inventory record with resource class for resource provider \(uuid): No inventory of class \(rcName) found.")
                }
                if record.reserved > record.total || (!v.atLeast(26) && record.reserved == record.total) {
                    throw NimbusError.badRequest("Unable to update inventory for resource provider \(uuid): Invalid inventory for '\(rcName)' on resource provider '\(uuid)'. The reserved value is greater than\(v.atLeast(26) ? "" : " or equal to") total.")
                }
                let records = s.inventoryRecords(p).filter { !$0.0.sameBytes(as: rcName) } + [(rcName, record)]
                return try s.setInventories(p, records, generation: generation, reservedMayEqualTotal: true)
            }) { s in
                var o = Self.inventoryView(record)
                o["resource_provider_generation"] = .int(s[s.provider(uuid: uuid)!].generation)
                return JSONValue.object(o)
            }
            return Self.json(view, v: v)
        }
        route(&t, .delete, base + "/{resource_class}") { req, ctx, v in
            try self.authorize("placement:resource_providers:inventories:delete", ctx)
            let uuid = try ctx.parameter("uuid"), rcName = try ctx.parameter("resource_class")
            try await self.service.write({ s in
                let p = try s.providerOrNotFound(uuid)
                guard let rc = s.resourceClass(rcName), s[p].inventories[rc] != nil else {
                    throw NimbusError.notFound("No inventory of class \(rcName) found for delete: No inventory of class \(rcName) found.")
                }
                if s[p].used(rc) > 0 {
                    throw NimbusError.concurrentUpdate("Unable to delete inventory of class \(rcName): Inventory for '\(rcName)' on resource provider '\(uuid)' in use.")
                }
                return try s.setInventories(p, s.inventoryRecords(p).filter { !$0.0.sameBytes(as: rcName) }, generation: nil, reservedMayEqualTotal: true)
            }) { _ in () }
            return Self.noContent()
        }
        route(&t, .get, "/resource_providers/{uuid}/usages") { req, ctx, v in
            try self.authorize("placement:resource_providers:usages", ctx)
            try Self.checkAccept(req)
            let uuid = try ctx.parameter("uuid")
            return try self.service.read { s in
                let p = try s.providerOrNotFound(uuid, "No resource provider with uuid \(uuid) found")
                var usages = JSONObject()
                for rc in s[p].inventories.keys { usages[s.className(rc)] = .int(s[p].used(rc)) }
                return Self.json(["usages": .object(usages), "resource_provider_generation": .int(s[p].generation)], v: v)
            }
        }
        route(&t, .get, "/usages", since: 9) { req, ctx, v in
            let q = req.queryString
            try PlacementQuery.checkKeys(q, allowed: v.atLeast(38) ? ["project_id", "user_id", "consumer_type"] : ["project_id", "user_id"])
            let project = q.all("project_id").last
            try self.authorize("placement:usages", ctx, target: ["project_id": project ?? "None"])
            try Self.checkAccept(req)
            guard let project else { throw NimbusError.badRequest("Invalid query string parameters: 'project_id' is a required property") }
            let user = q.all("user_id").last
            for (k, value) in [("project_id", project), ("user_id", user ?? "x")] where value.isEmpty || value.scalarCount > 255 {
                throw NimbusError.badRequest("Invalid query string parameters: '\(value)' is too \(value.isEmpty ? "short" : "long") (\(k))")
            }
            let type = q.all("consumer_type").last
            if let type, !(type == "all" || type == "unknown" || PlacementSchemas.isClassOrTrait(type)) || type.scalarCount > 255 {
                throw NimbusError.badRequest("Invalid query string parameters: '\(type)' does not match '^[A-Z0-9_]+$|^all|^unknown$'")
            }
            let body = self.service.read { s in Self.totalUsages(s, project: project, user: user, type: type, byType: v.atLeast(38)) }
            return Self.json(body, v: v)
        }
    }

    static func totalUsages(_ s: PlacementState, project: String, user: String?, type: String?, byType: Bool) -> JSONValue {
        var sums = [String: [Int: Int64]]()
        var counts = [String: Int]()
        for c in s.consumers.values where c.projectID.sameBytes(as: project) && (user.map { c.userID.sameBytes(as: $0) } ?? true) {
            let key: String
            switch type {
            case "all"?: key = "all"
            case "unknown"?: guard c.consumerType == nil else { continue }; key = "unknown"
            case let t?: guard c.consumerType?.sameBytes(as: t) == true else { continue }; key = t
            case nil: key = c.consumerType ?? "unknown"
            }
            counts[key, default: 0] += 1
            for a in c.allocations { sums[key, default: [:]][a.resourceClass, default: 0] += a.used }
        }
        if !byType {
            var flat = JSONObject()
            for (_, m) in sums { for (rc, used) in m { flat[s.className(rc)] = .int((flat[s.className(rc)]?.intValue ?? 0) + used) } }
            return ["usages": .object(flat)]
        }
        var out = JSONObject()
        for (key, m) in sums {
            var o = JSONObject()
            for (rc, used) in m { o[s.className(rc)] = .int(used) }
            o["consumer_count"] = .int(Int64(counts[key] ?? 0))
            out[key] = .object(o)
        }
        return ["usages": .object(out)]
    }
}
