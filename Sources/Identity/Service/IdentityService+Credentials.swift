import Crypto
import Foundation
import NimbusCore
import SQLKit

public struct Credential: Sendable {
    public var id: String
    public var userID: String
    public var projectID: String?
    public var type: String
    public var blob: String
    public var extra: JSONObject
}

extension IdentityService {
    func makeCredential(_ r: CredentialRecord) -> Credential {
        Credential(id: r.id, userID: r.userId, projectID: r.projectId, type: r.type, blob: r.blob, extra: decodeJSONColumn(r.extra))
    }

    static let credentialColumns = "id, user_id, project_id, type, blob, extra"

    public func credential(_ id: String) async throws -> Credential? {
        try await db.sql.record(CredentialRecord.self, "SELECT \(unsafeRaw: Self.credentialColumns) FROM identity_credentials WHERE id = \(bind: id)").map(makeCredential)
    }

    public func requireCredential(_ id: String) async throws -> Credential {
        guard let c = try await credential(id) else { throw NimbusError.notFound("Could not find credential: \(id).") }
        return c
    }

    public func listCredentials(userID: String?, type: String?) async throws -> [Credential] {
        try await db.sql.records(CredentialRecord.self, "SELECT \(unsafeRaw: Self.credentialColumns) FROM identity_credentials ORDER BY id").map(makeCredential)
            .filter { matchesFilter(userID, $0.userID) && matchesFilter(type, $0.type) }
    }

    /// EC2 credentials get Keystone's deterministic id (sha256 of the access key) and need a project.
    public func createCredential(userID: String, projectID: String?, type: String, blob: String, extra: JSONObject) async throws -> Credential {
        _ = try await requireUser(userID)
        var id = Identifiers.hex32()
        // Keystone compares `type.lower() == 'ec2'`.
        if type.lowercased().sameBytes(as: "ec2") {
            guard let projectID else { throw NimbusError.badRequest("Invalid blob in credential: project_id is required for ec2 credentials.") }
            _ = projectID
            guard let access = (try? JSONValue.parse(string: blob))?["access"]?.stringValue else {
                throw NimbusError.badRequest("Invalid blob in credential: the ec2 blob needs an 'access' key.")
            }
            id = Hex.encode(SHA256.hash(data: Data(access.utf8)))
        }
        let r = CredentialRecord(id: id, userId: userID, projectId: projectID, type: type, blob: blob, extra: encodeJSONColumn(extra))
        try await write { db in try await db.insertRecord("identity_credentials", r) }
        return makeCredential(r)
    }

    /// Only the blob (and extra attributes) may change: owner, project and type are fixed at creation,
    /// as in current Keystone (reassigning an owner was CVE-2020-12691).
    public func updateCredential(_ id: String, userID: String?, projectID: String?, type: String?, blob: String?, extra: JSONObject) async throws -> Credential {
        var c = try await requireCredential(id)
        for (field, new, old) in [("user_id", userID, Optional(c.userID)), ("project_id", projectID, c.projectID), ("type", type, Optional(c.type))]
        where new != nil && !new.sameBytes(as: old) {
            throw NimbusError.badRequest("The credential's \(field) cannot be changed; create a new credential instead.")
        }
        if let b = blob { c.blob = b }
        c.extra = try Self.mergingExtras(c.extra, extra)
        let u = c
        try await write { db in
            try await db.execute("UPDATE identity_credentials SET blob = \(bind: u.blob), extra = \(bind: encodeJSONColumn(u.extra)) WHERE id = \(bind: id)")
        }
        return u
    }

    public func deleteCredential(_ id: String) async throws {
        _ = try await requireCredential(id)
        try await write { db in try await db.execute("DELETE FROM identity_credentials WHERE id = \(bind: id)") }
    }
}
