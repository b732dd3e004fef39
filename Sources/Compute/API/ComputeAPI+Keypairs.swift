import Foundation
import Hummingbird
import NimbusCore
import NimbusHTTP

/// Keypairs (`/os-keypairs`), as Nova's `keypairs.py` answers: per user, admins may name
/// another user (2.10+), generated RSA keys before 2.92, `type` from 2.2, paging from 2.35.
extension ComputeAPI {
    func addKeypairRoutes(_ t: inout RouteTable) {
        t.get("/v2.1/os-keypairs", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let params = req.queryString
            try NovaSchemas.checkQuery(params, allowed: v.atLeast(75) ? (v.atLeast(35) ? ["user_id", "limit", "marker"] : ["user_id"]) : nil)
            let user = v.atLeast(10) ? (params["user_id"] ?? c.userID) : c.userID
            try self.authorize("os_compute_api:os-keypairs:index", c, target: ["user_id": user])
            var (limit, marker): (Int?, String?) = (nil, nil)
            if v.atLeast(35) { (limit, marker) = try NovaSchemas.limitAndMarker(params) }
            guard let pairs = try await self.service.keypairs.list(user: user, limit: limit, marker: marker) else {
                throw NimbusError.badRequest("Marker \(marker ?? "") could not be found.")
            }
            var body: JSONObject = ["keypairs": .array(pairs.map { ["keypair": self.keypairView($0, v, detail: false)] })]
            if let limit, pairs.count == limit, let last = pairs.last {
                body["keypairs_links"] = [["rel": "next", "href": .string(self.nextLink("os-keypairs", req, marker: last.name))]]
            }
            return .json(.object(body))
        })
        t.get("/v2.1/os-keypairs/{name}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let user = v.atLeast(10) ? (req.query("user_id") ?? c.userID) : c.userID
            try self.authorize("os_compute_api:os-keypairs:show", c, target: ["user_id": user])
            let k = try await self.service.keypair(user: user, name: try ctx.parameter("name"))
            return .json(["keypair": self.keypairView(k, v, detail: true)])
        })
        t.delete("/v2.1/os-keypairs/{name}", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let user = v.atLeast(10) ? (req.query("user_id") ?? c.userID) : c.userID
            try self.authorize("os_compute_api:os-keypairs:delete", c, target: ["user_id": user])
            try await self.service.deleteKeypair(user: user, name: try ctx.parameter("name"))
            return .empty(v.atLeast(2) ? .noContent : .accepted)
        })
        t.post("/v2.1/os-keypairs", versioned { req, ctx, v in
            let c = try self.caller(ctx)
            let body = try NovaSchemas.validate(try await Self.body(req, ctx), NovaSchemas.keypairCreate(v))
            let k = body["keypair"]!
            let user = (v.atLeast(10) ? k["user_id"]?.stringValue : nil) ?? c.userID
            try self.authorize("os_compute_api:os-keypairs:create", c, target: ["user_id": user])
            let name = k["name"]!.stringValue!
            let type = (v.atLeast(2) ? k["type"]?.stringValue : nil) ?? "ssh"
            var privateKey: String?
            let publicKey: String
            if let given = k["public_key"]?.stringValue {
                publicKey = given
            } else if type == "x509" {
                (privateKey, publicKey) = try PublicKey.generateX509(commonName: "\(user)-\(c.projectID ?? "")")
            } else {
                (privateKey, publicKey) = try PublicKey.generateRSA(comment: "Generated-by-Nova")
            }
            let fingerprint: String
            do {
                fingerprint = type == "x509" ? try PublicKey.x509Fingerprint(publicKey) : try PublicKey.sshFingerprint(publicKey)
            } catch {
                throw NimbusError.badRequest("Keypair data is invalid: failed to generate fingerprint")
            }
            try await self.service.checkKeypairQuota(user: user, project: c.projectID)
            let created = try await self.service.createKeypair(Keypair(userID: user, name: name, type: type, publicKey: publicKey, fingerprint: fingerprint))
            var view = self.keypairView(created, v, detail: false).objectValue!
            view["user_id"] = .string(user)
            if let privateKey { view["private_key"] = .string(privateKey) }
            return .json(["keypair": .object(view)], status: v.atLeast(2) ? .created : .ok)
        })
    }

    func keypairView(_ k: Keypair, _ v: NovaVersion, detail: Bool) -> JSONValue {
        var o: JSONObject = ["name": .string(k.name), "public_key": .string(k.publicKey), "fingerprint": .string(k.fingerprint)]
        if v.atLeast(2) { o["type"] = .string(k.type) }
        if detail {
            o["user_id"] = .string(k.userID)
            o["created_at"] = .string(NovaTime.format(k.createdAt))
            o["deleted"] = false
            o["deleted_at"] = .null
            o["updated_at"] = .null
            // Nova shows its row id; a stable number derived from the key's identity stands in.
            o["id"] = .int(Int64(k.createdAt.timeIntervalSince1970 * 1000) % 2_147_483_647)
        }
        return .object(o)
    }
}
