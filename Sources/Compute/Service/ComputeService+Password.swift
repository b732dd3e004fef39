import Foundation
import NimbusCore

/// The server password a guest agent posts to the metadata service, encrypted with the
/// instance's public key (`nova/api/metadata/password.py`), shown by `os-server-password`.
extension ComputeService {
    /// Nova keeps it in four system metadata items of 255 characters and refuses bodies of
    /// more bytes than that (`MAX_SIZE`).
    public static let maxPasswordBytes = 4 * 255

    public enum PasswordPost: Sendable, Equatable {
        case stored
        /// One is set already: the guest must not replace it (Nova's 409).
        case conflict
        /// Longer than Nova keeps (its 400 "Request is too large.").
        case tooLarge
        case notUTF8
        case noInstance
    }

    /// Stores the password a guest posted (the metadata service found the instance by the
    /// network path the request came from). Nova decodes the body as UTF-8; bytes that are
    /// not UTF-8 are refused as a bad request too (Nova would fail with a 500). A password set
    /// already is a conflict whatever the body, as Nova checks that first.
    public func postPassword(instance id: String, body: [UInt8]) async throws -> PasswordPost {
        let text = body.count <= Self.maxPasswordBytes ? String(validating: body, as: UTF8.self) : nil
        struct Refused: Error { let outcome: PasswordPost }
        do {
            let stored = try await instances.modify(id) { i in
                guard !i.deleted else { throw Refused(outcome: .noInstance) }
                if let p = i.password, !p.isEmpty { throw Refused(outcome: .conflict) }
                guard body.count <= Self.maxPasswordBytes else { throw Refused(outcome: .tooLarge) }
                guard let text else { throw Refused(outcome: .notUTF8) }
                i.password = text
            }
            return stored == nil ? .noInstance : .stored
        } catch let r as Refused {
            return r.outcome
        }
    }

    /// `DELETE /servers/{id}/os-server-password`: forgets it (the guest's own password is
    /// not changed).
    public func clearPassword(instance id: String) async throws {
        _ = try await instances.modify(id) { i in i.password = nil }
    }
}
