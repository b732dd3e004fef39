import NimbusCore

/// What a delegated token (trust-scoped, or obtained with an application credential) may not do,
/// as Keystone's API layer rules it (`keystone/api/credentials.py`, `users.py`, `trusts.py`).
/// Each check runs after the policy check of the route, as in Keystone.
extension IdentityService {
    /// Restricted application credentials (`unrestricted: false`, the default) may not create or
    /// delete application credentials nor create EC2 credentials (`_check_unrestricted_application_credential`).
    func requireUnrestricted(_ caller: AuthContext, _ what: String) async throws {
        guard let credID = caller.applicationCredentialID else { return }
        guard try await appCredentialRecord(credID)?.unrestricted == true else {
            throw NimbusError.forbidden("You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for \(what).")
        }
    }

    /// No application credential token, restricted or not, may read or manage trusts: it would
    /// reach past the one project the credential was issued for (Keystone's
    /// `_check_application_credential`, CVE-2026-43000).
    func forbidApplicationCredential(_ caller: AuthContext) throws {
        guard caller.applicationCredentialID != nil else { return }
        throw NimbusError.forbidden("You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing trusts.")
    }

    /// Trust-scoped tokens may not list, read, create or delete application credentials or
    /// access rules: a credential made that way would outlive the delegation
    /// (`_block_delegated_token_app_creds`).
    func forbidTrustScoped(_ caller: AuthContext) throws {
        guard caller.trust != nil || caller.isOAuth else { return }
        throw NimbusError.forbidden("Cannot manage application credentials with a token issued via delegation.")
    }

    /// A delegated token reaches only credentials of the project it is scoped to; a credential
    /// without a project (a TOTP secret) is out of its reach (`_check_credential_project_scope`,
    /// `_check_delegation_for_ec2`).
    func isWithinDelegation(_ caller: AuthContext, credentialProject: String?) -> Bool {
        guard caller.trust != nil || caller.applicationCredentialID != nil || caller.isOAuth else { return true }
        return credentialProject.sameBytes(as: caller.projectID)
    }

    func requireWithinDelegation(_ caller: AuthContext, credentialProject: String?) throws {
        guard isWithinDelegation(caller, credentialProject: credentialProject) else {
            throw NimbusError.forbidden("You are not authorized to perform the requested action: Credential project does not match the project scope of the delegated token.")
        }
    }
}
