import Foundation
import NimbusCore
import SQLKit

/// A stored policy blob (Keystone's `/v3/policies`): opaque documents kept for other services; the
/// identity service itself enforces its own rule table, as Keystone does.
public struct PolicyBlob: Sendable {
    public var id: String
    public var type: String
    public var blob: String
    public var extra: JSONObject
}

extension IdentityService {
    func makePolicy(_ r: PolicyRecord) -> PolicyBlob { PolicyBlob(id: r.id, type: r.type, blob: r.blob, extra: decodeJSONColumn(r.extra)) }

    public func policyBlob(_ id: String) async throws -> PolicyBlob {
        guard let r = try await db.sql.record(PolicyRecord.self, "SELECT id, type, blob, extra FROM identity_policies WHERE id = \(bind: id)") else {
            throw NimbusError.notFound("Could not find policy: \(id).")
        }
        return makePolicy(r)
    }

    public func listPolicyBlobs(type: String?) async throws -> [PolicyBlob] {
        try await db.sql.records(PolicyRecord.self, "SELECT id, type, blob, extra FROM identity_policies ORDER BY id").map(makePolicy)
            .filter { matchesFilter(type, $0.type) }
    }

    public func createPolicyBlob(type: String, blob: String, extra: JSONObject) async throws -> PolicyBlob {
        let r = PolicyRecord(id: Identifiers.hex32(), type: type, blob: blob, extra: encodeJSONColumn(extra))
        try await write { db in try await db.insertRecord("identity_policies", r) }
        return makePolicy(r)
    }

    public func updatePolicyBlob(_ id: String, type: String?, blob: String?, extra: JSONObject) async throws -> PolicyBlob {
        var p = try await policyBlob(id)
        if let t = type { p.type = t }
        if let b = blob { p.blob = b }
        p.extra = try Self.mergingExtras(p.extra, extra)
        let u = p
        try await write { db in
            try await db.execute("UPDATE identity_policies SET type = \(bind: u.type), blob = \(bind: u.blob), extra = \(bind: encodeJSONColumn(u.extra)) WHERE id = \(bind: id)")
        }
        return u
    }

    public func deletePolicyBlob(_ id: String) async throws {
        _ = try await policyBlob(id)
        try await write { db in try await db.execute("DELETE FROM identity_policies WHERE id = \(bind: id)") }
    }

    // MARK: EC2 credentials (OS-EC2): credentials of type "ec2" whose blob holds access and secret.

    /// `trustID`: the trust of a trust-scoped caller, recorded in the blob as Keystone does (so
    /// that EC2 authentication with it gives trust-scoped tokens).
    public func createEC2Credential(userID: String, projectID: String, trustID: String? = nil) async throws -> (Credential, access: String, secret: String) {
        _ = try await requireProject(projectID)
        let access = Identifiers.hex32()
        let secret = Identifiers.hex32()
        let blob: JSONValue = ["access": .string(access), "secret": .string(secret), "trust_id": JSONValue(trustID)]
        let c = try await createCredential(userID: userID, projectID: projectID, type: "ec2", blob: blob.serializedString(), extra: [:])
        return (c, access, secret)
    }

    public func ec2Credentials(userID: String) async throws -> [Credential] {
        try await listCredentials(userID: userID, type: "ec2")
    }

    public func ec2Credential(userID: String, access: String) async throws -> Credential {
        guard let c = try await ec2Credentials(userID: userID).first(where: { (try? JSONValue.parse(string: $0.blob))?["access"]?.stringValue.sameBytes(as: access) == true }) else {
            throw NimbusError.notFound("Could not find credential: \(access).")
        }
        return c
    }
}
