import Foundation
import NimbusCore
import Testing
@testable import Identity

/// Times clients give come back exactly: microseconds are integers from parsing to rendering.
@Suite struct TimestampTests {
    static let last = "9999-12-31T23:59:59.999999Z"

    @Test func parsesAndRendersExactly() throws {
        for text in [Self.last, "0001-01-01T00:00:00.000000Z", "1970-01-01T00:00:00.000001Z", "2024-02-29T12:34:56.789012Z", "1969-12-31T23:59:59.999999Z"] {
            #expect(ExactTime.parse(text)?.iso == text, "\(text)")
        }
        #expect(ExactTime.parse(Self.last)?.isoNoZone == "9999-12-31T23:59:59.999999")
        #expect(ExactTime.parse("2030-01-01T00:00:00.1234567Z")?.iso == "2030-01-01T00:00:00.123456Z")
        #expect(ExactTime.parse("2030-01-01T01:30:00+01:30")?.iso == "2030-01-01T00:00:00.000000Z")
        #expect(ExactTime.parse("2030-01-01T00:00:00-0100")?.iso == "2030-01-01T01:00:00.000000Z")
        #expect(ExactTime.parse("2030-01-01 00:00Z")?.iso == "2030-01-01T00:00:00.000000Z")
        #expect(ExactTime.parse("2030-01-01")?.iso == "2030-01-01T00:00:00.000000Z")
        for bad in ["", "2030-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2030-01-01T24:00:00Z", "10000-01-01T00:00:00Z", "2030-1-01T00:00:00Z",
                    "2030-01-01T00:00:00.Z", "2030-01-01T00:00:00Zjunk", "9999-12-31T23:59:59-01:00", "2030-01-01t00:00:00Z"] {
            #expect(ExactTime.parse(bad) == nil, "\(bad)")
        }
        // Keystone appends a Z unless there is one: an explicit offset does not parse.
        #expect(ExactTime.parseExpiration("2030-01-01T00:00:00") != nil)
        #expect(ExactTime.parseExpiration("2030-01-01T00:00:00+01:00") == nil)
    }

    @Test func trustAndApplicationCredentialExpiryRoundTrip() async throws {
        let h = try await APIHarness.make()
        let demo = try #require(try await h.service.user(named: "demo", domainID: "default"))
        try await h.run { c in
            let admin = try await c.token("admin", "admin-pw", project: "admin")
            let me = try await c.call(.get, "/v3/auth/tokens", token: admin, headers: [.init("X-Subject-Token")!: admin])
            let adminID = try #require(me["token"]?["user"]?["id"]?.stringValue)
            let projectID = try #require(me["token"]?["project"]?["id"]?.stringValue)
            let trust = try await c.call(.post, "/v3/OS-TRUST/trusts", token: admin, json: ["trust": [
                "trustor_user_id": .string(adminID), "trustee_user_id": .string(demo.id), "project_id": .string(projectID),
                "impersonation": false, "roles": [["name": "member"]], "expires_at": .string(Self.last)]])
            #expect(trust.status == 201, "\(trust.message)")
            #expect(trust["trust"]?["expires_at"] == .string(Self.last))
            let trustID = try #require(trust["trust"]?["id"]?.stringValue)
            #expect(try await c.call(.get, "/v3/OS-TRUST/trusts/\(trustID)", token: admin)["trust"]?["expires_at"] == .string(Self.last))

            let cred = try await c.call(.post, "/v3/users/\(adminID)/application_credentials", token: admin,
                                        json: ["application_credential": ["name": "far", "expires_at": .string(Self.last)]])
            #expect(cred.status == 201, "\(cred.message)")
            #expect(cred["application_credential"]?["expires_at"] == "9999-12-31T23:59:59.999999")
            let credID = try #require(cred["application_credential"]?["id"]?.stringValue)
            let shown = try await c.call(.get, "/v3/users/\(adminID)/application_credentials/\(credID)", token: admin)
            #expect(shown["application_credential"]?["expires_at"] == "9999-12-31T23:59:59.999999")

            for bad in ["2000-01-01T00:00:00Z", "2030-01-01T00:00:00+01:00", "soon"] {
                let r = try await c.call(.post, "/v3/users/\(adminID)/application_credentials", token: admin,
                                         json: ["application_credential": ["name": .string("bad-\(bad)"), "expires_at": .string(bad)]])
                #expect(r.status == 400, "\(bad): \(r.status)")
            }
        }
        await h.close()
    }
}
